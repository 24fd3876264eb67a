"""Ingest and exact-search benchmark for the embedded API, against numpy on the same data.

Run by hand (it prints a table; nothing is asserted)::

    python bench/ingest_bench.py --rows 1000000 --batch 10000 --queries 100
    python bench/ingest_bench.py --rows 100000 --profile      # plus cProfile of both phases

What it does, in one run:

1. ingests ``--rows`` rows ``(id bigint, category int, emb vector(128))`` into an on-disk
   database through ``cursor.executemany("INSERT INTO items VALUES (%s, %s, %s)", ...)`` with
   numpy vectors, one transaction per ``--batch`` rows;
2. closes the database and measures the bytes on disk against the raw data (8+4+512 per row);
3. reopens it and runs ``--queries`` exact ``ORDER BY emb <-> %s LIMIT 10`` queries, timed
   against numpy brute force over the same array (the faster of ``((X - q)**2).sum(1)`` and
   ``||x||^2 - 2 x.q``, each with argpartition), and checks that the answers are equal.

Targets (from the issue): query time <= 1.3x numpy, disk <= 1.3x raw, ingest >= 100k rows/s.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import sqlvec

try:  # optional (the bench extra): current RSS, not just the peak
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

DIM, K = 128, 10
RAW_ROW_BYTES = 8 + 4 + DIM * 4
TARGETS = {"query": 1.3, "disk": 1.3, "ingest": 100_000}


@dataclass
class Dataset:
    ids: np.ndarray
    cats: np.ndarray
    emb: np.ndarray  # float32 (rows, DIM)
    queries: np.ndarray  # float32 (n, DIM)


def make_data(rows: int, queries: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(
        ids=np.arange(rows, dtype=np.int64),
        cats=rng.integers(0, 100, rows, dtype=np.int32),
        emb=rng.standard_normal((rows, DIM), dtype=np.float32),
        queries=rng.standard_normal((queries, DIM), dtype=np.float32),
    )


def rss_mb() -> float | None:
    return psutil.Process().memory_info().rss / 2**20 if psutil else None


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def batches(data: Dataset, size: int) -> Iterator[list[tuple]]:
    for start in range(0, len(data.ids), size):
        stop = start + size
        # ints as Python ints (what a user has); vectors as numpy rows (views, no copies)
        yield list(
            zip(data.ids[start:stop].tolist(), data.cats[start:stop].tolist(), data.emb[start:stop])
        )


def ingest(path: str, data: Dataset, batch: int) -> dict[str, float]:
    t0 = time.perf_counter()
    conn = sqlvec.connect(path)
    conn.execute("CREATE TABLE items (id bigint, category integer, emb vector(128))")
    conn.commit()
    t_open = time.perf_counter()
    cur = conn.cursor()
    for rows in batches(data, batch):
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", rows)
        conn.commit()
    t_ingest = time.perf_counter()
    rss_before_close = rss_mb()
    conn.close()  # checkpoint: seals the growing segments, publishes a manifest
    t_close = time.perf_counter()
    return {
        "open_s": t_open - t0,
        "ingest_s": t_ingest - t_open,
        "close_s": t_close - t_ingest,
        "rss_after_ingest_mb": rss_before_close or float("nan"),
    }


def numpy_l2_diff(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    d = ((x - q) ** 2).sum(1)
    top = np.argpartition(d, K)[:K]
    return top[np.argsort(d[top], kind="stable")]


def make_numpy_l2_norms(x: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    norms = (x * x).sum(1)  # precomputed once, as an index would

    def search(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        d = norms - 2 * (x @ q)
        top = np.argpartition(d, K)[:K]
        return top[np.argsort(d[top], kind="stable")]

    return search


def numpy_filtered(data: Dataset, q: np.ndarray) -> np.ndarray:
    """Brute force over the rows of one category (mask, gather, distances, top-k)."""
    idx = np.flatnonzero(data.cats == FILTER_CAT)
    d = ((data.emb[idx] - q) ** 2).sum(1)
    top = np.argpartition(d, K)[:K] if len(d) > K else np.arange(len(d))
    return idx[top[np.argsort(d[top], kind="stable")]]


def time_each(fn: Callable[[np.ndarray], object], queries: np.ndarray) -> tuple[np.ndarray, list]:
    times, answers = [], []
    for q in queries:
        t = time.perf_counter()
        answers.append(fn(q))
        times.append(time.perf_counter() - t)
    return np.array(times), answers


SQL = "SELECT id FROM items ORDER BY emb <-> %s LIMIT 10"
FILTERED_SQL = "SELECT id FROM items WHERE category = %s ORDER BY emb <-> %s LIMIT 10"
FILTER_CAT = 7  # one category of 100: 1 % of the rows


def sql_ids(cur: sqlvec.Cursor, sql: str, params: tuple) -> list[int]:
    return [r[0] for r in cur.execute(sql, params).fetchall()]


def interleaved(
    fns: dict[str, Callable[[np.ndarray], object]], queries: np.ndarray
) -> dict[str, tuple[np.ndarray, list]]:
    """Per function: (seconds per query, answers); the functions take turns on each query."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    answers: dict[str, list] = {name: [] for name in fns}
    for q in queries:
        for name, fn in fns.items():
            t = time.perf_counter()
            answers[name].append(fn(q))
            times[name].append(time.perf_counter() - t)
    return {name: (np.array(times[name]), answers[name]) for name in fns}


def same_answer(got: list[int], want: np.ndarray, x: np.ndarray, q: np.ndarray) -> bool:
    """Equal ids in order, or equal up to rows tied at the same float32 distance."""
    if list(got) == want.tolist():
        return True
    d = lambda ids: np.sqrt(((x[np.asarray(ids)] - q) ** 2).sum(1))  # noqa: E731
    return len(got) == len(want) and np.allclose(d(got), d(want), rtol=1e-6)


def profile(call: Callable[[], object], top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    call()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def fmt_row(name: str, ours: str, base: str, ratio: str, target: str, ok: str) -> str:
    return f"{name:<24} {ours:>14} {base:>14} {ratio:>8} {target:>10} {ok:>5}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000, help="rows per transaction")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--dir", default=None, help="data directory (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also print cProfile of a 100k-row ingest and of one query",
    )
    args = ap.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="sqlvec-bench-")
    path = args.dir or os.path.join(workdir, "db")
    if os.path.exists(path):
        sys.exit(f"{path} exists: give a new directory")
    try:
        data = make_data(args.rows, args.queries, args.seed)
        rss_data = rss_mb()
        peak_data = peak_rss_mb()
        ing = ingest(path, data, args.batch)
        peak_ingest = peak_rss_mb()
        disk = dir_bytes(path)
        raw = args.rows * RAW_ROW_BYTES

        t = time.perf_counter()
        conn = sqlvec.connect(path, autocommit=True)
        reopen_s = time.perf_counter() - t
        cur = conn.cursor()
        first_t, _ = time_each(lambda q: sql_ids(cur, SQL, (q,)), data.queries[:1])  # cold
        time_each(lambda q: sql_ids(cur, FILTERED_SQL, (FILTER_CAT, q)), data.queries[:1])
        rss_queries = rss_mb()
        # before numpy's baseline, whose (X - q)**2 alone allocates a temporary the size of X
        peak_queries = peak_rss_mb()

        x = data.emb
        norms_fn = make_numpy_l2_norms(x)
        # Interleaved, query by query, so that both sides see the same machine (2 shared
        # cores: a neighbour's load would otherwise land on one side only).
        res = interleaved(
            {
                "sqlvec": lambda q: sql_ids(cur, SQL, (q,)),
                "diff": lambda q: numpy_l2_diff(x, q),
                "norms": lambda q: norms_fn(x, q),
                "sqlvec_f": lambda q: sql_ids(cur, FILTERED_SQL, (FILTER_CAT, q)),
                "numpy_f": lambda q: numpy_filtered(data, q),
            },
            data.queries,
        )
        conn.close()
        q_times, q_answers = res["sqlvec"]
        (diff_t, diff_ans), (norm_t, norm_ans) = res["diff"], res["norms"]
        base_t, base_name = min(
            (diff_t, "(X-q)^2"), (norm_t, "|x|^2-2xq"), key=lambda p: p[0].mean()
        )
        (f_times, f_answers), (f_t, f_want) = res["sqlvec_f"], res["numpy_f"]
        f_wrong = sum(
            not same_answer(g, w, x, q) for g, w, q in zip(f_answers, f_want, data.queries)
        )
        wrong = sum(
            not same_answer(g, w, x, q) for g, w, q in zip(q_answers, diff_ans, data.queries)
        )
        agree = sum(np.array_equal(a, b) for a, b in zip(diff_ans, norm_ans))

        rate = args.rows / ing["ingest_s"]
        print(
            f"sqlvec {sqlvec.__version__}  rows={args.rows:,}  batch={args.batch:,}  "
            f"queries={args.queries}  dim={DIM}  dir={path}"
        )
        print(fmt_row("metric", "sqlvec", "baseline", "ratio", "target", "ok"))
        print("-" * 80)
        print(
            fmt_row(
                "ingest rows/s",
                f"{rate:,.0f}",
                "",
                "",
                f">={TARGETS['ingest']:,}",
                "yes" if rate >= TARGETS["ingest"] else "NO",
            )
        )
        print(fmt_row("ingest seconds", f"{ing['ingest_s']:.2f}", "", "", "", ""))
        print(fmt_row("close (checkpoint) s", f"{ing['close_s']:.2f}", "", "", "", ""))
        print(fmt_row("reopen s", f"{reopen_s:.3f}", "", "", "", ""))
        ratio = disk / raw
        print(
            fmt_row(
                "bytes on disk",
                f"{disk / 2**20:,.1f} MiB",
                f"{raw / 2**20:,.1f} MiB",
                f"{ratio:.2f}x",
                f"<={TARGETS['disk']}x",
                "yes" if ratio <= TARGETS["disk"] else "NO",
            )
        )
        for label, ours, base in (
            ("query mean ms", q_times.mean(), base_t.mean()),
            ("query p50 ms", np.median(q_times), np.median(base_t)),
            ("query p99 ms", np.percentile(q_times, 99), np.percentile(base_t, 99)),
        ):
            r = ours / base
            ok = (
                ("yes" if r <= TARGETS["query"] else "NO") if label.startswith("query mean") else ""
            )
            print(
                fmt_row(
                    label,
                    f"{ours * 1e3:.2f}",
                    f"{base * 1e3:.2f}",
                    f"{r:.2f}x",
                    f"<={TARGETS['query']}x" if ok else "",
                    ok,
                )
            )
        r = f_times.mean() / f_t.mean()
        print(
            fmt_row(
                "filtered (1%) mean ms",
                f"{f_times.mean() * 1e3:.2f}",
                f"{f_t.mean() * 1e3:.2f}",
                f"{r:.2f}x",
                "",
                "",
            )
        )
        print(
            fmt_row(
                "filtered answers equal",
                f"{args.queries - f_wrong}/{args.queries}",
                "",
                "",
                "all",
                "yes" if f_wrong == 0 else "NO",
            )
        )
        print(fmt_row("first query ms (cold)", f"{first_t[0] * 1e3:.2f}", "", "", "", ""))
        print(
            fmt_row(
                "answers equal numpy",
                f"{args.queries - wrong}/{args.queries}",
                "",
                "",
                "all",
                "yes" if wrong == 0 else "NO",
            )
        )
        print(
            f"numpy baseline = {base_name} (mean ms: (X-q)^2 {diff_t.mean() * 1e3:.2f}, "
            f"|x|^2-2xq {norm_t.mean() * 1e3:.2f}; forms agree on {agree}/{args.queries})"
        )
        print(
            f"peak RSS (maxrss, MiB): data generated {peak_data:,.0f}, after ingest "
            f"{peak_ingest:,.0f}, after first sqlvec queries {peak_queries:,.0f}, after all queries "
            f"{peak_rss_mb():,.0f}; raw data {raw / 2**20:,.0f} (the process holds it too)"
        )
        if rss_data is not None:
            print(
                f"RSS (MiB): data generated {rss_data:,.0f}, before close "
                f"{ing['rss_after_ingest_mb']:,.0f}, after queries (segments mapped) "
                f"{rss_queries:,.0f}"
            )

        if args.profile:
            prof_rows = min(args.rows, 100_000)
            sub = Dataset(
                data.ids[:prof_rows], data.cats[:prof_rows], data.emb[:prof_rows], data.queries[:1]
            )
            print(f"\n=== cProfile: ingest of {prof_rows:,} rows (batch {args.batch:,}) ===")
            print(profile(lambda: ingest(os.path.join(workdir, "prof"), sub, args.batch), 25))
            conn = sqlvec.connect(path, autocommit=True)
            cur = conn.cursor()
            for q in data.queries[:2]:  # warm: the cached plan, mapped segments, row norms
                sql_ids(cur, SQL, (q,))
            print(f"=== cProfile: one query over {args.rows:,} rows ===")
            print(profile(lambda: sql_ids(cur, SQL, (data.queries[0],)), 25))
            print(f"=== cProfile: one filtered (1%) query over {args.rows:,} rows ===")
            print(profile(lambda: sql_ids(cur, FILTERED_SQL, (FILTER_CAT, data.queries[0])), 25))
            conn.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
