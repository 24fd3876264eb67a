"""Captured client catalog queries (tests/catalog/queries) over a schema with a view, a
foreign key, an index and comments: they run, and return what the clients need."""

from __future__ import annotations

import pathlib

import pytest

import sqlvec

QUERIES = pathlib.Path(__file__).parent.parent / "catalog" / "queries"


@pytest.fixture(scope="module")
def cur():
    conn = sqlvec.connect(":memory:")
    conn.autocommit = True
    c = conn.cursor()
    for s in ["CREATE EXTENSION vector", "CREATE TABLE p (id int PRIMARY KEY, name text UNIQUE)",
              "CREATE TABLE c (id serial PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE, e vector(3))",
              "CREATE INDEX c_p ON c (p_id)", "CREATE VIEW v AS SELECT id, name FROM p",
              "COMMENT ON TABLE c IS 'kids'"]:
        c.execute(s)
    yield c
    conn.close()


def test_sqlalchemy_get_foreign_keys(cur):
    params = {"pg_get_constraintdef_1": True, "contype_1": "f", "param_1": "pg_catalog.pg_constraint",
              "param_2": "r", "param_3": "p", "param_4": "f", "param_5": "v", "param_6": "m",
              "nspname_1": "pg_catalog", "filter_names_1": "c"}
    cur.execute((QUERIES / "sqlalchemy2_get_foreign_keys.sql").read_text(), params)
    assert cur.fetchall() == [("c", "c_p_id_fkey", "FOREIGN KEY (p_id) REFERENCES p(id) ON DELETE CASCADE",
                               "public", None)]


def test_psql_df_lists_functions(cur):
    cur.execute((QUERIES / "psql15_df.sql").read_text())
    got = cur.fetchall()
    assert ("public", "l2_distance", "double precision", "vector, vector", "func") in got


@pytest.mark.parametrize("name", ["psql15_d", "psql15_dt"])
def test_psql_d_lists_relations(cur, name):
    cur.execute((QUERIES / f"{name}.sql").read_text())
    names = {r[1] for r in cur.fetchall()}
    assert {"c", "p"} <= names
    if name == "psql15_d":
        assert "v" in names
