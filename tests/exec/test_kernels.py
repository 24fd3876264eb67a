import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlvec.exec import kernels


def reference(x, q, metric):
    x = x.astype(np.float64)
    q = q.astype(np.float64)
    if metric == "l2":
        return np.sqrt(((x - q) ** 2).sum(1))
    if metric == "l1":
        return np.abs(x - q).sum(1)
    if metric == "ip":
        return -(x @ q)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - np.clip((x @ q) / np.sqrt((x * x).sum(1) * (q @ q)), -1, 1)


def ref_topk(x, q, k, metric, mask=None):
    d = kernels.distances(x, q, metric)
    idx = np.arange(len(x)) if mask is None else np.flatnonzero(mask)
    order = np.lexsort((idx, d[idx]))[:k]
    return idx[order], d[idx][order]


@pytest.mark.parametrize("metric", kernels.METRICS)
def test_distances_against_numpy(metric):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 17)).astype(np.float32)
    q = rng.standard_normal(17).astype(np.float32)
    np.testing.assert_allclose(kernels.distances(x, q, metric), reference(x, q, metric), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6000), d=st.integers(1, 24), k=st.integers(1, 40),
    metric=st.sampled_from(kernels.METRICS), seed=st.integers(0, 2**32 - 1),
    dup=st.booleans(), masked=st.booleans(), half=st.booleans(), cached=st.booleans(),
)
def test_topk_equals_full_sort(n, d, k, metric, seed, dup, masked, half, cached):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (n, d)).astype(np.float32) if dup else rng.random((n, d), np.float32)
    if half:
        x = x.astype(np.float16)
    q = x[0].astype(np.float32) if dup else rng.random(d, np.float32)
    mask = rng.random(n) < 0.3 if masked else None
    sq = kernels.row_sqnorms(x) if cached else None
    idx, dist = kernels.topk(x, q, k, metric, mask=mask, sqnorms=sq)
    ref_idx, ref_dist = ref_topk(x, q, k, metric, mask)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)


def test_topk_large_uses_fast_path_and_ties():
    rng = np.random.default_rng(3)
    x = rng.random((50_000, 32), np.float32)
    x[100:200] = x[7]  # many exact ties with row 7
    for metric in kernels.METRICS:
        idx, dist = kernels.topk(x, x[7], 20, metric)
        ref_idx, ref_dist = ref_topk(x, x[7], 20, metric)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(dist, ref_dist)


def test_k_larger_than_rows_and_empty_mask():
    x = np.eye(3, dtype=np.float32)
    idx, dist = kernels.topk(x, np.ones(3, np.float32), 10, "l2")
    assert list(idx) == [0, 1, 2] and len(dist) == 3
    idx, _ = kernels.topk(x, np.ones(3, np.float32), 2, "l2", mask=np.zeros(3, bool))
    assert idx.size == 0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 50), nbits=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_bit_distances(n, nbits, seed):
    rng = np.random.default_rng(seed)
    bits = rng.random((n, nbits)) < 0.5
    qb = rng.random(nbits) < 0.5
    packed, q = np.packbits(bits, axis=1), np.packbits(qb)
    ham = kernels.bit_distances(packed, q, nbits, "hamming")
    np.testing.assert_array_equal(ham, (bits != qb).sum(1))
    both, either = (bits & qb).sum(1), (bits | qb).sum(1)
    expect = np.where(both == 0, 1.0, 1 - both / np.maximum(either, 1))
    np.testing.assert_allclose(kernels.bit_distances(packed, q, nbits, "jaccard"), expect)
