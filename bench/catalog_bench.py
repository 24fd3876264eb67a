"""psql's ``\\d table`` on a database with many tables: sqlvec serve beside PostgreSQL (pgserver).

    python bench/catalog_bench.py                  # 200 tables, \\d t17
    python bench/catalog_bench.py --tables 50 --repeat 5

Creates N tables (four columns, a primary key, a default, one more index) on both servers,
captures the queries psql sends for ``\\d t17`` with ``psql -E`` (psql picks them by server
version; both servers report 16.x), then runs exactly those queries through psycopg's
simple-query protocol, as psql does, and prints the time of each and of the whole ``\\d``:

- warm: ``\\d t17`` again and again (the statement texts repeat: parse/plan caches hit);
- cold: ``\\d`` of a different table each time (new statement texts, as when browsing);
- psql: the wall time of ``psql -c '\\d t17'`` (process start and connection included).

Target (issue 4): ``\\d table`` within 50 ms on 200 tables.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import pq

sys.path.insert(0, str(Path(__file__).parent))
from wire_bench import start_postgres, start_sqlvec  # noqa: E402

DDL = (
    "CREATE TABLE t{i} (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x', v float8, "
    "created timestamptz)",
    "CREATE INDEX t{i}_name ON t{i} (name)",
)
_QUERY = re.compile(r"\*{9} QUERY \*{10}\n(.*?)\n\*{26}", re.S)


def create_tables(dsn: str, n: int) -> float:
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as c:
        for i in range(n):
            for ddl in DDL:
                c.execute(ddl.format(i=i))
    return time.perf_counter() - t0


def capture(dsn: str, table: str) -> list[str]:
    """The statements psql sends for ``\\d table`` (psql -E echoes them)."""
    out = subprocess.run(["psql", "-X", "-E", dsn, "-c", f"\\d {table}"], capture_output=True,
                         text=True, timeout=60)
    return _QUERY.findall(out.stdout)


def templates(queries: list[str], table: str, oid: int) -> list[str]:
    """The statements with the table's name and OID as placeholders."""
    return [q.replace(f"'{oid}'", "'{oid}'").replace(f"^({table})$", "^({table})$") for q in queries]


def run(conn: psycopg.Connection, sql: str) -> tuple[float, str | None]:
    t0 = time.perf_counter()
    res = conn.pgconn.exec_(sql.encode())
    took = time.perf_counter() - t0
    if res.status == pq.ExecStatus.FATAL_ERROR:
        return took, (res.error_message or b"").decode().strip()
    return took, None


def oid_of(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT '{table}'::regclass::oid").fetchone()[0]


def describe(conn: psycopg.Connection, tmpl: list[str], table: str) -> tuple[list[float], list[str]]:
    """One ``\\d table``: the time of each statement and the errors met."""
    oid = oid_of(conn, table)
    times, errs = [], []
    for k, q in enumerate(tmpl):
        took, err = run(conn, q.replace("{oid}", str(oid)).replace("{table}", table))
        times.append(took)
        if err:
            errs.append(f"statement {k + 1}: {err.splitlines()[0]}")
    return times, errs


def measure(dsn: str, tmpl: list[str], tables: int, repeat: int) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        describe(conn, tmpl, "t17")  # first use: caches filled, as after any earlier \d
        warm = [describe(conn, tmpl, "t17") for _ in range(repeat)]
        cold = [describe(conn, tmpl, f"t{(17 + 1 + k) % tables}") for k in range(repeat)]
    wall = []
    for _ in range(min(repeat, 5)):
        t0 = time.perf_counter()
        subprocess.run(["psql", "-X", dsn, "-c", "\\d t17"], capture_output=True, timeout=60)
        wall.append(time.perf_counter() - t0)
    per_query = [statistics.median(w[0][k] for w in warm) for k in range(len(tmpl))]
    return {
        "per_query": per_query,
        "warm": statistics.median(sum(w[0]) for w in warm),
        "cold": statistics.median(sum(c[0]) for c in cold),
        "psql": statistics.median(wall),
        "errors": sorted({e for _, errs in warm + cold for e in errs}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, our_dsn = start_sqlvec(Path(tmp) / "sqlvec", Path(tmp) / "sock")
        srv, pg_dsn = start_postgres(Path(tmp))
        try:
            servers = {"sqlvec": our_dsn} | ({"postgres": pg_dsn} if pg_dsn else {})
            for name, dsn in servers.items():
                print(f"{name}: created {args.tables} tables in {create_tables(dsn, args.tables):.1f} s")
            # capture from PostgreSQL when there is one (psql stops at the first error)
            src = servers.get("postgres", our_dsn)
            with psycopg.connect(src, autocommit=True) as c:
                tmpl = templates(capture(src, "t17"), "t17", oid_of(c, "t17"))
            print(f"psql \\d t17 sends {len(tmpl)} statements\n")
            results = {name: measure(dsn, tmpl, args.tables, args.repeat) for name, dsn in servers.items()}
        finally:
            proc.terminate()
            proc.wait()
            if srv is not None:
                srv.cleanup()
    report(tmpl, results)


def report(tmpl: list[str], results: dict) -> None:
    names = list(results)
    ms = 1000.0
    head = "".join(f"{n:>12}" for n in names) + ("       ratio" if len(names) == 2 else "")
    print(f"{'statement (warm, median ms)':<60}{head}")

    def row(label: str, vals: list[float]) -> None:
        ratio = f"{vals[0] / vals[1]:11.1f}x" if len(vals) == 2 and vals[1] else ""
        print(f"{label:<60}" + "".join(f"{v * ms:12.2f}" for v in vals) + ratio)

    for k, q in enumerate(tmpl):
        first = " ".join(q.split())[:56]
        row(f"{k + 1}. {first}", [results[n]["per_query"][k] for n in names])
    print()
    row("\\d t17, warm (all statements)", [results[n]["warm"] for n in names])
    row("\\d tN, cold (new statement texts)", [results[n]["cold"] for n in names])
    row("psql -c '\\d t17' wall time", [results[n]["psql"] for n in names])
    for n in names:
        for e in results[n]["errors"]:
            print(f"{n} error: {e}")


if __name__ == "__main__":
    main()
