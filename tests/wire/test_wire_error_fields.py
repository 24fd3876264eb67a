"""ErrorResponse names the object an integrity error is about (fields s, t, c, n), as
PostgreSQL does: drivers expose them (psycopg's Diagnostic, node-postgres' err.constraint)."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute("CREATE TABLE parent (id int PRIMARY KEY)")
        c.execute(
            "CREATE TABLE child (id int CONSTRAINT child_key UNIQUE, note text NOT NULL,"
            " qty int CONSTRAINT qty_positive CHECK (qty > 0),"
            " pid int CONSTRAINT child_parent_fk REFERENCES parent (id))"
        )
        c.execute("INSERT INTO parent VALUES (1)")
        c.execute("INSERT INTO child VALUES (1, 'a', 1, 1)")
        yield c


def _diag(conn, sql: str, error: type[psycopg.Error]) -> psycopg.errors.Diagnostic:
    with pytest.raises(error) as info:
        conn.execute(sql)
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection stays usable
    return info.value.diag


def test_unique_violation_names_constraint(conn):
    d = _diag(conn, "INSERT INTO child VALUES (1, 'b', 1, 1)", psycopg.errors.UniqueViolation)
    assert d.constraint_name == "child_key"
    assert d.message_detail == "Key (id)=(1) already exists."


def test_not_null_violation_names_column(conn):
    d = _diag(conn, "INSERT INTO child VALUES (2, NULL, 1, 1)", psycopg.errors.NotNullViolation)
    assert (d.schema_name, d.table_name, d.column_name) == ("public", "child", "note")
    assert d.constraint_name is None


def test_check_violation_names_constraint(conn):
    d = _diag(conn, "INSERT INTO child VALUES (2, 'b', 0, 1)", psycopg.errors.CheckViolation)
    assert (d.schema_name, d.table_name, d.constraint_name) == ("public", "child", "qty_positive")


def test_foreign_key_violations_name_constraint(conn):
    d = _diag(conn, "INSERT INTO child VALUES (2, 'b', 1, 99)", psycopg.errors.ForeignKeyViolation)
    assert (d.table_name, d.constraint_name) == ("child", "child_parent_fk")
    d = _diag(conn, "DELETE FROM parent", psycopg.errors.ForeignKeyViolation)
    # PostgreSQL names the referencing table for a delete that leaves a dangling reference
    assert (d.table_name, d.constraint_name) == ("child", "child_parent_fk")


def test_other_errors_name_nothing(conn):
    d = _diag(conn, "SELECT 1/0", psycopg.errors.DivisionByZero)
    assert (d.schema_name, d.table_name, d.column_name, d.constraint_name) == (None, None, None, None)
