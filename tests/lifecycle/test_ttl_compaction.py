"""Compaction drops TTL-expired rows (VACUUM and the background pass), never one that a live
snapshot may still see, and a crash in the middle loses and resurrects nothing."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest

import sqlvec
from sqlvec.storage import expiry
from sqlvec.storage.compaction import CRASH_ENV, compact_all

EXPIRED = "now() - interval '2 days'"


def _setup(path, seal_rows=100):
    """Three sealed segments: all expired, half expired, all fresh."""
    c = sqlvec.connect(str(path))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("create table t (id int primary key, at timestamptz, v vector(2)) "
                "with (ttl = '1 day', ttl_column = 'at')")
    eng = c._session.db.engine
    eng.seal_rows = seal_rows
    cur.execute(f"insert into t select g, {EXPIRED}, array[g, 0]::vector "
                "from generate_series(0, 99) g")
    cur.execute(f"insert into t select g, case when g % 2 = 0 then {EXPIRED} else now() end, "
                "array[g, 0]::vector from generate_series(100, 199) g")
    cur.execute("insert into t select g, now(), array[g, 0]::vector "
                "from generate_series(200, 299) g")
    cur.execute("checkpoint")
    oid = max(eng._tables)
    return c, cur, eng, oid


def _ids(cur, sql="select id from t order by id"):
    cur.execute(sql)
    return [r[0] for r in cur.fetchall()]


def _stored(eng, oid):
    """ids physically present and not deleted, over every segment."""
    out = []
    for seg in eng._tables[oid].segments:
        live = seg.mvcc.live_latest(seg.mvcc.n)
        ids = np.asarray(seg.columns({"c1": pa.int32()}, seg.mvcc.n)["c1"])
        out += ids[live].tolist() if live is not None else ids.tolist()
    return sorted(out)


def _manifest_rows(path, oid):
    with open(os.path.join(path, "CURRENT")) as f:
        name = f.read().strip()
    with open(os.path.join(path, name)) as f:
        m = json.load(f)
    return sum(e["rows"] for e in m["tables"][str(oid)]["segments"])


def test_vacuum_removes_expired_rows_from_disk(tmp_path):
    c, cur, eng, oid = _setup(tmp_path)
    visible = _ids(cur)
    assert visible == list(range(101, 200, 2)) + list(range(200, 300))
    knn = _ids(cur, "select id from t order by v <-> '[150, 0]' limit 3")
    assert _manifest_rows(tmp_path, oid) == 300
    before_bytes = eng.stats(oid)["bytes"]
    old = {s.segment_id for s in eng._tables[oid].segments}
    cur.execute("set sqlvec.compaction_target_bytes = 0")  # TTL alone: no merging of the rest
    cur.execute("vacuum t")
    segs = eng._tables[oid].segments
    # the all-expired segment was dropped, the half-expired one rewritten, the fresh one kept
    assert sorted(s.mvcc.n for s in segs) == [50, 100]
    assert len(old & {s.segment_id for s in segs}) == 1
    assert _stored(eng, oid) == visible
    assert _manifest_rows(tmp_path, oid) == 150
    # old folders go once no snapshot pins them (VACUUM's own transaction did): background
    deadline = time.monotonic() + 10
    while eng.stats(oid)["bytes"] >= before_bytes * 0.75 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert eng.stats(oid)["bytes"] < before_bytes * 0.75
    assert _ids(cur) == visible
    assert _ids(cur, "select id from t order by v <-> '[150, 0]' limit 3") == knn
    # the key of a removed row is free again
    cur.execute("insert into t values (0, now(), '[0, 0]')")
    c.close()
    c = sqlvec.connect(str(tmp_path))
    assert _ids(c.cursor()) == [0] + visible
    c.close()


def test_segment_entirely_expired_is_dropped_without_rewrite(tmp_path, monkeypatch):
    c, cur, eng, oid = _setup(tmp_path)
    cur.execute("delete from t where id >= 100")  # only the expired segment has rows left
    cur.execute("checkpoint")
    from sqlvec.storage import compaction

    writes = []
    real = compaction._write
    monkeypatch.setattr(compaction, "_write", lambda *a: writes.append(a) or real(*a))
    cur.execute("vacuum t")
    assert writes == []  # nothing survived: no new segment was written
    assert eng._tables[oid].segments == ()
    deadline = time.monotonic() + 10
    while os.listdir(tmp_path / "tables" / str(oid) / "0") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(tmp_path / "tables" / str(oid) / "0") == []
    assert _ids(cur) == []
    c.close()
    c = sqlvec.connect(str(tmp_path))
    assert _ids(c.cursor()) == []
    c.close()


def test_open_snapshot_keeps_rows_it_could_see(tmp_path, monkeypatch):
    monkeypatch.setattr(expiry, "MARGIN_US", 0)
    c = sqlvec.connect(str(tmp_path))
    c.autocommit = True
    cur = c.cursor()
    cur.execute("create table t (id int, at timestamptz) with (ttl = '2 seconds', "
                "ttl_column = 'at')")
    eng = c._session.db.engine
    eng.seal_rows = 50
    cur.execute("insert into t select g, now() from generate_series(1, 50) g")
    cur.execute("checkpoint")
    oid = max(eng._tables)
    reader = sqlvec.connect(str(tmp_path))
    rc = reader.cursor()  # a transaction block: its snapshot is as old as the rows
    assert len(_ids(rc)) == 50
    time.sleep(2.5)
    assert _ids(cur) == []  # expired for new statements
    cur.execute("vacuum t")
    assert len(_stored(eng, oid)) == 50  # the open snapshot's statements could see them
    reader.close()
    cur.execute("vacuum t")
    assert _stored(eng, oid) == [] and eng._tables[oid].segments == ()
    c.close()


def test_background_compaction_drops_expired_rows(tmp_path):
    c, cur, eng, oid = _setup(tmp_path)
    stats = compact_all(eng)  # what the background pass runs
    assert stats["rows_out"] == 50 and len(_stored(eng, oid)) == 150
    c.close()


def test_ttl_rules_from_catalog():
    c = sqlvec.connect(":memory:", autocommit=True)
    c.execute("create table a (id int, d date) with (ttl = '1 mon 2 days', ttl_column = 'd')")
    c.execute("create table b (id int)")
    eng = c._session.db.engine
    rules = eng.ttl_rules()
    assert len(rules) == 1
    (rule,) = rules.values()
    assert rule.ttl_us == 33 * expiry.DAY_US  # a month counts 31 days: never too early
    c.execute("insert into a values (1, current_date - 40), (2, current_date - 20), (3, null)")
    c.execute("checkpoint")
    oid = next(iter(rules))
    (seg,) = eng._tables[oid].segments
    mask = expiry.expired_mask(seg, rule, expiry.cutoff_us(eng))
    assert mask.tolist() == [True, False, False]
    c.close()


@pytest.mark.parametrize("stage", ["written", "swapped", "checkpointed", "none"])
def test_crash_during_ttl_compaction(tmp_path, stage):
    env = {**os.environ, CRASH_ENV: stage}
    here = os.path.dirname(__file__)
    p = subprocess.run([sys.executable, os.path.join(here, "ttl_crash_child.py"),
                        str(tmp_path), stage], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == -9, p.stderr
    assert "ready" in p.stdout
    assert ("done" in p.stdout) == (stage == "none")
    c = sqlvec.connect(str(tmp_path))
    cur = c.cursor()
    visible = [i for i in range(1000) if i % 3 == 2]
    assert _ids(cur) == visible  # nothing lost
    cur.execute("select id from t order by v <-> '[5.1, 1, 2]' limit 1")
    assert cur.fetchall() == [(5,)]
    eng = c._session.db.engine
    oid = max(eng._tables)
    stored = _stored(eng, oid)
    assert not [i for i in stored if i % 3 == 1]  # no deleted row came back
    if stage == "written":  # the compaction never happened: the expired rows still wait
        assert stored == [i for i in range(1000) if i % 3 != 1]
    else:
        assert stored == visible
    listed = {str(s.segment_id) for s in eng._tables[oid].segments}
    assert set(os.listdir(tmp_path / "tables" / str(oid) / "0")) <= listed
    c.rollback()
    c.autocommit = True
    c.cursor().execute("vacuum t")  # and a later VACUUM finishes the job
    assert _stored(eng, oid) == visible and _ids(cur) == visible
    c.close()
