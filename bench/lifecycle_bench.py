"""Compaction benchmark: delete 30% of N rows, then compare query latency and disk bytes
before and after VACUUM FULL.  Usage: python bench/lifecycle_bench.py [rows] [dim]"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

import sqlvec
from sqlvec.storage.files import dir_bytes


def _latency(cur, sql: str, params=None, reps: int = 20) -> float:
    cur.execute(sql, params)
    cur.fetchall()
    t = time.perf_counter()
    for _ in range(reps):
        cur.execute(sql, params)
        cur.fetchall()
    return (time.perf_counter() - t) / reps * 1000


def main(rows: int = 500_000, dim: int = 32) -> None:
    path = tempfile.mkdtemp(prefix="sqlvec-lifecycle-")
    c = sqlvec.connect(path)
    c.autocommit = True
    cur = c.cursor()
    cur.execute(f"create table t (id int, v vector({dim}))")
    eng = c._session.db.engine
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    step = 50_000
    tab_oid = None
    for start in range(0, rows, step):
        n = min(step, rows - start)
        vecs = rng.standard_normal((n, dim), dtype=np.float32)
        txn = eng.begin()
        if tab_oid is None:
            s = c._session
            tab_oid = s.catalog().database(s.database).find_table("t", None, s.search_path()).oid
        tbl = s.catalog().database(s.database).tables[tab_oid]
        ids = [col.id if hasattr(col, "id") else col.name for col in tbl.columns]
        batch = pa.record_batch({
            ids[0]: pa.array(np.arange(start, start + n, dtype=np.int32)),
            ids[1]: pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), dim),
        })
        txn.insert(tab_oid, batch)
        txn.commit()
    cur.execute("checkpoint")
    print(f"loaded {rows} rows x {dim} in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    cur.execute("create index on t using hnsw (v vector_l2_ops)")
    print(f"hnsw index in {time.perf_counter() - t0:.1f}s")
    cur.execute("delete from t where id % 10 < 3")
    cur.execute("checkpoint")
    q = "[" + ",".join(f"{x:.4f}" for x in rng.standard_normal(dim)) + "]"
    queries = {
        "count(*)": "select count(*) from t",
        "filter scan": "select count(*) from t where id % 7 = 1",
        "top-10 knn (hnsw)": f"select id from t order by v <-> '{q}' limit 10",
    }
    table_dir = f"{path}/tables/{tab_oid}"
    before = {k: _latency(cur, sql) for k, sql in queries.items()}
    bytes_before = dir_bytes(table_dir)
    segs_before = len(eng._tables[tab_oid].segments)
    t0 = time.perf_counter()
    cur.execute("vacuum full t")
    took = time.perf_counter() - t0
    from sqlvec.storage.compaction import release_unpinned

    release_unpinned(eng)
    after = {k: _latency(cur, sql) for k, sql in queries.items()}
    bytes_after = dir_bytes(table_dir)
    print(f"VACUUM FULL took {took:.1f}s; segments {segs_before} -> "
          f"{len(eng._tables[tab_oid].segments)}")
    print(f"disk bytes: {bytes_before / 2**20:.1f} MiB -> {bytes_after / 2**20:.1f} MiB")
    for k in queries:
        print(f"{k:>20}: {before[k]:8.2f} ms -> {after[k]:8.2f} ms")
    c.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
