"""Multi-tenant top-10 search: tenant isolation vs partition key vs a plain filter, and pgvector.

    /tmp/venv/bin/python bench/tenant_bench.py [--tenants 1000] [--per-tenant 1000] [--dim 128]
        [--queries 300] [--partitions 16] [--embedded] [--no-pg] [--full-indexes] [--configs abc]

Data: ``tenants x per-tenant`` vectors (seeded, clustered: each tenant draws from 8 of 1,000
shared centres), tenant names ``t0000``... Every query asks one tenant's top 10:
``SELECT id FROM <t> WHERE tenant = $1 ORDER BY emb <-> $2 LIMIT 10``; recall@10 is against
exact search over that tenant's rows (numpy). One query at a time, one connection.

sqlvec tables (HNSW m=16, ef_construction=64, hnsw.ef_search 40):
  (a) ``WITH (partition_key = 'tenant', num_partitions = N, partition_key_isolation = true)``
  (b) ``WITH (partition_key = 'tenant', num_partitions = N)``
  (c) no partition key: the plain filter ``WHERE tenant = $1``
``--configs a`` runs only the named tables (a quicker before/after of one of them).
By default only (a) and pgvector's B-tree get indexes: with 1,000 rows per tenant neither
planner uses an HNSW index over all tenants (sqlvec's policy scans the tenant's rows exactly,
PostgreSQL picks the B-tree and a sort: EXPLAIN is printed), and building three of them over
1M rows takes ~15 minutes on 2 cores. ``--full-indexes`` builds them too: HNSW on (b), (c)
and pgvector's vector column, as a deployment would have.
Rows are loaded through the embedded API (executemany), indexes built there (timed); then
queries go through psycopg against ``sqlvec serve`` on the same data directory (``--embedded``:
through the embedded DB-API instead). pgvector (PostgreSQL 16 + pgvector 0.6.2 from the
``pgserver`` package) gets the same rows by binary COPY, a B-tree on tenant and an HNSW index
on the vector (with ``--full-indexes``), and answers the same queries over psycopg on a Unix
socket.
"""

from __future__ import annotations

import argparse
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import sqlvec

K, EF, M, EFC = 10, 40, 16, 64
CONFIGS = {
    "a": ("(a) partition key + isolation", "WITH (partition_key = 'tenant', num_partitions = {n}, partition_key_isolation = true)"),
    "b": ("(b) partition key", "WITH (partition_key = 'tenant', num_partitions = {n})"),
    "c": ("(c) no key, WHERE tenant = $1", ""),
    # the yardstick: an unfiltered search over one tenant's rows alone (a table
    # holding just tenant 0, queried near its own vectors)
    "d": ("(d) one tenant alone, no filter", ""),
}
SOLO_QUERY = "SELECT id FROM docs_d WHERE %s::text IS NOT NULL ORDER BY emb <-> %s{cast} LIMIT 10"
ACTIVE = list(CONFIGS)  # the configurations this run measures (--configs)
QUERY = "SELECT id FROM {t} WHERE tenant = %s ORDER BY emb <-> %s{cast} LIMIT 10"


def make_data(tenants: int, per: int, dim: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, tenant number per row): row i belongs to tenant i // per."""
    centres = np.random.default_rng(0).normal(size=(1000, dim)).astype(np.float32) * 2
    rng = np.random.default_rng(seed)
    own = rng.integers(0, len(centres), size=(tenants, 8))  # each tenant's 8 centres
    tenant = np.repeat(np.arange(tenants), per)
    pick = own[tenant, rng.integers(0, 8, size=len(tenant))]
    x = (centres[pick] + rng.normal(size=(len(tenant), dim))).astype(np.float32)
    return x, tenant


def tenant_names(tenants: int) -> list[str]:
    width = len(str(max(tenants - 1, 0)))
    return [f"t{i:0{width}d}" for i in range(tenants)]


def make_queries(x, tenant, per: int, n: int, seed: int = 3):
    """(tenant number, query vector, exact top-10 ids) per query."""
    rng = np.random.default_rng(seed)
    out = []
    for t in rng.integers(0, tenant.max() + 1, n).tolist():
        rows = np.arange(t * per, (t + 1) * per)
        q = x[rng.choice(rows)] + 0.1 * rng.normal(size=x.shape[1]).astype(np.float32)
        d = ((x[rows] - q) ** 2).sum(1)
        out.append((t, q, set(rows[np.argsort(d, kind="stable")[:K]].tolist())))
    return out


SOLO: list = []  # (d)'s queries: tenant 0's, made in main()


def solo_queries(_queries) -> list:
    return SOLO


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{a:.7g}" for a in v) + "]"


WARM: list = []  # warm-up queries (other tenants and vectors than the timed ones)


def measure(fn, queries, names) -> tuple[float, float, int]:
    """(QPS, recall@10, fewest rows returned) of fn(tenant name, query text) -> ids, timed
    after a warm-up pass of *other* queries: plan caches, lazy index loads and the page cache
    (memory-mapped segments) are warm for every engine alike, but per-filter caches hold
    only the tenants the warm-up happened to ask for."""
    texts = [vec_text(q) for _, q, _ in queries]
    for t, q, _ in WARM:
        fn(names[t], vec_text(q))
    start = time.perf_counter()
    got = [fn(names[t], qt) for (t, _, _), qt in zip(queries, texts)]
    qps = len(queries) / (time.perf_counter() - start)
    recall = float(np.mean([len(set(g) & e) / K for g, (_, _, e) in zip(got, queries)]))
    return qps, recall, min(len(g) for g in got)


# -- sqlvec ---------------------------------------------------------------------------------------
def load_sqlvec(path: str, x, tenant, names, parts: int, hnsw_bc: bool) -> dict[str, float]:
    """Create and fill the three tables embedded; returns index build seconds per table."""
    conn = sqlvec.connect(path, autocommit=True)
    cur = conn.cursor()
    builds = {}
    for key, (_label, opts) in CONFIGS.items():
        if key not in ACTIVE:
            continue
        cur.execute(f"CREATE TABLE docs_{key} (id int, tenant text NOT NULL, emb vector({x.shape[1]})) "
                    + opts.format(n=parts))
        for s in range(0, len(x) if key != "d" else int(np.count_nonzero(tenant == 0)), 20_000):
            e = min(len(x), s + 20_000) if key != "d" else int(np.count_nonzero(tenant == 0))
            cur.executemany(f"INSERT INTO docs_{key} VALUES (%s, %s, %s)",
                            [(i, names[tenant[i]], x[i]) for i in range(s, e)])
        cur.execute("CHECKPOINT")
        t0 = time.perf_counter()
        if key in ("a", "d") or hnsw_bc:
            cur.execute(f"CREATE INDEX ON docs_{key} USING hnsw (emb vector_l2_ops) WITH (m = {M}, ef_construction = {EFC})")
        builds[key] = time.perf_counter() - t0
        print(f"  sqlvec docs_{key}: loaded, index built in {builds[key]:.1f} s", flush=True)
    conn.close()
    return builds


class Server:
    """``python -m sqlvec serve --port 0`` on a data directory; ready once it prints its port."""

    def __init__(self, data: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sqlvec", "serve", "--port", "0", "--data", data],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        ready: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:  # keep reading so the server never blocks on a full pipe
            for line in self.proc.stderr:
                if re.search(r"listening on", line):
                    ready.put(line)
            ready.put(None)
        threading.Thread(target=drain, daemon=True).start()
        line = ready.get(timeout=120)
        if line is None:
            raise RuntimeError("sqlvec serve exited")
        m = re.search(r"listening on \[?([^\]\s]+?)\]?:(\d+)", line)
        self.dsn = f"host={m.group(1)} port={m.group(2)} user=postgres dbname=postgres"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def query_sqlvec(path: str, queries, names, embedded: bool) -> dict[str, tuple]:
    res = {}
    if embedded:
        conn = sqlvec.connect(path, autocommit=True)
        cur = conn.cursor()
        cur.execute(f"SET hnsw.ef_search = {EF}")
        for key in ACTIVE:
            sql = (SOLO_QUERY if key == "d" else QUERY).format(t=f"docs_{key}", cast="")
            qs = solo_queries(queries) if key == "d" else queries
            res[key] = measure(lambda t, q, s=sql: [r[0] for r in cur.execute(s, (t, q)).fetchall()], qs, names)
        conn.close()
        return res
    import psycopg

    srv = Server(path)
    try:
        with psycopg.connect(srv.dsn, autocommit=True) as conn:
            conn.execute(f"SET hnsw.ef_search = {EF}")
            for key in ACTIVE:
                sql = (SOLO_QUERY if key == "d" else QUERY).format(t=f"docs_{key}", cast="")
                qs = solo_queries(queries) if key == "d" else queries
                res[key] = measure(lambda t, q, s=sql: [r[0] for r in conn.execute(s, (t, q)).fetchall()], qs, names)
    finally:
        srv.stop()
    return res


# -- pgvector -------------------------------------------------------------------------------------
def copy_binary(x: np.ndarray, tenant: np.ndarray, names: list[str]) -> bytes:
    """PostgreSQL binary COPY of (id int4, tenant text, emb vector): fixed-size rows, built
    with numpy (pgvector's binary form: int16 dim, int16 unused, float4[dim], big-endian)."""
    dim, w = x.shape[1], len(names[0])
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("tenant", f"S{w}"),
                    ("l3", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("emb", ">f4", (dim,))])
    a = np.zeros(len(x), row)
    a["nf"], a["l1"], a["id"], a["l2"], a["l3"], a["dim"] = 3, 4, np.arange(len(x)), w, 4 + 4 * dim, dim
    a["tenant"] = np.asarray([n.encode() for n in names])[tenant]
    a["emb"] = x
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + a.tobytes() + b"\xff\xff"


def run_pgvector(tmp: str, x, tenant, names, queries, hnsw: bool) -> tuple[float, dict] | None:
    try:
        import pgserver
        import psycopg
    except ImportError:
        print("pgserver/psycopg not installed: pgvector skipped")
        return None
    srv = pgserver.get_server(tmp, cleanup_mode="stop")
    res = {}
    try:
        with psycopg.connect(srv.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute("DROP TABLE IF EXISTS docs")
            conn.execute(f"CREATE TABLE docs (id int, tenant text NOT NULL, emb vector({x.shape[1]}))")
            data = copy_binary(x, tenant, names)
            with conn.cursor().copy("COPY docs (id, tenant, emb) FROM STDIN (FORMAT BINARY)") as cp:
                for s in range(0, len(data), 1 << 24):
                    cp.write(data[s:s + (1 << 24)])
            conn.execute("CREATE INDEX ON docs (tenant)")
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 1")  # 2 cores: leader + 1
            t0 = time.perf_counter()
            if hnsw:
                conn.execute(f"CREATE INDEX ON docs USING hnsw (emb vector_l2_ops) WITH (m = {M}, ef_construction = {EFC})")
            build = time.perf_counter() - t0
            print(f"  pgvector: loaded, HNSW {'built' if hnsw else 'skipped'} in {build:.1f} s", flush=True)
            conn.execute("ANALYZE docs")
            conn.execute(f"SET hnsw.ef_search = {EF}")
            sql = QUERY.format(t="docs", cast="::vector")

            def fn(t, q):
                return [r[0] for r in conn.execute(sql, (t, q)).fetchall()]
            res["pg"] = measure(fn, queries, names)
            plan = conn.execute("EXPLAIN " + sql, (names[0], vec_text(queries[0][1]))).fetchall()
            res["pg_plan"] = " / ".join(re.sub(r"'\[[^\]]*\]'", "$2", r[0].strip()) for r in plan[:4])
            try:
                conn.execute("SET hnsw.iterative_scan = relaxed_order")
                res["pg_iter"] = measure(fn, queries, names)
            except psycopg.Error:
                version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
                res["pg_iter_note"] = f"pgvector {version} has no iterative scans (hnsw.iterative_scan is 0.8+)"
    finally:
        srv.cleanup()
    return build, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--per-tenant", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--embedded", action="store_true", help="query sqlvec embedded, not through sqlvec serve")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--full-indexes", action="store_true",
                    help="HNSW on (b), (c) and pgvector too (~15 more minutes at 1M rows on 2 cores)")
    ap.add_argument("--configs", default="".join(CONFIGS), help="which sqlvec tables: any of 'abcd'")
    a = ap.parse_args()
    ACTIVE[:] = [k for k in CONFIGS if k in a.configs]
    x, tenant = make_data(a.tenants, a.per_tenant, a.dim)
    names = tenant_names(a.tenants)
    queries = make_queries(x, tenant, a.per_tenant, a.queries)
    WARM[:] = make_queries(x, tenant, a.per_tenant, a.queries, seed=4)
    SOLO[:] = make_queries(x[:a.per_tenant], tenant[:a.per_tenant], a.per_tenant, a.queries, seed=5)
    tmp = tempfile.mkdtemp()
    try:
        t0 = time.perf_counter()
        builds = load_sqlvec(tmp + "/sqlvec", x, tenant, names, a.partitions, a.full_indexes)
        print(f"  sqlvec load + builds: {time.perf_counter() - t0:.0f} s", flush=True)
        ours = query_sqlvec(tmp + "/sqlvec", queries, names, a.embedded)
        pg = None if a.no_pg else run_pgvector(tmp + "/pg", x, tenant, names, queries, a.full_indexes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    how = "embedded DB-API" if a.embedded else "psycopg -> sqlvec serve"
    print(f"\n{a.tenants} tenants x {a.per_tenant} vectors x {a.dim}-d ({len(x):,} rows), {a.queries} "
          f"queries (one tenant each), k={K}, m={M} ef_construction={EFC} ef_search={EF}; "
          f"sqlvec through {how}, {a.partitions} partitions; HNSW on "
          + ("every table" if a.full_indexes else "(a) only (--full-indexes: on all)"))
    print(f"{'configuration':<38}| {'build s':>7} | {'QPS':>7} {'recall':>6} {'min rows':>8} | {'QPS vs pgvector':>15}")
    pg_qps = pg[1]["pg"][0] if pg else float("nan")
    for key, (label, _) in CONFIGS.items():
        if key not in ACTIVE:
            continue
        q = ours[key]
        print(f"{'sqlvec ' + label:<38}| {builds[key]:>7.1f} | {q[0]:>7.0f} {q[1]:>6.3f} {q[2]:>8d} | {q[0] / pg_qps:>14.2f}x")
    if pg:
        build, r = pg
        p = r["pg"]
        label = "pgvector B-tree + HNSW" if a.full_indexes else "pgvector B-tree"
        print(f"{label:<38}| {build:>7.1f} | {p[0]:>7.0f} {p[1]:>6.3f} {p[2]:>8d} | {1:>14.2f}x")
        if "pg_iter" in r:
            p = r["pg_iter"]
            print(f"{'pgvector + iterative scan':<38}| {'':>7} | {p[0]:>7.0f} {p[1]:>6.3f} {p[2]:>8d} | {p[0] / pg_qps:>14.2f}x")
        else:
            print(r["pg_iter_note"])
        print("pgvector plan:", r["pg_plan"])


if __name__ == "__main__":
    main()
