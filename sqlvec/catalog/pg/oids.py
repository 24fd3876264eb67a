"""Fixed OIDs of the objects the catalog relations describe.

Built-in objects use PostgreSQL 16's real OIDs where clients might know them (namespaces,
catalog tables, access methods, types, common operators). Objects PostgreSQL creates at
initdb (system views) or that we generate (functions, operator classes) get OIDs in ranges
PostgreSQL reserves for such objects; the pgvector extension's objects get fixed OIDs from
17000 (its types keep 16385..16390, see types/registry.py). Every OID below is the same in
every database and every run.

==========================  ==================================================
range                       objects
==========================  ==================================================
< 10000                     PostgreSQL's own (namespaces, catalogs, types, ops)
10000 .. 10099              built-in operator classes and families (ours)
10100 .. 11999              pg_proc rows generated from the function registry
12000 .. 12099              pg_catalog system views (pg_tables, pg_settings ...)
12100 .. 12199              information_schema views
13000                       the information_schema namespace
13500                       the plpgsql extension (and 13501 its language)
14000 .. 14999              operators without a PostgreSQL OID we reproduce
17000 .. 17099              vector extension: access methods, operator classes
17100 .. 17199              vector extension: operators
17200                       the vector extension row in pg_extension
16400 ..                    user objects (Catalog.new_oid)
0x40000000 ..               derived OIDs of objects the model has no OID for yet
                            (constraints, their indexes, column defaults)
==========================  ==================================================
"""

from __future__ import annotations

from sqlvec.catalog.model import FIRST_USER_OID, PG_CATALOG_OID, PUBLIC_OID

PG_TOAST_NS = 99
INFORMATION_SCHEMA_NS = 13000
NAMESPACES = {"pg_catalog": PG_CATALOG_OID, "public": PUBLIC_OID, "pg_toast": PG_TOAST_NS,
              "information_schema": INFORMATION_SCHEMA_NS}

BOOTSTRAP_SUPERUSER = 10
DEFAULT_TABLESPACE = 1663  # pg_default
GLOBAL_TABLESPACE = 1664  # pg_global
DEFAULT_COLLATION = 100
C_COLLATION = 950
POSIX_COLLATION = 951
UTF8_ENCODING = 6

# pg_class.oid of the catalog tables themselves (PostgreSQL 16), also pg_*.classoid values
CATALOG_TABLE_OIDS = {
    "pg_type": 1247, "pg_attribute": 1249, "pg_proc": 1255, "pg_class": 1259,
    "pg_authid": 1260, "pg_auth_members": 1261, "pg_database": 1262, "pg_tablespace": 1213,
    "pg_shdescription": 2396, "pg_attrdef": 2604, "pg_constraint": 2606, "pg_inherits": 2611,
    "pg_index": 2610, "pg_operator": 2617, "pg_opfamily": 2753, "pg_opclass": 2616,
    "pg_am": 2601, "pg_amop": 2602, "pg_amproc": 2603, "pg_language": 2612,
    "pg_rewrite": 2618, "pg_trigger": 2620, "pg_description": 2609, "pg_cast": 2605,
    "pg_enum": 3501, "pg_namespace": 2615, "pg_conversion": 2607, "pg_depend": 2608,
    "pg_shdepend": 1214, "pg_collation": 3456, "pg_range": 3541, "pg_extension": 3079,
    "pg_foreign_table": 3118, "pg_policy": 3256, "pg_partitioned_table": 3350,
    "pg_sequence": 2224, "pg_event_trigger": 3466, "pg_statistic_ext": 3381,
    "pg_foreign_data_wrapper": 2328, "pg_foreign_server": 1417, "pg_publication": 6104,
    "pg_subscription": 6100, "pg_init_privs": 3394, "pg_seclabel": 3596,
    "pg_default_acl": 826, "pg_aggregate": 2600, "pg_largeobject_metadata": 2995,
    "pg_ts_config": 3602, "pg_ts_dict": 3600, "pg_ts_parser": 3601, "pg_ts_template": 3764,
    "pg_transform": 3576, "pg_user_mapping": 1418, "pg_statistic": 2619,
    "pg_db_role_setting": 2964, "pg_replication_origin": 6000, "pg_parameter_acl": 6243,
}
PG_CLASS = CATALOG_TABLE_OIDS["pg_class"]
PG_TYPE = CATALOG_TABLE_OIDS["pg_type"]
PG_PROC = CATALOG_TABLE_OIDS["pg_proc"]
PG_CONSTRAINT = CATALOG_TABLE_OIDS["pg_constraint"]
PG_NAMESPACE = CATALOG_TABLE_OIDS["pg_namespace"]
PG_DATABASE = CATALOG_TABLE_OIDS["pg_database"]
PG_EXTENSION = CATALOG_TABLE_OIDS["pg_extension"]
PG_AUTHID = CATALOG_TABLE_OIDS["pg_authid"]
PG_AM = CATALOG_TABLE_OIDS["pg_am"]
PG_OPERATOR = CATALOG_TABLE_OIDS["pg_operator"]

SYSTEM_VIEW_BASE = 12000
INFO_SCHEMA_VIEW_BASE = 12100
PROC_BASE = 10100
PROC_LIMIT = 12000
OPCLASS_BASE = 10000
OPERATOR_BASE = 14000

# access methods: (oid, name, type 'i' index / 't' table, handler name)
ACCESS_METHODS = [
    (2, "heap", "t", "heap_tableam_handler"),
    (403, "btree", "i", "bthandler"),
    (405, "hash", "i", "hashhandler"),
    (783, "gist", "i", "gisthandler"),
    (2742, "gin", "i", "ginhandler"),
    (4000, "spgist", "i", "spghandler"),
    (3580, "brin", "i", "brinhandler"),
    (17000, "hnsw", "i", "hnswhandler"),
    (17001, "ivfflat", "i", "ivfflathandler"),
    (17002, "bm25", "i", "bm25handler"),
]
AM_OID = {name: oid for oid, name, _, _ in ACCESS_METHODS}
VECTOR_AMS = frozenset({"hnsw", "ivfflat", "bm25"})

VECTOR_EXTENSION_OID = 17200
PLPGSQL_EXTENSION_OID = 13500
PLPGSQL_LANGUAGE_OID = 13501
INTERNAL_LANGUAGE_OID = 12  # pg_language "internal"
SQL_LANGUAGE_OID = 14
C_LANGUAGE_OID = 13

# Derived OIDs: 0x40000000 + (table oid - FIRST_USER_OID) * 4096 + kind * 1024 + n.
# The catalog model gives tables and sequences OIDs but not yet constraints, their indexes
# or column defaults; these stay stable while the table's constraint list does not change.
DERIVED_BASE = 0x40000000
DERIVED_CONSTRAINT, DERIVED_INDEX, DERIVED_ATTRDEF, DERIVED_ROWTYPE = 0, 1, 2, 3


def derived_oid(table_oid: int, kind: int, n: int) -> int:
    """A stable OID for the ``n``-th object of ``kind`` belonging to a table."""
    return DERIVED_BASE + (table_oid - FIRST_USER_OID) * 4096 + kind * 1024 + n
