"""Exact top-k kernels against plain numpy brute force.

Run by hand: ``python bench/kernels_bench.py [n] [d] [queries]`` (defaults 1,000,000 x 128,
100 queries of k=10). Prints, per metric, our ``topk`` (with and without cached row norms)
and the numpy baselines measured in the same run, as milliseconds per query and ratios.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sqlvec.exec import kernels


def _numpy_sub(x: np.ndarray, q: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Naive brute force: elementwise difference over the whole matrix."""
    if metric == "l2":
        dist = ((x - q) ** 2).sum(1)
    elif metric == "l1":
        dist = np.abs(x - q).sum(1)
    elif metric == "ip":
        dist = -(x * q).sum(1)
    else:
        dist = 1 - (x * q).sum(1) / (np.sqrt((x * x).sum(1)) * np.linalg.norm(q))
    part = np.argpartition(dist, k)[:k]
    return part[np.argsort(dist[part])]


def _numpy_matvec(x: np.ndarray, q: np.ndarray, k: int, metric: str, sqn: np.ndarray) -> np.ndarray:
    """The ``X @ q`` form (with precomputed row norms where the metric needs them)."""
    dots = x @ q
    if metric == "l2":
        dist = sqn - 2 * dots
    elif metric == "ip":
        dist = -dots
    elif metric == "cosine":
        dist = -dots / np.sqrt(sqn)
    else:
        raise ValueError(metric)
    part = np.argpartition(dist, k)[:k]
    return part[np.argsort(dist[part])]


def _time(fn, queries) -> float:
    start = time.perf_counter()
    for q in queries:
        fn(q)
    return (time.perf_counter() - start) / len(queries) * 1000.0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    nq = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    k = 10
    rng = np.random.default_rng(0)
    x = rng.random((n, d), dtype=np.float32)
    queries = rng.random((nq, d), dtype=np.float32)
    sqn = kernels.row_sqnorms(x)
    sqn32 = sqn.astype(np.float32)
    naive_q = queries[: max(1, nq // 10)]  # the naive form is slow: fewer queries
    print(f"n={n} d={d} queries={nq} k={k}  (ms per query)")
    print(f"{'metric':8} {'topk':>8} {'topk+norms':>11} {'numpy X@q':>10} {'numpy naive':>12} "
          f"{'ratio best':>11} {'vs naive':>9}")
    for metric in kernels.METRICS:
        ours = _time(lambda q, m=metric: kernels.topk(x, q, k, m), queries)
        ours_n = _time(lambda q, m=metric: kernels.topk(x, q, k, m, sqnorms=sqn), queries)
        naive = _time(lambda q, m=metric: _numpy_sub(x, q, k, m), naive_q)
        if metric == "l1":
            mv = float("nan")
        else:
            mv = _time(lambda q, m=metric: _numpy_matvec(x, q, k, m, sqn32), queries)
        best = np.nanmin([mv, naive])
        print(f"{metric:8} {ours:8.2f} {ours_n:11.2f} {mv:10.2f} {naive:12.2f} "
              f"{min(ours, ours_n) / best:11.2f} {min(ours, ours_n) / naive:9.3f}")
        # same answer as the exact reference
        got, _ = kernels.topk(x, queries[0], k, metric, sqnorms=sqn)
        ref = np.lexsort((np.arange(n), kernels.distances(x, queries[0], metric)))[:k]
        assert np.array_equal(got, ref), metric


if __name__ == "__main__":
    main()
