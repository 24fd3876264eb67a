"""Per-segment HNSW: our index vs raw hnswlib on the same graph, and the filtered strategies.

    /tmp/venv/bin/python bench/index_bench.py [--n 200000] [--dim 128] [--threads 2]

Prints: build time; unfiltered top-10 QPS and recall@10 (ours vs raw ``knn_query`` at the same
M/ef); filtered top-10 at 1%/10%/50% for each strategy: hnswlib's Python filter callback,
over-fetching, the mark_deleted trick (per query, and amortised over a batch sharing one
filter), exact search over the subset, and our policy (what ``HnswIndex.search`` picks).
One query at a time, one thread, as a SQL statement runs.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np

from sqlvec.exec import kernels
from sqlvec.index import hnsw as hnsw_mod
from sqlvec.index.base import exact_topk
from sqlvec.index.hnsw import HnswIndex

K, EF = 10, 40


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    centres = np.random.default_rng(0).normal(size=(1000, dim)).astype(np.float32) * 2
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(len(centres), size=n)] + rng.normal(size=(n, dim)).astype(np.float32)
    return x.astype(np.float32)


def timed(fn, queries) -> tuple[float, list]:
    t = time.perf_counter()
    out = [fn(q) for q in queries]
    return len(queries) / (time.perf_counter() - t), out


def recall(results: list, truth: list) -> float:
    return float(np.mean([len(set(r) & set(t)) / max(1, len(t)) for r, t in zip(results, truth)]))


def row(name: str, qps: float, rec: float, base: float | None = None) -> None:
    ratio = f"{qps / base:6.2f}x" if base else "       "
    print(f"  {name:34s} {qps:10.0f} QPS {ratio}  recall@10 {rec:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    x = clustered(args.n, args.dim, 1)
    queries = clustered(args.queries, args.dim, 2)
    print(f"data {args.n} x {args.dim}, M=16 ef_construction=64, ef_search={EF}, k={K}")

    t = time.perf_counter()
    idx = HnswIndex.build(x, "l2", {"m": 16, "ef_construction": 64}, threads=args.threads)
    print(f"build ({args.threads} threads): {time.perf_counter() - t:.1f} s, "
          f"{idx.nbytes / 2**20:.0f} MB")
    graph = idx._graph

    truth = [kernels.topk(x, q, K, "l2")[0].tolist() for q in queries]
    print("unfiltered")

    def raw(q):
        return graph.knn_query(q.reshape(1, -1), k=K, num_threads=1)[0][0].tolist()

    graph.set_ef(EF)
    raw_qps, raw_res = timed(raw, queries)
    graph.set_ef(1)
    ours_qps, ours_res = timed(lambda q: idx.search(q, K, ef=EF)[0].tolist(), queries)
    row("raw hnswlib knn_query", raw_qps, recall(raw_res, truth))
    row("HnswIndex.search (exact re-rank)", ours_qps, recall(ours_res, truth), raw_qps)

    rng = np.random.default_rng(3)
    for sel in (0.01, 0.10, 0.50):
        allowed = rng.random(args.n) < sel
        qs = queries[:100]
        ftruth = [kernels.topk(x, q, K, "l2", mask=allowed)[0].tolist() for q in qs]
        print(f"filtered, {sel:.0%} of rows pass ({int(allowed.sum())} rows)")
        ok = allowed.tobytes()  # bytes indexing is the cheapest Python-level check

        def callback(q, ok=ok):
            return graph.knn_query(q.reshape(1, -1), k=K, num_threads=1,
                                   filter=lambda label: ok[label] == 1)[0][0].tolist()

        graph.set_ef(EF)
        few = qs[:20]
        cb_qps, cb_res = timed(callback, few)
        graph.set_ef(1)
        row("hnswlib filter callback", cb_qps, recall(cb_res, ftruth[:20]))

        with mock.patch.object(hnsw_mod, "plan_search", lambda *a, **kw: "index_filtered"):
            of_qps, of_res = timed(lambda q, a=allowed: idx.search(q, K, allowed=a, ef=EF)[0].tolist(),
                                   qs)
        row("over-fetch (ef/selectivity, widen)", of_qps, recall(of_res, ftruth), cb_qps)

        banned = np.flatnonzero(~allowed).tolist()

        def marked(q, banned=banned):
            for b in banned:
                graph.mark_deleted(b)
            graph.set_ef(EF)
            out = graph.knn_query(q.reshape(1, -1), k=K, num_threads=1)[0][0].tolist()
            graph.set_ef(1)
            for b in banned:
                graph.unmark_deleted(b)
            return out

        mk_qps, mk_res = timed(marked, qs[:3])
        row("mark_deleted trick, per query", mk_qps, recall(mk_res, ftruth[:3]), cb_qps)
        t = time.perf_counter()
        for b in banned:
            graph.mark_deleted(b)
        graph.set_ef(EF)
        batch = graph.knn_query(qs, k=K, num_threads=1)[0].tolist()
        graph.set_ef(1)
        for b in banned:
            graph.unmark_deleted(b)
        row("mark_deleted trick, batch of 100", len(qs) / (time.perf_counter() - t),
            recall(batch, ftruth), cb_qps)

        ex_qps, ex_res = timed(lambda q, a=allowed: exact_topk(x, q, K, "l2", a)[0].tolist(), qs)
        row("exact over the subset", ex_qps, recall(ex_res, ftruth), cb_qps)
        po_qps, po_res = timed(lambda q, a=allowed: idx.search(q, K, allowed=a, ef=EF)[0].tolist(),
                               qs)
        row("policy (HnswIndex.search)", po_qps, recall(po_res, ftruth), cb_qps)


if __name__ == "__main__":
    main()
