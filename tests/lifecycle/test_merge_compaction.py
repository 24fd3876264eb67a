"""Compaction merges consecutive clean sealed segments into larger ones, up to
``sqlvec.compaction_target_bytes``: one index walk per search instead of one per segment,
with the same answers, the merged segment indexed before it is published, and nothing lost
across a reopen."""

import numpy as np

import sqlvec

N, SEAL, DIM = 4000, 1000, 8


def _table(path):
    """Four sealed segments of 1,000 rows each (not 'small': compaction_min_rows = 1), and
    an HNSW index on them."""
    c = sqlvec.connect(str(path), autocommit=True)
    eng = c._session.db.engine
    eng.seal_rows = SEAL
    c.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({DIM}))")
    x = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    cur = c.cursor()
    for s in range(0, N, SEAL):
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, x[i]) for i in range(s, s + SEAL)])
        c.execute("CHECKPOINT")
    c.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
    c.execute("SET sqlvec.compaction_min_rows = 1")
    oid = max(eng._tables)
    return c, eng, oid, x


def _topk(c, q):
    return [r[0] for r in c.execute("SELECT id FROM t ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()]


def test_vacuum_merges_segments_up_to_the_target(tmp_path):
    c, eng, oid, x = _table(tmp_path / "db")
    segs = eng._tables[oid].segments
    assert [s.mvcc.n for s in segs] == [SEAL] * 4
    one = segs[0].batch.nbytes
    qs = x[:20] + 0.01
    before = [_topk(c, q) for q in qs]
    # a target that holds two and a half segments: two pairs merge, never three together
    c.execute(f"SET sqlvec.compaction_target_bytes = {int(one * 2.5)}")
    c.execute("VACUUM t")
    assert sorted(s.mvcc.n for s in eng._tables[oid].segments) == [2 * SEAL, 2 * SEAL]
    # the default target (1 GiB) holds the whole table: one segment, one index
    c.execute("RESET sqlvec.compaction_target_bytes")
    c.execute("VACUUM t")
    segs = eng._tables[oid].segments
    assert [s.mvcc.n for s in segs] == [N]
    plan = "\n".join(r[0] for r in c.execute(
        "EXPLAIN SELECT id FROM t ORDER BY v <-> %s LIMIT 10", (x[0],)).fetchall())
    assert "Segments: 1 (1 hnsw)" in plan
    after = [_topk(c, q) for q in qs]
    # the answers of four small graphs and one large one: both near-exact
    exact = [list(np.argsort(((x - q) ** 2).sum(1), kind="stable")[:10]) for q in qs]
    for got in (before, after):
        assert np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)]) >= 0.95
    c.execute("VACUUM t")  # nothing left to merge
    assert [s.segment_id for s in eng._tables[oid].segments] == [segs[0].segment_id]
    c.close()
    c = sqlvec.connect(str(tmp_path / "db"))
    assert c.execute("SELECT count(*), sum(id) FROM t").fetchone() == (N, N * (N - 1) // 2)
    assert [_topk(c, q) for q in qs] == after
    c.close()


def test_no_merging_with_target_zero_and_deleted_rows_still_dropped(tmp_path):
    c, eng, oid, x = _table(tmp_path / "db")
    c.execute("SET sqlvec.compaction_target_bytes = 0")
    c.execute("DELETE FROM t WHERE id < 500")  # half of the first segment
    c.execute("VACUUM t")
    assert sorted(s.mvcc.n for s in eng._tables[oid].segments) == [500, SEAL, SEAL, SEAL]
    assert c.execute("SELECT min(id), count(*) FROM t").fetchone() == (500, N - 500)
    c.close()
