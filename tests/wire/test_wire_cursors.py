"""DECLARE / FETCH / MOVE / CLOSE (also psycopg's named cursors), LISTEN / NOTIFY, and the
implicit transaction of an extended-protocol batch."""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute("CREATE TABLE nums (i int)")
        c.execute("INSERT INTO nums SELECT generate_series(1, 10)")
        yield c


def test_declare_fetch_move_close(conn):
    with conn.transaction():
        conn.execute("DECLARE c SCROLL CURSOR FOR SELECT i FROM nums ORDER BY i")
        cur = conn.execute("FETCH 3 FROM c")
        assert cur.fetchall() == [(1,), (2,), (3,)]
        assert cur.statusmessage == "FETCH 3"
        assert conn.execute("MOVE 2 IN c").statusmessage == "MOVE 2"
        assert conn.execute("FETCH NEXT FROM c").fetchall() == [(6,)]
        assert conn.execute("FETCH BACKWARD 2 FROM c").fetchall() == [(5,), (4,)]
        assert conn.execute("FETCH LAST FROM c").fetchall() == [(10,)]
        assert conn.execute("FETCH ABSOLUTE 2 FROM c").fetchall() == [(2,)]
        assert conn.execute("FETCH ALL FROM c").fetchall() == [(i,) for i in range(3, 11)]
        assert conn.execute("FETCH c").fetchall() == []
        names = conn.execute("SELECT name, is_scrollable FROM pg_cursors").fetchall()
        assert names == [("c", True)]
        conn.execute("CLOSE c")
        with pytest.raises(psycopg.errors.InvalidCursorName):
            conn.execute("FETCH c")


def test_cursor_needs_a_transaction_unless_with_hold(conn):
    with pytest.raises(psycopg.errors.NoActiveSqlTransaction):
        conn.execute("DECLARE c CURSOR FOR SELECT 1")
    conn.execute("DECLARE h CURSOR WITH HOLD FOR SELECT i FROM nums ORDER BY i")
    assert conn.execute("FETCH 2 FROM h").fetchall() == [(1,), (2,)]  # survives its commit
    conn.execute("CLOSE h")
    with conn.transaction():
        conn.execute("DECLARE gone CURSOR FOR SELECT 1")
    with pytest.raises(psycopg.errors.InvalidCursorName):
        conn.execute("FETCH gone")


def test_psycopg_named_cursor_with_itersize(conn):
    conn.autocommit = False
    with conn.cursor("named") as cur:
        cur.itersize = 3
        cur.execute("SELECT i, i * 2 FROM nums WHERE i > %s ORDER BY i", [4])
        assert cur.description[0].name == "i"
        assert list(cur) == [(i, i * 2) for i in range(5, 11)]
    with conn.cursor("held", withhold=True) as cur:
        cur.execute("SELECT i FROM nums ORDER BY i")
        assert cur.fetchmany(2) == [(1,), (2,)]
        conn.commit()
        assert cur.fetchone() == (3,)
    conn.commit()


def test_listen_notify_delivered_at_commit(database):
    with psycopg.connect(database, autocommit=True) as listener, \
         psycopg.connect(database, autocommit=True) as sender:
        listener.execute("LISTEN jobs")
        with sender.transaction():
            sender.execute("NOTIFY jobs, 'first'")
            sender.execute("NOTIFY jobs, 'first'")  # folded: one delivery
            sender.execute("SELECT pg_notify('jobs', 'second')")
        with pytest.raises(RuntimeError):
            with sender.transaction():
                sender.execute("NOTIFY jobs, 'rolled back'")
                raise RuntimeError
        got = [(n.channel, n.payload, n.pid) for n in listener.notifies(timeout=5, stop_after=2)]
        pid = sender.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert got == [("jobs", "first", pid), ("jobs", "second", pid)]
        listener.execute("UNLISTEN *")
        sender.execute("NOTIFY jobs, 'nobody hears'")
        assert list(listener.notifies(timeout=0.3)) == []


def test_extended_batch_is_one_transaction(conn):
    """executemany sends Bind/Execute pairs and one Sync: a failure rolls back them all."""
    conn.execute("CREATE TABLE u (k int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.cursor().executemany("INSERT INTO u VALUES (%s)", [(1,), (2,), (2,)])
    assert conn.execute("SELECT count(*) FROM u").fetchone() == (0,)
    with conn.pipeline():
        conn.execute("INSERT INTO u VALUES (%s)", [1])
        conn.execute("INSERT INTO u VALUES (%s)", [2])
        cur = conn.execute("SELECT count(*) FROM u")
    assert cur.fetchone() == (2,)
