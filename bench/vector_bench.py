"""Top-10 vector search through SQL: sqlvec embedded vs raw hnswlib vs pgvector (pgserver).

    /tmp/venv/bin/python bench/vector_bench.py [--n 100000] [--dim 128] [--queries 200] [--ef 40]

Same clustered vectors (seeded), same HNSW parameters (m=16, ef_construction=64, ef_search
from --ef) everywhere; sqlvec's build time includes the VACUUM that merges the loaded
segments first. Prints build time, then per workload (unfiltered; WHERE sel < x keeping
0.1%, 1%, 10%, 50%, 90% of rows) QPS, recall@10 against exact search over the rows that pass, and the fewest rows
any query returned (pgvector without iterative scans returns fewer than 10 when the filter
drops most of its ef_search candidates). One query at a time, one connection. pgvector runs in
PostgreSQL 16 + pgvector 0.6.2 from the ``pgserver`` package (a bench-only dependency), over
psycopg on a Unix socket; sqlvec runs through its embedded DB-API.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import hnswlib
import numpy as np

import sqlvec

K, EF, M, EFC = 10, 40, 16, 64
WARMUP, SETTLE = 10, 0.0  # SETTLE: --settle
# sel < x of 0..999: the selectivities
WORKLOADS = [("unfiltered", None), ("0.1%", 1), ("1%", 10), ("10%", 100), ("50%", 500), ("90%", 900)]


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    centres = np.random.default_rng(0).normal(size=(1000, dim)).astype(np.float32) * 2
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(len(centres), size=n)] + rng.normal(size=(n, dim))).astype(np.float32)


def truth(x: np.ndarray, sel: np.ndarray, qs: np.ndarray, cut: int | None) -> list[set[int]]:
    ids = np.arange(len(x)) if cut is None else np.flatnonzero(sel < cut)
    sub = x[ids]
    out = []
    for q in qs:
        d = ((sub - q) ** 2).sum(1)
        out.append(set(ids[np.argsort(d, kind="stable")[:K]].tolist()))
    return out


def measure(fn, qs, exact) -> tuple[float, float, int]:
    """(QPS, recall@10, fewest rows returned) of fn(q) -> list of ids, after WARMUP calls
    (plan caches, prepared statements; sqlvec's filter cache builds a filter's own graph after
    8 searches, in the background) and SETTLE seconds."""
    for q in qs[:WARMUP]:
        fn(q)
    time.sleep(SETTLE)
    t = time.perf_counter()
    got = [fn(q) for q in qs]
    qps = len(qs) / (time.perf_counter() - t)
    recall = float(np.mean([len(set(g) & e) / K for g, e in zip(got, exact)]))
    return qps, recall, min(len(g) for g in got)


def run_sqlvec(x, sel, qs, exacts, path) -> tuple[float, dict]:
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, sel int, emb vector({x.shape[1]}))")
    cur = conn.cursor()
    for s in range(0, len(x), 10_000):
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                        [(i, int(sel[i]), x[i]) for i in range(s, min(len(x), s + 10_000))])
    conn.execute("CHECKPOINT")
    t = time.perf_counter()
    # the loaded segments merged into segments of up to 1 GiB (what the background compaction
    # does within a minute): one graph walk per search, not one per 128k-row segment
    conn.execute("VACUUM items")
    conn.execute(f"CREATE INDEX ON items USING hnsw (emb vector_l2_ops) WITH (m = {M}, ef_construction = {EFC})")
    build = time.perf_counter() - t
    conn.execute(f"SET hnsw.ef_search = {EF}")
    res = {}
    for (name, cut), exact in zip(WORKLOADS, exacts):
        if cut is None:
            sql, args = "SELECT id FROM items ORDER BY emb <-> %s LIMIT 10", lambda q: (q,)
        else:
            sql, args = "SELECT id FROM items WHERE sel < %s ORDER BY emb <-> %s LIMIT 10", lambda q, c=cut: (c, q)
        res[name] = measure(lambda q, s=sql, f=args: [r[0] for r in cur.execute(s, f(q)).fetchall()], qs, exact)
    conn.close()
    return build, res


def run_hnswlib(x, sel, qs, exacts) -> tuple[float, dict]:
    t = time.perf_counter()
    g = hnswlib.Index(space="l2", dim=x.shape[1])
    g.init_index(max_elements=len(x), M=M, ef_construction=EFC, random_seed=100)
    g.add_items(x, np.arange(len(x)), num_threads=2)
    build = time.perf_counter() - t
    g.set_ef(EF)
    res = {}
    for (name, cut), exact in zip(WORKLOADS, exacts):
        if cut is None:
            fn = lambda q: g.knn_query(q, k=K, num_threads=1)[0][0].tolist()  # noqa: E731
        else:  # hnswlib's own filtered search: a Python callback per visited node
            def fn(q, c=cut):
                try:
                    return g.knn_query(q, k=K, num_threads=1, filter=lambda i: sel[i] < c)[0][0].tolist()
                except RuntimeError:  # fewer than k found
                    return []
        # the callback walk at 0.1% takes ~0.3 s a query: time it on the first 50 queries
        few = len(qs) if cut is None or cut >= 100 else min(len(qs), 50)
        res[name] = measure(fn, qs[:few], exact[:few])
    return build, res


def run_pgvector(x, sel, qs, exacts, tmp) -> tuple[float, dict] | None:
    try:
        import pgserver
        import psycopg
    except ImportError:
        print("pgserver/psycopg not installed: pgvector column skipped")
        return None
    srv = pgserver.get_server(tmp, cleanup_mode="stop")
    try:
        with psycopg.connect(srv.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("DROP TABLE IF EXISTS items")
            conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, sel int, emb vector({x.shape[1]}))")
            with conn.cursor().copy("COPY items (id, sel, emb) FROM STDIN") as cp:
                for i in range(len(x)):
                    cp.write_row((i, int(sel[i]), "[" + ",".join(f"{v:.7g}" for v in x[i]) + "]"))
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")  # 2 cores: leader + 1
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX ON items USING hnsw (emb vector_l2_ops) WITH (m = {M}, ef_construction = {EFC})")
            build = time.perf_counter() - t
            conn.execute("ANALYZE items")
            conn.execute(f"SET hnsw.ef_search = {EF}")
            res = {}
            for (name, cut), exact in zip(WORKLOADS, exacts):
                def fn(q, c=cut):
                    v = "[" + ",".join(f"{a:.7g}" for a in q) + "]"
                    if c is None:
                        rows = conn.execute("SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 10", (v,))
                    else:
                        rows = conn.execute("SELECT id FROM items WHERE sel < %s ORDER BY emb <-> %s::vector LIMIT 10", (c, v))
                    return [r[0] for r in rows.fetchall()]
                res[name] = measure(fn, qs, exact)
            plan = conn.execute("EXPLAIN SELECT id FROM items WHERE sel < 10 ORDER BY emb <-> %s::vector LIMIT 10",
                                ("[" + ",".join("0" for _ in range(x.shape[1])) + "]",)).fetchall()
            print("pgvector plan at 1%:", " / ".join(r[0].strip() for r in plan[:2]))
    finally:
        srv.cleanup()
    return build, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--ef", type=int, default=40,
                    help="hnsw.ef_search everywhere (the issue asks for recall >= 0.95: at 1M rows "
                         "the clustered set needs more than the default 40)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="pin OpenBLAS to this many threads in this process, as `sqlvec serve` "
                         "does and as PostgreSQL scans with one core per query (0: numpy's "
                         "default, whose idle threads busy-wait and collapse under load)")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds to wait after each workload's warm-up (background work: "
                         "sqlvec's per-filter graphs) before timing it")
    a = ap.parse_args()
    global SETTLE, EF
    SETTLE, EF = a.settle, a.ef
    if a.blas_threads:
        from sqlvec.wire.blas import limit_blas_threads

        limit_blas_threads(a.blas_threads)
    x = clustered(a.n, a.dim, 1)
    sel = np.random.default_rng(2).integers(0, 1000, a.n)
    rng = np.random.default_rng(3)
    qs = x[rng.integers(0, a.n, a.queries)] + 0.1 * rng.normal(size=(a.queries, a.dim)).astype(np.float32)
    exacts = [truth(x, sel, qs, cut) for _, cut in WORKLOADS]
    tmp = tempfile.mkdtemp()
    try:
        ours = run_sqlvec(x, sel, qs, exacts, tmp + "/sqlvec")
        raw = run_hnswlib(x, sel, qs, exacts)
        pg = None if a.no_pg else run_pgvector(x, sel, qs, exacts, tmp + "/pg")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{a.n} x {a.dim}, m={M} ef_construction={EFC} ef_search={EF}, {a.queries} queries, k={K}")
    line = f"build (s): sqlvec {ours[0]:.1f}  hnswlib {raw[0]:.1f}"
    if pg:
        line += f"  pgvector {pg[0]:.1f}  (sqlvec/pgvector time {ours[0] / pg[0]:.2f}x)"
    print(line)
    head = f"{'workload':<11}| {'sqlvec QPS':>10} {'recall':>6} {'min rows':>8} | {'hnswlib QPS':>11} {'recall':>6} | "
    head += f"{'pgvector QPS':>12} {'recall':>6} {'min rows':>8} | {'vs hnswlib':>10} {'vs pgvector':>11}"
    print(head)
    for name, _ in WORKLOADS:
        o, r = ours[1][name], raw[1][name]
        p = pg[1][name] if pg else (float("nan"), float("nan"), 0)
        print(f"{name:<11}| {o[0]:>10.0f} {o[1]:>6.3f} {o[2]:>8d} | {r[0]:>11.0f} {r[1]:>6.3f} | "
              f"{p[0]:>12.0f} {p[1]:>6.3f} {p[2]:>8d} | {o[0] / r[0]:>9.2f}x {o[0] / p[0]:>10.2f}x")


if __name__ == "__main__":
    main()
