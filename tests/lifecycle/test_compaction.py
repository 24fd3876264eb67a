import os
import subprocess
import sys
import threading

import pytest

import sqlvec
from sqlvec import errors
from sqlvec.storage.compaction import CRASH_ENV, Policy, compact_table


def _setup(path, seal_rows=100, segments=4):
    c = sqlvec.connect(str(path))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("create table t (id int primary key, v vector(2))")
    eng = c._session.db.engine
    eng.seal_rows = seal_rows
    for i in range(segments):
        cur.execute(f"insert into t select g, array[g, 0]::vector from "
                    f"generate_series({i * seal_rows}, {i * seal_rows + seal_rows - 1}) g")
    cur.execute("checkpoint")
    oid = max(eng._tables)
    return c, cur, eng, oid


def _rows(cur, sql="select id from t order by id"):
    cur.execute(sql)
    return [r[0] for r in cur.fetchall()]


def test_vacuum_drops_deleted_rows_and_keeps_results(tmp_path):
    c, cur, eng, oid = _setup(tmp_path)
    cur.execute("delete from t where id % 2 = 0")
    before = _rows(cur)
    cur.execute("vacuum t")
    segs = eng._tables[oid].segments
    assert len(segs) == 1 and segs[0].mvcc.n == 200  # only live rows were copied
    assert _rows(cur) == before
    cur.execute("select id from t order by v <-> '[11, 0]' limit 3")
    assert sorted(r[0] for r in cur.fetchall()) == [9, 11, 13]
    c.close()
    c = sqlvec.connect(str(tmp_path))
    assert _rows(c.cursor()) == before
    c.close()


def test_vacuum_rebuilds_vector_index(tmp_path):
    c, cur, eng, oid = _setup(tmp_path)
    cur.execute("create index on t using hnsw (v vector_l2_ops)")
    cur.execute("delete from t where id < 150")
    cur.execute("vacuum full t")
    seg = eng._tables[oid].segments[0]
    assert seg.vector_indexes and all(s.index is not None for s in seg.vector_indexes.values())
    cur.execute("select id from t order by v <-> '[0, 0]' limit 2")
    assert [r[0] for r in cur.fetchall()] == [150, 151]
    c.close()


def test_old_snapshot_keeps_old_segments_and_its_deletes_land(tmp_path):
    c, cur, eng, oid = _setup(tmp_path)
    cur.execute("delete from t where id % 2 = 0")
    reader = sqlvec.connect(str(tmp_path))
    rc = reader.cursor()  # a transaction block: one snapshot
    assert len(_rows(rc)) == 200
    old_ids = {s.segment_id for s in eng._tables[oid].segments}
    cur.execute("vacuum full t")
    assert not old_ids & {s.segment_id for s in eng._tables[oid].segments}
    cur.execute("delete from t where id = 1")
    assert len(_rows(rc)) == 200  # still its snapshot: the old segments, without the delete
    # its delete is by row ids of the old segments: forwarded to the new one at commit
    rc.execute("delete from t where id = 3")
    reader.commit()
    assert 3 not in _rows(cur) and 1 not in _rows(cur) and len(_rows(cur)) == 198
    # a concurrent delete of a row compacted meanwhile is a serialization failure
    rc.execute("select id from t where id = 5")
    cur.execute("delete from t where id = 5")
    with pytest.raises(errors.SerializationFailure):
        rc.execute("delete from t where id = 5")
    reader.rollback()
    # the primary key still finds rows by their new ids
    with pytest.raises(errors.UniqueViolation):
        cur.execute("insert into t values (7, '[7, 0]')")
    reader.close()
    c.close()


def test_deletes_between_build_and_swap_are_carried_over(tmp_path, monkeypatch):
    c, cur, eng, oid = _setup(tmp_path)
    cur.execute("delete from t where id % 2 = 0")
    from sqlvec.storage import compaction

    real = compaction._build_indexes
    other = sqlvec.connect(str(tmp_path))
    other.autocommit = True

    def build_then_delete(eng_, oid_, seg):
        # runs after the rows were copied, before the swap: a concurrent DELETE
        t = threading.Thread(target=other.cursor().execute, args=("delete from t where id < 50",))
        t.start()
        t.join()
        real(eng_, oid_, seg)

    monkeypatch.setattr(compaction, "_build_indexes", build_then_delete)
    stats = compact_table(eng, oid, Policy(full=True))
    assert stats["rows_out"] == 200
    assert _rows(cur) == [i for i in range(50, 400) if i % 2]
    other.close()
    c.close()
    c = sqlvec.connect(str(tmp_path))
    assert _rows(c.cursor()) == [i for i in range(50, 400) if i % 2]
    c.close()


def test_concurrent_writers_during_compaction(tmp_path):
    c, cur, eng, oid = _setup(tmp_path, seal_rows=200)
    cur.execute("delete from t where id % 2 = 0")
    stop = threading.Event()
    done: list[int] = []

    def writer():
        w = sqlvec.connect(str(tmp_path))
        w.autocommit = True
        wc = w.cursor()
        i = 1
        while not stop.is_set() and i < 400:
            wc.execute(f"update t set v = '[{i}, 1]' where id = {i}")
            done.append(i)
            i += 2
        w.close()

    t = threading.Thread(target=writer)
    t.start()
    for _ in range(3):
        compact_table(eng, oid, Policy(full=True))
    stop.set()
    t.join()
    cur.execute("select id, v <-> '[0, 0]' from t order by id")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == list(range(1, 800, 2))
    c.close()


@pytest.mark.parametrize("stage", ["written", "swapped", "checkpointed", "none"])
def test_crash_during_compaction(tmp_path, stage):
    env = {**os.environ, CRASH_ENV: stage}
    here = os.path.dirname(__file__)
    p = subprocess.run([sys.executable, os.path.join(here, "crash_child.py"), str(tmp_path),
                        stage], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == -9, p.stderr
    assert "ready" in p.stdout
    assert ("done" in p.stdout) == (stage == "none")  # killed at the stage asked for
    c = sqlvec.connect(str(tmp_path))
    cur = c.cursor()
    got = _rows(cur)
    if "done" in p.stdout:  # the second delete was committed too
        assert got == [i for i in range(1000) if i % 3 == 2]
    else:
        assert got == [i for i in range(1000) if i % 3]
    cur.execute("select id from t order by v <-> '[5.1, 1, 2]' limit 1")
    assert cur.fetchall() == [(min(got, key=lambda i: abs(i - 5.1)),)]
    assert os.listdir(tmp_path / "tables")  # and no folder of a segment nothing lists:
    eng = c._session.db.engine
    oid = max(eng._tables)
    listed = {str(s.segment_id) for s in eng._tables[oid].segments}
    assert set(os.listdir(tmp_path / "tables" / str(oid) / "0")) <= listed
    c.close()


def test_settings_validate():
    c = sqlvec.connect(":memory:")
    cur = c.cursor()
    cur.execute("set sqlvec.compaction_min_rows = 1000")
    cur.execute("show sqlvec.compaction_min_rows")
    assert cur.fetchall() == [("1000",)]
    with pytest.raises(errors.InvalidParameterValue):
        cur.execute("set sqlvec.compaction_deleted_fraction = 2")
    c.close()


def test_vacuum_in_block_and_unknown_table():
    c = sqlvec.connect(":memory:")
    cur = c.cursor()
    with pytest.raises(errors.ActiveSqlTransaction):
        cur.execute("vacuum")
    c.rollback()
    c.autocommit = True
    with pytest.raises(errors.UndefinedTable):
        c.cursor().execute("vacuum nope")
    c.close()
