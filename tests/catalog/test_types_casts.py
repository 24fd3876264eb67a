"""Catalog types, their I/O and casts (reg* names resolved through the session)."""

from __future__ import annotations

import pytest

from sqlvec import errors
from sqlvec.exec.functions.context import current_session, get_session
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import CHAR, INT2VECTOR, NAME, OID, lsn_in, lsn_out, name_in


def test_types_have_postgres_oids():
    expect = {"oid": 26, "name": 19, '"char"': 18, "regclass": 2205, "regtype": 2206,
              "regproc": 24, "regprocedure": 2202, "regnamespace": 4089, "regrole": 4096,
              "int2vector": 22, "oidvector": 30, "pg_node_tree": 194, "aclitem": 1033,
              "xid": 28, "cid": 29, "tid": 27, "pg_lsn": 3220}
    for name, oid in expect.items():
        assert R.type_by_name(name).oid == oid, name
    arrays = {"oid[]": 1028, "name[]": 1003, '"char"[]': 1002, "aclitem[]": 1034,
              "regtype[]": 2211, "regclass[]": 2210, "text[]": 1009}
    for name, oid in arrays.items():
        assert R.array_of(R.type_by_name(name[:-2])).oid == oid, name


def test_char_alias_still_means_bpchar():
    assert R.type_by_name("char").oid == 1042
    assert R.type_by_name('"char"').oid == 18


def test_text_io():
    assert OID.defn.text_in("4294967295") == 4294967295
    assert OID.defn.text_in("-1") == 4294967295
    with pytest.raises(errors.NumericValueOutOfRange):
        OID.defn.text_in("4294967296")
    with pytest.raises(errors.InvalidTextRepresentation):
        OID.defn.text_in("abc")
    assert name_in("x" * 100) == "x" * 63
    assert CHAR.defn.text_in("abc") == "a"
    assert INT2VECTOR.defn.text_in("1 2 3") == [1, 2, 3]
    assert INT2VECTOR.defn.text_out([1, 2]) == "1 2"
    assert lsn_out(lsn_in("16/B374D848")) == "16/B374D848"
    assert NAME.defn.recv(NAME.defn.send("abc")) == "abc"


def test_binary_oid_is_unsigned():
    assert OID.defn.send(4294967295) == b"\xff\xff\xff\xff"
    assert OID.defn.recv(b"\xff\xff\xff\xff") == 4294967295


def test_oid_casts(db):
    assert db.rows("SELECT 5::oid, (-1)::oid, 4294967295::oid::int4, 7::oid::bigint") == [
        (5, 4294967295, -1, 7)]
    with pytest.raises(errors.NumericValueOutOfRange):
        db.rows("SELECT 4294967296::oid")


def test_regclass_casts(db):
    oid = db.oid("items")
    assert db.rows("SELECT 'items'::regclass::oid, 'public.items'::regclass::oid") == [(oid, oid)]
    assert db.rows("SELECT 'pg_class'::regclass::oid, 'pg_catalog.pg_type'::regclass::oid") == [(1259, 1247)]
    assert db.rows("SELECT 'items'::regclass::text, 'pg_class'::regclass::text") == [("items", "pg_class")]
    assert db.rows(f"SELECT {oid}::regclass::text, 0::regclass::text") == [("items", "-")]
    with pytest.raises(errors.UndefinedTable, match='relation "nope" does not exist'):
        db.rows("SELECT 'nope'::regclass")


def test_regclass_output_qualifies_names_off_the_search_path(db):
    db.rows("CREATE SCHEMA other")
    db.rows("CREATE TABLE other.x (a int)")
    assert db.rows("SELECT 'other.x'::regclass::text") == [("other.x",)]
    db.rows("SET search_path = other, public")
    assert db.rows("SELECT 'x'::regclass::text") == [("x",)]


def test_regtype_regnamespace_regrole_regproc(db):
    assert db.rows("SELECT 'vector'::regtype::oid, 'integer'::regtype::oid, 'int4'::regtype::oid") == [
        (16385, 23, 23)]
    assert db.rows("SELECT 'character varying(10)'::regtype::text, 'integer[]'::regtype::oid") == [
        ("character varying", 1007)]
    assert db.rows("SELECT 'public'::regnamespace::oid, 'postgres'::regrole::oid") == [(2200, 10)]
    assert db.rows("SELECT 11::regnamespace::text, 10::regrole::text") == [("pg_catalog", "postgres")]
    assert db.rows("SELECT 'lower'::regproc::text") == [("lower",)]
    with pytest.raises(errors.UndefinedObject):
        db.rows("SELECT 'nosuchtype'::regtype")
    with pytest.raises(errors.InvalidSchemaName):
        db.rows("SELECT 'nope'::regnamespace")


def test_session_context_nests_and_requires_a_session(db):
    with pytest.raises(errors.Error):
        get_session()
    with current_session(db.session):
        with current_session("inner"):
            assert get_session() == "inner"
        assert get_session() is db.session
