"""k-means for IVFFlat lists: k-means++ seeding and a few Lloyd iterations on a sample.

Vectorised throughout: assignments by one BLAS product per block (``|x|^2 - 2 x.c + |c|^2``),
centre updates by a sort and ``np.add.reduceat``. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

SAMPLE_PER_LIST = 50  # pgvector samples 50 rows per list
MIN_SAMPLE = 10_000
_BLOCK = 16384


def nearest_centre(x: np.ndarray, centres: np.ndarray,
                   csq: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest centre, squared distance) per row of ``x``, by L2."""
    if csq is None:
        csq = np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(x.shape[0], np.int64)
    dist = np.empty(x.shape[0], np.float32)
    for s in range(0, x.shape[0], _BLOCK):
        b = np.asarray(x[s:s + _BLOCK], np.float32)
        d = csq[None, :] - 2.0 * (b @ centres.T)
        labels[s:s + len(b)] = np.argmin(d, axis=1)
        best = d[np.arange(len(b)), labels[s:s + len(b)]] + np.einsum("ij,ij->i", b, b)
        dist[s:s + len(b)] = np.maximum(best, 0.0)
    return labels, dist


def _seed(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre drawn with probability proportional to D(x)^2."""
    n = x.shape[0]
    centres = np.empty((k, x.shape[1]), np.float32)
    centres[0] = x[rng.integers(n)]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        total = float(d2.sum())
        j = int(rng.integers(n)) if total <= 0 else int(
            np.searchsorted(np.cumsum(d2), rng.random() * total))
        centres[i] = x[min(j, n - 1)]
        np.minimum(d2, ((x - centres[i]) ** 2).sum(axis=1), out=d2)
    return centres


def kmeans(data: np.ndarray, k: int, *, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """``k`` centres (k x d float32) of the rows of ``data`` (a sample of them when large)."""
    rng = np.random.default_rng(seed)
    n = data.shape[0]
    k = max(1, min(k, n))
    size = min(n, max(MIN_SAMPLE, SAMPLE_PER_LIST * k))
    pick = np.sort(rng.choice(n, size, replace=False)) if size < n else np.arange(n)
    x = np.ascontiguousarray(data[pick], dtype=np.float32)
    centres = _seed(x, k, rng)
    for _ in range(iterations):
        labels, dist = nearest_centre(x, centres)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=k)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        nonempty = counts > 0
        sums = np.add.reduceat(x[order], starts[nonempty], axis=0)
        new = centres.copy()
        new[nonempty] = sums / counts[nonempty, None]
        empty = np.flatnonzero(~nonempty)
        if len(empty):  # re-seed empty lists at the rows farthest from their centre
            far = np.argsort(dist)[::-1][:len(empty)]
            new[empty[:len(far)]] = x[far]
        moved = float(np.abs(new - centres).max())
        centres = new
        if moved == 0.0:
            break
    return centres
