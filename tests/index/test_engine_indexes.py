"""Indexes in the storage engine: built per sealed segment in the background, published in the
manifest, found again after reopen, deletes skipped without breaking snapshots, dropped."""

from __future__ import annotations

import os
import threading

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.errors import InvalidParameterValue
from sqlvec.storage import StorageEngine

from .conftest import clustered

DIM = 16
VEC = {"v": pa.list_(pa.float32(), DIM)}


def rows(start: int, n: int) -> pa.Table:
    x = clustered(start + n, DIM, 7)[0][start:]
    return pa.table({"id": pa.array(np.arange(start, start + n)),
                     "v": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM)})


def insert(eng: StorageEngine, start: int, n: int) -> None:
    txn = eng.begin()
    txn.insert(1, rows(start, n))
    txn.commit()


def search_all(reader, q: np.ndarray, k: int, index_oid: int = 100) -> tuple[list, int]:
    """Row ids of the k nearest visible rows over every segment, and how many used an index."""
    cand, used = [], 0
    for view in reader.scan(1, VEC):
        idx = view.vector_index(index_oid)
        if idx is None:
            continue
        used += 1
        offs, dist, _exact = idx.search(q, k, allowed=view.visible if view.visible is not None
                                        else np.ones(view.num_rows, bool))
        cand += [(d, (view.segment_id << 32) | o) for o, d in zip(offs.tolist(), dist.tolist())]
    return [r for _, r in sorted(cand)[:k]], used


def index_files(root: str) -> set[str]:
    out = set()
    for base, dirs, names in os.walk(os.path.join(root, "tables")):
        out |= {os.path.relpath(os.path.join(base, n), root)
                for n in dirs + names if n.endswith((".hnsw", ".ivf"))}
    return out


def test_build_publish_reopen(tmp_path):
    root = str(tmp_path / "db")
    eng = StorageEngine.open(root, seal_rows=3000)
    insert(eng, 0, 7000)
    eng.checkpoint()
    seen = []
    handle = eng.create_vector_index(1, 100, "v", "hnsw", "l2", {"m": 8},
                                     progress=lambda done, total: seen.append((done, total)))
    assert handle.done and seen[-1] == (7000, 7000)
    assert index_files(root) == {f"tables/1/0/{s}/100.hnsw" for s in (0, 1, 2)}
    assert [s.to_json()["options"] for s in eng.vector_index_specs(1)] == [
        {"m": 8, "ef_construction": 64}]
    q = clustered(7000, DIM, 7)[0][0]
    got, used = search_all(eng.snapshot(), q, 5)
    assert used == 3 and got[0] == 0
    eng.close()

    eng = StorageEngine.open(root, seal_rows=3000)
    try:
        got2, used2 = search_all(eng.snapshot(), q, 5)
        assert used2 == 3 and got2 == got
        # a segment sealed after the index exists gets indexed in the background
        insert(eng, 7000, 3000)
        eng.checkpoint()
        assert eng.wait_for_indexes(30)
        assert "tables/1/0/3/100.hnsw" in index_files(root)
    finally:
        eng.close()


def test_deletes_respect_snapshots(tmp_path):
    eng = StorageEngine.open(str(tmp_path / "db"), seal_rows=2000)
    try:
        insert(eng, 0, 2000)
        eng.checkpoint()
        eng.create_vector_index(1, 100, "v", "hnsw", "l2", {})
        q = clustered(2000, DIM, 7)[0][0]
        old = eng.snapshot()  # must keep seeing row 0 after it is deleted
        txn = eng.begin()
        txn.delete(1, np.array([0], np.int64))
        txn.commit()
        eng._indexes.sync_deletes()
        slot = eng._tables[1].by_id[0].vector_indexes[100]
        assert not slot.index.is_marked_deleted([0])[0]  # an older snapshot is alive: not marked yet
        assert search_all(old, q, 1)[0] == [0]
        assert search_all(eng.snapshot(), q, 1)[0] != [0]
        del old
        import gc
        gc.collect()
        eng._indexes.sync_deletes()
        assert slot.index.is_marked_deleted([0])[0]  # now skipped inside the graph
        new = eng.snapshot()
        for view in new.scan(1, VEC):
            offs, _d, _e = view.vector_index(100).search(q, 10)  # even without a mask
            assert 0 not in offs.tolist()
    finally:
        eng.close()


def test_drop_and_unlisted_files(tmp_path):
    root = str(tmp_path / "db")
    eng = StorageEngine.open(root, seal_rows=2000)
    insert(eng, 0, 4000)
    eng.checkpoint()
    eng.create_vector_index(1, 100, "v", "ivfflat", "l2", {"lists": 4})
    eng.create_vector_index(1, 101, "v", "hnsw", "cosine", {})
    assert len(index_files(root)) == 4
    eng.drop_vector_index(1, 100)
    assert index_files(root) == {f"tables/1/0/{s}/101.hnsw" for s in (0, 1)}
    assert [s.index_oid for s in eng.vector_index_specs(1)] == [101]
    stray = os.path.join(root, "tables/1/0/0/555.hnsw")
    os.makedirs(stray)
    eng.close()
    eng = StorageEngine.open(root, seal_rows=2000)
    try:
        assert not os.path.exists(stray)  # not listed by the manifest: garbage
        assert index_files(root) == {f"tables/1/0/{s}/101.hnsw" for s in (0, 1)}
    finally:
        eng.close()


def test_options_checked_before_anything(tmp_path):
    eng = StorageEngine.open(None, seal_rows=1000)
    try:
        with pytest.raises(InvalidParameterValue, match='out of bounds for option "m"'):
            eng.create_vector_index(1, 100, "v", "hnsw", "l2", {"m": 1})
        assert eng.vector_index_specs(1) == []
    finally:
        eng.close()


def test_in_memory_concurrent_build_and_inserts():
    eng = StorageEngine.open(None, seal_rows=2000)
    try:
        insert(eng, 0, 6000)
        eng.checkpoint()
        handle = eng.create_vector_index(1, 100, "v", "hnsw", "l1", {}, wait=False)
        stop = threading.Event()

        def writer():
            start = 6000
            while not stop.is_set() and start < 12000:
                insert(eng, start, 500)
                start += 500

        t = threading.Thread(target=writer)
        t.start()
        assert handle.wait(60)
        stop.set()
        t.join()
        eng.checkpoint()
        assert eng.wait_for_indexes(60)
        snap = eng.snapshot()
        kinds = {view.vector_index(100).kind for view in snap.scan(1, VEC)}
        assert kinds == {"flat"}  # hnswlib has no L1: exact, and it says so
    finally:
        eng.close()
