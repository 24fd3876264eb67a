"""Distances computed the way pgvector computes the values users see.

pgvector accumulates every sum in C ``float`` (float4) and widens the result to double only at
the end: ``l2_distance('[3e38]', '[-3e38]')`` is Infinity, not 6e38, and
``'[0.1,0.2]'::vector <-> '[0.3,0.5]'`` is 0.36055514159804963. Builds with FMA (pgvector
compiles its distance loops for it) round once per ``acc += x * y``; we do the same: each
step adds the exact float64 product to the float32 accumulator and rounds to float32.

The top-k kernels (sqlvec.exec.kernels) stay float64 for ordering; these functions produce the
values of ``l2_distance(...)``, ``a <-> b`` and friends in select lists and filters.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 1 << 22  # float64 terms per row block (32 MB)


def seq_sum(terms: np.ndarray) -> np.ndarray:
    """Row sums of an (m x k) float64 matrix, accumulated left to right in float32 with one
    rounding per step (``acc = fl32(acc + term)``). Trailing zero padding changes nothing."""
    m, k = terms.shape
    acc = np.zeros(m, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(k):
            acc = (acc.astype(np.float64) + terms[:, j]).astype(np.float32)
    return acc


def _blocks(m: int, k: int):
    step = max(1, _CHUNK // max(k, 1))
    for lo in range(0, m, step):
        yield slice(lo, min(lo + step, m))


def dense(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """float64 results of ``metric`` between rows of (m x d) a and b (b may be broadcast).

    metric: l2, dot (inner product), ip (negative inner product), cosine, l1.
    """
    m, d = a.shape
    b = np.broadcast_to(b, (m, d))
    out = np.empty(m, np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for s in _blocks(m, d):
            x = a[s].astype(np.float32, copy=False)
            y = b[s].astype(np.float32, copy=False)
            out[s] = _dense_block(x, y, metric)
    return out


def _dense_block(x: np.ndarray, y: np.ndarray, metric: str) -> np.ndarray:
    if metric == "l2":
        diff = (x - y).astype(np.float64)  # the difference is taken in float
        return np.sqrt(seq_sum(diff * diff).astype(np.float64))
    if metric == "l1":
        return seq_sum(np.abs(x - y).astype(np.float64)).astype(np.float64)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    dot = seq_sum(x64 * y64).astype(np.float64)
    if metric == "dot":
        return dot
    if metric == "ip":
        return -dot
    na = seq_sum(x64 * x64).astype(np.float64)
    nb = seq_sum(y64 * y64).astype(np.float64)
    return cosine_from(dot, na, nb)


def cosine_from(dot: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """1 - dot / sqrt(na * nb), clamped to [0, 2]; NaN stays NaN (zero vectors)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sim = dot / np.sqrt(na * nb)
    sim = np.where(np.isnan(sim), sim, np.clip(sim, -1.0, 1.0))
    return 1.0 - sim


def sparse(
    rows_a: np.ndarray, idx_a: np.ndarray, val_a: np.ndarray,
    rows_b: np.ndarray, idx_b: np.ndarray, val_b: np.ndarray,
    m: int, metric: str,
) -> np.ndarray:
    """sparsevec distances: pgvector walks both index lists in ascending order and adds one
    float term per index present in either vector (l2, l1) or in both (inner product)."""
    va = val_a.astype(np.float32).astype(np.float64)
    vb = val_b.astype(np.float32).astype(np.float64)
    if metric in ("dot", "ip", "cosine"):
        big = np.int64(1) << np.int64(32)
        _, ia, ib = np.intersect1d(rows_a * big + idx_a, rows_b * big + idx_b,
                                   assume_unique=True, return_indices=True)
        dot = _grouped(rows_a[ia], idx_a[ia], va[ia] * vb[ib], m).astype(np.float64)
        if metric == "dot":
            return dot
        if metric == "ip":
            return -dot
        na = _grouped(rows_a, idx_a, va * va, m).astype(np.float64)
        nb = _grouped(rows_b, idx_b, vb * vb, m).astype(np.float64)
        return cosine_from(dot, na, nb)
    # union of entries; matched (row, index) pairs contribute (a - b) once
    rows = np.concatenate([rows_a, rows_b])
    idx = np.concatenate([idx_a, idx_b])
    vals = np.concatenate([va, -vb])
    order = np.lexsort((idx, rows))
    rows, idx, vals = rows[order], idx[order], vals[order]
    first = np.ones(rows.shape[0], bool)
    first[1:] = (rows[1:] != rows[:-1]) | (idx[1:] != idx[:-1])
    starts = np.flatnonzero(first)
    with np.errstate(over="ignore"):
        # a - b in float (pairs sum to the difference; singles keep their own value)
        diff = np.add.reduceat(vals, starts).astype(np.float32).astype(np.float64) \
            if starts.size else np.zeros(0)
    rows, idx = rows[starts], idx[starts]
    if metric == "l2":
        return np.sqrt(_grouped(rows, idx, diff * diff, m).astype(np.float64))
    return _grouped(rows, idx, np.abs(diff), m).astype(np.float64)


def _grouped(rows: np.ndarray, idx: np.ndarray, terms: np.ndarray, m: int) -> np.ndarray:
    """Per-row float32 sequential sums of terms, in ascending index order within each row."""
    if rows.size == 0:
        return np.zeros(m, np.float32)
    order = np.lexsort((idx, rows))
    rows, terms = rows[order], terms[order]
    counts = np.bincount(rows, minlength=m)
    width = int(counts.max())
    pos = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    mat = np.zeros((m, width), np.float64)
    mat[rows, pos] = terms
    return seq_sum(mat)
