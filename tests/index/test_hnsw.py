"""HNSW per-segment index: recall, filtered k-means-k, deletes, persistence, halfvec."""

from __future__ import annotations

import numpy as np
import pytest

from sqlvec.exec import kernels
from sqlvec.index import HnswIndex

from .conftest import recall

OPTS = {"m": 16, "ef_construction": 64}


@pytest.fixture(scope="module")
def indexes(data):
    # one build thread: a 2-thread hnswlib build is not deterministic, and recall thresholds
    # must not depend on the run
    return {m: HnswIndex.build(data, m, OPTS, threads=1) for m in ("l2", "ip", "cosine")}


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_recall_default_ef(indexes, data, queries, metric):
    idx = indexes[metric]
    scores = []
    for q in queries:
        offs, dist, exact = idx.search(q, 10)
        assert not exact and len(offs) == 10
        assert np.all(np.diff(dist) >= 0)
        # distances are pgvector's: hnswlib's float32 ones converted, within float32 rounding
        # of the exact kernel's (tests/index/test_skip_rerank.py checks order and bounds)
        np.testing.assert_allclose(dist, kernels.distances(data[offs], q, metric),
                                   rtol=2e-5, atol=2e-5)
        scores.append(recall(offs, data, q, 10, metric))
    assert np.mean(scores) >= 0.95


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("selectivity", [0.001, 0.01, 0.1, 0.5, 0.9])
def test_filtered_returns_k(indexes, data, queries, metric, selectivity):
    rng = np.random.default_rng(int(selectivity * 1000))
    allowed = rng.random(len(data)) < selectivity
    idx = indexes[metric]
    scores = []
    for q in queries[:20]:
        offs, _dist, _exact = idx.search(q, 10, allowed=allowed)
        assert len(offs) == min(10, int(allowed.sum()))
        assert allowed[offs].all()
        scores.append(recall(offs, data, q, 10, metric, allowed))
    assert np.mean(scores) >= 0.95


def test_correlated_filter_far_from_query(indexes, data, queries, cluster_labels):
    """Allowed rows all in one cluster the query is not in: the walk must widen or go exact."""
    idx = indexes["l2"]
    for q in queries[:10]:
        nearest = int(kernels.topk(data, q, 1, "l2")[0][0])
        other = (cluster_labels[nearest] + 1) % cluster_labels.max()
        allowed = cluster_labels == other
        offs, _d, _e = idx.search(q, 10, allowed=allowed)
        assert len(offs) == 10 and allowed[offs].all()
        assert recall(offs, data, q, 10, "l2", allowed) >= 0.9


def test_tiny_allowed_set_is_exact(indexes, data, queries):
    allowed = np.zeros(len(data), bool)
    allowed[[5, 77, 901]] = True
    offs, dist, exact = indexes["l2"].search(queries[0], 10, allowed=allowed)
    assert exact and sorted(offs.tolist()) == [5, 77, 901]
    want, wd = kernels.topk(data, queries[0], 10, "l2", mask=allowed)
    np.testing.assert_array_equal(offs, want)
    np.testing.assert_array_equal(dist, wd)


def test_short_allowed_mask_means_prefix(indexes, data, queries):
    """A snapshot that sees only a prefix of the segment passes a shorter mask."""
    allowed = np.ones(5000, bool)
    offs, _d, _e = indexes["l2"].search(queries[0], 10, allowed=allowed)
    assert len(offs) == 10 and (offs < 5000).all()


def test_deleted_rows_never_returned(data, queries):
    idx = HnswIndex.build(data, "l2", OPTS, threads=2)
    first = set()
    for q in queries[:20]:
        first |= set(idx.search(q, 10)[0].tolist())
    gone = np.array(sorted(first), np.int64)
    idx.mark_deleted(gone)
    idx.mark_deleted(gone[:3])  # marking again is harmless
    for q in queries[:20]:
        offs, _d, _e = idx.search(q, 10)
        assert len(offs) == 10 and not set(offs.tolist()) & first
        offs, _d, _e = idx.search(q, 10, allowed=np.ones(len(data), bool))
        assert not set(offs.tolist()) & first


def test_save_load_round_trip(tmp_path, data, queries):
    idx = HnswIndex.build(data[:3000], "cosine", {"m": 8, "ef_construction": 32}, threads=2)
    path = str(tmp_path / "7.hnsw")
    idx.save(path)
    back = HnswIndex.load(path, data[:3000])
    assert back.metric == "cosine" and back.options == {"m": 8, "ef_construction": 32}
    assert back.nbytes > 0 and back.num_rows == 3000
    for q in queries[:10]:
        a = idx.search(q, 10, ef=200)
        b = back.search(q, 10, ef=200)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_halfvec_and_nulls_and_zero_vectors(data, queries):
    half = data[:4000].astype(np.float16)
    half[10] = np.nan  # a NULL vector
    half[11] = 0  # zero norm: cosine distance NaN, never indexed
    idx = HnswIndex.build(half, "cosine", OPTS, threads=2)
    for q in queries[:10]:
        offs, dist, _e = idx.search(q, 10)
        assert 10 not in offs and 11 not in offs
        np.testing.assert_allclose(dist, kernels.distances(half[offs], q, "cosine"),
                                   rtol=2e-5, atol=2e-5)
        assert recall(offs, half, q, 10, "cosine") >= 0.8
    # with only the zero vector and one real row allowed, both come back, NaN last
    allowed = np.zeros(4000, bool)
    allowed[[11, 12]] = True
    offs, dist, exact = idx.search(queries[0], 10, allowed=allowed)
    assert exact and offs.tolist() == [12, 11] and np.isnan(dist[1])


@pytest.mark.parametrize("inclusive", [False, True])
def test_range_search(indexes, data, queries, inclusive):
    idx = indexes["l2"]
    for q in queries[:10]:
        d_all = kernels.distances(data, q, "l2")
        radius = float(np.sort(d_all)[50])
        offs, dist, _exact = idx.range_search(q, radius, inclusive=inclusive)
        want = set(np.flatnonzero(d_all <= radius if inclusive else d_all < radius).tolist())
        assert set(offs.tolist()) <= want
        assert len(set(offs.tolist()) & want) >= 0.99 * len(want)
        assert np.all(np.diff(dist) >= 0)


def test_unsupported_metric_rejected(data):
    with pytest.raises(ValueError, match="l1"):
        HnswIndex.build(data[:10], "l1", OPTS, threads=1)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_unfiltered_short_walk_orders_as_the_tie_settling_path(data, queries, metric):
    """HnswIndex._plain (an unfiltered search skips the tie sweep when the first k+1
    distances are apart) answers what the general path answers from the same walk: the
    same rows, the same order, the same distances — also with exact duplicates (ties, which
    it hands to the sweep) and near-duplicates (one float32 rounding apart)."""
    rng = np.random.default_rng(9)
    x = data[:4000].copy()
    x[100:120] = x[7]  # exact ties
    x[200:220] = x[8] + rng.normal(size=(20, x.shape[1])).astype(np.float32) * 1e-7  # near-ties
    idx = HnswIndex.build(x, metric, OPTS, threads=1)
    probes = list(queries[:30]) + [x[7], x[8], x[7] + 1e-4]
    for q in probes:
        got = idx.search(q, 10, ef=40)
        walk = idx._walk(q, 40)
        want = idx._answer(q, walk[0], walk[1], 10)
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_array_equal(got[1], want[1])
