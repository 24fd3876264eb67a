"""Each virtual relation built from a catalog with tables, constraints and a sequence."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlvec import errors
from sqlvec.catalog import virtual
from sqlvec.catalog.pg import oids as O


def rows(table: pa.Table, **where) -> list[dict]:
    return [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]


def test_every_relation_builds_with_its_declared_schema(db):
    for vt in virtual.all_tables():
        t = db.build(vt.schema, vt.name)
        assert t.column_names == vt.column_names, vt.qualified
        for (name, typ), field in zip(vt.columns, t.schema):
            assert field.type == typ.arrow_type(), (vt.qualified, name)


def test_oids_are_unique_and_postgres_ones_where_known():
    tables = virtual.all_tables()
    assert len({v.oid for v in tables}) == len(tables)
    assert virtual.get("pg_catalog", "pg_class").oid == 1259
    assert virtual.get("pg_catalog", "pg_type").oid == 1247
    assert virtual.get("pg_catalog", "pg_attribute").oid == 1249


def test_lookup_follows_search_path_rules():
    assert virtual.lookup(None, "pg_class", ["pg_catalog", "public"]).oid == 1259
    assert virtual.lookup(None, "pg_class", ["public"]).schema == "pg_catalog"
    assert virtual.lookup(None, "tables", ["pg_catalog", "public"]) is None
    assert virtual.lookup("information_schema", "tables", ["public"]).name == "tables"
    assert virtual.lookup(None, "tables", ["information_schema"]).schema == "information_schema"
    assert virtual.lookup("public", "pg_class", ["public"]) is None


def test_pg_namespace(db):
    ns = {r["nspname"]: r["oid"] for r in db.build("pg_catalog", "pg_namespace").to_pylist()}
    assert ns["pg_catalog"] == 11 and ns["public"] == 2200
    assert ns["information_schema"] == O.INFORMATION_SCHEMA_NS


def test_pg_class_tables_sequences_indexes_and_catalogs(db):
    t = db.build("pg_catalog", "pg_class")
    items = rows(t, relname="items")[0]
    assert items["relkind"] == "r" and items["relnamespace"] == 2200
    assert items["relnatts"] == 4 and items["relchecks"] == 1 and items["relhasindex"]
    assert items["reltuples"] == 2.0
    assert rows(t, relname="items_id_seq")[0]["relkind"] == "S"
    pkey = rows(t, relname="items_pkey")[0]
    assert pkey["relkind"] == "i" and pkey["relam"] == 403
    assert rows(t, relname="pg_class")[0]["relnamespace"] == 11
    assert rows(t, relname="pg_tables")[0]["relkind"] == "v"


def test_pg_attribute_columns_of_tables_and_catalogs(db):
    oid = db.oid("items")
    att = rows(db.build("pg_catalog", "pg_attribute"), attrelid=oid)
    by = {a["attname"]: a for a in att}
    assert [a["attnum"] for a in att] == [1, 2, 3, 4]
    assert by["id"]["atttypid"] == 23 and by["id"]["attnotnull"] and by["id"]["atthasdef"]
    assert by["name"]["atttypid"] == 1043 and by["name"]["atttypmod"] == 24
    assert by["emb"]["atttypid"] == 16385 and by["emb"]["atttypmod"] == 3
    assert not any(a["attisdropped"] for a in att)
    cls = rows(db.build("pg_catalog", "pg_attribute"), attrelid=1259)
    assert cls[0]["attname"] == "oid" and cls[1]["attname"] == "relname"


def test_pg_attrdef_holds_printable_defaults(db):
    oid = db.oid("items")
    defs = {r["adnum"]: r["adbin"] for r in rows(db.build("pg_catalog", "pg_attrdef"), adrelid=oid)}
    assert defs == {1: "nextval('items_id_seq'::regclass)", 2: "'x'::character varying"}


def test_pg_constraint_and_pg_index(db):
    oid = db.oid("items")
    cons = {c["conname"]: c for c in rows(db.build("pg_catalog", "pg_constraint"), conrelid=oid)}
    assert cons["items_pkey"]["contype"] == "p" and cons["items_pkey"]["conkey"] == [1]
    assert cons["items_name_key"]["contype"] == "u" and cons["items_name_key"]["conkey"] == [2]
    assert cons["items_price_check"]["contype"] == "c"
    idx = rows(db.build("pg_catalog", "pg_index"), indrelid=oid)
    pk = next(i for i in idx if i["indisprimary"])
    assert pk["indkey"] == [1] and pk["indisunique"]
    assert pk["indexrelid"] == cons["items_pkey"]["conindid"]


def test_pg_type_has_registry_types_arrays_pseudo_and_rowtypes(db):
    t = db.build("pg_catalog", "pg_type")
    vec = rows(t, typname="vector")[0]
    assert vec["oid"] == 16385 and vec["typarray"] == 16386 and vec["typnamespace"] == 2200
    assert rows(t, typname="_int4")[0]["typelem"] == 23
    assert rows(t, typname="int2vector")[0]["typcategory"] == "A"
    assert rows(t, typname="anyarray")[0]["typtype"] == "p"
    row = rows(t, typname="items")[0]
    assert row["typtype"] == "c" and row["typrelid"] == db.oid("items")
    int4 = rows(t, oid=23)[0]
    assert int4["typinput"] != 0 and int4["typsend"] != 0


def test_pg_proc_and_pg_operator(db):
    procs = db.build("pg_catalog", "pg_proc")
    assert rows(procs, proname="lower")
    assert rows(procs, proname="count")[0]["prokind"] == "a"
    ops = db.build("pg_catalog", "pg_operator")
    l2 = rows(ops, oprname="<->", oprleft=16385)[0]
    assert l2["oprright"] == 16385 and l2["oprresult"] == 701
    assert rows(ops, oprname="=", oprleft=23, oprright=23)[0]["oid"] == 96


def test_pg_am_pg_opclass_pg_extension(db):
    am = {r["amname"]: r["oid"] for r in db.build("pg_catalog", "pg_am").to_pylist()}
    assert am["btree"] == 403 and am["hnsw"] == 17000 and am["ivfflat"] == 17001
    opc = rows(db.build("pg_catalog", "pg_opclass"), opcname="vector_cosine_ops")
    assert {o["opcmethod"] for o in opc} == {17000, 17001}
    ext = {r["extname"]: r["extversion"] for r in db.build("pg_catalog", "pg_extension").to_pylist()}
    assert ext["plpgsql"] == "1.0" and "vector" in ext


def test_roles_databases_settings(db):
    assert rows(db.build("pg_catalog", "pg_roles"), rolname="postgres")[0]["oid"] == 10
    assert rows(db.build("pg_catalog", "pg_user"), usename="postgres")[0]["usesuper"]
    dbs = {r["datname"] for r in db.build("pg_catalog", "pg_database").to_pylist()}
    assert {"postgres", "template0", "template1"} <= dbs
    db.rows("SET statement_timeout = 1234")
    s = rows(db.build("pg_catalog", "pg_settings"), name="statement_timeout")[0]
    assert s["setting"] == "1234" and s["source"] == "session" and s["vartype"] == "integer"
    assert s["unit"] == "ms" and s["boot_val"] == "0"


def test_stats_views_and_sequences(db):
    st = rows(db.build("pg_catalog", "pg_stat_user_tables"), relname="items")[0]
    assert st["n_live_tup"] == 2
    seq = rows(db.build("pg_catalog", "pg_sequences"), sequencename="items_id_seq")[0]
    assert seq["data_type"] == 23 and seq["max_value"] == 2**31 - 1
    dep = rows(db.build("pg_catalog", "pg_depend"), objid=db.oid("items_id_seq"))[0]
    assert dep["refobjid"] == db.oid("items") and dep["refobjsubid"] == 1 and dep["deptype"] == "a"
    tables = {r["tablename"] for r in db.build("pg_catalog", "pg_tables").to_pylist()}
    assert tables == {"items", "tags"}
    assert len(db.build("pg_catalog", "pg_stat_activity")) == 1


def test_information_schema(db):
    cols = rows(db.build("information_schema", "columns"), table_name="items")
    by = {c["column_name"]: c for c in cols}
    assert by["name"]["data_type"] == "character varying"
    assert by["name"]["character_maximum_length"] == 20 and by["name"]["is_nullable"] == "NO"
    assert by["emb"]["data_type"] == "USER-DEFINED" and by["emb"]["udt_name"] == "vector"
    assert by["price"]["numeric_precision"] == 10 and by["price"]["numeric_scale"] == 2
    assert by["id"]["column_default"] == "nextval('items_id_seq'::regclass)"
    tabs = rows(db.build("information_schema", "tables"), table_schema="public")
    assert {t["table_name"]: t["table_type"] for t in tabs} == {"items": "BASE TABLE", "tags": "BASE TABLE"}
    tc = rows(db.build("information_schema", "table_constraints"), table_name="items")
    assert {t["constraint_type"] for t in tc} == {"PRIMARY KEY", "UNIQUE", "CHECK"}
    kcu = rows(db.build("information_schema", "key_column_usage"), constraint_name="items_pkey")
    assert [k["column_name"] for k in kcu] == ["id"]


@pytest.mark.parametrize("name", ["pg_trigger", "pg_rewrite", "pg_policy", "pg_inherits", "pg_locks"])
def test_empty_relations(db, name):
    assert db.build("pg_catalog", name).num_rows == 0


def test_cache_is_invalidated_by_ddl(db):
    before = db.build("pg_catalog", "pg_attribute").num_rows
    db.rows("CREATE TABLE more (a int, b int)")
    assert db.build("pg_catalog", "pg_attribute").num_rows == before + 2


def test_timeouts_take_units_as_postgresql(db):
    db.rows("SET statement_timeout = '1h'")
    assert db.rows("SHOW statement_timeout") == [("1h",)]
    s = rows(db.build("pg_catalog", "pg_settings"), name="statement_timeout")[0]
    assert s["setting"] == "3600000" and s["unit"] == "ms" and s["max_val"] == str(2**31 - 1)
    db.rows("SET lock_timeout = '250ms'")
    assert db.rows("SHOW lock_timeout") == [("250ms",)]
    with pytest.raises(errors.InvalidParameterValue, match="invalid value for parameter"):
        db.rows("SET statement_timeout = '3 parsecs'")
