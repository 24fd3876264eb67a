"""The embedded PEP 249 API driving the real engine."""

from __future__ import annotations

import datetime
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import sqlvec
from sqlvec import errors


@pytest.fixture
def conn():
    c = sqlvec.connect(":memory:")
    yield c
    c.close()


def test_select_values_and_description(conn):
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a, 'x'::text AS b, 2.5::float8 AS c, NULL::integer AS d, true AS e")
    assert cur.fetchall() == [(1, "x", 2.5, None, True)]
    assert [(d.name, d.type_code) for d in cur.description] == [
        ("a", 23),
        ("b", 25),
        ("c", 701),
        ("d", 23),
        ("e", 16),
    ]
    assert all(len(d) == 7 for d in cur.description)
    assert cur.description[0].type_code == sqlvec.NUMBER
    assert cur.description[1].type_code == sqlvec.STRING
    assert cur.rowcount == 1


def test_python_value_types(conn):
    row = conn.execute(
        "SELECT 1.50::numeric, DATE '2024-02-29', 'a'::varchar, 9000000000::bigint"
    ).fetchone()
    assert row == (Decimal("1.50"), datetime.date(2024, 2, 29), "a", 9000000000)


def test_rowcount_of_dml(conn):
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id integer, v text)")
    cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert cur.rowcount == 3 and cur.description is None
    cur.execute("UPDATE t SET v = 'z' WHERE id >= 2")
    assert cur.rowcount == 2
    cur.execute("DELETE FROM t WHERE id = 1")
    assert cur.rowcount == 1
    cur.execute("SELECT * FROM t ORDER BY id")
    assert cur.rowcount == 2
    assert cur.fetchall() == [(2, "z"), (3, "z")]


def test_fetchmany_uses_arraysize(conn):
    conn.execute("CREATE TABLE g (n integer)")
    conn.execute("INSERT INTO g VALUES (1), (2), (3), (4), (5), (6), (7)")
    cur = conn.execute("SELECT n FROM g ORDER BY n")
    cur.arraysize = 3
    assert cur.fetchmany() == [(1,), (2,), (3,)]
    assert cur.fetchmany(2) == [(4,), (5,)]
    assert [r for r in cur] == [(6,), (7,)]


def test_parameters_in_every_style(conn):
    assert conn.execute("SELECT %s::integer + 1", (41,)).fetchone() == (42,)
    assert conn.execute("SELECT %(x)s::text || %(x)s::text", {"x": "ab"}).fetchone() == ("abab",)
    assert conn.execute("SELECT $1::integer * $2::integer", [6, 7]).fetchone() == (42,)


def test_autocommit_off_keeps_work_in_a_transaction_until_commit(tmp_path):
    path = str(tmp_path / "db")
    writer = sqlvec.connect(path)
    reader = sqlvec.connect(path, autocommit=True)
    try:
        writer.execute("CREATE TABLE t (id integer)")
        writer.commit()
        writer.execute("INSERT INTO t VALUES (1)")
        assert writer.transaction_status == "T"
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
        writer.commit()
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
        writer.execute("INSERT INTO t VALUES (2)")
        writer.rollback()
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        writer.close()
        reader.close()


def test_autocommit_on_commits_each_statement(tmp_path):
    path = str(tmp_path / "db")
    with sqlvec.connect(path, autocommit=True) as a, sqlvec.connect(path, autocommit=True) as b:
        a.execute("CREATE TABLE t (id integer)")
        a.execute("INSERT INTO t VALUES (1)")
        assert a.transaction_status == "I"
        assert b.execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_context_manager_commits_or_rolls_back(tmp_path):
    path = str(tmp_path / "db")
    with sqlvec.connect(path) as c:
        c.execute("CREATE TABLE t (id integer)")
        c.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), sqlvec.connect(path) as c:
        c.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("abandon")
    with sqlvec.connect(path) as c:
        assert c.execute("SELECT id FROM t").fetchall() == [(1,)]


def test_errors_are_sqlvec_errors_with_sqlstate(conn):
    with pytest.raises(errors.UndefinedTable) as info:
        conn.execute("SELECT * FROM nope")
    assert isinstance(info.value, sqlvec.ProgrammingError)
    assert info.value.sqlstate == "42P01"
    assert info.value.message == 'relation "nope" does not exist'
    conn.rollback()
    conn.execute("CREATE TABLE u (id integer PRIMARY KEY)")
    conn.commit()
    conn.execute("INSERT INTO u VALUES (1)")
    with pytest.raises(sqlvec.IntegrityError) as info:
        conn.execute("INSERT INTO u VALUES (1)")
    assert info.value.sqlstate == "23505"
    with pytest.raises(errors.InFailedSqlTransaction):
        conn.execute("SELECT 1")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM u").fetchone() == (0,)


def test_numpy_vectors_in_and_out(conn):
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute("CREATE TABLE items (id bigserial PRIMARY KEY, emb vector(3))")
    conn.execute("INSERT INTO items (emb) VALUES (%s)", (np.array([1, 2, 3], dtype=np.float32),))
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO items (emb) VALUES (%s)",
        [(np.array(v, dtype=np.float32),) for v in ([4, 5, 6], [3, 1, 2])],
    )
    assert cur.rowcount == 2
    rows = conn.execute(
        "SELECT id, emb FROM items ORDER BY emb <-> %s LIMIT 2",
        (np.array([3, 1, 2], dtype=np.float32),),
    ).fetchall()
    assert [r[0] for r in rows] == [3, 1]
    emb = rows[0][1]
    assert isinstance(emb, np.ndarray) and emb.dtype == np.float32
    np.testing.assert_array_equal(emb, [3, 1, 2])


def test_fetch_arrow_and_fetchnumpy(conn):
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    cur = conn.execute("SELECT 1 AS a, 2 AS a, '[1,2]'::vector AS v")
    table = cur.fetch_arrow()
    assert isinstance(table, pa.Table)
    assert table.column_names == ["a", "a_1", "v"]
    assert table.column("a_1").to_pylist() == [2]
    conn.execute("CREATE TABLE g (n integer, emb vector(2))")
    conn.execute("INSERT INTO g VALUES (1, '[1,2]'), (2, '[3,4]'), (3, '[5,6]')")
    out = conn.execute("SELECT n, emb FROM g ORDER BY n").fetchnumpy()
    assert out["n"].tolist() == [1, 2, 3]
    assert out["emb"].shape == (3, 2) and out["emb"].dtype == np.float32
