"""Starting and stopping: python -m sqlvec serve, SIGTERM/SIGINT with work in flight,
data that survives a restart."""

from __future__ import annotations

import signal
import threading

import psycopg
import pytest
from wireserver import ServerProcess


@pytest.fixture
def request_stop():
    """Servers to kill at teardown if a test failed half-way (stop() is a no-op otherwise)."""
    started = []
    yield started.append
    for srv in started:
        srv.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_keeps_commits(tmp_path, sig, request_stop):
    srv = ServerProcess(tmp_path / "data").start()
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        c.execute("CREATE TABLE k (id int, v vector(2))")
        c.cursor().executemany("INSERT INTO k VALUES (%s, %s)", [(i, f"[{i},0]") for i in range(100)])
    idle = psycopg.connect(srv.dsn(), autocommit=True)  # an idle client is told and dropped
    busy = psycopg.connect(srv.dsn())
    busy.execute("INSERT INTO k VALUES (1000, NULL)")  # an open transaction: rolled back
    assert srv.stop(sig) == 0, srv.log()
    assert "stopped" in srv.log()
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    idle.close()
    busy.close()
    srv2 = ServerProcess(tmp_path / "data").start()
    request_stop(srv2)
    try:
        with psycopg.connect(srv2.dsn(), autocommit=True) as c:
            assert c.execute("SELECT count(*), sum(id) FROM k").fetchone() == (100, sum(range(100)))
    finally:
        assert srv2.stop() == 0


def test_in_flight_statement_finishes_before_exit(tmp_path, request_stop):
    srv = ServerProcess(tmp_path / "data").start()
    request_stop(srv)
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        c.execute("CREATE TABLE big (x int)")
        c.execute("INSERT INTO big VALUES (1)")
        for i in range(20):
            c.execute(f"INSERT INTO big SELECT x + {2**i} FROM big")
    conn = psycopg.connect(srv.dsn(), autocommit=True)
    result = {}

    def insert() -> None:
        try:
            conn.execute("INSERT INTO big SELECT x + 10000000 FROM big")
            result["ok"] = True
        except psycopg.Error as exc:
            result["error"] = exc

    t = threading.Thread(target=insert)
    t.start()
    # the server stops accepting at once, but the statement that runs goes on to commit
    srv.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert srv.proc.wait(60) == 0
    srv.kill()  # reaps the log pipe
    conn.close()
    srv2 = ServerProcess(tmp_path / "data").start()
    request_stop(srv2)
    try:
        with psycopg.connect(srv2.dsn(), autocommit=True) as c:
            count = c.execute("SELECT count(*) FROM big").fetchone()[0]
        # whether the INSERT got in before the signal or not, it is all or nothing
        assert count in (2**20, 2**21)
        if result.get("ok"):
            assert count == 2**21
    finally:
        assert srv2.stop() == 0
