"""The catalog: databases, schemas, tables, columns, constraints and sequences.

The catalog is a plain object graph that serialises to JSON. A transaction that runs DDL
works on a private copy-on-write copy (:meth:`Catalog.copy`, sqlvec.catalog.cow: only the
objects it touches are copied) and publishes it at commit (:meth:`Catalog.seal`), so DDL is
transactional; the storage engine persists what changed (sqlvec.catalog.serde.catalog_delta).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlvec import errors
from sqlvec.catalog.acl import Acl, Membership
from sqlvec.catalog.cow import CowMap, clone, plain
from sqlvec.catalog.roles import Role
from sqlvec.types.base import SqlType

# OIDs below this are PostgreSQL's own (types, namespaces ...) and the pgvector types'; ours
# start here.
FIRST_USER_OID = 16400  # after the extension types' fixed OIDs (16385..16390)
PG_CATALOG_OID = 11
PUBLIC_OID = 2200
# Table.options key of a materialized view's record: {"query": SQL text, "populated": bool,
# "depends": [oid, ...]} (see sqlvec.exec.matviews)
MATVIEW = "matview"


@dataclass
class Column:
    id: str  # stable storage id ("c1"); renaming a column does not change it
    name: str
    type: SqlType
    not_null: bool = False
    default: str | None = None  # SQL text of the default expression
    identity: str | None = None  # "a" (ALWAYS) or "d" (BY DEFAULT), as pg_attribute.attidentity
    attnum: int = 0
    # Value of rows that existed before ADD COLUMN ... DEFAULT (PostgreSQL's attmissingval),
    # as SQL text; None means NULL.
    missing: str | None = None


@dataclass
class Constraint:
    name: str
    kind: str  # p primary key, u unique, c check, f foreign key (pg_constraint.contype)
    columns: list[str] = field(default_factory=list)  # column ids
    expr: str | None = None  # CHECK expression, SQL text
    oid: int = 0  # 0: derived from the table's OID and position (catalog/pg/oids.py)
    index_oid: int = 0
    # foreign keys (kind "f"): referenced table OID and column ids, pg_constraint's action
    # codes (a no action, r restrict, c cascade, n set null, d set default) and match type
    ref_table: int = 0
    ref_columns: list[str] = field(default_factory=list)
    on_update: str = "a"
    on_delete: str = "a"
    match: str = "s"


@dataclass
class Table:
    oid: int
    name: str
    schema: str
    columns: list[Column]
    constraints: list[Constraint] = field(default_factory=list)
    next_col: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    temporary: bool = False
    # (index name, column ids) of UNIQUE indexes, enforced like UNIQUE constraints; kept in
    # step with DatabaseDef.indexes by CREATE/DROP INDEX
    unique_indexes: list[tuple[str, list[str]]] = field(default_factory=list)
    owner: str | None = None  # role name; None: the database owner (objects made before roles)
    acl: Acl | None = None  # relacl (sqlvec.catalog.acl); None until the first GRANT/REVOKE

    @property
    def matview(self) -> dict[str, Any] | None:
        """The record of a materialized view (None for a plain table)."""
        return self.options.get(MATVIEW)

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    def column_by_id(self, cid: str) -> Column:
        for c in self.columns:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def unique_constraints(self) -> list[Constraint]:
        return [c for c in self.constraints if c.kind in "pu"]

    def primary_key(self) -> Constraint | None:
        for c in self.constraints:
            if c.kind == "p":
                return c
        return None


@dataclass
class Sequence:
    oid: int
    name: str
    schema: str
    start: int = 1
    increment: int = 1
    min_value: int = 1
    max_value: int = 2**63 - 1
    cycle: bool = False
    owned_by: tuple[int, str] | None = None  # (table oid, column id) for serial columns
    type: str = "bigint"
    owner: str | None = None  # as Table.owner
    acl: Acl | None = None


@dataclass
class Index:
    oid: int
    name: str
    schema: str
    table: int  # table oid
    columns: list[str]  # column ids
    method: str = "btree"  # btree, hash, hnsw, ivfflat
    opclasses: list[str | None] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    unique: bool = False
    metric: str | None = None  # vector indexes: l2, ip, cosine, l1, hamming, jaccard
    predicate: str | None = None  # a partial index's WHERE, as SQL text (reported, not used)


@dataclass
class View:
    """A view: its query as SQL text, expanded at plan time like a derived table."""

    oid: int
    name: str
    schema: str
    query: str
    columns: list[Column]
    materialized: bool = False
    temporary: bool = False
    depends: list[int] = field(default_factory=list)  # OIDs of the tables/views it reads
    owner: str | None = None  # as Table.owner; its base tables are read with the owner's rights
    acl: Acl | None = None


@dataclass
class DatabaseDef:
    oid: int
    name: str
    schemas: dict[str, int] = field(default_factory=dict)  # name -> oid
    tables: dict[int, Table] = field(default_factory=dict)
    sequences: dict[int, Sequence] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)  # name -> version
    owner: str = "postgres"
    indexes: dict[int, Index] = field(default_factory=dict)
    views: dict[int, View] = field(default_factory=dict)
    # COMMENT ON text, keyed (classoid, objoid, objsubid) as pg_description
    comments: dict[tuple[int, int, int], str] = field(default_factory=dict)
    acl: Acl | None = None  # datacl
    # schema oid -> owner / nspacl (schemas are plain name -> oid entries above)
    schema_owners: dict[int, str] = field(default_factory=dict)
    schema_acls: dict[int, Acl] = field(default_factory=dict)

    # Lookups compare names on the shared objects (dict.values: no copy-on-write clone) and
    # hand out only the hit, through the map (cloned there when the catalog is private).
    def find_view(self, name: str, schema: str | None, search_path: list[str]) -> View | None:
        return _find(self.views, name, schema, search_path)

    def find_table(self, name: str, schema: str | None, search_path: list[str]) -> Table | None:
        return _find(self.tables, name, schema, search_path)

    def find_sequence(self, name: str, schema: str | None, search_path: list[str]) -> Sequence | None:
        return _find(self.sequences, name, schema, search_path)

    def relation_exists(self, name: str, schema: str) -> bool:
        return any(o.name == name and o.schema == schema
                   for m in (self.tables, self.sequences, self.indexes, self.views)
                   for o in dict.values(m))

    def table_indexes(self, table_oid: int) -> list[Index]:
        return [self.indexes[k] for k, i in list(dict.items(self.indexes)) if i.table == table_oid]

    def cow_copy(self) -> DatabaseDef:
        """A copy for a private catalog: object maps copy-on-write, the rest cloned (schemas,
        extensions and comments are small)."""
        new = object.__new__(DatabaseDef)
        new.__dict__.update({k: v if k in _COW_MAPS else clone(v) for k, v in self.__dict__.items()})
        for k in _COW_MAPS:
            new.__dict__[k] = CowMap(self.__dict__[k])
        return new

    def seal(self) -> None:
        """Plain dicts again (the catalog is being published)."""
        for k in _COW_MAPS:
            self.__dict__[k] = plain(self.__dict__[k])


_COW_MAPS = ("tables", "sequences", "indexes", "views")


def _find(m: dict, name: str, schema: str | None, search_path: list[str]):
    for s in [schema] if schema else search_path:
        for key, o in dict.items(m):
            if o.name == name and o.schema == s:
                return m[key]
    return None


@dataclass
class Catalog:
    databases: dict[str, DatabaseDef] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)  # cluster-wide, as in PostgreSQL
    next_oid: int = FIRST_USER_OID
    version: int = 0  # bumped on every published change
    members: list[Membership] = field(default_factory=list)  # pg_auth_members
    # ALTER DEFAULT PRIVILEGES: (role, schema or "", object kind) -> ACL added to new objects
    default_acls: dict[tuple[str, str, str], Acl] = field(default_factory=dict)

    @classmethod
    def bootstrap(cls) -> Catalog:
        cat = cls()
        # the bootstrap superuser has PostgreSQL's OID for it
        cat.roles["postgres"] = Role(10, "postgres", superuser=True, login=True, createdb=True,
                                     createrole=True, replication=True, bypassrls=True)
        for name in ("postgres", "template1", "template0"):
            cat.add_database(name)
        return cat

    def new_oid(self) -> int:
        oid = self.next_oid
        self.next_oid += 1
        return oid

    def add_database(self, name: str, template: DatabaseDef | None = None) -> DatabaseDef:
        if template is not None:
            db = copy.deepcopy(template)
            db.oid, db.name = self.new_oid(), name
            # tables copied from a template need their own storage: give them new OIDs
            db.tables = {}
            db.sequences = {}
            db.views, db.indexes, db.comments = {}, {}, {}
            db.acl = None  # a new database starts with default privileges
        else:
            db = DatabaseDef(self.new_oid(), name, schemas={"pg_catalog": PG_CATALOG_OID, "public": PUBLIC_OID})
        self.databases[name] = db
        return db

    def database(self, name: str) -> DatabaseDef:
        db = self.databases.get(name)
        if db is None:
            raise errors.InvalidCatalogName(f'database "{name}" does not exist')
        return db

    def copy(self) -> Catalog:
        """A private copy to change (copy-on-write: cost independent of the catalog's size).
        Copying a private catalog (a savepoint) freezes this one's copies: both clone again
        before changing a shared object."""
        for m in (self.databases, self.roles):
            if isinstance(m, CowMap):
                m.freeze()
        new = object.__new__(Catalog)
        # other fields (counters, memberships, default ACLs) are small: cloned whole
        new.__dict__.update({k: clone(v) for k, v in self.__dict__.items() if k not in ("databases", "roles")})
        new.databases = CowMap(self.databases, DatabaseDef.cow_copy)
        new.roles = CowMap(self.roles)
        return new

    def seal(self) -> None:
        """Make a private catalog publishable: plain dicts, which readers use without any
        copy-on-write cost. The objects it shares with older catalogs are never changed."""
        for db in dict.values(self.databases):
            db.seal()
        self.databases, self.roles = plain(self.databases), plain(self.roles)
