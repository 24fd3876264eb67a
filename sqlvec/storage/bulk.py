"""Bulk load: rows written straight to sealed segments, published by one small WAL record.

A large COPY FROM or INSERT ... SELECT would otherwise write every row twice (WAL, then the
sealed segment) and hold it in a growing segment meanwhile. Instead:

1. **Stage** (``Txn.insert(..., bulk=True)``, no lock held): write ``data.arrow`` and
   ``stats.json`` into ``tables/<oid>/0/bulk-<token>/``, fsync them, memory-map the file. The
   transaction reads its own rows from there; rollback removes the folder.
2. **Place** (at COMMIT, before the commit lock): reserve a segment id per staged folder
   (briefly under the commit lock), rename the folder to the segment's, fsync the parent, so
   the folder is durable before any WAL record names it.
3. **Commit**: the WAL record carries a :class:`~sqlvec.storage.records.Bulk` entry (table,
   segment id, row count, rows deleted again by the same transaction) instead of the rows;
   applying it adds the sealed segment with xmin = the commit ts, so it is invisible until the
   commit is durable, like any insert. Its vector indexes are built in the background.

A crash before the WAL record leaves an unlisted folder, which the next open removes
(``files.collect_garbage`` keeps only segments the manifest or the replayed WAL lists); after
it, replay finds the folder at its final name. Unique keys are checked when the rows are
staged and again at commit, exactly as for ordinary inserts.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sqlvec.storage import records
from sqlvec.storage.compaction import CRASH_ENV
from sqlvec.storage.files import segment_dir
from sqlvec.storage.mvcc import Mvcc
from sqlvec.storage.segment import SealedSegment, fsync_dir, sync_sealed, unify, write_sealed

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine

STAGE_PREFIX = "bulk-"


def stage(root: str, oid: int, batches: list[pa.RecordBatch]) -> tuple[str, pa.RecordBatch]:
    """Write the rows as a sealed segment folder not listed anywhere yet; returns (folder,
    the rows memory-mapped from it)."""
    part = os.path.dirname(segment_dir(root, oid, 0))
    path = os.path.join(part, STAGE_PREFIX + uuid.uuid4().hex)
    try:
        write_sealed(path, unify(batches))
        sync_sealed(path)
        return path, SealedSegment.load(-1, path).batch
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def place(eng: StorageEngine, entries: list[records.Bulk]) -> list[int]:
    """Give each staged folder its segment id and final name, durably. Returns the oids of
    tables this created (so that a failed commit can forget them again)."""
    created: list[int] = []
    with eng._commit_lock:
        eng._check_open()
        for e in entries:
            table = eng._tables.get(e.oid)
            if table is None:
                table = eng._create_table(e.oid)
                created.append(e.oid)
            e.segment_id = table.next_segment_id
            table.next_segment_id += 1
    parents = set()
    for e in entries:
        final = segment_dir(eng.path, e.oid, e.segment_id)
        assert e.staged is not None
        os.rename(e.staged, final)
        e.staged = final
        parents.add(os.path.dirname(final))
    for p in parents:
        fsync_dir(p)
        fsync_dir(os.path.dirname(p))  # tables/<oid>, new with the table's first segment
        fsync_dir(os.path.dirname(os.path.dirname(p)))
    if os.environ.get(CRASH_ENV) == "bulk_placed":  # fault injection for the crash tests
        os.kill(os.getpid(), 9)
    return created


def unplace(eng: StorageEngine, entries: list[records.Bulk], created: list[int]) -> None:
    """A commit that failed (a conflict found under the commit lock): remove its folders and
    the empty tables :func:`place` made."""
    for e in entries:
        if not e.applied and e.staged is not None:
            shutil.rmtree(e.staged, ignore_errors=True)
    with eng._commit_lock:
        gone = {oid for oid in created
                if (t := eng._tables.get(oid)) is not None and not t.segments}
        if gone:
            eng._tables = {k: v for k, v in eng._tables.items() if k not in gone}


def apply(eng: StorageEngine, e: records.Bulk, ts: int) -> SealedSegment:
    """Add the segment (commit, under the commit lock; or replay)."""
    table = eng._tables.get(e.oid) or eng._create_table(e.oid)
    path = segment_dir(eng.path, e.oid, e.segment_id) if eng.path is not None else None
    if e.batch is not None:
        seg = SealedSegment(e.segment_id, e.batch, Mvcc(), path)
    else:
        assert path is not None
        seg = SealedSegment.load(e.segment_id, path)
    mvcc = Mvcc()
    mvcc.append(e.rows, ts)
    if len(e.dead):
        mvcc.delete(e.dead, ts)  # inserted and deleted by the same commit: never visible
    seg.mvcc, seg.synced = mvcc, path is not None
    table.add(seg)
    if table.key_maps:
        rowids = (np.int64(e.segment_id) << 32) | np.arange(e.rows, dtype=np.int64)
        live = mvcc.live_latest(e.rows)
        batch = seg.batch
        if live is not None:
            batch, rowids = batch.filter(pa.array(live)), rowids[live]
        table._map_insert(batch, rowids)
    e.applied = True
    return seg


def discard(paths: list[str]) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
