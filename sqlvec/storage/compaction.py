"""Compaction: rewrite small or delete-heavy sealed segments of a table into one new segment.

Protocol (readers and writers never wait for the slow part):

1. Pick segments (fewer rows than ``min_rows``, or a deleted fraction >= ``deleted_fraction``)
   and note the horizon H (no active snapshot is older). Rows deleted at or before H are
   invisible to every present and future snapshot: they are dropped; every other row is copied
   with its xmin, ordered by xmin (a segment's xmin must not decrease).
2. Write the new segment's folder (data.arrow, stats.json and ``source.arrow``: the old row id
   of every new row), fsync it, build its vector indexes. No lock is held.
3. Publish, under the checkpoint and commit locks: recompute the new rows' xmax from the old
   segments (this carries over deletes committed since step 1), append an ``OP_COMPACT`` WAL
   record, swap the segments, register an old -> new row id map (``Forward``) so transactions
   holding old row ids delete the right rows, and bump the engine's epoch. Commits after the
   swap log new row ids (the engine forwards ids under the commit lock before logging).
4. A checkpoint makes the new segment list a manifest version. The old folders are removed once
   no snapshot older than the swap (it keeps reading the old segments) is active.

Recovery: a crash before the WAL record leaves an unlisted folder (garbage at open); after it,
replay redoes step 3 from ``source.arrow`` and the old segments replayed so far.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sqlvec.index.isolated import file_name
from sqlvec.index.manager import IndexSlot, build_index, segment_matrix
from sqlvec.storage import expiry
from sqlvec.storage.expiry import Mask
from sqlvec.storage.files import segment_dir
from sqlvec.storage.mvcc import INF_TS, Mvcc
from sqlvec.storage.segment import SealedSegment, fsync_dir, fsync_file, unify, write_sealed
from sqlvec.storage.table import TableData, forward

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine

log = logging.getLogger(__name__)

OP_COMPACT = 3  # WAL op (OP_COMMIT = 1, OP_SEQUENCE = 2 in sqlvec.storage.wal)
SOURCE_FILE = "source.arrow"
CRASH_ENV = "SQLVEC_COMPACTION_CRASH"  # fault injection for the crash tests: a stage name


TARGET_BYTES = 1 << 30  # merged segments grow to this size (Milvus's segment maxSize)


@dataclass(frozen=True)
class Policy:
    min_rows: int = 0  # 0: a quarter of the engine's seal_rows
    deleted_fraction: float = 0.2
    full: bool = False  # VACUUM FULL: every sealed segment with a dead row, or small
    target_bytes: int = TARGET_BYTES  # merge clean segments up to this size (0: never)


@dataclass
class Forward:
    """Old row ids (sorted) -> new row ids, for transactions whose ids predate a swap."""

    epoch: int
    removed: frozenset[int]
    old: np.ndarray
    new: np.ndarray


@dataclass
class Compaction:
    """A table's compaction history that readers and writers may still need."""

    epoch: int
    removed: tuple  # the old segment objects, for snapshots older than ``epoch``
    new_id: int
    paths: list[str] = field(default_factory=list)  # folders to remove once unpinned


def _crash_point(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), 9)


def pick(table: TableData, policy: Policy, seal_rows: int,
         expired: Mask | None = None) -> list[SealedSegment]:
    """Segments to rewrite: dirty ones (deleted or TTL-expired rows), small ones merged in
    pairs or more, and every segment with no live row left (dropped without a rewrite)."""
    min_rows = policy.min_rows or max(1, seal_rows // 4)
    small, dirty = [], []
    for seg in table.segments:
        if not isinstance(seg, SealedSegment):
            continue
        n = seg.mvcc.n
        live = seg.mvcc.live_latest(n)
        gone = None if expired is None else expired(seg)
        if gone is not None and gone.any():
            live = ~gone[:n] if live is None else live & ~gone[:n]
        dead = 0 if live is None else n - int(live.sum())
        if dead and (policy.full or dead >= policy.deleted_fraction * n or dead == n):
            dirty.append(seg)
        elif n < min_rows:
            small.append(seg)
    # merging a lone small segment with nothing gains nothing
    chosen = dirty + (small if len(small) >= 2 or (small and dirty) else [])
    if not chosen:
        chosen = _merge_run(table, policy.target_bytes, set())
    return sorted(chosen, key=lambda s: s.segment_id)


def _merge_run(table: TableData, target: int, skip: set) -> list[SealedSegment]:
    """The first run of two or more consecutive sealed segments (in segment order) that
    fit together in ``target`` bytes: merged into one, they are searched with one index
    walk instead of one per segment (a search costs about the same over 1M rows as over
    128k). Segments already at the target are left alone, so each row is rewritten a
    bounded number of times (about log2(target / seal size))."""
    if target <= 0:
        return []
    run: list[SealedSegment] = []
    size = 0
    for seg in table.segments:
        if not isinstance(seg, SealedSegment) or seg.segment_id in skip:
            if len(run) >= 2:
                return run
            run, size = [], 0
            continue
        b = seg.batch.nbytes
        if size + b > target:
            if len(run) >= 2:
                return run
            run, size = ([seg], b) if b < target else ([], 0)
            continue
        run.append(seg)
        size += b
    return run if len(run) >= 2 else []


# "rows remapped" subscribers: fn(eng, table oid, removed segment ids, new segment id, epoch,
# source) runs after a live compaction's WAL record is durable (source[i] is the old row id of
# new row i). Index owners keyed by row id (BM25) subscribe; at open they reconcile with the
# table's segments instead (replay does not call them: nothing is open yet).
REMAP_HOOKS: list = []


def on_remap(fn):
    """Subscribe ``fn`` to compactions (idempotent; usable as a decorator)."""
    if fn not in REMAP_HOOKS:
        REMAP_HOOKS.append(fn)
    return fn


def _notify_remap(eng: StorageEngine, oid: int, removed: list[int], new_id: int, epoch: int,
                  source: np.ndarray) -> None:
    for fn in list(REMAP_HOOKS):
        try:
            fn(eng, oid, removed, new_id, epoch, source)
        except Exception:  # a subscriber must not undo a published compaction
            log.exception("sqlvec compaction remap hook failed")


def compact_table(eng: StorageEngine, oid: int, policy: Policy = Policy(),
                  ttl_mask: Mask | None = None) -> dict:
    """Compact one table now; returns {"segments_in", "rows_in", "rows_out", "skipped"}.

    ``ttl_mask(segment) -> bool array or None`` marks expired rows to drop as well; by
    default the table's own TTL (sqlvec.storage.expiry) at the current cutoff."""
    stats = {"segments_in": 0, "rows_in": 0, "rows_out": 0, "skipped": ""}
    table = eng._tables.get(oid)
    if table is None:
        return stats
    with eng._compact_lock:
        if ttl_mask is None:
            ttl_mask = expiry.mask_function(eng, oid)
        chosen = pick(table, policy, eng.seal_rows, ttl_mask)
        if not chosen or (len(chosen) == 1 and not policy.full
                          and chosen[0].mvcc.live_latest(chosen[0].mvcc.n) is None
                          and not _any(ttl_mask, chosen[0])):
            return stats
        horizon = min(eng._horizon(), eng.visible_ts)
        parts, xmins, sources = [], [], []
        for seg in chosen:
            n = seg.mvcc.n
            xmax = seg.mvcc.xmax
            keep = np.ones(n, bool) if xmax is None else xmax[:n] > horizon
            if ttl_mask is not None and (m := ttl_mask(seg)) is not None:
                keep &= ~m[:n]
            offs = np.flatnonzero(keep).astype(np.int64)
            if len(offs):  # a segment with nothing left is dropped, not rewritten
                parts.append(seg.batch.take(pa.array(offs)))
            xmins.append(seg.mvcc.inserted_at(offs))
            sources.append((np.int64(seg.segment_id) << 32) | offs)
        stats["segments_in"] = len(chosen)
        stats["rows_in"] = sum(s.mvcc.n for s in chosen)
        order = np.argsort(np.concatenate(xmins), kind="stable")
        source = np.concatenate(sources)[order]
        stats["rows_out"] = len(source)
        seg: SealedSegment | None = None
        if len(source):
            batch = unify(parts).take(pa.array(order))
            with eng._commit_lock:
                new_id = table.next_segment_id
                table.next_segment_id += 1
            seg = _write(eng, oid, new_id, batch, source)
            _crash_point("written")
            _build_indexes(eng, oid, seg)
        with eng._ckpt_lock, eng._commit_lock:
            if eng._tables.get(oid) is not table or any(
                    table.by_id.get(s.segment_id) is not s for s in chosen):
                if seg is not None:
                    _discard(seg)  # dropped, truncated away or compacted meanwhile
                return {**stats, "skipped": "changed"}
            payload = json.dumps({"oid": oid, "new": None if seg is None else seg.segment_id,
                                  "removed": [s.segment_id for s in chosen]}).encode()
            lsn = eng._wal.append(eng._last_ts, OP_COMPACT, [payload])
            eng._wal.mark_applied(lsn, eng._last_ts)
            _swap(eng, table, chosen, seg, source, live=True)
        eng._wal.wait_durable(lsn)
        # new segment id -1: nothing survived (source is empty)
        _notify_remap(eng, oid, [s.segment_id for s in chosen],
                      -1 if seg is None else seg.segment_id, eng._epoch, source)
        _crash_point("swapped")
    eng.checkpoint()  # the new segment list becomes a manifest version; the WAL record goes
    _crash_point("checkpointed")
    release_unpinned(eng)
    return stats


def _any(mask: Mask | None, seg: SealedSegment) -> bool:
    m = None if mask is None else mask(seg)
    return m is not None and bool(m.any())


def _write(eng: StorageEngine, oid: int, new_id: int, batch: pa.RecordBatch,
           source: np.ndarray) -> SealedSegment:
    if eng.path is None:
        return SealedSegment(new_id, batch, Mvcc())
    path = segment_dir(eng.path, oid, new_id)
    write_sealed(path, batch)
    src = os.path.join(path, SOURCE_FILE)
    tab = pa.table({"rowid": pa.array(source, pa.int64())})
    with pa.OSFile(src, "wb") as sink, pa.ipc.new_file(sink, tab.schema) as w:
        w.write_table(tab)
    for name in ("data.arrow", "stats.json", SOURCE_FILE):
        fsync_file(os.path.join(path, name))
    fsync_dir(path)
    fsync_dir(os.path.dirname(path))
    seg = SealedSegment.load(new_id, path)
    return seg


def _discard(seg: SealedSegment) -> None:
    if seg.path is not None:
        shutil.rmtree(seg.path, ignore_errors=True)


def _build_indexes(eng: StorageEngine, oid: int, seg: SealedSegment) -> None:
    """The new segment's vector indexes, built before it is published (no exact-scan gap)."""
    for spec in list(eng._indexes.specs.get(oid, {}).values()):
        matrix = segment_matrix(seg, spec.column_id, spec.metric)
        if matrix is None or not len(matrix):
            continue
        index = build_index(spec, seg, matrix, threads=eng._indexes.threads)
        fname = None
        if seg.path is not None:
            fname = file_name(spec)  # tenant sub-indexes have their own folder name
            index.save(os.path.join(seg.path, fname))
        seg.vector_indexes[spec.index_oid] = IndexSlot(spec, fname, index)


def _carry_mvcc(table: TableData, source: np.ndarray) -> Mvcc:
    """xmin and xmax of the new rows, read from the old rows (all deletes up to now)."""
    xmin = table.inserted_at(source)
    xmax = table.deleted_at(source)
    xmax = np.where(xmax == 0, INF_TS, xmax)  # 0: not found (cannot happen under the lock)
    mvcc = Mvcc()
    if len(source):
        mvcc.append(len(source), 0)
        mvcc.xmin[: len(source)] = xmin
        mvcc.max_xmin = int(xmin.max())
        dead = np.flatnonzero(xmax != INF_TS)
        if len(dead):
            mvcc.delete(dead, 0)
            mvcc.xmax[dead] = xmax[dead]
            mvcc.min_xmax = int(xmax[dead].min())
            mvcc.max_xmax = int(xmax[dead].max())
    return mvcc


def _swap(eng: StorageEngine, table: TableData, chosen: list, seg: SealedSegment | None,
          source: np.ndarray, live: bool) -> None:
    """Step 3 (the caller holds the commit lock, or replays). ``seg`` None: nothing of the
    chosen segments survived; they are only removed."""
    if seg is not None:
        seg.mvcc = _carry_mvcc(table, source)
        seg.synced = True
    eng._epoch += 1
    removed = tuple(chosen)
    if live:
        order = np.argsort(source, kind="stable")
        new_id = -1 if seg is None else seg.segment_id
        new_ids = (np.int64(new_id) << 32) | np.arange(len(source), dtype=np.int64)
        table.forwards.append(Forward(eng._epoch, frozenset(s.segment_id for s in chosen),
                                      source[order], new_ids[order]))
        table.compactions.append(Compaction(
            eng._epoch, removed, new_id,
            [s.path for s in chosen if s.path is not None]))
    if seg is not None:
        table.add(seg)
    table.remove({s.segment_id for s in chosen})
    table.key_maps.clear()  # keyed by row id: rebuilt on next use


def replay(eng: StorageEngine, payload: memoryview) -> None:
    """Redo a compaction found in the WAL at recovery (its folder was fsynced before it)."""
    rec = json.loads(bytes(payload))
    table = eng._tables.get(rec["oid"])
    if table is None or eng.path is None:
        return
    chosen = [table.by_id[s] for s in rec["removed"] if s in table.by_id]
    if rec["new"] is None:  # every row of the chosen segments was dropped
        _swap(eng, table, chosen, None, np.empty(0, np.int64), live=False)
        return
    path = segment_dir(eng.path, table.oid, rec["new"])
    seg = SealedSegment.load(rec["new"], path)
    with pa.memory_map(os.path.join(path, SOURCE_FILE), "r") as f:
        source = pa.ipc.open_file(f).read_all().column("rowid").to_numpy()
    _swap(eng, table, chosen, seg, source, live=False)
    table.next_segment_id = max(table.next_segment_id, rec["new"] + 1)
    eng._indexes.on_sealed(table.oid, seg)


def min_active_epoch(eng: StorageEngine) -> int:
    with eng._active_lock:
        epochs = [getattr(o, "epoch", None) if not hasattr(o, "_snapshot")
                  else o._snapshot.epoch for o in list(eng._active)]
    return min((e for e in epochs if e is not None), default=eng._epoch)


def release_unpinned(eng: StorageEngine) -> None:
    """Forget forwards and old segments no active snapshot can use; remove their folders
    (the manifest stopped listing them at the checkpoint after the swap)."""
    oldest = min_active_epoch(eng)
    for table in list(eng._tables.values()):
        if not table.compactions:
            continue
        with eng._commit_lock:
            done = [c for c in table.compactions if c.epoch <= oldest]
            table.compactions = [c for c in table.compactions if c.epoch > oldest]
            table.forwards = [f for f in table.forwards if f.epoch > oldest]
        if eng.checkpoint_lsn and done:
            for c in done:
                for p in c.paths:
                    shutil.rmtree(p, ignore_errors=True)


def compact_all(eng: StorageEngine, policy: Policy = Policy(), ttl_masks=None) -> dict:
    """Compact every table that needs it; ``ttl_masks``: oid -> ttl_mask function (other
    tables use their own TTL, as :func:`compact_table` does)."""
    total = {"tables": 0, "rows_in": 0, "rows_out": 0}
    for oid in list(eng._tables):
        ttl = (ttl_masks or {}).get(oid)
        s = compact_table(eng, oid, policy, ttl)
        if s["segments_in"]:
            total["tables"] += 1
            total["rows_in"] += s["rows_in"]
            total["rows_out"] += s["rows_out"]
    return total


class Compactor:
    """The background loop: every ``interval`` seconds, compact what the policy picks."""

    def __init__(self, eng: StorageEngine) -> None:
        self.eng = eng
        self.interval = 60.0
        self.policy = Policy()
        self.ttl_masks: dict = {}
        self._last = time.monotonic()

    def tick(self) -> None:
        if self.interval <= 0 or time.monotonic() - self._last < self.interval:
            release_unpinned(self.eng)
            return
        self._last = time.monotonic()
        compact_all(self.eng, self.policy, self.ttl_masks)


__all__ = ["CRASH_ENV", "OP_COMPACT", "Compaction", "Compactor", "Forward", "Policy",
           "compact_all", "compact_table", "forward", "min_active_epoch", "on_remap", "pick",
           "release_unpinned", "replay"]
