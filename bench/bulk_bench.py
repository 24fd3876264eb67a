"""Bulk load benchmark: WAL bytes and rows/s of COPY FROM (binary) and INSERT ... SELECT of
N x DIM vectors, through the ordinary path (every row logged: sqlvec.bulk_load_rows = 0) and
the bulk path (rows written straight to a sealed segment, one small WAL record).

Usage: python bench/bulk_bench.py [--n 1000000] [--dim 128]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import tempfile
import time

import numpy as np

import sqlvec
from sqlvec.storage.files import dir_bytes


def binary_copy(ids: np.ndarray, vecs: np.ndarray) -> bytes:
    """PostgreSQL's binary COPY format for (int4, vector) rows, built with numpy."""
    n, dim = vecs.shape
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("v", ">f4", (dim,))])
    rows = np.empty(n, row)
    rows["nf"], rows["l1"], rows["id"] = 2, 4, ids
    rows["l2"], rows["dim"], rows["unused"], rows["v"] = 4 + 4 * dim, dim, 0, vecs
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + rows.tobytes() + \
        struct.pack("!h", -1)


def run(mode: str, src: str, n: int, dim: int) -> dict:
    path = tempfile.mkdtemp(prefix=f"sqlvec-bulk-{mode}-")
    try:
        c = sqlvec.connect(path)
        c.autocommit = True
        cur = c.cursor()
        cur.execute(f"set sqlvec.bulk_load_rows = {0 if mode == 'wal' else 50_000}")
        cur.execute(f"create table t (id int primary key, v vector({dim}))")
        cur.execute(f"create table t2 (id int primary key, v vector({dim}))")
        eng = c._session.db.engine
        w0, t0 = eng._wal.bytes_written, time.perf_counter()
        cur.execute(f"copy t from '{src}' with (format binary)")
        copy_s, copy_wal = time.perf_counter() - t0, eng._wal.bytes_written - w0
        w0, t0 = eng._wal.bytes_written, time.perf_counter()
        cur.execute("insert into t2 select * from t")
        ins_s, ins_wal = time.perf_counter() - t0, eng._wal.bytes_written - w0
        cur.execute("select count(*) from t2")
        assert cur.fetchall() == [(n,)]
        c.close()
        return {"copy_s": copy_s, "copy_wal": copy_wal, "ins_s": ins_s, "ins_wal": ins_wal,
                "disk": dir_bytes(os.path.join(path, "tables"))}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    args = ap.parse_args()
    n, dim = args.n, args.dim
    tmp = tempfile.mkdtemp(prefix="sqlvec-bulk-src-")
    src = os.path.join(tmp, "rows.bin")
    vecs = np.random.default_rng(0).standard_normal((n, dim), dtype=np.float32)
    with open(src, "wb") as f:
        f.write(binary_copy(np.arange(n, dtype=np.int32), vecs))
    del vecs
    data_mb = n * dim * 4 / 2**20
    print(f"{n:,} rows x {dim} dims ({data_mb:,.0f} MiB of vectors)")
    res = {m: run(m, src, n, dim) for m in ("wal", "bulk")}
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'':24}{'logged rows':>16}{'bulk path':>16}{'gain':>10}")
    for label, key, fmt in [
        ("COPY WAL bytes", "copy_wal", "{:,.0f}"),
        ("COPY rows/s", "copy_s", None),
        ("INSERT..SELECT WAL bytes", "ins_wal", "{:,.0f}"),
        ("INSERT..SELECT rows/s", "ins_s", None),
        ("table files at close", "disk", "{:,.0f}"),
    ]:
        a, b = res["wal"][key], res["bulk"][key]
        if fmt is None:  # a duration: print the rate
            a, b, fmt = n / a, n / b, "{:,.0f}"
            ratio = b / a  # how much faster the bulk path is
        else:
            ratio = (a / b) if b else float("inf")  # how many times fewer bytes
        print(f"{label:24}{fmt.format(a):>16}{fmt.format(b):>16}{ratio:>10.1f}")


if __name__ == "__main__":
    main()
