"""Run by test_crash.py: commit numbered transactions until killed, printing each ack.

Transaction i inserts values i*10+0..4 into table 1 and i into table 2, and deletes the row
i*10-10 (inserted by transaction i-1 of the same run).
"""

import sys

import numpy as np
import pyarrow as pa

from sqlvec.storage import StorageEngine


def main() -> None:
    path, first = sys.argv[1], int(sys.argv[2])
    eng = StorageEngine.open(path, seal_rows=64)
    # pa.table(dict) imports pandas on first use (a second on a loaded machine): pay it
    # before "ready", or the parent's kill lands before the first commit every time
    pa.table({"c1": pa.array([], pa.int64())})
    print("ready", flush=True)
    prev = None
    i = first
    while True:
        t = eng.begin()
        ids = t.insert(1, pa.table({"c1": pa.array(i * 10 + np.arange(5), pa.int64())}))
        t.insert(2, pa.table({"c1": pa.array([i], pa.int64())}))
        if prev is not None:
            t.delete(1, prev)
        t.commit()
        prev = t.final_rowids(1, ids[:1])
        print(i, flush=True)
        if i % 41 == 0:
            eng.checkpoint()
        i += 1


if __name__ == "__main__":
    main()
