import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.errors import ObjectInUse
from sqlvec.storage import StorageEngine, UniqueSpec

from .conftest import crash, ints, read_ints, visible_rowids

VEC = pa.list_(pa.float32(), 8)


def vectors(n, seed):
    data = np.random.default_rng(seed).random((n, 8), dtype=np.float32)
    return data, pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), 8)


def workload(eng):
    """Inserts across segment boundaries, deletes, a truncate, catalog, sequences."""
    t = eng.begin()
    t.insert(1, ints(*range(25)))
    t.insert(2, ints(100, 101))
    t.set_catalog({"tables": [1, 2]})
    t.commit()
    t = eng.begin()
    t.delete(1, np.array([k for k, v in visible_rowids(t).items() if v % 3 == 0]))
    t.insert(1, ints(50, 51))
    t.commit()
    t = eng.begin()
    t.truncate(2)
    t.insert(2, ints(102))
    t.commit()
    t = eng.begin()
    t.insert(3, ints(7))
    t.rollback()
    eng.seq_alloc(5, 3)
    eng.seq_set(6, 40)


def state(eng):
    snap = eng.snapshot()
    return (visible_rowids(snap, 1), visible_rowids(snap, 2), read_ints(snap, 3), eng.catalog)


@pytest.mark.parametrize("how", ["crash", "checkpoint-then-crash", "close"])
def test_recovery_equals_committed_state(tmp_path, how):
    path = str(tmp_path)
    eng = StorageEngine.open(path, seal_rows=10)
    workload(eng)
    before = state(eng)
    assert len(before[0]) == 25 - 9 + 2 and before[1] == {v: 102 for v in before[1]}
    if how == "checkpoint-then-crash":
        eng.checkpoint()
        t = eng.begin()
        t.delete(1, np.array(list(before[0])[:2]))
        t.commit()
        before = state(eng)
    if how == "close":
        eng.close()
    else:
        crash(eng)
    eng = StorageEngine.open(path, seal_rows=10)
    assert state(eng) == before  # same values at the same row ids
    assert eng.seq_alloc(5) >= 4
    assert eng.seq_alloc(6) == 40
    if how == "close":
        assert eng.seq_alloc(5) == 5  # no values skipped after a clean shutdown
    eng.close()


def test_sealing_checkpoint_reopen_zero_copy(tmp_path):
    path = str(tmp_path)
    eng = StorageEngine.open(path, seal_rows=1000)
    data, col = vectors(2500, 1)
    t = eng.begin()
    t.insert(1, pa.table({"c1": pa.array(np.arange(2500)), "c2": col}))
    t.commit()
    eng.checkpoint()
    assert eng.stats(1) == {"rows": 2500, "segments": 3, "bytes": eng.stats(1)["bytes"]}
    eng.close()
    names = sorted(os.listdir(os.path.join(path, "tables", "1", "0")))
    assert names == ["0", "1", "2"]
    assert os.listdir(os.path.join(path, "wal")) == []
    eng = StorageEngine.open(path)
    views = list(eng.snapshot().scan(1, {"c2": VEC}))
    assert [v.num_rows for v in views] == [1000, 1000, 500]
    assert all(v.visible is None for v in views)
    arr = views[0].numpy_fixed("c2")
    assert np.shares_memory(arr, np.frombuffer(views[0].columns["c2"].values.buffers()[1],
                                               np.float32))
    assert (np.concatenate([v.numpy_fixed("c2") for v in views]) == data).all()
    eng.close()


def test_background_seal_by_size(tmp_path):
    eng = StorageEngine.open(str(tmp_path), seal_rows=100)
    for i in range(5):
        t = eng.begin()
        t.insert(1, ints(*range(i * 60, i * 60 + 60)))
        t.commit()
    eng.checkpoint()
    segs = eng._tables[1].segments
    assert [s.mvcc.n for s in segs] == [100, 100, 100]
    assert all(s.sealed for s in segs)
    assert read_ints(eng.snapshot()) == list(range(300))
    eng.close()


def test_deleted_segments_and_dropped_tables_leave_disk(tmp_path):
    path = str(tmp_path)
    eng = StorageEngine.open(path, seal_rows=100)
    t = eng.begin()
    t.insert(1, ints(*range(250)))
    t.insert(2, ints(1))
    t.commit()
    eng.checkpoint()
    t = eng.begin()
    t.truncate(1)
    t.drop_table(2)
    t.commit()
    eng.checkpoint()
    assert not os.path.exists(os.path.join(path, "tables", "2"))
    assert os.listdir(os.path.join(path, "tables", "1", "0")) == []
    t = eng.begin()
    t.insert(1, ints(9))
    ids = t.insert(1, ints(10))
    t.commit()
    assert (t.final_rowids(1, ids) >> 32)[0] == 3  # segment ids are never reused
    eng.close()
    eng = StorageEngine.open(path)
    assert read_ints(eng.snapshot()) == [9, 10]
    eng.close()


def test_disk_use_close_to_arrow_size(tmp_path):
    path = str(tmp_path)
    eng = StorageEngine.open(path, seal_rows=20000)
    _, col = vectors(50000, 2)
    table = pa.table({"c1": pa.array(np.arange(50000)), "c2": col})
    for b in table.to_batches(max_chunksize=1000):
        t = eng.begin()
        t.insert(1, b)
        t.commit()
    eng.close()
    from sqlvec.storage.files import dir_bytes

    assert dir_bytes(path) <= 1.05 * table.nbytes


def test_second_process_gets_object_in_use(tmp_path):
    path = str(tmp_path)
    eng = StorageEngine.open(path)
    code = textwrap.dedent(f"""
        from sqlvec.storage import StorageEngine
        from sqlvec.errors import ObjectInUse
        try:
            StorageEngine.open({path!r})
        except ObjectInUse as e:
            print(e.sqlstate, e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.startswith("55006 "), out.stderr
    assert path in out.stdout and f"pid {os.getpid()}" in out.stdout
    eng.close()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout == "" and out.returncode == 0, out.stderr


def test_same_process_second_open_refused(tmp_path):
    eng = StorageEngine.open(str(tmp_path))
    with pytest.raises(ObjectInUse):
        StorageEngine.open(str(tmp_path))
    eng.close()


def test_unique_state_after_replay(tmp_path):
    pk = UniqueSpec("t_pkey", ("c1",), ("id",))
    eng = StorageEngine.open(str(tmp_path))
    t = eng.begin()
    t.insert(1, ints(1, 2), [pk])
    t.commit()
    crash(eng)
    eng = StorageEngine.open(str(tmp_path))
    t = eng.begin()
    assert t.find_conflicts(1, pk, ints(1, 3)).tolist()[1] == -1
    eng.close()


def test_sequence_never_repeats_after_crash(tmp_path):
    eng = StorageEngine.open(str(tmp_path))
    seen = [eng.seq_alloc(1) for _ in range(40)] + [eng.seq_alloc(1, 100)]
    assert seen[:40] == list(range(1, 41)) and seen[40] == 41
    crash(eng)
    eng = StorageEngine.open(str(tmp_path))
    assert eng.seq_alloc(1) > 140  # values may be skipped, never handed out twice
    eng.seq_set(1, 7)
    crash(eng)
    eng = StorageEngine.open(str(tmp_path))
    assert eng.seq_alloc(1) == 7
    eng.close()


def test_in_memory_engine_writes_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eng = StorageEngine.open(None, seal_rows=5)
    t = eng.begin()
    t.insert(1, ints(*range(12)))
    t.commit()
    eng.checkpoint()
    assert read_ints(eng.snapshot()) == list(range(12))
    assert eng.stats(1)["segments"] == 3
    eng.close()
    assert os.listdir(tmp_path) == []
