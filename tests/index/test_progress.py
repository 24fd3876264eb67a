"""Index build progress: NOTICEs while CREATE INDEX / REINDEX run (live through the session's
notice sink, else with the result), the shell's progress bar, and psycopg's notice handler."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

import sqlvec
from sqlvec.index import progress
from sqlvec.result import Notice
from sqlvec.shell import Shell

DIM = 16


def _fill(conn, n: int, segments: int) -> None:
    x = np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)
    conn.execute(f"CREATE TABLE items (id int, emb vector({DIM}))")
    per = n // segments
    for s in range(segments):
        conn.cursor().executemany("INSERT INTO items VALUES (%s, %s)",
                                  [(i, x[i]) for i in range(s * per, (s + 1) * per)])
        conn.execute("CHECKPOINT")


@pytest.fixture
def fast_notices(monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # a notice at every change


def test_progress_text_and_cadence():
    got: list[Notice] = []
    p = progress.BuildProgress("hnsw", got.append, interval=3600.0)
    p.segments_total, p.rows_total = 8, 800
    p.rows(296, 800)
    p.segments_done = 2
    assert p.text() == "hnsw build: segment 3/8 (37%)"
    p.poll()
    assert got == []  # the interval has not passed
    assert p in progress.active_builds()
    p.finish()
    p.finish()  # once
    assert [n.message for n in got] == ["hnsw build: segment 8/8 (100%)"]
    assert p not in progress.active_builds()
    assert progress.PATTERN.match(got[0].message)["pct"] == "100"


def test_create_index_notices_through_the_sink(tmp_path, fast_notices):
    conn = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    try:
        _fill(conn, 6000, 3)
        got: list[Notice] = []
        conn._session.notice_sink = got.append
        conn.execute("CREATE INDEX items_emb ON items USING hnsw (emb vector_l2_ops)")
        msgs = [n.message for n in got]
        assert msgs and msgs[-1] == "hnsw build: segment 3/3 (100%)"
        assert all(progress.PATTERN.match(m) for m in msgs)
        pcts = [int(progress.PATTERN.match(m)["pct"]) for m in msgs]
        assert pcts == sorted(pcts)
        got.clear()
        conn.execute("REINDEX INDEX items_emb")  # live too: nothing waits for the result
        assert got[-1].message == "hnsw build: segment 3/3 (100%)"
        got.clear()
        conn.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops) WITH (m = 8)")
        conn.execute("CREATE TABLE empty (e vector(3))")
        conn.execute("CREATE INDEX ON empty USING hnsw (e vector_l2_ops)")
        assert got[-1].message == "hnsw build: segment 3/3 (100%)"  # none for the empty table
    finally:
        conn.close()


def test_without_a_sink_notices_wait_for_the_result(tmp_path):
    conn = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    try:
        _fill(conn, 2000, 2)
        session = conn._session
        session.execute("CREATE INDEX items_emb ON items USING hnsw (emb vector_l2_ops)")
        kept = progress.take_pending(session)
        assert kept[-1].message == "hnsw build: segment 2/2 (100%)"
        assert progress.take_pending(session) == []
    finally:
        conn.close()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_shell_draws_a_progress_bar(tmp_path, fast_notices):
    conn = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    try:
        _fill(conn, 4000, 2)
        out, err = io.StringIO(), _Tty()
        shell = Shell(conn._session, out=out, err=err)
        assert shell.run_sql("CREATE INDEX ON items USING hnsw (emb vector_l2_ops);")
        text = err.getvalue()
        assert "\rhnsw build [" + "#" * 30 + "] 100%  segment 2/2\n" in text
        assert out.getvalue() == "CREATE INDEX\n"
        # not a terminal: psql's NOTICE lines
        err2 = io.StringIO()
        shell2 = Shell(conn._session, out=io.StringIO(), err=err2)
        assert shell2.run_sql("REINDEX TABLE items;")
        assert err2.getvalue().splitlines()[-1] == "NOTICE:  hnsw build: segment 2/2 (100%)"
    finally:
        conn.close()


# -- through the server, with psycopg's notice handler ---------------------------------------

_WIRE = Path(__file__).resolve().parents[1] / "wire"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if str(_WIRE) not in sys.path:
        sys.path.insert(0, str(_WIRE))
    from wireserver import ServerProcess

    srv = ServerProcess(tmp_path_factory.mktemp("progress") / "data").start()
    yield srv
    assert srv.stop() == 0, srv.log()


def _psycopg_fill(conn, n: int, segments: int) -> None:
    x = np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)
    conn.execute("DROP TABLE IF EXISTS items")
    conn.execute(f"CREATE TABLE items (id int, emb vector({DIM}))")
    per = n // segments
    for s in range(segments):
        with conn.cursor().copy("COPY items (id, emb) FROM STDIN") as cp:
            for i in range(s * per, (s + 1) * per):
                cp.write_row((i, "[" + ",".join(f"{v:.6g}" for v in x[i]) + "]"))
        conn.execute("CHECKPOINT")


def test_psycopg_receives_reindex_notices(server):
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        got: list[tuple[str, str]] = []
        conn.add_notice_handler(lambda d: got.append((d.severity, d.message_primary)))
        _psycopg_fill(conn, 3000, 3)
        conn.execute("CREATE INDEX items_emb ON items USING hnsw (emb vector_l2_ops)")
        got.clear()
        conn.execute("REINDEX (VERBOSE) INDEX items_emb")
        assert ("NOTICE", "hnsw build: segment 3/3 (100%)") in got
        assert got[-1] == ("INFO", 'index "items_emb" was reindexed')
        with pytest.raises(psycopg.errors.UndefinedTable, match='relation "nosuch" does not exist'):
            conn.execute("REINDEX INDEX nosuch")


def test_psycopg_receives_create_index_progress(server):
    """CREATE INDEX's progress reaches the client as NOTICEs while the build runs (the wire
    connection gives its session a ``notice_sink``)."""
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        got: list[str] = []
        conn.add_notice_handler(lambda d: got.append(d.message_primary))
        _psycopg_fill(conn, 2000, 2)
        conn.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops)")
        assert got[-1] == "hnsw build: segment 2/2 (100%)"


def test_pg_stat_progress_create_index(tmp_path):
    conn = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    try:
        assert conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()[0] == 0
        b = progress.for_session("hnsw", table_oid=5, index_oid=6, command="REINDEX",
                                 session=conn._session)
        b.segments_total, b.segments_done = 4, 1
        b.rows(50, 100)
        row = conn.execute(
            "SELECT pid = pg_backend_pid(), datname, relid, index_relid, command, phase, "
            "blocks_total, blocks_done, tuples_total, tuples_done "
            "FROM pg_stat_progress_create_index").fetchall()
        assert row == [(True, "postgres", 5, 6, "REINDEX", "building index", 4, 1, 100, 50)]
        b.finish()
        assert conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()[0] == 0
    finally:
        conn.close()
