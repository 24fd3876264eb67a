"""What the weaker consistency levels buy under heavy ingest (embedded API, on disk).

Run by hand (it prints a table; nothing is asserted)::

    python bench/consistency_bench.py                       # about 70 s
    python bench/consistency_bench.py --seconds 20 --staleness 2s

For each level (strong, session, bounded, eventually), on a fresh database:

1. preload ``--preload`` rows ``(id bigint, emb vector(128))`` and build an HNSW index
   (CREATE INDEX waits, so every sealed segment is indexed when the run starts);
2. a writer thread (its own session) inserts ``--batch`` rows per transaction at ``--rate``
   rows/s (0: as fast as it can) for ``--seconds``; segments seal every ``--seal`` rows and
   their HNSW builds queue behind the writer in the background (one 5,000 x 128 build takes
   about a second on 2 cores, so the default 10,000 rows/s outruns them);
3. meanwhile the reader (another session, ``SET sqlvec.consistency = <level>``) runs top-10
   ``ORDER BY emb <-> %s LIMIT 10`` queries back to back; every 10th query is followed by an
   untimed ``count(*)`` under the same level and the writer's committed row count just
   before it, to report how many rows the level saw and how far behind the writer it was.

Reported per level: QPS, p50/p99 latency, mean rows seen, mean lag (rows committed but not
seen), rows the writer managed, and the ratio of QPS and p99 to strong's (the baseline, run
on the same ingest pattern). The reader writes nothing, so session reads like eventually.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time

import numpy as np

import sqlvec

DIM = 128
LEVELS = ("strong", "session", "bounded", "eventually")


def _insert(cur, start: int, vecs: np.ndarray) -> None:
    cur.executemany("INSERT INTO items VALUES (%s, %s)",
                    [(start + i, v) for i, v in enumerate(vecs)])


def run_level(level: str, args: argparse.Namespace, root: str) -> dict:
    rng = np.random.default_rng(args.seed)
    path = f"{root}/{level}"
    main = sqlvec.connect(path, autocommit=True)
    main._session.db.engine.seal_rows = args.seal
    cur = main.cursor()
    cur.execute(f"CREATE TABLE items (id bigint, emb vector({DIM}))")
    pre = rng.random((args.preload, DIM), dtype=np.float32)
    for s in range(0, args.preload, args.batch):
        _insert(cur, s, pre[s : s + args.batch])
    cur.execute("CHECKPOINT")  # seal the preload, so that CREATE INDEX covers all of it
    cur.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops)")

    writer_conn = sqlvec.connect(path, autocommit=True)
    committed = [args.preload]
    stop = threading.Event()

    def write() -> None:
        wcur = writer_conn.cursor()
        wrng = np.random.default_rng(args.seed + 1)
        n = args.preload
        t0 = time.perf_counter()
        while not stop.is_set():
            _insert(wcur, n, wrng.random((args.batch, DIM), dtype=np.float32))
            n += args.batch
            committed[0] = n  # after COMMIT returned
            if args.rate > 0:  # hold the pace: rows so far / rate seconds since the start
                time.sleep(max(0.0, (n - args.preload) / args.rate - (time.perf_counter() - t0)))

    reader = sqlvec.connect(path, autocommit=True)
    rcur = reader.cursor()
    rcur.execute(f"SET sqlvec.consistency = {level}")
    rcur.execute(f"SET sqlvec.staleness = '{args.staleness}'")
    queries = rng.random((256, DIM), dtype=np.float32)
    rcur.execute("SELECT count(*) FROM items")  # the first weak read pins the indexed state

    lat: list[float] = []
    seen: list[int] = []
    lag: list[int] = []
    t = threading.Thread(target=write, name="writer")
    t.start()
    t_end = time.perf_counter() + args.seconds
    i = 0
    while time.perf_counter() < t_end:
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        rcur.execute("SELECT id FROM items ORDER BY emb <-> %s LIMIT 10", (q,))
        rcur.fetchall()
        lat.append(time.perf_counter() - t0)
        i += 1
        if i % 10 == 0:
            before = committed[0]
            n = rcur.execute("SELECT count(*) FROM items").fetchone()[0]
            seen.append(n)
            lag.append(max(0, before - n))
    stop.set()
    t.join()
    wall = sum(lat)
    out = {
        "level": level, "queries": len(lat), "qps": len(lat) / wall if wall else 0.0,
        "p50": float(np.percentile(lat, 50) * 1000), "p99": float(np.percentile(lat, 99) * 1000),
        "seen": float(np.mean(seen)) if seen else float("nan"),
        "lag": float(np.mean(lag)) if lag else float("nan"),
        "written": committed[0] - args.preload,
    }
    for c in (reader, writer_conn, main):
        c.close()
    shutil.rmtree(path, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="ingest+query time per level")
    ap.add_argument("--preload", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1_000, help="rows per writer transaction")
    ap.add_argument("--seal", type=int, default=5_000, help="rows per sealed segment")
    ap.add_argument("--rate", type=float, default=10_000,
                    help="writer rows/s (0: as fast as it can)")
    ap.add_argument("--staleness", default="1s", help="sqlvec.staleness for bounded")
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="sqlvec-consistency-")
    try:
        rows = [run_level(lv.strip(), args, root) for lv in args.levels.split(",")]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = next((r for r in rows if r["level"] == "strong"), rows[0])
    print(f"\n{args.seconds:g} s per level, preload {args.preload}, batch {args.batch}, "
          f"seal {args.seal}, rate {args.rate:g} rows/s, dim {DIM}, "
          f"bounded staleness {args.staleness}")
    head = (f"{'level':<11}{'queries':>8}{'QPS':>9}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'rows seen':>11}{'lag rows':>10}{'written':>9}{'QPS/strong':>12}{'p99/strong':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['level']:<11}{r['queries']:>8}{r['qps']:>9.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
              f"{r['seen']:>11.0f}{r['lag']:>10.0f}{r['written']:>9}"
              f"{r['qps'] / base['qps']:>12.2f}{r['p99'] / base['p99']:>12.2f}")


if __name__ == "__main__":
    main()
