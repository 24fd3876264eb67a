"""psycopg 3 against the server: text and binary, parameters, prepared statements,
executemany, transactions, errors, notices, vectors."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from psycopg import errors as pgerr


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        yield c


def test_text_and_binary_results_agree(conn):
    conn.execute(
        "CREATE TABLE t (i int, b bigint, s smallint, f float8, r real, n numeric(10,2), "
        "x text, v varchar(5), ok boolean, d date, ts timestamp, tz timestamptz, "
        "u uuid, j jsonb, by bytea, arr int[])"
    )
    row = (
        1, 2**40, -3, 1.5, 0.25, Decimal("12.34"), "héllo", "abc", True, dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        uuid.UUID("12345678-1234-5678-1234-567812345678"), {"a": [1, 2]}, b"\x00\xff", [1, None, 3],
    )
    conn.execute(
        "INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)",
        (*row[:13], '{"a": [1, 2]}', row[14], row[15]),
    )
    conn.execute("INSERT INTO t (i) VALUES (NULL)")
    text_rows = conn.execute("SELECT * FROM t ORDER BY i NULLS LAST").fetchall()
    with conn.cursor(binary=True) as cur:
        binary_rows = cur.execute("SELECT * FROM t ORDER BY i NULLS LAST").fetchall()
    assert text_rows == binary_rows
    assert text_rows[0] == row
    assert text_rows[1] == (None,) * 16


def test_parameters_of_many_types(conn):
    got = conn.execute(
        "SELECT %s::int + 1, %s || 'x', %s::float8 * 2, %s::date, %s IS NULL",
        (41, "a", 1.25, dt.date(2020, 1, 1), None),
    ).fetchone()
    assert got == (42, "ax", 2.5, dt.date(2020, 1, 1), True)
    with conn.cursor(binary=True) as cur:
        assert cur.execute("SELECT %b::bigint * 2", (21,)).fetchone() == (42,)


def test_prepared_after_five_executions(conn):
    conn.execute("CREATE TABLE p (id int PRIMARY KEY, name text)")
    conn.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    for _ in range(8):
        for k in (1, 2):
            assert conn.execute("SELECT name FROM p WHERE id = %s", (k,)).fetchone() == (
                {1: "one", 2: "two"}[k],
            )
    assert len(conn._prepared._names) >= 1  # psycopg did prepare it server-side
    with conn.cursor() as cur:
        cur.execute("SELECT name FROM p WHERE id = %s", (2,), prepare=True)
        assert cur.fetchone() == ("two",)


def test_executemany_and_rowcount(conn):
    conn.execute("CREATE TABLE m (id int, v vector(2))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO m VALUES (%s, %s)", [(i, f"[{i},{i}]") for i in range(50)])
        assert cur.rowcount == 50
        cur.executemany("INSERT INTO m VALUES (%s, %s) RETURNING id", [(100, None), (101, None)], returning=True)
        ids = []
        while True:
            ids.append(cur.fetchone()[0])
            if not cur.nextset():
                break
        assert ids == [100, 101]
    assert conn.execute("SELECT count(*), sum(id) FROM m").fetchone() == (52, sum(range(50)) + 201)


def test_transactions_commit_and_rollback(database):
    with psycopg.connect(database) as c:  # not autocommit: psycopg sends BEGIN
        c.execute("CREATE TABLE tx (a int)")
        c.commit()
        c.execute("INSERT INTO tx VALUES (1)")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        c.rollback()
        c.execute("INSERT INTO tx VALUES (2)")
        c.commit()
        with c.transaction():
            c.execute("INSERT INTO tx VALUES (3)")
        with pytest.raises(pgerr.DivisionByZero):
            with c.transaction():
                c.execute("INSERT INTO tx VALUES (4)")
                c.execute("SELECT 1 / 0")
        assert c.execute("SELECT a FROM tx ORDER BY a").fetchall() == [(2,), (3,)]


def test_errors_keep_the_connection_usable(conn):
    with pytest.raises(pgerr.UndefinedTable) as info:
        conn.execute("SELECT * FROM missing_table")
    assert info.value.diag.statement_position == "15"
    assert info.value.diag.message_primary == 'relation "missing_table" does not exist'
    with pytest.raises(pgerr.SyntaxError):
        conn.execute("SELEC 1")
    with pytest.raises(pgerr.InvalidTextRepresentation):
        conn.execute("SELECT %s::int", ("nope",))
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_error_in_transaction_block_then_rollback(database):
    with psycopg.connect(database) as c:
        with pytest.raises(pgerr.UndefinedTable):
            c.execute("SELECT * FROM nope")
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(pgerr.InFailedSqlTransaction):
            c.execute("SELECT 1")
        c.rollback()
        assert c.execute("SELECT 2").fetchone() == (2,)


def test_notices_reach_the_client(conn):
    seen = []
    conn.add_notice_handler(lambda d: seen.append((d.severity, d.sqlstate, d.message_primary)))
    conn.execute("DROP TABLE IF EXISTS never_there")
    conn.execute("COMMIT")
    assert ("NOTICE", "00000", 'table "never_there" does not exist, skipping') in seen
    assert ("WARNING", "25P01", "there is no transaction in progress") in seen


def test_numpy_vectors_as_text_literals(conn):
    conn.execute("CREATE TABLE items (id int, emb vector(4))")
    rng = np.random.default_rng(0)
    data = rng.standard_normal((20, 4)).astype(np.float32)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s)",
            [(i, "[" + ",".join(repr(float(x)) for x in vec) + "]") for i, vec in enumerate(data)],
        )
    q = data[7]
    lit = "[" + ",".join(repr(float(x)) for x in q) + "]"
    rows = conn.execute("SELECT id, emb::text FROM items ORDER BY emb <-> %s LIMIT 3", (lit,)).fetchall()
    assert rows[0][0] == 7
    back = np.array([float(x) for x in rows[0][1].strip("[]").split(",")], dtype=np.float32)
    np.testing.assert_array_equal(back, data[7])
    expected = np.argsort(np.linalg.norm(data - q, axis=1))[:3]
    assert [r[0] for r in rows] == list(expected)


def test_vector_binary_layout_through_psycopg(conn):
    with conn.cursor(binary=True) as cur:
        raw = cur.execute("SELECT '[1,2.5,-3]'::vector, '[1,2]'::halfvec").fetchone()
    assert raw[0] == bytes.fromhex("00030000") + np.array([1, 2.5, -3], ">f4").tobytes()
    assert raw[1] == bytes.fromhex("00020000") + np.array([1, 2], ">f2").tobytes()


def test_set_reported_back(conn):
    conn.execute("SET application_name = 'from-set'")
    assert conn.info.parameter_status("application_name") == "from-set"
    assert conn.execute("SHOW application_name").fetchone() == ("from-set",)


def test_pipeline_mode(conn):
    conn.execute("CREATE TABLE pl (a int)")
    with conn.pipeline():
        for i in range(10):
            conn.execute("INSERT INTO pl VALUES (%s)", (i,))
        cur = conn.execute("SELECT sum(a) FROM pl")
    assert cur.fetchone() == (45,)
