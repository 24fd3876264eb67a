"""HNSW answers from hnswlib's own float32 distances, without reading the segment's vectors.

The reference is the previous behaviour: every candidate of the same graph walk re-ranked
with the exact kernel. The index must return the same rows in the same order, with distances
equal to float32 rounding, and (the point of it) must not read the segment's matrix — checked
by swapping the matrix for one that fails on any read.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from sqlvec.exec import kernels
from sqlvec.index import HnswIndex
from sqlvec.index.base import exact_range, rerank
from sqlvec.index.hnsw import converted

from .conftest import clustered

N, DIM, K, EF = 5000, 32, 10, 64  # more rows than the exact floor (2,048): the graph answers
OPTS = {"m": 16, "ef_construction": 64}
TOL = 8 * DIM * 2.0**-24  # float32 rounding of a DIM-term sum, with room


class Unreadable:
    """Stands in for the memory-mapped segment: any read of a row fails the test."""

    def __init__(self, m: np.ndarray) -> None:
        self.shape, self.dtype = m.shape, m.dtype

    def __getitem__(self, key):
        raise AssertionError(f"the segment's vectors were read: rows {key!r}")


def _matrix(dtype, duplicates: bool) -> np.ndarray:
    x = clustered(N, DIM, 11)[0]
    if duplicates:  # exact copies of other rows: ties that must break by offset
        rng = np.random.default_rng(12)
        x[rng.choice(N, 200, replace=False)] = x[rng.choice(N, 200, replace=False)]
    return x.astype(dtype)


def _queries(n: int = 25) -> np.ndarray:
    return clustered(n, DIM, 13)[0]


def _reference(idx: HnswIndex, matrix: np.ndarray, q: np.ndarray, metric: str):
    labels, _ = idx._graph.knn_query(q.reshape(1, -1), k=max(EF, K), num_threads=1)
    return rerank(matrix, q, labels[0].astype(np.int64), K, metric)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["vector", "halfvec"])
@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_same_rows_order_and_distances_as_reranking(metric, dtype):
    matrix = _matrix(dtype, duplicates=True)
    idx = HnswIndex.build(matrix, metric, OPTS, threads=1)
    for q in _queries():
        offs, d, exact = idx.search(q, K, ef=EF)
        want_o, want_d = _reference(idx, matrix, q, metric)
        assert not exact
        assert offs.tolist() == want_o.tolist()
        np.testing.assert_allclose(d, want_d, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(d, kernels.distances(matrix[offs], q, metric), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["vector", "halfvec"])
@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_unfiltered_search_never_reads_the_segment(metric, dtype):
    # l2/ip: even exact duplicates are settled from hnswlib's copies (bit-identical rows);
    # cosine's copies are normalised, so duplicates would need the segment: none here
    matrix = _matrix(dtype, duplicates=metric != "cosine")
    idx = HnswIndex.build(matrix, metric, OPTS, threads=1)
    want = [idx.search(q, K, ef=EF) for q in _queries()]
    idx._matrix = Unreadable(matrix)
    for q, (w_offs, w_d, _) in zip(_queries(), want):
        offs, d, _exact = idx.search(q, K, ef=EF)
        assert offs.tolist() == w_offs.tolist() and np.array_equal(d, w_d)
    assert idx.rows_read == 0


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_near_ties_follow_the_exact_distances(metric):
    """Rows one float32 ulp apart in one component: hnswlib's float32 distances cannot order
    them, the answer must still be the exact kernel's order (ties by offset)."""
    matrix = _matrix(np.float32, duplicates=False)
    rng = np.random.default_rng(21)
    q = _queries(1)[0]
    base = q + 0.05 * rng.standard_normal(DIM).astype(np.float32)
    near = np.repeat(base[None, :], 12, axis=0)
    for j in range(12):
        near[j, j] = np.nextafter(near[j, j], np.float32(np.inf if j % 2 else -np.inf))
    spots = rng.choice(N, 12, replace=False)
    matrix[spots] = near
    idx = HnswIndex.build(matrix, metric, OPTS, threads=1)
    offs, d, _exact = idx.search(q, K, ef=EF)
    want_o, want_d = _reference(idx, matrix, q, metric)
    assert offs.tolist() == want_o.tolist()
    assert set(offs.tolist()) <= set(spots.tolist()) or metric == "ip"
    np.testing.assert_allclose(d, want_d, rtol=TOL, atol=TOL)
    if metric != "cosine":  # settled from hnswlib's exact copies, not from the segment
        assert idx.rows_read == 0


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_converted_distances_lie_within_their_bound(metric):
    matrix = _matrix(np.float32, duplicates=False)
    idx = HnswIndex.build(matrix, metric, OPTS, threads=1)
    for q in _queries():
        labels, d32 = idx._walk(q, 200)
        xn = np.linalg.norm(matrix[labels].astype(np.float64), axis=1)
        d, slack = converted(metric, d32, DIM, xn, float(np.linalg.norm(q.astype(np.float64))))
        exact = kernels.distances(matrix[labels], q, metric)
        assert (np.abs(d - exact) <= slack).all()
        assert (slack <= 1e-4 * np.maximum(1.0, np.abs(d))).all()  # tight enough to matter


def test_ip_index_saved_without_row_norms_reranks(tmp_path):
    """A folder written before row norms were kept: the answer is the same, read from the
    segment as before."""
    matrix = _matrix(np.float32, duplicates=True)
    idx = HnswIndex.build(matrix, "ip", OPTS, threads=1)
    path = str(tmp_path / "5.hnsw")
    idx.save(path)
    assert os.path.exists(os.path.join(path, "norms.npy"))
    os.remove(os.path.join(path, "norms.npy"))
    old = HnswIndex.load(path, matrix)
    for q in _queries(5):
        a, b = idx.search(q, K, ef=EF), old.search(q, K, ef=EF)
        assert a[0].tolist() == b[0].tolist()
        np.testing.assert_allclose(a[1], b[1], rtol=TOL, atol=TOL)
    assert old.rows_read == 5 * EF and idx.rows_read < old.rows_read


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_range_search_decides_the_edge_exactly(metric):
    """A radius equal to a row's exact distance: inclusive keeps that row, exclusive drops it,
    although hnswlib's float32 value may fall on either side."""
    matrix = _matrix(np.float32, duplicates=False)
    idx = HnswIndex.build(matrix, metric, OPTS, threads=1)
    for q in _queries(5):
        d_all = kernels.distances(matrix, q, metric)
        order = np.argsort(d_all, kind="stable")
        edge = int(order[30])
        radius = float(d_all[edge])
        inc = idx.range_search(q, radius, inclusive=True)[0]
        exc = idx.range_search(q, radius, inclusive=False)[0]
        assert edge in inc.tolist() and edge not in exc.tolist()
        assert set(exc.tolist()) <= set(exact_range(matrix, q, radius, metric, None, False)[0].tolist())


def test_ip_graph_over_some_rows(tmp_path):
    """A tenant sub-index holds some of the segment's rows: its row norms are kept for those
    rows only, found by offset, also after a reload."""
    matrix = _matrix(np.float32, duplicates=False)
    present = np.random.default_rng(5).random(N) < 0.6
    idx = HnswIndex.build(matrix, "ip", OPTS, threads=1, present=present)
    idx.save(str(tmp_path / "6.hnsw"))
    back = HnswIndex.load(str(tmp_path / "6.hnsw"), matrix)
    for index in (idx, back):
        for q in _queries(5):
            offs, d, _exact = index.search(q, K, ef=EF)
            want_o, want_d = _reference(index, matrix, q, "ip")
            assert present[offs].all() and offs.tolist() == want_o.tolist()
            np.testing.assert_allclose(d, want_d, rtol=TOL, atol=TOL)
        assert index.rows_read == 0
