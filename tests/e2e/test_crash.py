"""SIGKILL a process that commits through SQL; after every restart the database must hold every
acknowledged transaction, each one whole or not at all, and no duplicated key.

Every child reports what it recovered before it commits anything. After every other kill the
test also opens the directory itself (recovery, then a clean close that checkpoints), so that
recovery runs both from a fresh checkpoint and over a WAL that earlier runs replayed already.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlvec import errors

from .conftest import opened
from .crash_child import AUTO, ROWS, emb_of, state

CHILD = str(Path(__file__).with_name("crash_child.py"))
KILLS = 24
# Share of runs killed while the child is still starting up (recovering), not committing.
EARLY_KILL = 0.15


class Child:
    """The committing child process and what it printed."""

    running: list[Child] = []  # killed by the autouse fixture if a test fails midway

    def __init__(self, path: Path, first: int | str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, CHILD, str(path), str(first)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.state: dict | None = None
        self.acks: list[int] = []
        Child.running.append(self)

    def wait_ready(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("state "):
                self.state = json.loads(line[6:])
            elif line == "ready\n":
                return
        raise AssertionError(f"child died before ready: {self.proc.stderr.read()[-2000:]}")

    def read_ack(self) -> int:
        self.acks.append(int(self.proc.stdout.readline()))
        return self.acks[-1]

    def kill(self) -> list[int]:
        """SIGKILL; the transaction numbers acknowledged (printed) so far."""
        self.proc.send_signal(signal.SIGKILL)
        # Not communicate(): it reads the raw pipe and would lose what readline() buffered.
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()
        Child.running.remove(self)
        assert self.proc.returncode == -signal.SIGKILL, err[-2000:]
        acks = self.acks
        for line in out.splitlines():
            if line.startswith("state "):
                self.state = json.loads(line[6:])
            elif line.strip() not in ("", "ready"):
                acks.append(int(line))
        return acks


@pytest.fixture(autouse=True)
def _kill_leftover_children() -> Iterator[None]:
    yield
    while Child.running:
        child = Child.running.pop()
        child.proc.kill()
        child.proc.communicate(timeout=60)  # closes the pipes too


def check_state(st: dict, acked: set[int]) -> set[int]:
    """Assert the invariants on a recovered state; returns the committed transaction numbers."""
    logged = {t for t, _ in st["txlog"]}
    groups = {t: (count, bumped, lo, hi) for t, count, bumped, lo, hi in st["items"]}
    assert acked <= logged, f"acknowledged but lost: {sorted(acked - logged)[:10]}"
    assert logged == set(groups), (
        f"partial transactions: txlog only {sorted(logged - set(groups))[:10]}, "
        f"items only {sorted(set(groups) - logged)[:10]}"
    )
    # One process commits in order: what survives is a prefix.
    assert logged == set(range(1, len(logged) + 1)), f"holes in {sorted(logged)[:20]}..."
    for t, (count, bumped, lo, hi) in groups.items():
        # txn t+1 updates every row of txn t when (t+1) % 3 == 0
        want = ROWS if (t + 1) % 3 == 0 and t + 1 in logged else 0
        assert (count, bumped, lo, hi) == (ROWS, want, 0, ROWS - 1), f"transaction {t}"
    assert all(n == ROWS for _, n in st["txlog"])
    total, distinct = st["keys"][0]
    assert total == distinct == ROWS * len(logged), "duplicated or missing keys"
    assert st["bad_emb"] == []
    return logged


def check_unique_index(path: Path) -> None:
    """The primary key still refuses a duplicate of the last committed key, and keeps one row."""
    with opened(path, autocommit=True) as conn:
        (last,) = conn.execute("SELECT max(txn) FROM txlog").fetchall()[0]
        with pytest.raises(errors.UniqueViolation) as info:
            conn.execute(
                "INSERT INTO items (k, txn, part, emb) VALUES (%s, %s, 0, %s)",
                (last * ROWS, last, emb_of(last)),
            )
        assert info.value.sqlstate == "23505"
        got = conn.execute("SELECT count(*) FROM items WHERE k = %s", (last * ROWS,)).fetchall()
        assert got == [(1,)]


def test_sigkill_loses_no_acknowledged_transaction(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    path = tmp_path / "db"
    acked: set[int] = set()
    committed: set[int] = set()
    kills = unchecked_kills = 0
    deadline = time.monotonic() + 150  # a hang guard, not a speed target

    def verify(st: dict) -> None:
        nonlocal committed, unchecked_kills
        now = check_state(st, acked)
        # each kill leaves at most one committed-but-unacknowledged transaction
        assert len(now - committed - acked) <= unchecked_kills, sorted(now - committed - acked)
        assert committed <= now
        committed, unchecked_kills = now, 0

    while kills < KILLS:
        assert time.monotonic() < deadline, f"only {kills} kills in the time budget"
        child = Child(path, AUTO)  # starts after the last transaction it recovers
        if kills and rng.random() < EARLY_KILL:
            time.sleep(rng.uniform(0.0, 0.3))  # probably still importing or recovering
        else:
            child.wait_ready()
            assert child.state is not None
            # what it recovered (after an even kill nobody checkpointed since the previous
            # child's recovery: the same WAL was replayed once more)
            verify(child.state)
            child.read_ack()  # it commits after recovery, before we kill it
            time.sleep(rng.uniform(0.0, 0.4))
        acked |= set(child.kill())
        kills += 1
        unchecked_kills += 1
        if kills % 2:  # open it here: recovery, then a clean close (checkpoint)
            verify(state_of(path))
    assert len(acked) > KILLS, "the child hardly committed anything"
    verify(state_of(path))
    check_unique_index(path)


def state_of(path: Path) -> dict:
    with opened(path, autocommit=True) as conn:
        return state(conn)


OPEN_ELSEWHERE = """
import sys, sqlvec
try:
    sqlvec.connect(sys.argv[1]).close()
except sqlvec.errors.ObjectInUse as e:
    print(e.sqlstate, str(e).splitlines()[0])
    sys.exit(3)
"""


def open_elsewhere(path: Path) -> tuple[int, str]:
    """Try to open ``path`` from another process: (exit code, "sqlstate message")."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_ELSEWHERE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 3), done.stderr[-2000:]
    return done.returncode, done.stdout.strip()


def test_second_process_gets_object_in_use(tmp_path: Path) -> None:
    path = tmp_path / "db"
    child = Child(path, 1)
    child.wait_ready()
    first = child.read_ack()
    code, out = open_elsewhere(path)
    assert code == 3 and out.startswith("55006 ") and "in use" in out, out
    # the holder was not disturbed: it keeps committing
    assert child.read_ack() > first
    acked = set(child.kill())
    check_state(state_of(path), acked)
    check_unique_index(path)
    # this process holds it now: another one is refused; connections in this one share it
    with opened(path) as conn, opened(path, autocommit=True) as conn2:
        code, out = open_elsewhere(path)
        assert code == 3 and out.startswith("55006 "), out
        conn.execute("INSERT INTO txlog VALUES (-1, 0)")
        conn.commit()
        assert conn2.execute("SELECT nrows FROM txlog WHERE txn = -1").fetchall() == [(0,)]
    assert open_elsewhere(path) == (0, "")
