import numpy as np
import pyarrow as pa
import pytest

from sqlvec.errors import UniqueViolation
from sqlvec.storage import UniqueSpec

from .conftest import ints, read_ints

PK = UniqueSpec("t_pkey", ("c1",), ("id",))
AB = UniqueSpec("t_a_b_key", ("c1", "c2"), ("a", "b"))


def commit(eng, data, unique=(PK,)):
    t = eng.begin()
    ids = t.insert(1, data, unique)
    t.commit()
    return t.final_rowids(1, ids)


def test_duplicate_in_one_batch(mem_engine):
    t = mem_engine.begin()
    with pytest.raises(UniqueViolation) as exc:
        t.insert(1, ints(1, 2, 1), [PK])
    assert str(exc.value) == 'duplicate key value violates unique constraint "t_pkey"'
    assert exc.value.detail == "Key (id)=(1) already exists."
    assert exc.value.sqlstate == "23505"


def test_duplicate_of_committed_and_of_own(mem_engine):
    commit(mem_engine, ints(1, 2))
    t = mem_engine.begin()
    with pytest.raises(UniqueViolation, match="t_pkey"):
        t.insert(1, ints(3, 2), [PK])
    t.insert(1, ints(3), [PK])
    with pytest.raises(UniqueViolation):
        t.insert(1, ints(3), [PK])
    assert read_ints(t) == [1, 2, 3]  # the failed inserts left nothing behind


def test_nulls_never_conflict(mem_engine):
    commit(mem_engine, pa.table({"c1": pa.array([None, None], pa.int64())}))
    commit(mem_engine, pa.table({"c1": pa.array([None], pa.int64())}))
    rows = pa.table({"c1": pa.array([1, 1], pa.int64()), "c2": pa.array([None, None], pa.int64())})
    commit(mem_engine, rows, (AB,))


def test_multi_column_detail(mem_engine):
    commit(mem_engine, pa.table({"c1": [1], "c2": ["x"]}), (AB,))
    t = mem_engine.begin()
    with pytest.raises(UniqueViolation) as exc:
        t.insert(1, pa.table({"c1": [1], "c2": ["x"]}), [AB])
    assert exc.value.detail == "Key (a, b)=(1, x) already exists."


def test_delete_then_reinsert_same_key(mem_engine):
    ids = commit(mem_engine, ints(1, 2))
    t = mem_engine.begin()
    t.delete(1, ids[:1])
    t.insert(1, ints(1), [PK])  # an UPDATE of the key to itself
    t.commit()
    commit(mem_engine, ints(3))
    with pytest.raises(UniqueViolation):
        commit(mem_engine, ints(1))


def test_concurrent_commit_rechecked(mem_engine):
    a, b = mem_engine.begin(), mem_engine.begin()
    a.insert(1, ints(7), [PK])
    b.insert(1, ints(7), [PK])
    a.commit()
    with pytest.raises(UniqueViolation):
        b.commit()
    assert read_ints(mem_engine.snapshot()) == [7]


def test_find_conflicts(mem_engine):
    ids = commit(mem_engine, ints(1, 2, 3))
    t = mem_engine.begin()
    t.delete(1, ids[1:2])  # key 2 gone for us
    own = t.insert(1, ints(9), [PK])
    keys = pa.table({"k": pa.array([1, 2, 9, 4, None], pa.int64())})
    got = t.find_conflicts(1, PK, keys)
    assert got.tolist() == [ids[0], -1, own[0], -1, -1]
    # Another transaction sees the latest committed state, not t's private changes.
    other = mem_engine.begin().find_conflicts(1, PK, keys)
    assert other.tolist() == [ids[0], ids[1], -1, -1, -1]


def test_key_map_follows_truncate_and_reopen(tmp_path):
    from sqlvec.storage import StorageEngine

    eng = StorageEngine.open(str(tmp_path), seal_rows=4)
    commit(eng, ints(*range(10)))
    t = eng.begin()
    t.truncate(1)
    t.insert(1, ints(3), [PK])
    t.commit()
    commit(eng, ints(4))
    eng.close()
    eng = StorageEngine.open(str(tmp_path))
    with pytest.raises(UniqueViolation):
        commit(eng, ints(np.int64(4)))
    commit(eng, ints(5))
    eng.close()
