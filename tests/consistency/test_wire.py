"""Consistency levels through ``sqlvec serve`` and psycopg: settings and errors on the wire,
and each level with a concurrent writer on another connection."""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest

BATCH = 50
BATCHES = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "wire"))
    from wireserver import ServerProcess

    srv = ServerProcess(tmp_path_factory.mktemp("consistency") / "data").start()
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()


@pytest.fixture
def dsn(server) -> str:
    name = f"c_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.dsn(name)


def _writer(dsn: str, errors: list, done: threading.Event, committed: list[int]) -> None:
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
            for b in range(BATCHES):
                cur.executemany("INSERT INTO t VALUES (%s, %s, %s)",
                                [(b * 1000 + i, b, f"[{b},{i},1]") for i in range(BATCH)])
                committed.append(b)
    except BaseException as exc:
        errors.append(exc)
    finally:
        done.set()


def _whole_prefix(cur) -> int:
    rows = dict(cur.execute("SELECT batch, count(*) FROM t GROUP BY batch").fetchall())
    assert sorted(rows) == list(range(len(rows))), rows
    assert all(n == BATCH for n in rows.values()), rows
    return len(rows)


def test_settings_and_errors_on_the_wire(dsn) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SHOW sqlvec.consistency").fetchone()[0] == "strong"
        with pytest.raises(psycopg.errors.InvalidParameterValue) as ei:
            conn.execute("SET sqlvec.consistency = 'x'")
        assert ei.value.sqlstate == "22023"
        assert ei.value.diag.message_primary == 'invalid value for parameter "sqlvec.consistency": "x"'
        with pytest.raises(psycopg.errors.InvalidParameterValue) as ei:
            conn.execute("CREATE TABLE b (a int) WITH (consistency = 'x')")
        assert ei.value.diag.message_primary == 'invalid value for enum option "consistency": x'
        conn.execute("SET sqlvec.staleness = '2s'")
        assert conn.execute("SHOW sqlvec.staleness").fetchone()[0] == "2s"
    with psycopg.connect(dsn) as conn:  # not autocommit: psycopg sends BEGIN
        conn.execute("SET LOCAL sqlvec.consistency = eventually")
        assert conn.execute("SHOW sqlvec.consistency").fetchone()[0] == "eventually"
        conn.commit()
        assert conn.execute("SHOW sqlvec.consistency").fetchone()[0] == "strong"


@pytest.mark.parametrize("level", ["strong", "session", "bounded", "eventually"])
def test_each_level_with_a_concurrent_writer(dsn, level: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int, batch int, v vector(3))"
                      + (" WITH (consistency = 'eventually')" if level == "eventually" else ""))
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
    errors: list = []
    committed: list[int] = []
    done = threading.Event()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if level != "eventually":  # eventually comes from the table's default
            conn.execute(f"SET sqlvec.consistency = {level}")
        conn.execute("SET sqlvec.staleness = '100ms'")
        cur = conn.cursor()
        writer = threading.Thread(target=_writer, args=(dsn, errors, done, committed))
        writer.start()
        last = 0
        while not done.is_set():
            before = len(committed)
            seen = _whole_prefix(cur)  # never torn, never uncommitted
            if level == "strong":
                assert seen >= before  # every commit that returned is visible at once
                assert seen >= last  # (weak levels promise no monotonic reads)
            last = seen
            cur.execute("SELECT id FROM t ORDER BY v <-> '[1,1,1]' LIMIT 10").fetchall()
        writer.join(60)
        assert not errors, errors
        if level == "session":  # own writes, through the extended protocol and in a block
            cur.execute("INSERT INTO t VALUES (%s, %s, %s)", (-1, -1, "[0,0,0]"))
            assert cur.execute("SELECT count(*) FROM t WHERE id = -1").fetchone()[0] == 1
            with conn.transaction():
                cur.execute("DELETE FROM t WHERE id = -1")
            assert cur.execute("SELECT count(*) FROM t WHERE id = -1").fetchone()[0] == 0
        if level == "strong":
            assert _whole_prefix(cur) == BATCHES
