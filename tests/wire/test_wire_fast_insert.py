"""The short path of the prepared one-row INSERT through the wire (psycopg's Bind/Execute):
the same rows as the general path for many types, text and binary, the same error fields
(SQLSTATE, message, detail) with the connection usable after, inside transaction blocks, and
after ALTER TABLE. One test runs the server in this process to see that the short path is
what answered (its ``hits``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest

psycopg = pytest.importorskip("psycopg")

TYPES = ("k int, s smallint, i integer, b bigint, t text, v varchar(5), n numeric(8,2), r real, "
         "d double precision, f boolean, ts timestamptz, day date, u uuid, e vector(3)")
INSERT = "INSERT INTO {} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def _row(k: int) -> tuple:
    vals = [k, k % 200 - 100, k * 70000, -(k**5), f"t{k}é", "abcde"[: k % 6], Decimal(k) / 4,
            k / 3, k / 7, k % 2 == 1, dt.datetime(2024, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=k),
            dt.date(2021, 1, 1 + k % 28), uuid.UUID(int=k), "[" + ",".join(str(k + j / 4) for j in range(3)) + "]"]
    for j in range(1, len(vals)):
        if (k + j) % 7 == 0:
            vals[j] = None
    return tuple(vals)


def _pair(database):
    fast = psycopg.connect(database, autocommit=True)
    general = psycopg.connect(database, autocommit=True)
    general.execute("SET statement_timeout = '1h'")  # its timer keeps the general path
    return fast, general


def _error(conn, sql, params):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql, params)
    d = info.value.diag
    return (d.sqlstate, (d.message_primary or "").replace('"b', '"a'),
            (d.message_detail or "").replace('"b"', '"a"'))


@pytest.mark.parametrize("binary", [False, True])
def test_same_rows_text_and_binary(database, binary):
    fast, general = _pair(database)
    with fast, general:
        fast.execute(f"CREATE TABLE a ({TYPES})")
        fast.execute(f"CREATE TABLE b ({TYPES})")
        for k in range(1, 30):  # psycopg prepares after 5 runs: unnamed, then named statements
            fast.cursor(binary=binary).execute(INSERT.format("a"), _row(k))
            general.cursor(binary=binary).execute(INSERT.format("b"), _row(k))
        q = "SELECT * FROM {} ORDER BY k"
        got = fast.execute(q.format("a")).fetchall()
        assert got == fast.execute(q.format("b")).fetchall()
        assert len(got) == 29 and got[0][4] == "t1é"


def test_errors_and_connection_usable_after(database):
    fast, general = _pair(database)
    with fast, general:
        for t in ("a", "b"):
            fast.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, name varchar(4) NOT NULL, "
                         "qty smallint CHECK (qty >= 0))")
        sql = "INSERT INTO {} VALUES (%s, %s, %s)"
        for k in range(8):
            fast.execute(sql.format("a"), (k, f"n{k}", k))
            general.execute(sql.format("b"), (k, f"n{k}", k))
        for bad in ((3, "dup", 1), (20, None, 1), (21, "x", -1), (22, "toolong", 1), (23, "x", 40000)):
            got = _error(fast, sql.format("a"), bad)
            assert got == _error(general, sql.format("b"), bad)
            assert got[0] in ("23505", "23502", "23514", "22001", "22003")
        assert _error(fast, sql.format("a"), (3, "dup", 1)) == (
            "23505", 'duplicate key value violates unique constraint "a_pkey"', "Key (id)=(3) already exists.")
        fast.execute(sql.format("a"), (30, "ok", 2))
        assert fast.execute("SELECT count(*) FROM a").fetchone() == (9,)


def test_returning_defaults_and_serial(database):
    fast, general = _pair(database)
    with fast, general:
        for t in ("a", "b"):
            fast.execute(f"CREATE TABLE {t} (id serial, name text, w real DEFAULT 0.5, at timestamptz DEFAULT now())")
        sql = "INSERT INTO {} (name) VALUES (%s) RETURNING id, w, name"
        for k in range(8):
            got = fast.execute(sql.format("a"), (f"n{k}",))
            want = general.execute(sql.format("b"), (f"n{k}",))
            assert got.fetchall() == want.fetchall() == [(k + 1, 0.5, f"n{k}")]
            assert [c.name for c in got.description] == ["id", "w", "name"]
            assert got.statusmessage == "INSERT 0 1"
        assert fast.execute("SELECT count(*) FROM a WHERE at IS NOT NULL").fetchone() == (8,)


def test_transaction_rollback_and_alter(database):
    with psycopg.connect(database) as conn, psycopg.connect(database, autocommit=True) as other:
        conn.execute("CREATE TABLE a (id int, note text)")
        conn.commit()
        sql = "INSERT INTO a VALUES (%s, %s)"
        for k in range(8):
            conn.execute(sql, (k, "rolled back"))
        assert conn.execute("SELECT count(*) FROM a").fetchone() == (8,)
        assert other.execute("SELECT count(*) FROM a").fetchone() == (0,)
        conn.rollback()
        for k in range(8):
            conn.execute(sql, (k, "kept"))
        conn.commit()
        other.execute("ALTER TABLE a ADD COLUMN extra int DEFAULT 5")
        for k in range(8, 14):
            conn.execute(sql, (k, "after alter"))
        conn.commit()
        rows = other.execute("SELECT id, note, extra FROM a ORDER BY id").fetchall()
        assert rows == [(k, "kept" if k < 8 else "after alter", 5) for k in range(14)]
        # an error inside the block fails it; the next block works
        conn.execute("ALTER TABLE a ADD PRIMARY KEY (id)")
        conn.commit()
        for k in range(20, 26):
            conn.execute(sql, (k, "x"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(sql, (20, "again"))
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute(sql, (27, "y"))
        conn.rollback()
        conn.execute(sql, (28, "z"))
        conn.commit()
        assert other.execute("SELECT count(*) FROM a").fetchone() == (15,)


# -- the server in this process: which path answered ----------------------------------------------


@pytest.fixture
def inprocess(tmp_path):
    """A wire server on a free port in this process (its sessions can be inspected)."""
    from sqlvec.wire.config import ServerConfig
    from sqlvec.wire.server import Server

    server = Server(ServerConfig(data_dir=str(tmp_path / "data"), port=0))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["addr"] = loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(60)
    host, port = box["addr"]
    yield server, f"host={host} port={port} user=postgres dbname=postgres"
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(60)
    loop.close()


def _sessions(server) -> list:
    return [c.start.session for c in list(server._threads.values()) if c.start is not None]


def test_short_path_answers_the_benchmark_statement(inprocess):
    server, dsn = inprocess
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_ins (id int, note text)")
        for i in range(40):  # wire_bench.py's statement: int2 and unknown parameters
            conn.execute("INSERT INTO bench_ins VALUES (%s, %s)", (i, "x"))
        for i in range(40000, 40010):  # int4 now: another plan, its own short path
            conn.execute("INSERT INTO bench_ins VALUES (%s, %s)", (i, "y"))
        (session,) = _sessions(server)
        fasts = [f for f in session._fast.values() if type(f).__name__ == "FastInsert"]
        assert sorted(f.hits for f in fasts) == [9, 39]
        rows = conn.execute("SELECT id, note FROM bench_ins ORDER BY id").fetchall()
        assert rows == [(i, "x") for i in range(40)] + [(i, "y") for i in range(40000, 40010)]
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            conn.execute("INSERT INTO bench_ins VALUES (%s, %s)", (2**40, "z"))
        conn.execute("INSERT INTO bench_ins VALUES (%s, %s)", (7, "again"))
        assert max(f.hits for f in fasts) == 40
