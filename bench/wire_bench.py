"""Wire-server benchmark: sqlvec serve beside PostgreSQL+pgvector (pgserver), via psycopg.

    python bench/wire_bench.py                     # the issue's sizes
    python bench/wire_bench.py --quick             # 10x smaller, for a smoke run

Measures, on one connection: SELECT 1 round trips, single-row INSERTs in autocommit, exact
k-NN (ORDER BY emb <-> $1 LIMIT 10, no index) on N x 128 vectors; then the round trips and
k-NN on 8 connections at once. PostgreSQL comes from the optional `pgserver` package (16.2 +
pgvector 0.6.2), measured in the same run; without it only our figures are printed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg

DIM = 128


def start_sqlvec(data_dir: Path, socket_dir: Path) -> tuple[subprocess.Popen, str]:
    """The server on a free port; the DSN goes through its Unix socket, as PostgreSQL's does."""
    socket_dir.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlvec", "serve", "--port", "0", "--data", str(data_dir),
         "--socket-dir", str(socket_dir)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        m = re.search(r"listening on ([\d.]+):(\d+)", line)
        if m:
            # keep reading the log, so that the server never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, f"host={socket_dir} port={m.group(2)} user=postgres dbname=postgres"
    raise RuntimeError("sqlvec serve did not start")


def start_postgres(tmp: Path):
    try:
        import pgserver
    except ImportError:
        return None, None
    srv = pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop")
    return srv, srv.get_uri()


def vec_literal(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in v) + "]"


def load(dsn: str, data: np.ndarray) -> float:
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute("DROP TABLE IF EXISTS bench_items")
        c.execute(f"CREATE TABLE bench_items (id int, emb vector({DIM}))")
        c.execute("DROP TABLE IF EXISTS bench_ins")
        c.execute("CREATE TABLE bench_ins (id int, note text)")
        for lo in range(0, len(data), 1000):
            rows = ",".join(f"({i},'{vec_literal(data[i])}')" for i in range(lo, min(lo + 1000, len(data))))
            c.execute(f"INSERT INTO bench_items VALUES {rows}")
    return time.perf_counter() - t0


def round_trips(dsn: str, n: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as c:
        for _ in range(50):
            c.execute("SELECT 1").fetchone()
        t0 = time.perf_counter()
        for _ in range(n):
            c.execute("SELECT 1").fetchone()
        return time.perf_counter() - t0


def inserts(dsn: str, n: int, offset: int = 0) -> float:
    with psycopg.connect(dsn, autocommit=True) as c:
        t0 = time.perf_counter()
        for i in range(n):
            c.execute("INSERT INTO bench_ins VALUES (%s, %s)", (offset + i, "x"))
        return time.perf_counter() - t0


def knn(dsn: str, queries: np.ndarray) -> float:
    with psycopg.connect(dsn, autocommit=True) as c:
        lits = [vec_literal(q) for q in queries]
        c.execute("SELECT id FROM bench_items ORDER BY emb <-> %s::vector LIMIT 10", (lits[0],)).fetchall()
        t0 = time.perf_counter()
        for lit in lits:
            c.execute("SELECT id FROM bench_items ORDER BY emb <-> %s::vector LIMIT 10", (lit,)).fetchall()
        return time.perf_counter() - t0


def parallel(fn, dsn: str, jobs: list) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(lambda a: fn(dsn, a), jobs))
    return time.perf_counter() - t0


def run_all(dsn: str, data: np.ndarray, queries: np.ndarray, n_rt: int, n_ins: int) -> dict[str, float]:
    out = {"load (s)": load(dsn, data)}
    out["SELECT 1 latency (us)"] = round_trips(dsn, n_rt) / n_rt * 1e6
    out["INSERT latency (us)"] = inserts(dsn, n_ins) / n_ins * 1e6
    out["exact k-NN (QPS)"] = len(queries) / knn(dsn, queries)
    out["8 conn SELECT 1 (QPS)"] = 8 * (n_rt // 8) / parallel(round_trips, dsn, [n_rt // 8] * 8)
    split = np.array_split(queries, 8)
    out["8 conn exact k-NN (QPS)"] = len(queries) / parallel(knn, dsn, split)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller sizes")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    n_rt, n_ins, n_vec, n_q = 10_000 // scale, 10_000 // scale, 100_000 // scale, 1_000 // scale
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_vec, DIM)).astype(np.float32)
    queries = rng.standard_normal((n_q, DIM)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        proc, dsn = start_sqlvec(tmp_path / "sqlvec", tmp_path / "sock")
        try:
            ours = run_all(dsn, data, queries, n_rt, n_ins)
        finally:
            proc.terminate()
            proc.wait(120)
        pg, uri = start_postgres(tmp_path)
        theirs = None
        if pg is not None:
            try:
                theirs = run_all(uri, data, queries, n_rt, n_ins)
            finally:
                pg.cleanup()
    print(f"\n{n_vec} x {DIM} vectors, {n_q} queries, {n_rt} round trips, {n_ins} inserts (psycopg over Unix sockets to both servers)")
    if theirs is None:
        print("pgserver is not installed: PostgreSQL column omitted (pip install pgserver)")
    print("ratio = sqlvec / PostgreSQL (latency: lower is better; QPS: higher is better)")
    print(f"{'measure':28} {'sqlvec':>12} {'PostgreSQL':>12} {'ratio':>8}")
    for k, v in ours.items():
        pgv = theirs.get(k) if theirs else None
        ratio = f"{v / pgv:8.2f}" if pgv else ""
        print(f"{k:28} {v:12.1f} {pgv if pgv is not None else float('nan'):12.1f} {ratio}")


if __name__ == "__main__":
    main()
