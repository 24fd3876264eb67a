"""A database with tables, constraints, defaults and a serial sequence; helpers that run SQL
and build virtual relations inside the session context the catalog functions need."""

from __future__ import annotations

import pytest

import sqlvec
from sqlvec.exec.functions.context import current_session

DDL = [
    "CREATE EXTENSION vector",
    "CREATE TABLE items (id serial PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'x', "
    "emb vector(3), price numeric(10,2) CHECK (price > 0), UNIQUE (name))",
    "CREATE TABLE tags (tag text, n integer)",
    "INSERT INTO items (name, emb, price) VALUES ('a', '[1,2,3]', 1.5), ('b', '[4,5,6]', 2)",
]


class Db:
    def __init__(self) -> None:
        self.conn = sqlvec.connect(":memory:", autocommit=True)
        self.session = self.conn.session
        for sql in DDL:
            self.rows(sql)

    def rows(self, sql: str) -> list[tuple]:
        cur = self.conn.cursor()
        with current_session(self.session):
            cur.execute(sql)
            return cur.fetchall() if cur.description else []

    def build(self, schema: str, name: str):
        from sqlvec.catalog import virtual

        vt = virtual.get(schema, name)
        assert vt is not None, name
        with current_session(self.session):
            return vt.build(self.session)

    def oid(self, relname: str) -> int:
        return self.rows(f"SELECT '{relname}'::regclass::oid")[0][0]


@pytest.fixture
def db():
    d = Db()
    yield d
    d.conn.close()
