"""Sessions on many threads over one database: isolation, lost updates, failed blocks."""

from __future__ import annotations

import threading

import pytest

import sqlvec
from sqlvec import errors


@pytest.fixture
def dbdir(tmp_path):
    return str(tmp_path / "db")


def _conn(path, autocommit=True):
    return sqlvec.connect(path, autocommit=autocommit)


def test_snapshot_isolation_between_sessions(dbdir):
    a, b = _conn(dbdir), _conn(dbdir, autocommit=False)
    a.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    a.execute("INSERT INTO t VALUES (1, 10)")
    cb = b.cursor()
    cb.execute("SELECT v FROM t WHERE id = 1")  # b's transaction and snapshot start here
    assert cb.fetchall() == [(10,)]
    a.execute("UPDATE t SET v = 20 WHERE id = 1")
    a.execute("INSERT INTO t VALUES (2, 30)")
    cb.execute("SELECT count(*), sum(v) FROM t")
    assert cb.fetchall() == [(1, 10)]  # still b's snapshot
    b.commit()
    cb.execute("SELECT count(*), sum(v) FROM t")
    assert cb.fetchall() == [(2, 50)]
    a.close()
    b.close()


def test_concurrent_increments_lose_nothing(dbdir):
    setup = _conn(dbdir)
    setup.execute("CREATE TABLE counter (id int PRIMARY KEY, v int)")
    setup.execute("INSERT INTO counter VALUES (1, 0)")
    failures = []

    def work():
        c = _conn(dbdir)
        try:
            for _ in range(50):
                c.execute("UPDATE counter SET v = v + 1 WHERE id = 1")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert setup.execute("SELECT v FROM counter").fetchall() == [(200,)]
    setup.close()


def test_conflicting_transactions_get_serialization_failure(dbdir):
    a, b = _conn(dbdir, autocommit=False), _conn(dbdir, autocommit=False)
    a.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    a.execute("INSERT INTO t VALUES (1, 0)")
    a.commit()
    a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
    b.execute("UPDATE t SET v = v + 10 WHERE id = 1")
    a.commit()
    with pytest.raises(errors.SerializationFailure) as ei:
        b.commit()
    assert ei.value.sqlstate == "40001"
    c = _conn(dbdir)
    assert c.execute("SELECT v FROM t").fetchall() == [(1,)]
    for x in (a, b, c):
        x.close()


def test_failed_block_until_rollback(dbdir):
    c = _conn(dbdir)
    cur = c.cursor()
    cur.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cur.execute("BEGIN")
    cur.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(errors.UniqueViolation):
        cur.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(errors.InFailedSqlTransaction) as ei:
        cur.execute("SELECT 1")
    assert ei.value.sqlstate == "25P02"
    cur.execute("ROLLBACK")
    assert cur.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    c.close()


def test_many_threads_insert_and_read(dbdir):
    setup = _conn(dbdir)
    setup.execute("CREATE TABLE t (id bigint PRIMARY KEY, w int, emb vector(4))")
    errs = []

    def writer(k):
        c = _conn(dbdir, autocommit=False)
        try:
            cur = c.cursor()
            for j in range(20):
                base = (k * 1000 + j) * 10
                cur.executemany(
                    "INSERT INTO t VALUES (%s, %s, %s)",
                    [(base + i, k, [float(i), 1.0, 2.0, 3.0]) for i in range(10)],
                )
                c.commit()
                cur.execute("SELECT count(*) FROM t WHERE w = %s", (k,))
                assert cur.fetchone()[0] == (j + 1) * 10
                cur.execute("SELECT id FROM t ORDER BY emb <-> %s LIMIT 3", ([0.0, 1, 2, 3],))
                assert len(cur.fetchall()) == 3
                c.commit()
        except Exception as exc:  # noqa: BLE001
            errs.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errs, errs
    assert setup.execute("SELECT count(*) FROM t").fetchall() == [(800,)]
    setup.close()


def test_cached_plans_follow_search_path(dbdir):
    """A statement planned under one search_path is planned again under another, as
    PostgreSQL's plan cache does (the same text names another table)."""
    c = _conn(dbdir)
    c.execute("CREATE SCHEMA a")
    c.execute("CREATE SCHEMA b")
    for s, v in (("a", 1), ("b", 2)):
        c.execute(f"CREATE TABLE {s}.t (x int)")
        c.execute(f"INSERT INTO {s}.t VALUES ({v})")
    for s, v in (("a", 1), ("b", 2), ("a", 1)):
        c.execute(f"SET search_path = {s}")
        for _ in range(2):
            assert c.execute("SELECT x FROM t WHERE x > %s", (0,)).fetchall() == [(v,)]
