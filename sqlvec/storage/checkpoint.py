"""Checkpoint: make the in-memory state a manifest version, so the WAL before it can go.

1. Under the commit lock: note the last LSN and ts, close every growing segment (new commits
   start new segments), and record which segments the manifest will list.
2. Seal those segments, make the WAL durable up to the noted LSN.
3. Drop segments whose rows are all deleted before every live snapshot (TRUNCATE, DELETE
   everything) and write delete logs for sealed segments with new deletes.
4. Publish the manifest, trim the WAL, remove files nothing lists any more.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING

from sqlvec.index.manager import index_files
from sqlvec.storage.files import segment_dir, write_delete_log
from sqlvec.storage.manifest import publish
from sqlvec.storage.segment import SealedSegment

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine


def run_checkpoint(eng: StorageEngine, exact_sequences: bool) -> None:
    """The caller holds ``eng._ckpt_lock``."""
    with eng._commit_lock:
        lsn = eng._wal.next_lsn - 1
        ts = eng._last_ts
        tables = dict(eng._tables)
        listed: dict[int, list[int]] = {}
        next_ids: dict[int, int] = {}
        pending = []
        for oid, t in tables.items():
            if t.growing is not None:
                t.growing.closed = True
            listed[oid] = [s.segment_id for s in t.segments]
            next_ids[oid] = t.next_segment_id
            pending += [(t, s) for s in t.segments if not s.sealed]
        catalog, catalog_ts = eng.catalog, eng._catalog_ts
        # Without a clean shutdown, skip ahead to the logged horizon: values below it may
        # have been handed out.
        seqs = {str(k): (v[0] if exact_sequences else v[1]) for k, v in eng._seqs.items()}
        wal_bytes = eng._wal.bytes_written
    for t, s in pending:
        eng._seal(t, s)
    eng._wal.wait_durable(lsn)
    horizon = min(ts, eng._horizon())
    garbage: list[str] = []  # removed only once the new manifest no longer lists them
    for t in tables.values():
        dead = {s.segment_id for s in t.segments
                if s.sealed and s.segment_id in listed[t.oid] and s.mvcc.all_dead_by(horizon)}
        if dead:
            t.remove(dead)
            if eng.path is not None:
                garbage += [segment_dir(eng.path, t.oid, sid) for sid in dead]
    if eng.path is None:
        return
    manifest_tables = {}
    for oid, t in tables.items():
        wanted = set(listed[oid])
        entries = []
        for s in t.segments:
            if s.segment_id not in wanted or not isinstance(s, SealedSegment):
                continue  # created after step 1: its rows are in the WAL past ``lsn``
            s.sync()
            if s.mvcc.max_xmax > s.mvcc.logged_ts:
                offsets, stamps = s.mvcc.deletes_upto(ts)
                if len(offsets):
                    if s.delete_log is not None:
                        garbage.append(os.path.join(s.path, s.delete_log))
                    s.delete_log = write_delete_log(s.path, lsn, offsets, stamps)
                    s.mvcc.logged_ts = ts
            entries.append({"id": s.segment_id, "rows": s.mvcc.n, "deletes": s.delete_log,
                            "indexes": index_files(s)})
        manifest_tables[str(oid)] = {"next_segment": next_ids[oid], "segments": entries}
    manifest = {
        "checkpoint_lsn": lsn, "max_ts": ts, "catalog": catalog, "catalog_ts": catalog_ts,
        "sequences": seqs, "tables": manifest_tables,
        "vector_indexes": eng._indexes.manifest_specs(),
    }
    eng.manifest_version += 1
    publish(eng.path, eng.manifest_version, manifest)
    eng._manifest = manifest  # the base index builds republish from
    eng.checkpoint_lsn = lsn
    eng._ckpt_wal_bytes = wal_bytes
    if eng._wal.next_lsn - 1 == lsn:
        with eng._commit_lock:
            if eng._wal.next_lsn - 1 == lsn:
                eng._wal.rotate()  # so the file just covered can be removed
    eng._wal.trim(lsn)
    # Files of dropped tables: a reader still holding one of their segments keeps its
    # memory map, which outlives the unlink on Linux.
    tables_dir = os.path.join(eng.path, "tables")
    for name in os.listdir(tables_dir):
        if name.isdigit() and int(name) in eng._dropped and int(name) not in eng._tables:
            garbage.append(os.path.join(tables_dir, name))
    for path in garbage:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
