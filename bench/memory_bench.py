"""Memory benchmark: resident memory of ``sqlvec serve`` holding an N x DIM table with an HNSW
index, against the bytes of the vectors plus the graph (target: <= 1.5x).

Steps: start the server, load the table with a binary COPY FROM STDIN (the bulk path: one
sealed segment), CREATE INDEX ... USING hnsw (m, ef_construction), stop the server, start it
again, run top-10 queries, then read the server's memory (psutil; Anonymous vs file-backed
from /proc/<pid>/smaps_rollup, and the resident pages of the segments' data.arrow mappings
from /proc/<pid>/smaps: an indexed search should never touch the vectors there). The figure of an empty server (same imports, no data) is
printed too, so the part the interpreter itself costs is visible.

Usage: python bench/memory_bench.py [--n 1000000] [--dim 128] [--queries 500]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import psutil
import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bulk_bench import binary_copy  # noqa: E402  (the same binary COPY encoder)

_LISTENING = re.compile(r"listening on \[?([^\]\s]+?)\]?:(\d+)")


class Server:
    """``python -m sqlvec serve --port 0`` on a data directory; ready once it prints its port."""

    def __init__(self, data: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sqlvec", "serve", "--port", "0", "--data", data],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.port = 0
        ready = threading.Event()

        def drain() -> None:  # keep reading so that the server never blocks on the pipe
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                m = _LISTENING.search(line)
                if m and not self.port:
                    self.port = int(m.group(2))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(120) or not self.port:
            self.proc.kill()
            raise RuntimeError("server did not start")

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres "
                               "dbname=postgres", autocommit=True)

    def memory(self) -> dict[str, int]:
        p = psutil.Process(self.proc.pid)
        out = {"rss": p.memory_info().rss}
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key in ("Anonymous", "Pss_File", "Rss"):
                        out[key.lower()] = int(rest.split()[0]) * 1024
        except OSError:
            pass
        out["segments"] = mapped_segments(p.pid)
        return out

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: a clean shutdown (checkpoint)
        self.proc.wait(timeout=600)


def mapped_segments(pid: int) -> int:
    """Resident bytes of the process's mappings of sealed segment files (data.arrow)."""
    total, ours = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(maxsplit=6)
                if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
                    ours = len(head) == 6 and head[5].rstrip().endswith("data.arrow")
                elif ours and head[0] == "Rss:":
                    total += int(head[1]) * 1024
    except OSError:
        pass
    return total


def graph_files(data: str) -> int:
    total = 0
    for base, _dirs, names in os.walk(os.path.join(data, "tables")):
        if base.endswith(".hnsw"):
            total += sum(os.path.getsize(os.path.join(base, n)) for n in names)
    return total


def mib(x: float) -> str:
    return f"{x / 2**20:,.1f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--queries", type=int, default=500)
    args = ap.parse_args()
    n, dim = args.n, args.dim
    data = tempfile.mkdtemp(prefix="sqlvec-memory-")
    rng = np.random.default_rng(0)
    try:
        srv = Server(data)
        with srv.connect() as c:
            c.execute("select 1")
            empty = srv.memory()
            c.execute(f"create table t (id int primary key, v vector({dim}))")
            c.execute("set sqlvec.bulk_load_rows = 1")  # one sealed segment at any --n
            t0 = time.perf_counter()
            step = 100_000
            with c.cursor().copy("copy t from stdin with (format binary)") as cp:
                payload = b"".join(
                    binary_copy(np.arange(s, min(n, s + step), dtype=np.int32),
                                rng.standard_normal((min(n, s + step) - s, dim),
                                                    dtype=np.float32))[19:-2]
                    for s in range(0, n, step))
                cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + payload +
                         struct.pack("!h", -1))
                del payload
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            c.execute(f"create index on t using hnsw (v vector_l2_ops) with "
                      f"(m = {args.m}, ef_construction = {args.ef_construction})")
            build_s = time.perf_counter() - t0
        srv.stop()
        srv = Server(data)
        queries = rng.standard_normal((args.queries, dim), dtype=np.float32)
        with srv.connect() as c:
            c.execute("select count(*) from t").fetchall()
            opened = srv.memory()
            t0 = time.perf_counter()
            for i, q in enumerate(queries):
                text = "[" + ",".join(f"{x:.6f}" for x in q) + "]"
                rows = c.execute("select id from t order by v <-> %s::vector limit 10",
                                 (text,)).fetchall()
                assert len(rows) == 10
                if i == 0:
                    first = srv.memory()  # the index is loaded by the first search
            qps = len(queries) / (time.perf_counter() - t0)
            mem = srv.memory()
        srv.stop()
        index_bytes = graph_files(data)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    vector_bytes = n * dim * 4
    graph_bytes = max(0, index_bytes - vector_bytes)  # hnswlib's file holds a copy of them
    budget = vector_bytes + graph_bytes
    print(f"{n:,} x {dim} vectors, hnsw m={args.m} ef_construction={args.ef_construction}: "
          f"load {n / load_s:,.0f} rows/s, build {build_s:.1f} s, {qps:,.0f} queries/s")
    print(f"{'vector bytes':34}{mib(vector_bytes):>16}")
    print(f"{'graph bytes (links, labels)':34}{mib(graph_bytes):>16}")
    print(f"{'server RSS, empty database':34}{mib(empty['rss']):>16}")
    print(f"{'  of which anonymous (heap)':34}{mib(empty.get('anonymous', 0)):>16}")
    print(f"{'server RSS, table opened':34}{mib(opened['rss']):>16}")
    print(f"{'server RSS after the first search':34}{mib(first['rss']):>16}"
          f"{first['rss'] / budget:>10.2f}x")
    print(f"{'  of which file-backed (mmap)':34}{mib(first['rss'] - first.get('anonymous', 0)):>16}")
    print(f"{f'server RSS after {len(queries)} searches':34}{mib(mem['rss']):>16}"
          f"{mem['rss'] / budget:>10.2f}x (vectors + graph)")
    print(f"{'  of which anonymous (heap)':34}{mib(mem.get('anonymous', 0)):>16}")
    print(f"{'  of which file-backed (mmap)':34}{mib(mem['rss'] - mem.get('anonymous', 0)):>16}")
    print(f"{'    of which segment files':34}{mib(mem['segments']):>16}")
    print(f"{'RSS less the empty server':34}{mib(mem['rss'] - empty['rss']):>16}"
          f"{(mem['rss'] - empty['rss']) / budget:>10.2f}x")


if __name__ == "__main__":
    main()
