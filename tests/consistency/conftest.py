"""Fixtures for the consistency tests: an on-disk database with small segments, several
sessions on it, and a gate that holds vector index builds back (sealed segments then stay
unindexed for as long as a test wants: the state weak levels exist for)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import sqlvec
from sqlvec.index import INDEX_CLASSES

SEAL_ROWS = 200
DIM = 8


class Env:
    def __init__(self, path: Path, gate: threading.Event) -> None:
        self.path = str(path)
        self.gate = gate
        self.conns: list = []
        self.main = self.connect()
        self.engine = self.main._session.db.engine
        self.engine.seal_rows = SEAL_ROWS  # tables created from now on seal at this size

    def connect(self):
        conn = sqlvec.connect(self.path, autocommit=True)
        self.conns.append(conn)
        return conn

    def make_table(self, name: str = "t", with_: str = "") -> None:
        cur = self.main.cursor()
        cur.execute(f"CREATE TABLE {name} (id int, batch int, v vector({DIM})) {with_}")
        self.gate.set()  # CREATE INDEX waits for the (no) existing segments
        cur.execute(f"CREATE INDEX ON {name} USING hnsw (v vector_l2_ops)")
        self.gate.clear()

    def settle(self) -> None:
        """Every full growing segment sealed (the background sealer runs every ~0.2 s)."""
        eng = self.engine
        for _ in range(200):
            if not eng._seal_queue and all(s.sealed or not s.closed for t in eng._tables.values()
                                           for s in t.segments):
                return
            threading.Event().wait(0.02)
        raise AssertionError("segments were not sealed")

    def release(self) -> None:
        self.gate.set()
        assert self.engine.wait_for_indexes(60)


def insert_batch(conn, table: str, batch: int, n: int, seed: int | None = None) -> None:
    rng = np.random.default_rng(batch if seed is None else seed)
    vecs = rng.random((n, DIM), dtype=np.float32)
    rows = [(batch * 100_000 + i, batch, vecs[i].tolist()) for i in range(n)]
    conn.cursor().executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)


def count(conn, table: str = "t") -> int:
    return conn.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def explain_paths(conn, table: str = "t") -> list[str]:
    cur = conn.cursor()
    cur.execute(f"EXPLAIN ANALYZE SELECT id FROM {table} ORDER BY v <-> %s LIMIT 10",
                ([0.5] * DIM,))
    return [r[0].strip() for r in cur.fetchall() if "actual segment" in r[0]]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """HNSW builds wait for this event (set = builds run), then take ``delay`` seconds."""
    ev = threading.Event()
    ev.set()
    ev.delay = 0.0  # type: ignore[attr-defined]  # seconds each build takes at least
    base = INDEX_CLASSES["hnsw"]

    class Gated(base):  # type: ignore[misc, valid-type]
        @classmethod
        def build(cls, *args, **kwargs):
            ev.wait(60)
            time.sleep(ev.delay)  # type: ignore[attr-defined]
            return base.build(*args, **kwargs)

    monkeypatch.setitem(INDEX_CLASSES, "hnsw", Gated)
    yield ev
    ev.set()


@pytest.fixture
def env(tmp_path: Path, gate: threading.Event) -> Iterator[Env]:
    e = Env(tmp_path / "db", gate)
    try:
        yield e
    finally:
        gate.set()  # a build blocked on the gate would stop the engine from closing
        for conn in reversed(e.conns):
            conn.close()
