"""Each level with concurrent writers: threads with their own sessions on one on-disk database,
index builds running in the background as they come (gate open)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from conftest import SEAL_ROWS, count, explain_paths, insert_batch

BATCHES = 24


def _run(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]


def _batches(conn) -> dict[int, int]:
    rows = conn.cursor().execute("SELECT batch, count(*) FROM t GROUP BY batch").fetchall()
    return dict(rows)


def _whole_prefix(seen: dict[int, int]) -> None:
    """One writer commits batches 0, 1, 2, ... in order: a snapshot holds a prefix of them,
    each whole (a batch is one transaction)."""
    assert sorted(seen) == list(range(len(seen))), seen
    assert all(n == SEAL_ROWS for n in seen.values()), seen


def test_strong_sees_each_commit_of_another_session_immediately(env) -> None:
    env.make_table()
    env.gate.set()
    writer, reader = env.connect(), env.connect()
    committed: list[int] = []
    done = threading.Event()

    def write() -> None:
        for b in range(BATCHES):
            insert_batch(writer, "t", b, SEAL_ROWS)
            committed.append(b)  # after COMMIT returned
        done.set()

    def read() -> None:
        while not done.is_set():
            before = len(committed)  # every batch committed before the query starts
            seen = _batches(reader)
            _whole_prefix(seen)
            assert len(seen) >= before

    _run(write, read)
    assert len(_batches(reader)) == BATCHES


def test_eventually_never_scans_unindexed_segments_nor_tears(env) -> None:
    env.make_table()
    env.gate.delay = 0.05  # builds lag behind the writer: sealed segments wait unindexed
    env.gate.set()
    writer, reader, strong = env.connect(), env.connect(), env.connect()
    reader.cursor().execute("SET sqlvec.consistency = eventually")
    assert count(reader) == 0  # the first weak read pins the indexed state
    done = threading.Event()
    observed: list[int] = []
    strong_scans: list[bool] = []

    def write() -> None:
        for b in range(BATCHES):
            insert_batch(writer, "t", b, SEAL_ROWS)  # one full segment per commit: sealed,
        done.set()  # then indexed in the background

    def read() -> None:
        while not done.is_set():
            seen = _batches(reader)
            _whole_prefix(seen)
            observed.append(len(seen))
            paths = explain_paths(reader)
            assert not any("exact: no index" in p for p in paths), paths

    def read_strong() -> None:
        while not done.is_set():
            strong_scans.append(any("exact: no index" in p for p in explain_paths(strong)))

    _run(write, read, read_strong)
    assert any(strong_scans)  # the lag was real: strong reads did scan unindexed segments
    assert observed == sorted(observed)  # never goes back in time
    env.engine.wait_for_indexes(60)
    assert len(_batches(reader)) == BATCHES  # caught up once the builds are done


def test_session_always_sees_its_own_writes(env) -> None:
    env.make_table()
    env.gate.set()
    noise = env.connect()
    done = threading.Event()

    def noisy() -> None:
        b = 1000
        while not done.is_set():
            insert_batch(noise, "t", b, SEAL_ROWS // 2)
            b += 1

    def own(tag: int) -> Callable[[], None]:
        conn = env.connect()

        def run() -> None:
            cur = conn.cursor()
            cur.execute("SET sqlvec.consistency = session")
            for i in range(15):
                cur.execute("INSERT INTO t VALUES (%s, %s, %s)", (i, tag, [0.1] * 8))
                cur.execute("SELECT count(*) FROM t WHERE batch = %s", (tag,))
                assert cur.fetchone()[0] == i + 1
        return run

    workers = [own(tag) for tag in (1, 2)]

    def both() -> None:
        try:
            _run(*workers)
        finally:
            done.set()

    _run(noisy, both)


def test_bounded_never_older_than_the_staleness_bound(env) -> None:
    env.make_table()
    env.gate.set()
    writer, reader = env.connect(), env.connect()
    cur = reader.cursor()
    cur.execute("SET sqlvec.consistency = bounded")
    cur.execute("SET sqlvec.staleness = '150ms'")
    stale = 0.150
    log: list[tuple[float, int]] = []  # (monotonic time COMMIT returned, batch)
    done = threading.Event()

    def write() -> None:
        for b in range(BATCHES):
            insert_batch(writer, "t", b, SEAL_ROWS)
            log.append((time.monotonic(), b))
            time.sleep(0.01)
        done.set()

    def read() -> None:
        while not done.is_set():
            q = time.monotonic()
            must = [b for t, b in list(log) if t <= q - stale]  # committed before the bound
            seen = _batches(reader)
            _whole_prefix(seen)
            assert len(seen) >= len(must), (len(seen), must)

    _run(write, read)
