"""Exact vector search kernels: distances and top-k, with pgvector's definitions.

Every distance is computed "exactly" in float64 from the stored float32/float16 values by one
function, :func:`_exact_keys`, which works row by row (a row's value never depends on which
other rows share its batch). :func:`topk` finds candidates with a fast float32 BLAS pass
(``||x||^2 - 2 x.q`` for l2, ``x.q`` for ip/cosine) and then recomputes the candidates with
:func:`_exact_keys`; a rigorous floating-point error bound on the fast pass proves that no row
outside the candidates can be nearer than the k-th exact distance (or tie with it), so the
result equals a full sort of :func:`distances` by (distance, index).

pgvector definitions (vector.c): l2 = sqrt(sum((a-b)^2)); ip ("<#>") = -(a.b);
cosine = 1 - clamp(a.b / sqrt(|a|^2 |b|^2), -1, 1), NaN when a norm is zero; l1 = sum(|a-b|).
bit: hamming = popcount(a xor b); jaccard = 1 - |a and b| / (|a| + |b| - |a and b|), 1 when
the intersection is empty.
"""

from __future__ import annotations

import numpy as np

METRICS = ("l2", "ip", "cosine", "l1")
BIT_METRICS = ("hamming", "jaccard")
_CHUNK = 8192  # rows per block for chunked passes: a block of float64 rows stays in L2 cache
_EPS32 = float(np.finfo(np.float32).eps)
# up to this many qualifying rows topk computes every exact distance; past it the float32
# BLAS pass + proof is cheaper (measured, 128 dims: 1,000 rows 0.22 ms exact vs ~0.03 ms)
SMALL_EXACT = 128


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")


def _exact_keys(rows: np.ndarray, q64: np.ndarray, metric: str) -> np.ndarray:
    """Sort keys for ``rows`` in float64: squared distance for l2, the distance otherwise.

    Row-wise only (elementwise ops then a reduction along axis 1), so that a row gets the same
    value whether it is computed in a full scan or as one of topk's candidates.
    """
    x = rows.astype(np.float64)
    if metric == "l2":
        x -= q64
        np.multiply(x, x, out=x)
        return x.sum(axis=1)
    if metric == "l1":
        x -= q64
        np.abs(x, out=x)
        return x.sum(axis=1)
    dots = (x * q64).sum(axis=1)
    if metric == "ip":
        return -dots
    # cosine: pgvector divides by sqrt(norma * normb) and clamps before 1 - similarity
    norms = (x * x).sum(axis=1) * float(q64 @ q64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = dots / np.sqrt(norms)
    np.clip(sim, -1.0, 1.0, out=sim)  # NaN stays NaN
    return 1.0 - sim


def _finish(keys: np.ndarray, metric: str) -> np.ndarray:
    return np.sqrt(keys) if metric == "l2" else keys


def _as_query(q: np.ndarray, d: int) -> np.ndarray:
    q = np.asarray(q)
    if q.ndim != 1 or q.shape[0] != d:
        raise ValueError(f"query has shape {q.shape}, matrix rows have {d} dimensions")
    return q.astype(np.float64)


def distances(matrix: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Distance of every row of ``matrix`` (n x d) to ``q`` (d,), float64 of shape (n,)."""
    _check_metric(metric)
    matrix = np.asarray(matrix)
    n, d = matrix.shape
    q64 = _as_query(q, d)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        out[start:stop] = _exact_keys(matrix[start:stop], q64, metric)
    return _finish(out, metric)


def pairwise_distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Row i of ``a`` against row i of ``b`` (both n x d), float64 of shape (n,)."""
    _check_metric(metric)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if metric == "l2":
        return np.sqrt(((a - b) ** 2).sum(axis=1))
    if metric == "l1":
        return np.abs(a - b).sum(axis=1)
    dots = (a * b).sum(axis=1)
    if metric == "ip":
        return -dots
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = dots / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return 1.0 - np.clip(sim, -1.0, 1.0)


def row_sqnorms(matrix: np.ndarray) -> np.ndarray:
    """Squared L2 norm of each row, float64 (a segment caches these for l2/cosine top-k)."""
    matrix = np.asarray(matrix)
    out = np.empty(matrix.shape[0], dtype=np.float64)
    for start in range(0, matrix.shape[0], _CHUNK):
        block = matrix[start : start + _CHUNK].astype(np.float64)
        out[start : start + _CHUNK] = np.einsum("ij,ij->i", block, block)
    return out


def _popcount_rows(a: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a).sum(axis=-1, dtype=np.int64)


def bit_distances(packed: np.ndarray, q: np.ndarray, nbits: int, metric: str) -> np.ndarray:
    """Hamming or Jaccard distance of every packed bit row (n x nbytes uint8) to ``q``.

    Padding bits past ``nbits`` must be zero (pgvector keeps them zero), so they never count.
    """
    if metric not in BIT_METRICS:
        raise ValueError(f"unknown bit metric {metric!r}; expected one of {BIT_METRICS}")
    packed = np.asarray(packed, dtype=np.uint8)
    q = np.asarray(q, dtype=np.uint8)
    if packed.ndim != 2 or packed.shape[1] != q.shape[0] or q.shape[0] != (nbits + 7) // 8:
        raise ValueError("packed rows, query and nbits disagree in length")
    if metric == "hamming":
        return _popcount_rows(packed ^ q).astype(np.float64)
    both = _popcount_rows(packed & q)
    either = _popcount_rows(packed) + int(_popcount_rows(q)) - both
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - both / either.astype(np.float64)
    out[both == 0] = 1.0
    return out


# --------------------------------------------------------------------------------- top-k


def _approx(
    x32: np.ndarray, q32: np.ndarray, metric: str, sqnorms: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """Fast float32 keys and how to compare them with exact keys.

    Returns ``(approx, offset, err)``: for every row, ``|approx + offset - exact_key| <= err``
    (l1: ``err`` is relative to the value). The bounds are the classical gamma_d bounds of
    floating-point dot products, widened by a safety factor.
    """
    d = x32.shape[1]
    gamma = 2.0 * (d + 8) * _EPS32
    qn2 = float(np.dot(q32.astype(np.float64), q32.astype(np.float64)))
    if metric == "l1":
        approx = np.empty(x32.shape[0], dtype=np.float32)
        buf = np.empty((min(_CHUNK, x32.shape[0]), d), dtype=np.float32)
        for start in range(0, x32.shape[0], _CHUNK):
            block = x32[start : start + _CHUNK]
            b = buf[: block.shape[0]]
            np.subtract(block, q32, out=b)
            np.abs(b, out=b)
            b.sum(axis=1, out=approx[start : start + block.shape[0]])
        return approx, 0.0, gamma
    # the one full pass over the matrix. Not BLAS: OpenBLAS splits an sgemv over threads
    # that busy-wait for each other, and on a loaded machine (the client, other queries) one
    # 5,183 x 384 product took 10-31 ms instead of 0.13 ms single-threaded; einsum's own
    # SIMD loop is single-threaded (0.3 ms there; 31 vs 55 ms on 1M x 128) and within the
    # same gamma_d error bound (any summation order is)
    dots = np.einsum("ij,j->i", x32, q32)
    if metric == "ip":
        np.negative(dots, out=dots)
        maxn = float(np.sqrt(np.max(sqnorms))) if sqnorms is not None else _max_norm(x32)
        return dots, 0.0, gamma * maxn * np.sqrt(qn2) + 1e-30
    if sqnorms is None:
        sqnorms = np.einsum("ij,ij->i", x32, x32)
    if metric == "l2":
        dots *= -2.0
        dots += sqnorms.astype(np.float32, copy=False)
        maxsq = float(np.max(sqnorms))
        err = 2.0 * gamma * (maxsq + 2.0 * np.sqrt(maxsq * qn2) + qn2)
        return dots, qn2, err + 1e-30
    # cosine: 1 - x.q / (|x||q|); rows with zero norm give NaN (sorted last)
    with np.errstate(invalid="ignore", divide="ignore"):
        dots /= np.sqrt(sqnorms.astype(np.float32, copy=False)) * np.float32(np.sqrt(qn2))
    np.negative(dots, out=dots)
    return dots, 1.0, 4.0 * gamma


def _max_norm(x32: np.ndarray) -> float:
    best = 0.0
    for start in range(0, x32.shape[0], _CHUNK):
        block = x32[start : start + _CHUNK]
        best = max(best, float(np.max(np.einsum("ij,ij->i", block, block), initial=0.0)))
    return float(np.sqrt(best)) * (1.0 + 1e-6)


def _sorted(idx: np.ndarray, keys: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((idx, keys))[:k]  # NaN keys sort last, ties by row index
    return idx[order].astype(np.int64), _finish(keys[order], metric)


_BLOCK = 64  # elements per block of smallest()'s first pass


def smallest(a: np.ndarray, kk: int) -> tuple[np.ndarray, float]:
    """Indices of the ``kk`` smallest values of ``a`` (in no order) and the smallest value of
    the rest (``kk < len(a)``, no NaN). Same as ``np.argpartition(a, kk)``, but argpartition
    costs ~10 ns an element (94 us on 10k): the minimum of each block of 64 gives a threshold
    that at least ``kk`` values meet, so only those few are partitioned (~25 us on 10k)."""
    n = a.shape[0]
    m = n // _BLOCK
    if m < 4 * kk:
        part = np.argpartition(a, kk)
        return part[:kk], a[part[kk]]
    mins = a[: m * _BLOCK].reshape(m, _BLOCK).min(axis=1)
    t = np.partition(mins, kk - 1)[kk - 1]  # kk block minima are <= t: kk values are
    sel = np.flatnonzero(a <= t)
    if sel.shape[0] > kk:
        part = np.argpartition(a[sel], kk)
        return sel[part[:kk]], a[sel[part[kk]]]
    return sel, a[a > t].min()  # exactly kk values are <= t; the rest are above it


def topk(
    matrix: np.ndarray,
    q: np.ndarray,
    k: int,
    metric: str,
    *,
    mask: np.ndarray | None = None,
    sqnorms: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows (where ``mask`` is True) ordered by (distance, index).

    Returns ``(indices, distances)``; fewer than ``k`` when fewer rows qualify. Identical to
    sorting :func:`distances` over the qualifying rows.
    """
    _check_metric(metric)
    matrix = np.asarray(matrix)
    n, d = matrix.shape
    q64 = _as_query(q, d)
    valid = np.flatnonzero(mask) if mask is not None else None
    n_valid = n if valid is None else valid.shape[0]
    k = min(int(k), n_valid)
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if n_valid <= max(4 * k, SMALL_EXACT):  # small: exact over every qualifying row
        idx = np.arange(n) if valid is None else valid
        return _sorted(idx, _exact_keys(matrix[idx], q64, metric), k, metric)

    x32 = matrix if matrix.dtype == np.float32 else matrix.astype(np.float32)
    approx, offset, err = _approx(x32, q64.astype(np.float32), metric, sqnorms)
    bad = ~np.isfinite(approx)
    if mask is not None:
        bad |= ~np.asarray(mask, dtype=bool)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        approx[bad] = np.inf
    n_finite = n - n_bad
    margin = max(16, k)
    while True:
        kk = k + margin
        if kk >= n_finite:  # every finite row would be a candidate: exact over all of them
            idx = np.arange(n) if valid is None else valid
            return _sorted(idx, _exact_keys(matrix[idx], q64, metric), k, metric)
        cand, nxt = smallest(approx, kk)
        boundary = float(nxt) + offset  # every non-candidate is at least this
        keys = _exact_keys(matrix[cand], q64, metric)
        kth = float(np.partition(keys, k - 1)[k - 1])
        if metric == "l1":
            lower = boundary * (1.0 - err) if boundary > 0 else boundary
        else:
            lower = boundary - err
        # strict: a non-candidate must be farther than the k-th, not tied with it
        if lower > kth + abs(kth) * 1e-12:
            return _sorted(cand, keys, k, metric)
        margin *= 4
