"""kernels.topk on small row sets (the cached filter subsets): since the fast float32 pass
serves sets past SMALL_EXACT rows, its answer must still equal a full sort of the exact
distances, with ties (duplicate rows), NaN rows and masks."""

from __future__ import annotations

import numpy as np
import pytest

from sqlvec.exec import kernels


def _reference(x, q, k, metric, mask):
    d = kernels.distances(x, q, metric)
    idx = np.arange(len(x)) if mask is None else np.flatnonzero(mask)
    d = d[idx]
    order = np.lexsort((idx, d))[:k]  # NaN last, ties by row
    return idx[order], d[order]


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine", "l1"])
@pytest.mark.parametrize("n", [5, 129, 700, 2500])
def test_small_sets_equal_a_full_sort(metric, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 24)).astype(np.float32)
    x[n // 3] = x[n // 5]  # an exact tie
    x[n // 2] = np.nan  # a NULL vector
    if metric == "cosine":
        x[n // 7 + 1] = 0  # zero norm: NaN distance
    norms = kernels.row_sqnorms(x) if metric in ("l2", "cosine") else None
    for trial in range(4):
        q = x[trial * (n // 4)] + np.float32(0.01) if trial else rng.normal(size=24).astype(np.float32)
        mask = None if trial % 2 == 0 else rng.random(n) < 0.6
        for k in (1, 10, 40):
            got_i, got_d = kernels.topk(x, q, k, metric, mask=mask, sqnorms=norms)
            want_i, want_d = _reference(x, q, k, metric, mask)
            np.testing.assert_array_equal(got_i, want_i)
            np.testing.assert_array_equal(got_d, want_d)
