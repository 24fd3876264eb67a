"""sqlvec.growing_segment_max_bytes: growing segments over all tables are capped; past the
cap the largest one is sealed (and indexed) in the background."""

import time

import pytest

import sqlvec
from sqlvec import errors


def _wait(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cond()


def _segments(eng, oid):
    return [(s.sealed, s.mvcc.n) for s in eng._tables[oid].segments]


def _oids(c, *names):
    db = c._session.catalog().database(c._session.database)
    return [next(t.oid for t in db.tables.values() if t.name == n) for n in names]


def test_largest_growing_segment_is_sealed_past_the_cap(tmp_path):
    c = sqlvec.connect(str(tmp_path), autocommit=True)
    cur = c.cursor()
    cur.execute("create table big (id int, v vector(32))")
    cur.execute("create table small (id int, v vector(32))")
    cur.execute("create index on big using hnsw (v vector_l2_ops)")
    big, small = _oids(c, "big", "small")
    eng = c._session.db.engine
    eng.growing_max_bytes = 180_000  # 132 bytes a row: 1,300 rows fit, 1,500 do not
    cur.execute("insert into small select g, array_fill(1::real, array[32])::vector "
                "from generate_series(1, 300) g")
    cur.execute("insert into big select g, array_fill(g::real, array[32])::vector "
                "from generate_series(1, 1000) g")
    assert _segments(eng, big) == [(False, 1000)] and _segments(eng, small) == [(False, 300)]
    cur.execute("insert into big select g, array_fill(g::real, array[32])::vector "
                "from generate_series(1001, 1200) g")  # 1,500 rows in all: over the cap
    assert _wait(lambda: _segments(eng, big) == [(True, 1200)])
    assert _segments(eng, small) == [(False, 300)]  # the smaller one keeps growing
    assert eng.wait_for_indexes(30)
    (seg,) = eng._tables[big].segments
    assert seg.vector_indexes  # sealed and indexed in the background
    # new rows of the big table start a new growing segment
    cur.execute("insert into big values (0, array_fill(0::real, array[32])::vector)")
    assert _segments(eng, big) == [(True, 1200), (False, 1)]
    cur.execute("select count(*) from big")
    assert cur.fetchall() == [(1201,)]
    c.close()


def test_session_setting_overrides_the_server_default(tmp_path):
    c = sqlvec.connect(str(tmp_path), autocommit=True)
    cur = c.cursor()
    cur.execute("create table t (id int, v vector(8))")
    (oid,) = _oids(c, "t")
    eng = c._session.db.engine
    assert eng.growing_max_bytes == 256 << 20
    cur.execute("insert into t select g, array_fill(1::real, array[8])::vector "
                "from generate_series(1, 500) g")
    assert _segments(eng, oid) == [(False, 500)]
    cur.execute("set sqlvec.growing_segment_max_bytes = 10000")
    cur.execute("show sqlvec.growing_segment_max_bytes")
    assert cur.fetchall() == [("10000",)]
    cur.execute("insert into t values (0, array_fill(0::real, array[8])::vector)")
    assert _wait(lambda: _segments(eng, oid) == [(True, 501)])
    with pytest.raises(errors.InvalidParameterValue):
        cur.execute("set sqlvec.growing_segment_max_bytes = -1")
    c.close()


def test_zero_means_no_cap(tmp_path):
    c = sqlvec.connect(str(tmp_path), autocommit=True)
    cur = c.cursor()
    cur.execute("create table t (id int)")
    cur.execute("set sqlvec.growing_segment_max_bytes = 0")
    cur.execute("insert into t select g from generate_series(1, 5000) g")
    (oid,) = _oids(c, "t")
    time.sleep(0.3)
    assert _segments(c._session.db.engine, oid) == [(False, 5000)]
    c.close()
