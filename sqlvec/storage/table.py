"""The committed state of one table: its segments, where new rows go, its unique key maps.

Every method that changes state runs under the engine's commit lock (commit or replay), except
:meth:`TableData.replace`, which the sealer calls; both take ``self.lock`` around the segment
list, which readers pick up as an immutable tuple without locking.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sqlvec.errors import DataCorrupted
from sqlvec.storage.segment import GrowingSegment, SealedSegment
from sqlvec.storage.unique import UniqueSpec, key_list

Segment = GrowingSegment | SealedSegment
OFFSET_MASK = 0xFFFF_FFFF


def split_rowids(rowids: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(segment id, offsets, positions in ``rowids``) per segment."""
    rowids = np.asarray(rowids, np.int64)
    segs = rowids >> 32
    if len(segs) and (segs == segs[0]).all():
        yield int(segs[0]), rowids & OFFSET_MASK, np.arange(len(rowids))
        return
    for seg in np.unique(segs):
        pos = np.flatnonzero(segs == seg)
        yield int(seg), rowids[pos] & OFFSET_MASK, pos


def forward(table: TableData, rowids: np.ndarray) -> np.ndarray:
    """Row ids translated through every compaction since they were read (-1: dropped)."""
    fws = table.forwards
    if not fws or not len(rowids):
        return rowids
    out = np.asarray(rowids, np.int64).copy()
    for fw in fws:
        segs = out >> 32
        hit = np.isin(segs, list(fw.removed))
        if not hit.any():
            continue
        if not len(fw.old):
            out[hit] = -1
            continue
        ids = out[hit]
        pos = np.minimum(np.searchsorted(fw.old, ids), len(fw.old) - 1)
        out[hit] = np.where(fw.old[pos] == ids, fw.new[pos], -1)
    return out

class TableData:
    def __init__(self, oid: int, seal_rows: int) -> None:
        self.oid = oid
        self.seal_rows = seal_rows
        self.segments: tuple[Segment, ...] = ()  # what readers iterate
        self.by_id: dict[int, Segment] = {}
        self.next_segment_id = 0
        self.growing: GrowingSegment | None = None
        self.key_maps: dict[tuple, dict] = {}
        self.lock = threading.Lock()
        # sqlvec.storage.compaction: row id maps and old segments that live snapshots need
        self.forwards: list = []
        self.compactions: list = []

    # -- segment list --------------------------------------------------------------------
    def add(self, seg: Segment) -> None:
        with self.lock:
            self.by_id[seg.segment_id] = seg
            self.segments = tuple(sorted(self.by_id.values(), key=lambda s: s.segment_id))
            self.next_segment_id = max(self.next_segment_id, seg.segment_id + 1)

    def replace(self, seg: Segment) -> None:
        """Swap a growing segment for its sealed form (same id, same Mvcc)."""
        with self.lock:
            if seg.segment_id in self.by_id:
                self.by_id[seg.segment_id] = seg
                self.segments = tuple(self.by_id[s.segment_id] for s in self.segments)

    def remove(self, segment_ids: set[int]) -> None:
        with self.lock:
            for sid in segment_ids:
                self.by_id.pop(sid, None)
            self.segments = tuple(s for s in self.segments if s.segment_id not in segment_ids)
            if self.growing is not None and self.growing.segment_id in segment_ids:
                self.growing = None

    # -- inserts -------------------------------------------------------------------------
    def plan(self, sizes: list[int]) -> list[list[tuple[int, int, int]]]:
        """Where batches of these sizes will go: (segment, offset, count) pieces each."""
        g = self.growing
        seg, off, room = (g.segment_id, g.mvcc.n, g.room) if g is not None else (-1, 0, 0)
        next_id = self.next_segment_id
        plans = []
        for size in sizes:
            pieces, left = [], size
            while left > 0:
                if room == 0:
                    seg, off, room = next_id, 0, self.seal_rows
                    next_id += 1
                take = min(left, room)
                pieces.append((seg, off, take))
                off, room, left = off + take, room - take, left - take
            plans.append(pieces)
        return plans

    def apply_insert(self, batch: pa.RecordBatch, pieces: list[tuple[int, int, int]],
                     ts: int) -> list[GrowingSegment]:
        """Append rows at the planned places; returns segments that became full."""
        full = []
        pos = 0
        for seg_id, off, count in pieces:
            g = self.growing
            if g is None or g.segment_id != seg_id:
                if g is not None:
                    g.closed = True
                g = GrowingSegment(seg_id, self.seal_rows)
                self.growing = g
                self.add(g)
            if off != g.mvcc.n:
                raise DataCorrupted(
                    f"table {self.oid}: insert at offset {off} of segment {seg_id}, "
                    f"which has {g.mvcc.n} rows")
            part = batch if count == batch.num_rows else batch.slice(pos, count)
            g.append(part, ts)
            if self.key_maps:
                rowids = (np.int64(seg_id) << 32) | np.arange(off, off + count, dtype=np.int64)
                self._map_insert(part, rowids)
            pos += count
            if g.closed:
                full.append(g)
        return full

    # -- deletes -------------------------------------------------------------------------
    def deleted_at(self, rowids: np.ndarray) -> np.ndarray:
        """xmax of each row; 0 for rows of segments that no longer exist."""
        if self.forwards:
            rowids = forward(self, rowids)  # ids read before a compaction
        out = np.zeros(len(rowids), np.int64)
        for seg_id, offs, pos in split_rowids(rowids):
            seg = self.by_id.get(seg_id) if seg_id >= 0 else None
            if seg is not None:
                inside = offs < seg.mvcc.n
                out[pos[inside]] = seg.mvcc.deleted_at(offs[inside])
        return out

    def inserted_at(self, rowids: np.ndarray) -> np.ndarray:
        """xmin of each row; 0 for rows of segments that no longer exist."""
        if self.forwards:
            rowids = forward(self, rowids)
        out = np.zeros(len(rowids), np.int64)
        for seg_id, offs, pos in split_rowids(rowids):
            seg = self.by_id.get(seg_id) if seg_id >= 0 else None
            if seg is not None:
                inside = offs < seg.mvcc.n
                out[pos[inside]] = seg.mvcc.inserted_at(offs[inside])
        return out

    def apply_delete(self, rowids: np.ndarray, ts: int) -> None:
        rowids = np.asarray(rowids, np.int64)
        rowids = rowids[rowids >= 0]  # -1: a row compaction dropped (deleted before)
        for seg_id, offs, _ in split_rowids(rowids):
            seg = self.by_id.get(seg_id)
            if seg is None:
                raise DataCorrupted(f"table {self.oid}: delete in missing segment {seg_id}")
            if self.key_maps:
                self._map_delete(seg, offs)
            seg.mvcc.delete(offs, ts)

    def apply_truncate(self, ts: int) -> None:
        for seg in self.segments:
            live = seg.mvcc.live_latest(seg.mvcc.n)
            offs = np.arange(seg.mvcc.n) if live is None else np.flatnonzero(live)
            seg.mvcc.delete(offs, ts)
        for m in self.key_maps.values():
            m.clear()

    def live_rows(self) -> int:
        total = 0
        for seg in self.segments:
            n = seg.mvcc.n
            live = seg.mvcc.live_latest(n)
            total += n if live is None else int(live.sum())
        return total

    def forward(self, rowids: np.ndarray) -> np.ndarray:
        """Row ids read before a compaction, as they are now (-1: dropped by it)."""
        return forward(self, rowids) if self.forwards else rowids

    # -- unique key maps -----------------------------------------------------------------
    def key_map(self, spec: UniqueSpec) -> dict:
        """key -> row id over the latest committed live rows; built on first use."""
        m = self.key_maps.get(spec.ident)
        if m is None:
            m = {}
            for seg in self.segments:
                n = seg.mvcc.n
                live = seg.mvcc.live_latest(n)
                offs = np.arange(n, dtype=np.int64) if live is None else np.flatnonzero(live)
                keys = key_list(seg.take(spec.column_ids, offs), spec.column_ids)
                rowids = (np.int64(seg.segment_id) << 32) | offs
                m.update(zip(keys, rowids.tolist()))
            m.pop(None, None)
            self.key_maps[spec.ident] = m
        return m

    def _map_insert(self, part: pa.RecordBatch, rowids: np.ndarray) -> None:
        rid = rowids.tolist()
        for (_, cols), m in self.key_maps.items():
            m.update(zip(key_list(part, cols), rid))
            m.pop(None, None)

    def _map_delete(self, seg: Segment, offs: np.ndarray) -> None:
        rid = ((np.int64(seg.segment_id) << 32) | offs).tolist()
        for (_, cols), m in self.key_maps.items():
            for k, r in zip(key_list(seg.take(cols, offs), cols), rid):
                if k is not None and m.get(k) == r:
                    del m[k]
