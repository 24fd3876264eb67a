import os

import pyarrow as pa
import pytest

from sqlvec.storage import StorageEngine
from sqlvec.storage.wal import HEADER, _parse, wal_files

from .conftest import crash, ints, read_ints


def committed_then_crashed(path, n):
    eng = StorageEngine.open(path)
    for i in range(n):
        t = eng.begin()
        t.insert(1, ints(i))
        t.commit()
    crash(eng)


def last_record(path):
    """(file, start offset, end offset) of the last WAL record."""
    files = [p for _, p in wal_files(os.path.join(path, "wal")) if os.path.getsize(p)]
    name = files[-1]
    with open(name, "rb") as f:
        data = memoryview(f.read())
    pos, start = 0, 0
    while pos < len(data):
        start = pos
        pos = _parse(data, pos)[1]
    return name, start, len(data)


def reopen_values(path):
    eng = StorageEngine.open(path)
    try:
        return read_ints(eng.snapshot())
    finally:
        crash(eng)


@pytest.mark.parametrize("mode", ["truncate", "corrupt"])
def test_torn_tail_cut_at_every_header_byte(tmp_path, mode):
    base = str(tmp_path / "base")
    committed_then_crashed(base, 3)
    name, start, end = last_record(base)
    with open(name, "rb") as f:
        original = f.read()
    for pos in range(HEADER.size + 1):
        with open(name, "wb") as f:
            if mode == "truncate":
                f.write(original[: start + pos])
            else:
                broken = bytearray(original)
                broken[start + pos] ^= 0xFF
                f.write(bytes(broken))
        assert reopen_values(base) == [0, 1], pos
        assert os.path.getsize(name) == start  # the torn record was cut off
        # remove files the reopen created, restore the original for the next position
        for _, p in wal_files(os.path.join(base, "wal")):
            if p != name:
                os.unlink(p)


def test_payload_corruption_detected(tmp_path):
    path = str(tmp_path)
    committed_then_crashed(path, 2)
    name, start, end = last_record(path)
    with open(name, "rb") as f:
        data = bytearray(f.read())
    data[end - 3] ^= 0x01
    with open(name, "wb") as f:
        f.write(bytes(data))
    assert reopen_values(path) == [0]


def test_writes_after_cut_survive(tmp_path):
    path = str(tmp_path)
    committed_then_crashed(path, 2)
    name, start, end = last_record(path)
    os.truncate(name, end - 1)
    eng = StorageEngine.open(path)
    t = eng.begin()
    t.insert(1, ints(42))
    t.commit()
    crash(eng)
    assert reopen_values(path) == [0, 42]


def test_group_commit_shares_fsyncs(tmp_path, monkeypatch):
    import threading

    calls = []
    real = os.fdatasync

    def counting(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    eng = StorageEngine.open(str(tmp_path))
    n_threads, per = 4, 40

    def work(k):
        for i in range(per):
            t = eng.begin()
            t.insert(1, ints(k * 1000 + i))
            t.commit()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(read_ints(eng.snapshot())) == n_threads * per
    assert len(calls) < n_threads * per  # committers shared syncs
    eng.close()


def test_asynchronous_commit_is_visible_and_flushed(tmp_path):
    path = str(tmp_path)
    eng = StorageEngine.open(path, synchronous_commit=False)
    t = eng.begin()
    t.insert(1, pa.table({"c1": pa.array([1], pa.int64())}))
    t.commit()
    assert read_ints(eng.snapshot()) == [1]
    eng._wal.flush()
    crash(eng)
    assert reopen_values(path) == [1]
