"""Fixtures for storage tests: an in-memory engine, an on-disk engine, and a simulated crash."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.storage import StorageEngine

INT = {"c1": pa.int64()}


@pytest.fixture
def mem_engine():
    eng = StorageEngine.open(None)
    yield eng
    eng.close()


@pytest.fixture
def disk_engine(tmp_path):
    eng = StorageEngine.open(str(tmp_path / "db"))
    yield eng
    eng.close()


def crash(eng: StorageEngine) -> None:
    """Abandon an engine as a killed process would: no checkpoint, no flush of anything."""
    with eng._bg_cond:
        eng._stop = True
        eng._bg_cond.notify()
    eng._bg_thread.join()
    eng._closing = True
    eng._wal.close()
    eng._lock.release()


def ints(*values) -> pa.Table:
    return pa.table({"c1": pa.array(values, pa.int64())})


def read_ints(reader, oid: int = 1, column: str = "c1") -> list:
    """Visible values of an int column, sorted."""
    out = []
    for v in reader.scan(oid, {column: pa.int64()}):
        arr = v.columns[column].to_numpy(zero_copy_only=False)
        out.extend(arr if v.visible is None else arr[v.visible])
    return sorted(int(x) for x in out)


def visible_rowids(reader, oid: int = 1) -> dict[int, int]:
    """row id -> c1 value of every visible row."""
    out = {}
    for v in reader.scan(oid, INT):
        ids = v.rowids()
        vals = v.columns["c1"].to_numpy(zero_copy_only=False)
        mask = np.ones(v.num_rows, bool) if v.visible is None else v.visible
        out.update(zip(ids[mask].tolist(), vals[mask].tolist()))
    return out
