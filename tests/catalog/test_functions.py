"""Catalog and system information functions, through SQL."""

from __future__ import annotations

import pytest

from sqlvec.exec.functions import registry as F
from sqlvec.exec.functions.catalog import VERSION, size_pretty
from sqlvec.exec.functions.context import current_session


def call(db, name: str, *args):
    """Call a registry function directly (sqlglot turns version() and friends into its
    own node types, which the binder maps separately)."""
    import pyarrow as pa

    from sqlvec.types import registry as R

    types = [R.type_by_name(t) for t, _ in args]
    ov, _, _ = F.resolve_function(name, types)
    with current_session(db.session):
        out = ov.impl([pa.scalar(v, t.arrow_type()) for (_, v), t in zip(args, types)], types, 1)
    return out.as_py()


def test_version_and_session_information(db):
    assert call(db, "version").startswith("PostgreSQL 16.4 (sqlvec") and VERSION.endswith("64-bit")
    assert call(db, "current_database") == "postgres"
    assert call(db, "current_schema") == "public"
    assert call(db, "current_schemas", ("boolean", True)) == ["pg_catalog", "public"]
    assert call(db, "current_schemas", ("boolean", False)) == ["public"]
    assert call(db, "current_user") == "postgres"
    db.rows("SET search_path = nosuch, public")
    assert call(db, "current_schema") == "public"


def test_format_type_and_userbyid(db):
    assert db.rows("SELECT format_type(1043, 14), format_type(16385, 3), format_type(23, NULL), "
                   "format_type(1007, -1), format_type(NULL, 1)") == [
        ("character varying(10)", "vector(3)", "integer", "integer[]", None)]
    assert db.rows("SELECT pg_get_userbyid(10), pg_get_userbyid(99)") == [("postgres", "unknown (OID=99)")]


def test_format_type_over_a_catalog_column(db):
    got = db.rows("SELECT attname, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
                  f"WHERE attrelid = {db.oid('items')} ORDER BY attnum")
    assert got == [("id", "integer"), ("name", "character varying(20)"), ("emb", "vector(3)"),
                   ("price", "numeric(10,2)")]


def test_definitions(db):
    cons = dict(db.rows(f"SELECT conname, pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint "
                        f"WHERE conrelid = {db.oid('items')}"))
    assert cons == {"items_pkey": "PRIMARY KEY (id)", "items_name_key": "UNIQUE (name)",
                    "items_price_check": "CHECK ((price > 0))"}
    idx = db.rows(f"SELECT pg_get_indexdef(indexrelid) FROM pg_catalog.pg_index "
                  f"WHERE indrelid = {db.oid('items')} AND indisprimary")
    assert idx == [("CREATE UNIQUE INDEX items_pkey ON public.items USING btree (id)",)]
    assert db.rows("SELECT pg_get_expr(adbin, adrelid) FROM pg_catalog.pg_attrdef WHERE adnum = 1") == [
        ("nextval('items_id_seq'::regclass)",)]
    assert db.rows("SELECT pg_get_serial_sequence('items', 'id'), pg_get_serial_sequence('tags', 'n')") == [
        ("public.items_id_seq", None)]


def test_visibility_and_to_reg(db):
    assert db.rows("SELECT pg_table_is_visible('items'::regclass), pg_table_is_visible(1259)") == [(True, True)]
    assert db.rows("SELECT pg_type_is_visible(16385), pg_type_is_visible(23)") == [(True, True)]
    assert db.rows("SELECT to_regclass('nope'), to_regclass('items') IS NOT NULL, to_regtype('vector')") == [
        (None, True, 16385)]
    assert db.rows("SELECT to_regnamespace('nope'), to_regrole('postgres')") == [(None, 10)]
    db.rows("CREATE SCHEMA hidden")
    db.rows("CREATE TABLE hidden.h (a int)")
    assert db.rows("SELECT pg_table_is_visible('hidden.h'::regclass)") == [(False,)]


def test_descriptions_privileges_sizes(db):
    assert db.rows(f"SELECT obj_description({db.oid('items')}, 'pg_class'), col_description({db.oid('items')}, 1)") == [
        (None, None)]
    assert db.rows("SELECT shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database "
                   "WHERE datname = 'postgres'") == [("default administrative connection database",)]
    assert db.rows("SELECT has_table_privilege('items', 'SELECT'), has_schema_privilege('public', 'USAGE')") == [
        (True, True)]
    assert db.rows("SELECT pg_relation_size('items') >= 0, pg_indexes_size('items')") == [(True, 0)]
    assert db.rows("SELECT pg_encoding_to_char(6), pg_char_to_encoding('utf8'), pg_is_in_recovery()") == [
        ("UTF8", 6, False)]
    assert db.rows("SELECT array_lower(ARRAY[5,6,7], 1), array_upper(ARRAY[5,6,7], 1), "
                   "array_upper(ARRAY[5], 2)") == [(1, 3, None)]


@pytest.mark.parametrize("n,text", [(0, "0 bytes"), (10239, "10239 bytes"), (10240, "10 kB"),
                                    (123456789, "118 MB"), (-10240, "-10 kB"),
                                    (10 * 1024**5, "10 PB")])
def test_size_pretty(n, text):
    assert size_pretty(n) == text


def test_vector_register_query(db):
    """pgvector-python's psycopg2 register_vector query."""
    got = db.rows("SELECT typname, oid FROM pg_type WHERE oid IN "
                  "(to_regtype('vector'), to_regtype('halfvec'), to_regtype('sparsevec'))")
    assert sorted(got) == [("halfvec", 16387), ("sparsevec", 16389), ("vector", 16385)]
