"""Tenant isolation mode (``partition_key_isolation``): one vector index per key value.

All tenants share one partition and one sealed segment here, so only the sub-indexes (not
pruning) keep them apart. A decoy tenant holds exact copies of the query vectors: any leak
through an index, the growing segment or BM25 would put its rows first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

import sqlvec
from sqlvec import errors
from sqlvec.index.hnsw import HnswIndex
from sqlvec.index.isolated import IsolatedIndex

DIM = 16
BIG = 3000  # above the exact floor (2,048): this tenant gets its own HNSW graph
SMALL = 200  # searched exactly
TENANTS = ["big", "t1", "t2", "t3"]
DECOY = "decoy"


def _vec(v) -> str:
    return "[" + ",".join(f"{x:.5f}" for x in v) + "]"


def _queries(n: int = 6) -> np.ndarray:
    return np.random.default_rng(99).standard_normal((n, DIM)).astype(np.float32)


def _rows(start: int = 0, seed: int = 3) -> list[tuple]:
    rng = np.random.default_rng(seed)
    out = []
    i = start
    for t in TENANTS:
        for v in rng.standard_normal((BIG if t == "big" else SMALL, DIM)):
            out.append((i, t, _vec(v), f"{t} note {i}"))
            i += 1
    for v in _queries():  # the decoy owns the exact query points: distance 0
        out.append((i, DECOY, _vec(v), "apple apple apple"))
        i += 1
    return out


def _create(cur, name: str, opts: str) -> None:
    cur.execute(f"CREATE TABLE {name} (id int, tenant text NOT NULL, emb vector({DIM}), body text){opts}")


ISOLATED = " WITH (partition_key = 'tenant', num_partitions = 1, partition_key_isolation = true)"


def _setup(path: Path, *, checkpoints: int = 1):
    """``docs`` (isolated, HNSW) and ``ref`` (plain, no index: exact answers), same rows."""
    conn = sqlvec.connect(str(path), autocommit=True)
    cur = conn.cursor()
    _create(cur, "docs", ISOLATED)
    _create(cur, "ref", "")
    cur.execute("CREATE INDEX ON docs USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 100)")
    for part in range(checkpoints):
        rows = _rows(start=part * 100_000, seed=3 + part)
        for t in ("docs", "ref"):
            cur.executemany(f"INSERT INTO {t} VALUES (%s, %s, %s, %s)", rows)
        cur.execute("CHECKPOINT")  # seals the rows: the segment gets its sub-indexes
    conn._session.db.engine.wait_for_indexes()
    return conn, cur


def _topk(cur, table: str, tenant: str, q, k: int = 10) -> list[tuple]:
    cur.execute(f"SELECT id, tenant FROM {table} WHERE tenant = %s ORDER BY emb <-> %s LIMIT {k}", (tenant, _vec(q)))
    return cur.fetchall()


def _check_tenants(cur, *, min_recall: float = 0.95) -> None:
    recalls = []
    for tenant in TENANTS:
        for q in _queries():
            got = _topk(cur, "docs", tenant, q)
            want = _topk(cur, "ref", tenant, q)
            assert {t for _, t in got} == {tenant}, (tenant, got)
            assert len(got) == 10
            if tenant == "big":
                recalls.append(len({i for i, _ in got} & {i for i, _ in want}) / 10)
            else:  # the exact sub-index: the same rows in the same order
                assert got == want
    assert np.mean(recalls) >= min_recall


def _isolated_slots(conn) -> list:
    eng = conn._session.db.engine
    out = []
    for table in eng._tables.values():
        for seg in table.segments:
            for slot in getattr(seg, "vector_indexes", {}).values():
                out.append((seg, slot))
    return out


@pytest.fixture
def setup(tmp_db_path):
    conn, cur = _setup(tmp_db_path)
    yield conn, cur
    conn.close()


def test_each_tenant_searches_only_its_own_rows(setup):
    conn, cur = setup
    cur.execute("SET hnsw.ef_search = 100")
    _check_tenants(cur)
    slots = _isolated_slots(conn)
    assert slots and all(isinstance(s.get(seg), IsolatedIndex) for seg, s in slots)
    index = slots[0][1].get(slots[0][0])
    assert index.num_groups == len(TENANTS) + 1 and len(index.sub_index_groups) == 1  # only big
    cur.execute("SELECT id, tenant FROM docs WHERE tenant = %s ORDER BY emb <-> %s LIMIT 3", (DECOY, _vec(_queries()[0])))
    assert cur.fetchone()[1] == DECOY  # the decoys are there, found when asked for


def test_growing_rows_are_searched_within_the_tenant(setup):
    conn, cur = setup
    qs = _queries()
    # rows nearer than any sealed one, for every tenant: they sit in the growing segment
    extra = [(900_000 + i * 10 + j, t, _vec(qs[j] + 0.001 * (i + 1)), "x")
             for i, t in enumerate(TENANTS + [DECOY]) for j in range(len(qs))]
    for t in ("docs", "ref"):
        cur.executemany(f"INSERT INTO {t} VALUES (%s, %s, %s, %s)", extra)
    cur.execute("SET hnsw.ef_search = 100")
    _check_tenants(cur)
    got = _topk(cur, "docs", "t2", qs[1], 1)
    assert got == [(900_000 + 2 * 10 + 1, "t2")]  # the growing row wins inside its tenant


def test_explain_names_the_sub_index_path(setup):
    _conn, cur = setup
    q = _vec(_queries()[0])
    # a small tenant is answered exactly: by its exact sub-index, or by the knn path's cached
    # subset of the filtered rows, which comes first when few rows pass
    for tenant, path in (("big", "hnsw (tenant sub-index)"), ("t1", "exact")):
        cur.execute("EXPLAIN ANALYZE SELECT id FROM docs WHERE tenant = %s ORDER BY emb <-> %s LIMIT 5", (tenant, q))
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert f"path={path}" in plan, plan
    # EXPLAIN (no ANALYZE) predicts the path segment by segment, here on the partition itself
    cur.execute("EXPLAIN SELECT id FROM docs_p0 WHERE tenant = 'big' ORDER BY emb <-> %s LIMIT 5", (q,))
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "-> hnsw (tenant sub-index) (graph of the key value (3000 rows pass), ef=40)" in plan, plan


BAD = [
    "SELECT count(*) FROM docs",
    "SELECT id FROM docs WHERE id < 10",
    "SELECT id FROM docs WHERE tenant IN ('t1', 't2')",
    "SELECT id FROM docs WHERE tenant = 't1' OR tenant = 't2'",
    "SELECT id FROM docs WHERE tenant <> 't1'",
    "SELECT id FROM docs WHERE tenant = 't1' AND tenant = 't2'",
    "SELECT id FROM docs ORDER BY emb <-> '[{}]' LIMIT 3".format(",".join(["0"] * DIM)),
    "DELETE FROM docs WHERE id = 1",
]
GOOD = [
    ("SELECT count(*) FROM docs WHERE tenant = 't1'", None, SMALL),
    ("SELECT count(*) FROM docs WHERE 't1' = tenant AND id >= 0", None, SMALL),
    ("SELECT count(*) FROM docs WHERE tenant IN ('t1')", None, SMALL),
    ("SELECT count(*) FROM docs WHERE tenant = %s", ("t2",), SMALL),
    ("SELECT count(*) FROM docs WHERE tenant = 't1' AND tenant = 't1'", None, SMALL),
]


def test_query_without_one_key_value_is_refused(setup):
    conn, cur = setup
    for sql in BAD:
        with pytest.raises(errors.FeatureNotSupported) as ei:
            cur.execute(sql)
        assert ei.value.sqlstate == "0A000"
        assert 'table "docs"' in str(ei.value) and '"tenant"' in str(ei.value)
        cur.execute("SELECT 1")  # the connection is still usable
        assert cur.fetchone() == (1,)
    for sql, params, count in GOOD:
        cur.execute(sql, params)
        assert cur.fetchone()[0] == count, sql
    conn.autocommit = False  # inside a transaction block the error aborts it, as in PostgreSQL
    with pytest.raises(errors.FeatureNotSupported):
        cur.execute(BAD[0])
    conn.rollback()
    cur.execute(GOOD[0][0])
    assert cur.fetchone()[0] == SMALL
    conn.rollback()
    cur.execute("SELECT count(*) FROM docs_p0")  # a partition is an ordinary table
    assert cur.fetchone()[0] == BIG + 3 * SMALL + len(_queries())


def test_options_are_validated_and_can_be_switched(setup):
    conn, cur = setup
    with pytest.raises(errors.InvalidParameterValue):
        _create(cur, "bad1", " WITH (partition_key_isolation = true)")
    with pytest.raises(errors.InvalidParameterValue):
        _create(cur, "bad2", " WITH (partition_key = 'tenant', partition_key_isolation = 'maybe')")
    cur.execute("ALTER TABLE docs SET (partition_key_isolation = off)")
    cur.execute("SELECT count(*) FROM docs")  # no longer refused
    assert cur.fetchone()[0] == BIG + 3 * SMALL + len(_queries())
    slots = _isolated_slots(conn)
    assert slots and all(type(s.get(seg)) is HnswIndex for seg, s in slots)  # one graph per segment
    cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'docs'")
    assert "partition_key_isolation=false" in cur.fetchone()[0]
    cur.execute("ALTER TABLE docs SET (partition_key_isolation = true)")
    slots = _isolated_slots(conn)
    assert slots and all(isinstance(s.get(seg), IsolatedIndex) for seg, s in slots)
    with pytest.raises(errors.FeatureNotSupported):
        cur.execute("SELECT count(*) FROM docs")
    cur.execute("SET hnsw.ef_search = 100")
    _check_tenants(cur)
    with pytest.raises(errors.InvalidParameterValue):
        cur.execute("ALTER TABLE ref SET (partition_key_isolation = true)")


def _index_files(root: Path) -> dict[str, int]:
    out = {}
    for dirpath, dirs, _files in os.walk(root / "tables"):
        for d in dirs:
            if ".tenants." in d:
                out[os.path.join(dirpath, d)] = os.stat(os.path.join(dirpath, d, "groups.npy")).st_mtime_ns
    return out


def test_restart_keeps_the_sub_indexes(tmp_db_path):
    conn, cur = _setup(tmp_db_path)
    q = _queries()[2]
    before = {t: _topk(cur, "docs", t, q) for t in TENANTS}
    conn.close()
    files = _index_files(tmp_db_path)
    assert len(files) == 1
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    cur = conn.cursor()
    conn._session.db.engine.wait_for_indexes()
    assert {t: _topk(cur, "docs", t, q) for t in TENANTS} == before
    assert _index_files(tmp_db_path) == files  # loaded, not rebuilt
    slots = _isolated_slots(conn)
    assert [s.file for _, s in slots] == [os.path.basename(f) for f in files]
    assert all(isinstance(s.index, IsolatedIndex) for _, s in slots)
    with pytest.raises(errors.FeatureNotSupported):
        cur.execute("SELECT count(*) FROM docs")  # the mode survives too
    conn.close()


def test_compaction_rebuilds_sub_indexes(tmp_db_path):
    conn, cur = _setup(tmp_db_path, checkpoints=2)
    eng = conn._session.db.engine
    doomed = []  # the nearest rows of big and t1 go away
    for tenant in ("big", "t1"):
        for q in _queries()[:3]:
            cur.execute("SELECT id FROM ref WHERE tenant = %s ORDER BY emb <-> %s LIMIT 3", (tenant, _vec(q)))
            doomed.append((tenant, [r[0] for r in cur.fetchall()]))
    for t in ("docs", "ref"):
        for tenant, ids in doomed:
            cur.execute(f"DELETE FROM {t} WHERE tenant = %s AND id = ANY(%s)", (tenant, ids))
    parts = [s for s in eng._tables.values() if len(s.segments) == 2 and _isolated_slots_of(s)]
    assert len(parts) == 1
    cur.execute("VACUUM FULL docs_p0")
    segs = parts[0].segments
    assert len(segs) == 1
    slot = next(iter(segs[0].vector_indexes.values()))
    assert slot.file.endswith(".tenants.hnsw") and isinstance(slot.get(segs[0]), IsolatedIndex)
    assert len(slot.get(segs[0]).sub_index_groups) == 1
    cur.execute("SET hnsw.ef_search = 100")
    _check_tenants(cur)
    conn.close()


def _isolated_slots_of(table_data) -> bool:
    return any(getattr(seg, "vector_indexes", None) for seg in table_data.segments)


def test_bm25_never_returns_another_tenants_rows(setup):
    _conn, cur = setup
    cur.execute("CREATE INDEX ON docs USING bm25 (id, body) WITH (key_field = 'id')")
    cur.execute("INSERT INTO docs VALUES (1000001, 't1', %s, 'apple pie'), (1000002, 't1', %s, 'banana')",
                (_vec(np.zeros(DIM)), _vec(np.ones(DIM))))
    # the decoy's bodies say "apple" three times: they would score first if they leaked
    cur.execute("SELECT id, tenant FROM docs WHERE tenant = 't1' AND body @@@ 'apple' "
                "ORDER BY score(id) DESC LIMIT 5")
    assert cur.fetchall() == [(1000001, "t1")]
    cur.execute("SELECT count(*) FROM docs WHERE tenant = %s AND body @@@ 'apple'", (DECOY,))
    assert cur.fetchone()[0] == len(_queries())
    with pytest.raises(errors.FeatureNotSupported):
        cur.execute("SELECT id FROM docs WHERE body @@@ 'apple'")


# -- through the wire server and psycopg ----------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "wire"))
    from wireserver import ServerProcess

    srv = ServerProcess(tmp_path_factory.mktemp("iso") / "data").start()
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.log()


def test_isolation_through_psycopg(server):
    rows = _rows()
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS wdocs")
        conn.execute(f"CREATE TABLE wdocs (id int, tenant text NOT NULL, emb vector({DIM}), body text){ISOLATED}")
        conn.execute("CREATE INDEX ON wdocs USING hnsw (emb vector_l2_ops)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO wdocs VALUES (%s, %s, %s, %s)", rows)
        conn.execute("CHECKPOINT")
        q = _vec(_queries()[0])
        for tenant in ("t1", "big"):
            got = conn.execute("SELECT id, tenant FROM wdocs WHERE tenant = %s ORDER BY emb <-> %s LIMIT 10",
                               (tenant, q)).fetchall()
            assert len(got) == 10 and {t for _, t in got} == {tenant}
        with pytest.raises(psycopg.errors.FeatureNotSupported) as ei:
            conn.execute("SELECT id FROM wdocs ORDER BY emb <-> %s LIMIT 10", (q,))
        assert ei.value.sqlstate == "0A000" and "wdocs" in str(ei.value)
        assert conn.execute("SELECT count(*) FROM wdocs WHERE tenant = %s", ("t3",)).fetchone() == (SMALL,)


# -- the index itself, below SQL (the top-k path may answer small tenants from its own cache) ------
def test_isolated_index_searches_one_group(tmp_path):
    from sqlvec.index.base import exact_range, exact_topk

    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(4, dtype=np.int32), [2500, 300, 300, 40])
    rng.shuffle(groups)
    matrix = rng.standard_normal((len(groups), DIM)).astype(np.float32)
    ix = IsolatedIndex.build(matrix, "l2", {"m": 16, "ef_construction": 100}, threads=1, groups=groups)
    assert ix.sub_index_groups == [0]
    ix.mark_deleted(np.flatnonzero(groups == 1)[:5])
    path = str(tmp_path / "1.tenants.hnsw")
    ix.save(path)
    loaded = IsolatedIndex.load(path, matrix)
    loaded.mark_deleted(np.flatnonzero(groups == 1)[:5])  # marks are not persisted: the engine redoes them
    live = np.ones(len(groups), bool)
    live[np.flatnonzero(groups == 1)[:5]] = False
    for index in (ix, loaded):
        for g in range(4):
            mask = (groups == g) & live
            hits = []
            for q in rng.standard_normal((5, DIM)).astype(np.float32):
                offs, d, exact = index.search(q, 10, allowed=mask, ef=100)
                assert (groups[offs] == g).all() and live[offs].all()
                want, wd, _ = exact_topk(matrix, q, 10, "l2", mask)
                if g == 0:
                    assert not exact
                    hits.append(len(set(offs) & set(want)) / 10)
                else:
                    assert exact and list(offs) == list(want) and np.allclose(d, wd)
                r_offs, _rd, _ = index.range_search(q, 3.5, allowed=mask)
                assert set(r_offs) == set(exact_range(matrix, q, 3.5, "l2", mask, False)[0]) or g == 0
                assert (groups[r_offs] == g).all()
            assert not hits or np.mean(hits) >= 0.95
        both = (groups == 2) | (groups == 3)  # a mask over two groups: both searched, merged
        q = rng.standard_normal(DIM).astype(np.float32)
        assert list(index.search(q, 10, allowed=both)[0]) == list(exact_topk(matrix, q, 10, "l2", both)[0])
