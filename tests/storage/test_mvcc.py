import threading

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.errors import SerializationFailure
from sqlvec.storage import PRIVATE_SEGMENT

from .conftest import INT, ints, read_ints, visible_rowids


def commit_ints(eng, *values, oid=1):
    t = eng.begin()
    ids = t.insert(oid, ints(*values))
    t.commit()
    return t.final_rowids(oid, ids)


def test_snapshot_does_not_see_later_commit(mem_engine):
    commit_ints(mem_engine, 1, 2)
    snap = mem_engine.snapshot()
    txn = mem_engine.begin()
    commit_ints(mem_engine, 3)
    assert read_ints(snap) == [1, 2]
    assert read_ints(txn) == [1, 2]
    assert read_ints(mem_engine.snapshot()) == [1, 2, 3]


def test_snapshot_does_not_see_later_delete(mem_engine):
    ids = commit_ints(mem_engine, 1, 2, 3)
    snap = mem_engine.snapshot()
    t = mem_engine.begin()
    t.delete(1, ids[:1])
    assert read_ints(mem_engine.snapshot()) == [1, 2, 3]  # uncommitted: private
    t.commit()
    assert read_ints(snap) == [1, 2, 3]
    assert read_ints(mem_engine.snapshot()) == [2, 3]


def test_fully_visible_segment_has_no_mask(mem_engine):
    commit_ints(mem_engine, 1, 2)
    (view,) = mem_engine.snapshot().scan(1, INT)
    assert view.visible is None


def test_own_writes_visible_and_private(mem_engine):
    ids = commit_ints(mem_engine, 1, 2)
    t = mem_engine.begin()
    new = t.insert(1, ints(10, 11))
    assert (new >> 32 == PRIVATE_SEGMENT).all()
    t.delete(1, ids[1:])
    t.delete(1, new[:1])
    assert read_ints(t) == [1, 11]
    assert read_ints(mem_engine.snapshot()) == [1, 2]
    t.commit()
    assert read_ints(mem_engine.snapshot()) == [1, 11]


def test_rollback_discards(mem_engine):
    commit_ints(mem_engine, 1)
    t = mem_engine.begin()
    t.insert(1, ints(2))
    t.rollback()
    assert read_ints(mem_engine.snapshot()) == [1]


def test_savepoints(mem_engine):
    ids = commit_ints(mem_engine, 1, 2)
    t = mem_engine.begin()
    t.insert(1, ints(3))
    sp = t.savepoint()
    t.insert(1, ints(4))
    t.delete(1, ids)
    t.set_catalog({"v": 2})
    assert read_ints(t) == [3, 4]
    t.rollback_to(sp)
    assert read_ints(t) == [1, 2, 3]
    t.insert(1, ints(5))
    t.rollback_to(sp)  # the same savepoint twice
    assert read_ints(t) == [1, 2, 3]
    t.commit()
    assert read_ints(mem_engine.snapshot()) == [1, 2, 3]
    assert mem_engine.catalog == {}


def test_first_updater_wins_two_threads(mem_engine):
    ids = commit_ints(mem_engine, 1)
    a, b = mem_engine.begin(), mem_engine.begin()
    a.delete(1, ids)
    b.delete(1, ids)  # nobody committed yet: allowed now, checked again at commit
    results = {}
    barrier = threading.Barrier(2)

    def run(name, txn):
        barrier.wait()
        try:
            txn.commit()
            results[name] = "ok"
        except SerializationFailure as e:
            results[name] = e.sqlstate

    threads = [threading.Thread(target=run, args=(n, x)) for n, x in (("a", a), ("b", b))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results.values()) == ["40001", "ok"]
    # A later delete by a transaction whose snapshot predates the commit fails at once.
    c_ids = commit_ints(mem_engine, 2)
    c = mem_engine.begin()
    d = mem_engine.begin()
    d.delete(1, c_ids)
    d.commit()
    with pytest.raises(SerializationFailure, match="could not serialize access due to "
                                                   "concurrent update"):
        c.delete(1, c_ids)


def test_concurrent_ddl_conflicts(mem_engine):
    a, b = mem_engine.begin(), mem_engine.begin()
    a.set_catalog({"v": "a"})
    b.set_catalog({"v": "b"})
    a.commit()
    with pytest.raises(SerializationFailure):
        b.commit()
    assert mem_engine.catalog == {"v": "a"}


def test_add_column_scans_null(mem_engine):
    commit_ints(mem_engine, 1, 2)
    t = mem_engine.begin()
    t.insert(1, pa.table({"c1": pa.array([3], pa.int64()), "c2": ["x"]}))
    t.commit()
    cols = {"c1": pa.int64(), "c2": pa.string()}
    got = []
    for v in mem_engine.snapshot().scan(1, cols):
        assert v.columns["c2"].type == pa.string()
        got += v.columns["c2"].to_pylist()
    assert got == [None, None, "x"]
    mem_engine.checkpoint()  # sealing unifies the two schemas
    got = [x for v in mem_engine.snapshot().scan(1, cols) for x in v.columns["c2"].to_pylist()]
    assert got == [None, None, "x"]


def test_truncate(mem_engine):
    commit_ints(mem_engine, 1, 2)
    snap = mem_engine.snapshot()
    t = mem_engine.begin()
    t.insert(1, ints(3))
    t.truncate(1)
    t.insert(1, ints(4))
    assert read_ints(t) == [4]
    t.commit()
    assert read_ints(mem_engine.snapshot()) == [4]
    assert read_ints(snap) == [1, 2]
    assert mem_engine.stats(1)["rows"] == 1


def test_drop_table(mem_engine):
    commit_ints(mem_engine, 1, 2)
    snap = mem_engine.snapshot()
    t = mem_engine.begin()
    t.drop_table(1)
    t.commit()
    assert read_ints(mem_engine.snapshot()) == []
    assert read_ints(snap) == [1, 2]
    assert mem_engine.stats(1)["rows"] == 0


def test_write_after_concurrent_drop_fails(mem_engine):
    ids = commit_ints(mem_engine, 1)
    a = mem_engine.begin()
    d = mem_engine.begin()
    d.drop_table(1)
    d.commit()
    with pytest.raises(SerializationFailure):
        a.delete(1, ids)


def test_many_threads_commit(mem_engine):
    def work(base):
        for i in range(50):
            t = mem_engine.begin()
            t.insert(1, ints(base + i))
            t.commit()

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = read_ints(mem_engine.snapshot())
    assert got == sorted(k * 1000 + i for k in range(4) for i in range(50))


def test_numpy_fixed(mem_engine):
    vt = pa.list_(pa.float32(), 4)
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    t = mem_engine.begin()
    col = pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), 4)
    t.insert(1, pa.table({"c2": col}))
    t.insert(1, pa.table({"c2": pa.array([None], vt)}))
    t.commit()
    (view,) = mem_engine.snapshot().scan(1, {"c2": vt})
    arr = view.numpy_fixed("c2")
    assert arr.shape == (11, 4)
    assert (arr[:10] == data).all() and np.isnan(arr[10]).all()
    assert view.numpy_fixed("c2") is arr  # cached


def test_rowids_and_visible_rowids(mem_engine):
    ids = commit_ints(mem_engine, 5, 6, 7)
    assert visible_rowids(mem_engine.snapshot()) == dict(zip(ids.tolist(), [5, 6, 7]))
