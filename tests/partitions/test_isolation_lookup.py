"""Tenant isolation: a top-k resolves ``tenant = v`` through the sub-index, not the key column.

``docs`` (isolated, HNSW) and ``ref`` (no index: exact answers) hold the same rows. Tenant
rows are interleaved (not contiguous in the segment) for ``a`` and ``b``, contiguous for
``c``; ``big`` gets its own graph; ``c`` has NULL vectors.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pytest

import sqlvec
from sqlvec.exec import filter_cache, knn
from sqlvec.index.base import exact_topk
from sqlvec.index.isolated import IsolatedIndex, group_keys

DIM, BIG = 8, 2600  # ``big`` is above the exact floor (2,048): its own graph


def _vec(v) -> str | None:
    return None if v is None else "[" + ",".join(f"{x:.5f}" for x in v) + "]"


def _rows() -> list[tuple]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(300):  # a and b interleaved
        out.append((len(out), "a" if i % 2 else "b", _vec(rng.standard_normal(DIM))))
    for i in range(150):
        out.append((len(out), "c", None if i % 10 == 0 else _vec(rng.standard_normal(DIM))))
    for _ in range(BIG):
        out.append((len(out), "big", _vec(rng.standard_normal(DIM))))
    return out


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    conn = sqlvec.connect(str(tmp_path_factory.mktemp("iso") / "db"), autocommit=True)
    cur = conn.cursor()
    for name, opts in (("docs", " WITH (partition_key = 'tenant', num_partitions = 2, "
                                "partition_key_isolation = true)"), ("ref", "")):
        cur.execute(f"CREATE TABLE {name} (id int, tenant text NOT NULL, emb vector({DIM})){opts}")
    cur.execute("CREATE INDEX ON docs USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 100)")
    for t in ("docs", "ref"):
        cur.executemany(f"INSERT INTO {t} VALUES (%s, %s, %s)", _rows())
    cur.execute("CHECKPOINT")
    conn._session.db.engine.wait_for_indexes()
    cur.execute("SET hnsw.ef_search = 200")
    yield conn, cur
    conn.close()


def _ids(cur, table: str, tenant: str, q, k: int = 10, extra: str = "") -> list:
    cur.execute(f"SELECT id FROM {table} WHERE tenant = %s{extra} ORDER BY emb <-> %s LIMIT {k}",
                (tenant, _vec(q)))
    return [r[0] for r in cur.fetchall()]


def _queries(n: int = 5) -> np.ndarray:
    return np.random.default_rng(8).standard_normal((n, DIM)).astype(np.float32)


@contextmanager
def no_key_scan():
    """Any evaluation of the WHERE over a segment's columns fails the test."""
    def refuse(*_a, **_k):
        raise AssertionError("the key column was scanned")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(knn.filter_cache, "segment_filter", refuse)
        mp.setattr(knn, "_filter_mask", refuse)
        yield


def test_tenant_rows_come_from_the_sub_index(db):
    _conn, cur = db
    for q in _queries():
        want = {t: _ids(cur, "ref", t, q) for t in ("a", "b", "c", "big")}
        with no_key_scan():
            got = {t: _ids(cur, "docs", t, q) for t in ("a", "b", "c", "big", "nobody")}
        for tenant in ("a", "b", "c"):  # searched exactly: the same rows in the same order
            assert got[tenant] == want[tenant]
        assert len(got["big"]) == 10 and len(set(got["big"]) & set(want["big"])) >= 9
        assert all(300 + 150 <= i for i in got["big"])  # big's rows only
        assert got["nobody"] == []


def test_explain_analyze_says_key_lookup(db):
    _conn, cur = db
    for tenant, path in (("a", "exact (tenant sub-index) by key lookup"),
                         ("big", "hnsw (tenant sub-index) by key lookup")):
        cur.execute("EXPLAIN ANALYZE SELECT id FROM docs WHERE tenant = %s ORDER BY emb <-> %s LIMIT 5",
                    (tenant, _vec(_queries(1)[0])))
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert f"path={path}" in plan, plan


def test_no_filtered_copy_is_cached(db):
    _conn, cur = db
    filter_cache.clear()
    for q in _queries():
        for tenant in ("a", "b", "c", "big"):
            _ids(cur, "docs", tenant, q)
    assert filter_cache._CACHE.used == 0


def test_other_conjuncts_and_deleted_rows(db):
    _conn, cur = db
    for t in ("docs", "ref"):
        cur.execute(f"DELETE FROM {t} WHERE tenant = 'a' AND id < 100")
    extra = " AND id %% 3 <> 0"
    for q in _queries():
        for tenant in ("a", "b"):
            want = _ids(cur, "ref", tenant, q, 20, extra)
            with no_key_scan():
                got = _ids(cur, "docs", tenant, q, 20, extra)
            assert got == want
            assert all(i % 3 and (tenant == "b" or i >= 100) for i in got)


def test_null_vectors_sort_last(db):
    _conn, cur = db
    q = _queries(1)[0]
    got, want = _ids(cur, "docs", "c", q, 150), _ids(cur, "ref", "c", q, 150)
    assert got[:135] == want[:135] and set(got) == set(want)  # 15 NULL vectors, last


def test_rows_of_and_search_rows():
    rng = np.random.default_rng(3)
    names = np.array(["x", "y", "z", "w"])[np.repeat(np.arange(4), [2300, 40, 300, 1])]
    rng.shuffle(names[:2340])  # x and y interleaved; z contiguous at the end
    groups, keys = group_keys(pa.array(names.tolist()), len(names))
    matrix = rng.standard_normal((len(names), DIM)).astype(np.float32)
    ix = IsolatedIndex.build(matrix, "l2", {"m": 16, "ef_construction": 100}, threads=1,
                             groups=groups, keys=keys)
    assert ix.has_keys and ix.rows_of("nobody").tolist() == [] and ix.rows_of(None).tolist() == []
    for name in ("x", "y", "z", "w"):
        rows = ix.rows_of(name)
        assert rows.tolist() == np.flatnonzero(names == name).tolist()
        for q in rng.standard_normal((3, DIM)).astype(np.float32):
            mask = np.zeros(len(names), bool)
            mask[rows] = True
            offs, d, exact = ix.search_rows(rows, q, 10, ef=100)
            want, wd, _ = exact_topk(matrix, q, 10, "l2", mask)
            assert set(offs.tolist()) <= set(rows.tolist())
            if name == "x":  # its own graph
                assert not exact and len(set(offs) & set(want)) >= 9
                part = rows[::2]  # some rows left out (deleted, filtered): never returned
                assert set(ix.search_rows(part, q, 10, ef=100)[0].tolist()) <= set(part.tolist())
            else:
                assert exact and offs.tolist() == want.tolist() and np.allclose(d, wd)


def test_keys_survive_save_and_are_learned_by_older_folders(tmp_path):
    rng = np.random.default_rng(4)
    names = pa.array(rng.choice(["p", "q", "r"], 600).tolist())
    groups, keys = group_keys(names, len(names))
    matrix = rng.standard_normal((len(names), DIM)).astype(np.float32)
    ix = IsolatedIndex.build(matrix, "l2", {}, threads=1, groups=groups, keys=keys)
    path = str(tmp_path / "9.tenants.hnsw")
    ix.save(path)
    back = IsolatedIndex.load(path, matrix)
    assert back.has_keys and back.rows_of("q").tolist() == ix.rows_of("q").tolist()
    (tmp_path / "9.tenants.hnsw" / "keys.arrow").unlink()  # as written before keys were kept
    old = IsolatedIndex.load(path, matrix)
    assert not old.has_keys and old.rows_of("q") is None
    assert not old.learn_keys(names[:300])  # a prefix of the segment: not the same groups
    assert not old.learn_keys(pa.array(rng.choice(["p", "q", "r"], 600).tolist()))
    assert old.learn_keys(names) and old.rows_of("q").tolist() == ix.rows_of("q").tolist()
