"""Storage benchmark (run by hand, not a test):

    /tmp/venv/bin/python tests/storage/bench_storage.py [rows] [threads]

Ingest ``rows`` x 128-d float32 vectors in 1,000-row transactions (synchronous commit, group
fsync), then time a scan and numpy_fixed over the sealed segments, and compare disk use after
close with the Arrow column bytes.
"""

import os
import sys
import tempfile
import threading
import time

import numpy as np
import pyarrow as pa

from sqlvec.storage import StorageEngine
from sqlvec.storage.files import dir_bytes

DIM, TXN_ROWS = 128, 1000


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    vt = pa.list_(pa.float32(), DIM)
    data = np.random.default_rng(0).random((rows, DIM), dtype=np.float32)
    table = pa.table({
        "c1": pa.array(np.arange(rows)),
        "c2": pa.FixedSizeListArray.from_arrays(pa.array(data.ravel()), DIM),
    })
    batches = table.to_batches(max_chunksize=TXN_ROWS)
    path = tempfile.mkdtemp(prefix="sqlvec-bench-")
    eng = StorageEngine.open(path)

    def work(part):
        for b in part:
            t = eng.begin()
            t.insert(1, b)
            t.commit()

    t0 = time.perf_counter()
    parts = [batches[k::threads] for k in range(threads)]
    ths = [threading.Thread(target=work, args=(p,)) for p in parts]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng.checkpoint()
    ckpt = time.perf_counter() - t0
    eng.close()

    eng = StorageEngine.open(path)
    t0 = time.perf_counter()
    n = 0
    total = 0.0
    snap = eng.snapshot()
    for v in snap.scan(1, {"c1": pa.int64(), "c2": vt}):
        arr = v.numpy_fixed("c2")
        assert arr.base is not None  # a view, not a copy
        n += v.num_rows
        total += float(arr[:, 0].sum())
    scan = time.perf_counter() - t0
    eng.close()
    disk = dir_bytes(path)
    print(f"rows                 {rows:>12,}   threads {threads}")
    print(f"ingest               {rows / ingest:>12,.0f} rows/s  ({ingest:.2f} s, sync commit)")
    print(f"final checkpoint     {ckpt:>12.2f} s")
    print(f"scan + numpy_fixed   {scan * 1000:>12.1f} ms for {n:,} rows (zero-copy)")
    print(f"disk / arrow bytes   {disk / table.nbytes:>12.3f}  ({disk:,} / {table.nbytes:,})")
    os.system(f"rm -rf {path}")


if __name__ == "__main__":
    main()
