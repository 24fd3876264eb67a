"""Bulk load: COPY FROM and INSERT ... SELECT of many rows write sealed segments directly and
log only where they are; MVCC, keys, foreign keys, partitions, defaults and crashes behave as
for ordinary inserts."""

import os
import subprocess
import sys

import pytest

import sqlvec
from sqlvec import errors
from sqlvec.storage.compaction import CRASH_ENV

N = 3000  # rows per load; sqlvec.bulk_load_rows is set to 1000 below


def _connect(path, autocommit=True):
    c = sqlvec.connect(str(path))
    c.autocommit = autocommit
    c.cursor().execute("set sqlvec.bulk_load_rows = 1000")
    return c


def _one(cur, sql):
    cur.execute(sql)
    return cur.fetchall()[0][0]


def _table(c, name="t"):
    eng = c._session.db.engine
    db = c._session.catalog().database(c._session.database)
    oid = next(t.oid for t in db.tables.values() if t.name == name)
    return eng, oid


def _folders(path, oid):
    d = os.path.join(str(path), "tables", str(oid), "0")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_insert_select_writes_a_sealed_segment_and_a_tiny_wal_record(tmp_path):
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table t (id int primary key, v vector(16))")
    eng, oid = _table(c)
    before = eng._wal.bytes_written
    cur.execute(f"insert into t select g, array_fill(g::real, array[16])::vector "
                f"from generate_series(1, {N}) g")
    bulk_wal = eng._wal.bytes_written - before
    (seg,) = eng._tables[oid].segments
    assert seg.sealed and seg.mvcc.n == N and seg.path is not None
    assert bulk_wal < 1000  # vs > N * 64 bytes of vectors through the WAL:
    cur.execute("set sqlvec.bulk_load_rows = 0")
    before = eng._wal.bytes_written
    cur.execute(f"insert into t select g, array_fill(g::real, array[16])::vector "
                f"from generate_series({N + 1}, {2 * N}) g")
    assert eng._wal.bytes_written - before > N * 64
    assert _one(cur, "select count(*) from t") == 2 * N
    assert _one(cur, "select id from t order by v <-> array_fill(7::real, array[16])::vector "
                     "limit 1") == 7
    c.close()
    c = _connect(tmp_path)
    assert _one(c.cursor(), "select sum(id) from t") == 2 * N * (2 * N + 1) // 2
    c.close()


def test_copy_from_file_is_a_bulk_load(tmp_path):
    src = tmp_path / "rows.csv"
    src.write_text("".join(f"{i},\"[{i},1]\"\n" for i in range(N)))
    c = _connect(tmp_path / "db")
    cur = c.cursor()
    cur.execute("create table t (id int primary key, v vector(2), note text default 'x')")
    eng, oid = _table(c)
    before = eng._wal.bytes_written
    cur.execute(f"copy t (id, v) from '{src}' with (format csv)")
    assert eng._wal.bytes_written - before < 1000
    assert [s.sealed for s in eng._tables[oid].segments] == [True]
    assert _one(cur, "select count(*) from t where note = 'x'") == N
    c.close()


def test_invisible_until_commit_and_rollback_removes_the_files(tmp_path):
    c = _connect(tmp_path, autocommit=False)
    cur = c.cursor()
    cur.execute("create table t (id int, v vector(2))")
    c.commit()
    eng, oid = _table(c)
    other = _connect(tmp_path)
    cur.execute(f"insert into t select g, array[g, 0]::vector from generate_series(1, {N}) g")
    assert len(_folders(tmp_path, oid)) == 1  # staged, not listed anywhere
    assert _one(cur, "select count(*) from t") == N  # the transaction sees its rows
    cur.execute("delete from t where id <= 10")
    assert _one(cur, "select count(*) from t") == N - 10
    assert _one(other.cursor(), "select count(*) from t") == 0
    c.rollback()
    assert _folders(tmp_path, oid) == []
    assert _one(other.cursor(), "select count(*) from t") == 0
    # committed with rows the same transaction deleted and updated again
    cur.execute(f"insert into t select g, array[g, 0]::vector from generate_series(1, {N}) g")
    cur.execute("delete from t where id <= 10")
    cur.execute("update t set v = '[0, 0]' where id = 11")
    c.commit()
    assert _one(other.cursor(), "select count(*) from t") == N - 10
    assert _one(other.cursor(), "select id from t order by v <-> '[0, 0]' limit 1") == 11
    other.close()
    c.close()
    c = _connect(tmp_path)
    assert _one(c.cursor(), "select count(*) from t") == N - 10
    assert _one(c.cursor(), "select min(id) from t") == 11
    c.close()


def test_savepoint_rollback_drops_the_staged_segment(tmp_path):
    c = _connect(tmp_path, autocommit=False)
    cur = c.cursor()
    cur.execute("create table t (id int)")
    c.commit()
    _, oid = _table(c)
    cur.execute("savepoint a")
    cur.execute(f"insert into t select g from generate_series(1, {N}) g")
    cur.execute("rollback to savepoint a")
    cur.execute("insert into t values (1)")
    c.commit()
    assert _one(cur, "select count(*) from t") == 1
    assert all(name.isdigit() for name in _folders(tmp_path, oid))
    c.close()


def test_unique_keys_are_enforced(tmp_path):
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table t (id int primary key)")
    _, oid = _table(c)
    cur.execute("insert into t values (5)")
    with pytest.raises(errors.UniqueViolation):
        cur.execute(f"insert into t select g from generate_series(1, {N}) g")
    with pytest.raises(errors.UniqueViolation):  # a duplicate inside the load itself
        cur.execute(f"insert into t select g % 2000 + 10 from generate_series(1, {N}) g")
    assert _one(cur, "select count(*) from t") == 1
    assert _folders(tmp_path, oid) == []
    # two transactions loading the same keys: the second COMMIT fails, leaving nothing
    a, b = _connect(tmp_path, autocommit=False), _connect(tmp_path, autocommit=False)
    a.cursor().execute(f"insert into t select g from generate_series(100, {N + 100}) g")
    b.cursor().execute(f"insert into t select g from generate_series({N}, {2 * N}) g")
    a.commit()
    with pytest.raises(errors.UniqueViolation):
        b.commit()
    assert _one(cur, "select count(*) from t") == N + 2
    # the single-row insert lives in a growing segment (no folder yet): a's folder only
    eng = c._session.db.engine
    assert _folders(tmp_path, oid) == [str(s.segment_id) for s in eng._tables[oid].segments
                                       if s.sealed]
    a.close()
    b.close()
    c.close()


def test_foreign_keys_are_checked(tmp_path):
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table p (id int primary key)")
    cur.execute("create table ch (id int, pid int references p (id))")
    cur.execute("insert into p select g from generate_series(1, 10) g")
    _, oid = _table(c, "ch")
    with pytest.raises(errors.ForeignKeyViolation):
        cur.execute(f"insert into ch select g, g % 11 + 1 from generate_series(1, {N}) g")
    assert _folders(tmp_path, oid) == []
    cur.execute(f"insert into ch select g, g % 10 + 1 from generate_series(1, {N}) g")
    assert _one(cur, "select count(*) from ch") == N
    c.close()


def test_defaults_and_sequences(tmp_path):
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table t (id serial primary key, n int, tag text default 'd')")
    cur.execute(f"insert into t (n) select g from generate_series(1, {N}) g")
    cur.execute(f"insert into t (n) select g from generate_series(1, {N}) g")
    cur.execute("select count(distinct id), min(id), max(id), count(*) filter (where tag = 'd') "
                "from t")
    assert cur.fetchall() == [(2 * N, 1, 2 * N, 2 * N)]
    c.close()


def test_one_sealed_segment_per_partition(tmp_path):
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table t (id int, tenant int) partition by hash (tenant)")
    for r in range(4):
        cur.execute(f"create table t{r} partition of t for values with (modulus 4, remainder {r})")
    cur.execute(f"insert into t select g, g % 40 from generate_series(1, {4 * N}) g")
    eng = c._session.db.engine
    total = 0
    for r in range(4):
        _, oid = _table(c, f"t{r}")
        segs = eng._tables[oid].segments
        assert len(segs) == 1 and segs[0].sealed
        total += segs[0].mvcc.n
        assert _one(cur, f"select count(*) from t{r}") == segs[0].mvcc.n
    assert total == 4 * N
    assert _one(cur, "select count(*) from t where tenant = 7") == N // 10
    c.close()


@pytest.mark.parametrize("stage", ["before_commit", "bulk_placed", "after_commit"])
def test_crash_around_commit(tmp_path, stage):
    env = {**os.environ, CRASH_ENV: stage}
    here = os.path.dirname(__file__)
    p = subprocess.run([sys.executable, os.path.join(here, "bulk_crash_child.py"),
                        str(tmp_path), stage], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == -9, p.stderr
    assert "staged" in p.stdout
    c = _connect(tmp_path)
    cur = c.cursor()
    _, oid = _table(c)
    if "committed" in p.stdout:
        assert stage == "after_commit"
        assert _one(cur, "select count(*) from t") == 5010
        assert _one(cur, "select id from t order by v <-> '[4000, 1, 2]' limit 1") == 4000
    else:
        assert _one(cur, "select count(*) from t") == 10
    eng = c._session.db.engine
    listed = {str(s.segment_id) for s in eng._tables[oid].segments}
    assert set(_folders(tmp_path, oid)) <= listed  # no staged or orphaned folder left
    if "committed" not in p.stdout:  # and the keys of the lost load are free
        cur.execute("insert into t values (4000, '[0, 0, 0]')")
    c.close()


def test_storage_level_bulk_insert_and_final_rowids(tmp_path):
    import numpy as np
    import pyarrow as pa

    from sqlvec.storage import StorageEngine

    eng = StorageEngine.open(str(tmp_path))
    t = eng.begin()
    small = t.insert(1, pa.table({"c1": pa.array([1, 2, 3], pa.int64())}))
    big = t.insert(1, pa.table({"c1": pa.array(np.arange(10, 1010), pa.int64())}), bulk=True)
    last = t.insert(1, pa.table({"c1": pa.array([4], pa.int64())}))
    t.delete(1, big[:2])  # deleted again by the same transaction
    t.commit()
    got = t.final_rowids(1, np.concatenate([small, big, last]))
    assert (got[3:5] == -1).all()
    (sealed,) = [s for s in eng._tables[1].segments if s.sealed]
    assert got[5] == (sealed.segment_id << 32) | 2
    snap = eng.snapshot()
    rows = sorted(x for v in snap.scan(1, {"c1": pa.int64()})
                  for x in np.asarray(v.columns["c1"])[
                      v.visible if v.visible is not None else slice(None)].tolist())
    assert rows == [1, 2, 3, 4] + list(range(12, 1010))
    eng.close()


def test_in_memory_database_and_on_conflict(tmp_path):
    c = sqlvec.connect(":memory:", autocommit=True)
    cur = c.cursor()
    cur.execute("set sqlvec.bulk_load_rows = 1000")
    cur.execute("create table t (id int primary key)")
    cur.execute(f"insert into t select g from generate_series(1, {N}) g")
    assert _one(cur, "select count(*) from t") == N
    c.close()
    c = _connect(tmp_path)
    cur = c.cursor()
    cur.execute("create table t (id int primary key, n int)")
    cur.execute("insert into t values (1, 0), (2, 0)")
    cur.execute(f"insert into t select g, 1 from generate_series(1, {N}) g "
                "on conflict (id) do nothing")
    assert _one(cur, "select count(*) from t where n = 1") == N - 2
    assert _one(cur, "select count(*) from t") == N
    c.close()


def test_copy_from_stdin_through_the_server(tmp_path):
    """psycopg's binary COPY FROM STDIN: one sealed segment, and the WAL does not grow by the
    rows (a few hundred bytes instead of ~0.5 MB)."""
    import struct
    from pathlib import Path

    import numpy as np
    import psycopg

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "wire"))
    from wireserver import ServerProcess

    from sqlvec.storage.files import dir_bytes

    srv = ServerProcess(tmp_path / "data").start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as conn:
            conn.execute("create table t (id int primary key, v vector(128))")
            conn.execute("set sqlvec.bulk_load_rows = 1000")
            wal = dir_bytes(str(tmp_path / "data" / "wal"))
            vecs = np.random.default_rng(0).standard_normal((N, 128), dtype=np.float32)
            with conn.cursor().copy("copy t from stdin with (format binary)") as cp:
                cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
                for i, v in enumerate(vecs):
                    cp.write(struct.pack("!hii", 2, 4, i) + struct.pack("!ihh", 4 + 512, 128, 0)
                             + v.astype(">f4").tobytes())
                cp.write(struct.pack("!h", -1))
            assert dir_bytes(str(tmp_path / "data" / "wal")) - wal < 4096
            assert conn.execute("select count(*) from t").fetchone()[0] == N
            got = conn.execute("select id from t order by v <-> %s::vector limit 1",
                               ("[" + ",".join(map(str, vecs[7].tolist())) + "]",)).fetchone()
            assert got == (7,)
    finally:
        assert srv.stop() == 0
    c = sqlvec.connect(str(tmp_path / "data"))
    assert _one(c.cursor(), "select count(*) from t") == N
    eng, oid = _table(c)
    assert [s.sealed for s in eng._tables[oid].segments] == [True]
    c.close()
