"""Vector search over the wire: sqlvec serve vs PostgreSQL + pgvector, both through psycopg.

    /tmp/venv/bin/python bench/vector_wire_bench.py [--n 100000] [--queries 300] [--ef 40]

Issue 5's client-side targets: unfiltered top-10 QPS over psycopg with 1 and with 8
connections at equal or better recall (target: sqlvec at least 1.5x pgvector), range search
recall against exact (target >= 0.99), and the index build: wall time and the server's peak
resident memory (sqlvec: the server process; PostgreSQL: the postmaster and its children).
sqlvec's build time includes the VACUUM that merges the loaded segments first.

Same clustered vectors as bench/vector_bench.py (seeded), m=16, ef_construction=64, the same
ef_search on both. Both servers are reached over Unix sockets; queries are sent as psycopg
binds of the vector text, prepared after 5 runs (psycopg's default), one query in flight per
connection.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from vector_bench import EFC, K, M, clustered  # noqa: E402
from wire_bench import start_postgres, start_sqlvec  # noqa: E402

CONNS = 8


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{a:.7g}" for a in v) + "]"


class PeakRss:
    """Peak resident memory of a process tree, sampled every 50 ms while running."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak, self._stop = pids, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        for pid in self.pids:
            try:
                p = psutil.Process(pid)
                procs = [p, *p.children(recursive=True)]
            except psutil.Error:
                continue
            for q in procs:
                try:
                    total += q.memory_info().rss
                except psutil.Error:
                    pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def load(dsn: str, x: np.ndarray, pgvector: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if pgvector:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("DROP TABLE IF EXISTS items")
        conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, emb vector({x.shape[1]}))")
        with conn.cursor().copy("COPY items (id, emb) FROM STDIN") as cp:
            for i in range(len(x)):
                cp.write_row((i, vec_text(x[i])))
        conn.execute("CHECKPOINT")  # sqlvec: rows to sealed segments, as a loaded table is


def build(dsn: str, pids: list[int], pgvector: bool) -> tuple[float, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if pgvector:
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")  # 2 cores: leader + 1
        with PeakRss(pids) as peak:
            t = time.perf_counter()
            if not pgvector:
                # the loaded segments merged into segments of up to 1 GiB first (what the
                # background compaction does within a minute): one graph walk per search
                conn.execute("VACUUM items")
            conn.execute(f"CREATE INDEX ON items USING hnsw (emb vector_l2_ops) WITH (m = {M}, ef_construction = {EFC})")
            took = time.perf_counter() - t
        if pgvector:
            conn.execute("ANALYZE items")
    return took, peak.peak


def search(dsn: str, qs: list[str], ef: int) -> list[list[int]]:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        for q in qs:
            out.append([r[0] for r in conn.execute(
                "SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 10", (q,)).fetchall()])
    return out


def timed_search(dsn: str, qs: list[str], ef: int, conns: int) -> tuple[float, list[list[int]]]:
    search(dsn, qs[:10], ef)  # warm-up: prepared statements, caches
    chunks = [qs[i::conns] for i in range(conns)]
    t = time.perf_counter()
    with ThreadPoolExecutor(conns) as pool:
        parts = list(pool.map(lambda c: search(dsn, c, ef), chunks))
    took = time.perf_counter() - t
    got: list[list[int]] = [[] for _ in qs]
    for i, part in enumerate(parts):
        for j, ids in enumerate(part):
            got[i + j * conns] = ids
    return len(qs) / took, got


def recall(got: list[list[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(set(g) & t) / K for g, t in zip(got, truth)]))


def range_recall(dsn: str, x: np.ndarray, qs: np.ndarray, radius: float) -> tuple[float, float]:
    """(recall of `WHERE emb <-> q < r` against exact, mean rows per query)."""
    recs, sizes = [], []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for q in qs:
            d = np.sqrt(((x - q) ** 2).sum(1))
            exact = set(np.flatnonzero(d < radius).tolist())
            got = {r[0] for r in conn.execute(
                "SELECT id FROM items WHERE emb <-> %s::vector < %s", (vec_text(q), radius)).fetchall()}
            recs.append(len(got & exact) / len(exact) if exact else 1.0)
            sizes.append(len(exact))
    return float(np.mean(recs)), float(np.mean(sizes))


def run(dsn: str, pids: list[int], x, qtexts, truth, ef: int, pgvector: bool) -> dict:
    load(dsn, x, pgvector)
    took, peak = build(dsn, pids, pgvector)
    res = {"build": took, "peak": peak}
    for conns in (1, CONNS):
        qps, got = timed_search(dsn, qtexts, ef, conns)
        res[conns] = (qps, recall(got, truth))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--ef", type=int, default=40)
    a = ap.parse_args()
    x = clustered(a.n, a.dim, 1)
    rng = np.random.default_rng(3)
    qs = x[rng.integers(0, a.n, a.queries)] + 0.1 * rng.normal(size=(a.queries, a.dim)).astype(np.float32)
    truth = []
    for q in qs:
        d = ((x - q) ** 2).sum(1)
        truth.append(set(np.argsort(d, kind="stable")[:K].tolist()))
    qtexts = [vec_text(q) for q in qs]
    # a radius that holds ~20 rows around a query: the 20th neighbour's distance, median
    d20 = [np.sqrt(np.sort(((x - q) ** 2).sum(1))[19]) for q in qs[:20]]
    radius = float(np.median(d20))
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        proc, dsn = start_sqlvec(tmp_path / "sqlvec", tmp_path / "sock")
        try:
            ours = run(dsn, [proc.pid], x, qtexts, truth, a.ef, False)
            ours["range"] = range_recall(dsn, x, qs[:50], radius)
        finally:
            proc.terminate()
            proc.wait(120)
        srv, uri = start_postgres(tmp_path)
        pg = None
        if srv is not None:
            try:
                pids = []
                try:
                    import psutil

                    pids = [p.pid for p in psutil.process_iter(["name", "cmdline"])
                            if "postgres" in (p.info["name"] or "") and str(tmp_path) in " ".join(p.info["cmdline"] or [])]
                except ImportError:
                    pass
                pg = run(uri, pids[:1], x, qtexts, truth, a.ef, True)
                pg["range"] = range_recall(uri, x, qs[:50], radius)
            finally:
                srv.cleanup()
    print(f"\n{a.n} x {a.dim}, m={M} ef_construction={EFC} ef_search={a.ef}, {a.queries} queries, "
          f"k={K}, psycopg over Unix sockets")
    rows = [("build (s)", ours["build"], pg and pg["build"], "{:.1f}"),
            ("build peak RSS (MiB)", ours["peak"] / 2**20, pg and pg["peak"] / 2**20, "{:.0f}")]
    for conns in (1, CONNS):
        rows.append((f"top-10 QPS, {conns} conn", ours[conns][0], pg and pg[conns][0], "{:.0f}"))
        rows.append((f"recall@10, {conns} conn", ours[conns][1], pg and pg[conns][1], "{:.3f}"))
    rows.append((f"range recall (r={radius:.2f})", ours["range"][0], pg and pg["range"][0], "{:.3f}"))
    print(f"{'measure':<28}{'sqlvec':>10}{'pgvector':>10}{'ratio':>8}")
    for name, o, p, fmt in rows:
        ps = fmt.format(p) if p is not None else "-"
        ratio = f"{o / p:.2f}" if p else "-"
        print(f"{name:<28}{fmt.format(o):>10}{ps:>10}{ratio:>8}")
    print(f"(range queries hold {ours['range'][1]:.0f} rows on average)")


if __name__ == "__main__":
    main()
