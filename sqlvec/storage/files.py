"""Where things live in a data directory, and the files of one checkpoint.

```
<dir>/CURRENT, <dir>/LOCK, <dir>/manifest/<n>.json, <dir>/wal/<first-lsn>.wal
<dir>/tables/<oid>/<partition>/<segment>/{data.arrow, stats.json, deletes-<lsn>.arrow}
```
"""

from __future__ import annotations

import contextlib
import os
import shutil

import numpy as np
import pyarrow as pa

from sqlvec.storage.segment import SealedSegment, fsync_file

PARTITION = "0"  # partitions are not implemented yet: every segment is in partition 0


def segment_dir(root: str, oid: int, segment_id: int) -> str:
    return os.path.join(root, "tables", str(oid), PARTITION, str(segment_id))


def write_delete_log(seg_path: str, lsn: int, offsets: np.ndarray, ts: np.ndarray) -> str:
    """Write the segment's deletes (offset, commit ts) as ``deletes-<lsn>.arrow``."""
    name = f"deletes-{lsn}.arrow"
    tmp = os.path.join(seg_path, name + ".tmp")
    table = pa.table({"offset": pa.array(offsets, pa.int64()), "ts": pa.array(ts, pa.int64())})
    with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    fsync_file(tmp)
    os.replace(tmp, os.path.join(seg_path, name))
    return name


def load_segment(root: str, oid: int, entry: dict) -> SealedSegment:
    """A sealed segment listed in the manifest, with its delete log applied."""
    path = segment_dir(root, oid, entry["id"])
    seg = SealedSegment.load(entry["id"], path)
    if entry.get("deletes"):
        with pa.memory_map(os.path.join(path, entry["deletes"]), "r") as source:
            log = pa.ipc.open_file(source).read_all()
        seg.mvcc.load_deletes(log.column("offset").to_numpy(), log.column("ts").to_numpy())
        seg.delete_log = entry["deletes"]
    return seg


INDEX_SUFFIXES = (".hnsw", ".ivf", ".flat")  # sqlvec.index.base.SUFFIX


def collect_garbage(root: str, keep: dict[int, dict[int, str | None]],
                    keep_indexes: dict[int, dict[int, set[str]]] | None = None) -> None:
    """Remove table folders, segment folders, delete logs and index files not listed.

    ``keep`` maps oid -> segment id -> delete log name (None: keep the folder, no log);
    ``keep_indexes`` oid -> segment id -> index file names the manifest lists. On
    Linux a removed file stays readable through existing memory maps, so a reader that still
    holds a segment is unaffected.
    """
    tables = os.path.join(root, "tables")
    if not os.path.isdir(tables):
        return
    for oid_name in os.listdir(tables):
        oid_path = os.path.join(tables, oid_name)
        segs = keep.get(int(oid_name)) if oid_name.isdigit() else None
        if segs is None:
            shutil.rmtree(oid_path, ignore_errors=True)
            continue
        part = os.path.join(oid_path, PARTITION)
        for seg_name in os.listdir(part) if os.path.isdir(part) else ():
            seg_path = os.path.join(part, seg_name)
            if not seg_name.isdigit() or int(seg_name) not in segs:
                shutil.rmtree(seg_path, ignore_errors=True)
                continue
            log = segs[int(seg_name)]
            listed = (keep_indexes or {}).get(int(oid_name), {}).get(int(seg_name), set())
            for f in os.listdir(seg_path):
                if (f.startswith("deletes-") and f != log) or f.endswith(".tmp") or (
                        f.endswith(INDEX_SUFFIXES) and f not in listed):
                    target = os.path.join(seg_path, f)
                    if os.path.isdir(target):  # index files may be folders
                        shutil.rmtree(target, ignore_errors=True)
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(target)


def dir_bytes(path: str) -> int:
    total = 0
    for base, _dirs, names in os.walk(path):
        for n in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.path.getsize(os.path.join(base, n))
    return total
