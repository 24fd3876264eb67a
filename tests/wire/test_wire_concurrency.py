"""Cancel, statement timeouts, many connections at once, and a slow query that must not
hold the others up."""

from __future__ import annotations

import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import rawclient as W
from psycopg import errors as pgerr

# ~2 s on 4M rows, with interrupt checks between segments (131072 rows each)
SLOW = (
    "SELECT count(*) FROM big WHERE lower(x::text || t || (x * 7)::text || (x * 13)::text) "
    "LIKE '%9%9%9%9%'"
)


@pytest.fixture(scope="module")
def slow_db(server):
    name = "slowdb"
    with psycopg.connect(server.dsn(), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(server.dsn(name), autocommit=True) as c:
        c.execute("CREATE TABLE big (x int, t text)")
        c.execute("INSERT INTO big VALUES (1, 'abc')")
        for i in range(22):
            c.execute(f"INSERT INTO big SELECT x + {2**i}, t FROM big")
    return server.dsn(name)


def test_cancel_running_query(slow_db):
    with psycopg.connect(slow_db, autocommit=True) as c:
        timer = threading.Timer(0.3, c.cancel)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(pgerr.QueryCanceled) as info:
            c.execute(SLOW)
        assert time.monotonic() - t0 < 1.5
        assert info.value.diag.message_primary == "canceling statement due to user request"
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_cancel_request_after_ssl_request(server, slow_db):
    raw = W.RawClient(server.host, server.port)
    msgs = raw.login(database="slowdb")
    pid, secret = struct.unpack("!ii", next(p for k, p in msgs if k == b"K"))
    raw.send(W.query(SLOW))

    def cancel() -> None:
        cr = W.RawClient(server.host, server.port)
        cr.send(struct.pack("!ii", 8, 80877103))  # SSLRequest first, as libpq may do
        assert cr.read_byte() == b"N"
        cr.send(struct.pack("!iiii", 16, 80877102, pid, secret))
        assert cr.read() is None  # no answer: the server just closes
        cr.close()

    threading.Timer(0.3, cancel).start()
    msgs = raw.until(b"Z")
    assert W.fields(msgs[0][1])["C"] == "57014"
    raw.close()


def test_statement_timeout(slow_db):
    with psycopg.connect(slow_db, autocommit=True) as c:
        c.execute("SET statement_timeout = 200")
        with pytest.raises(pgerr.QueryCanceled) as info:
            c.execute(SLOW)
        assert info.value.diag.message_primary == "canceling statement due to statement timeout"
        c.execute("SET statement_timeout = 0")
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_slow_query_does_not_stall_others(slow_db, database):
    with psycopg.connect(slow_db, autocommit=True) as slow:
        done = threading.Event()

        def run_slow() -> None:
            slow.execute(SLOW)
            done.set()

        t = threading.Thread(target=run_slow)
        t.start()
        time.sleep(0.05)  # let the slow statement start (not a readiness wait)
        with psycopg.connect(database, autocommit=True) as fast:
            t0 = time.monotonic()
            for _ in range(20):
                fast.execute("SELECT 1").fetchone()
            elapsed = time.monotonic() - t0
            still_running = not done.is_set()
        t.join()
    assert still_running, "the slow query finished too early for this test to mean anything"
    assert elapsed < 1.0


def test_hundred_open_connections_32_writers(server, database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute("CREATE TABLE acct (worker int, n int, v vector(2))")
    idle = [psycopg.connect(database, autocommit=True) for _ in range(68)]
    try:
        def work(w: int) -> int:
            with psycopg.connect(database, autocommit=True) as c:
                total = 0
                for i in range(20):
                    c.execute("INSERT INTO acct VALUES (%s, %s, %s)", (w, i, f"[{w},{i}]"))
                    total += i
                    got = c.execute("SELECT count(*), sum(n) FROM acct WHERE worker = %s", (w,)).fetchone()
                    assert got == (i + 1, total)
                with c.transaction():
                    c.execute("INSERT INTO acct VALUES (%s, 100, NULL)", (w,))
                return total + 100

        with ThreadPoolExecutor(32) as pool:
            totals = list(pool.map(work, range(32)))
        for c in idle:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        for c in idle:
            c.close()
    with psycopg.connect(database, autocommit=True) as c:
        assert c.execute("SELECT count(*), sum(n) FROM acct").fetchone() == (32 * 21, sum(totals))
