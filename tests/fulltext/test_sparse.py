"""ORDER BY sparsevec <#> q LIMIT k through the inverted index: exact, equal to the full sort."""

from __future__ import annotations

import numpy as np
import pytest

from sqlvec import errors
from sqlvec.exec import sparse_knn
from sqlvec.index.sparse import SparseInvertedIndex, topk_ip


def _text(idx, val, dim=50) -> str:
    return "{" + ",".join(f"{a + 1}:{b:.4f}" for a, b in zip(idx, val)) + f"}}/{dim}"


@pytest.fixture
def cur(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE s (id int, tag int, v sparsevec(50))")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2000):
        idx = np.sort(rng.choice(50, 4, replace=False))
        rows.append((i, i % 3, _text(idx, rng.normal(size=4))))
    rows.append((9999, 0, None))
    cur.executemany("INSERT INTO s VALUES (%s, %s, %s::sparsevec)", rows)
    return cur


@pytest.mark.parametrize("where, tail", [("", "LIMIT 7"), ("WHERE tag = 1", "LIMIT 5 OFFSET 2"),
                                         ("WHERE id < 3 OR id = 9999", "LIMIT 10")])
def test_topk_equals_full_sort(cur, monkeypatch, where, tail):
    calls = []
    real = sparse_knn.run
    monkeypatch.setattr(sparse_knn, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    q = "{3:1.5,7:-2,20:0.5}/50"
    cur.execute(f"SELECT id, v <#> %s::sparsevec FROM s {where} ORDER BY v <#> %s::sparsevec {tail}", (q, q))
    got = cur.fetchall()
    assert calls  # the inverted-index path was tried (it defers to the sort for NULLs)
    # the general path: an expression the top-k rule does not recognise
    cur.execute(f"SELECT id, v <#> %s::sparsevec FROM s {where} ORDER BY (v <#> %s::sparsevec) + 0, id {tail}",
                (q, q))
    assert got == cur.fetchall()
    if "9999" in where:
        assert len(got) == 4 and got[-1] == (9999, None)  # NULL vectors sort last


def test_explain(cur):
    cur.execute("EXPLAIN SELECT id FROM s WHERE tag = 2 ORDER BY v <#> '{1:1}/50' LIMIT 3")
    plan = [r[0] for r in cur.fetchall()]
    assert "Sparse Top-K on s" in plan[1] and any("Filter: (tag = 2)" in p for p in plan)


def test_dimension_mismatch(cur):
    with pytest.raises(errors.DataException, match="different sparsevec dimensions"):
        cur.execute("SELECT id FROM s ORDER BY v <#> '{1:1}/7'::sparsevec LIMIT 3")


def test_index_unit():
    # rows: 0 -> {0:1, 2:2}, 1 -> {1:3}, 2 -> NULL, 3 -> {2:-1}
    ix = SparseInvertedIndex.build(np.array([5, 5, -1, 5]), np.array([0, 0, 1, 3]),
                                   np.array([0, 2, 1, 2]), np.array([1.0, 2.0, 3.0, -1.0]))
    ip = ix.inner_products(np.array([2, 4]), np.array([1.0, 9.0]))
    assert ip.tolist() == [2.0, 0.0, 0.0, -1.0]
    rows, dist = topk_ip(ix, np.array([2]), np.array([1.0]), 2, None)
    assert rows.tolist() == [0, 1] and dist.tolist() == [-2.0, 0.0]  # NULL row 2 never returned
