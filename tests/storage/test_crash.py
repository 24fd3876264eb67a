"""Kill a committing child process at random moments; every acknowledged commit survives and
no transaction is partly visible."""

import os
import random
import signal
import subprocess
import sys
import time

from sqlvec.storage import StorageEngine

from .conftest import crash, read_ints

CHILD = os.path.join(os.path.dirname(__file__), "crash_child.py")
RUNS = 22
RUN_SIZE = 1_000_000


def run_and_kill(path: str, first: int, rng: random.Random) -> list[int]:
    proc = subprocess.Popen([sys.executable, CHILD, path, str(first)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return [int(x) for x in out.split()]


def check(path: str, acked: set[int], runs: int) -> None:
    eng = StorageEngine.open(path)
    try:
        snap = eng.snapshot()
        done = set(read_ints(snap, 2))
        rows = set(read_ints(snap, 1))
    finally:
        if runs % 2:
            eng.close()
        else:
            crash(eng)
    assert acked <= done, sorted(acked - done)[:5]
    for i in done:
        assert {i * 10 + j for j in range(1, 5)} <= rows, i
        # row i*10 was deleted by transaction i+1 (same run) iff that one committed
        assert ((i * 10) in rows) == ((i + 1) not in done), i
    assert {r // 10 for r in rows} <= done


def test_sigkill_during_commits(tmp_path):
    rng = random.Random(int(time.time()))
    path = str(tmp_path / "db")
    acked: set[int] = set()
    deadline = time.monotonic() + 50
    runs = 0
    while runs < RUNS and time.monotonic() < deadline:
        acked |= set(run_and_kill(path, runs * RUN_SIZE, rng))
        check(path, acked, runs)
        runs += 1
    assert runs >= 20 and len(acked) > 0
