"""Snapshots and transactions.

A transaction's writes stay private until commit. Its inserted rows get *provisional* row ids
in a private segment (``PRIVATE_SEGMENT << 32 | n``), valid for its own scans, deletes and
find_conflicts; commit places them in the table's growing segment, and :meth:`Txn.final_rowids`
maps provisional ids to the committed ones. (Placing rows at commit rather than at insert keeps
segments free of holes left by rolled-back transactions, and keeps xmin sorted per segment.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sqlvec.errors import InvalidTransactionState, SerializationFailure
from sqlvec.storage import records
from sqlvec.storage.bulk import discard as bulk_discard
from sqlvec.storage.bulk import place as bulk_place
from sqlvec.storage.bulk import stage as stage_bulk
from sqlvec.storage.bulk import unplace as bulk_unplace
from sqlvec.storage.mvcc import INF_TS
from sqlvec.storage.segment import Columns, columns_of_batches
from sqlvec.storage.table import OFFSET_MASK
from sqlvec.storage.unique import (
    UniqueSpec,
    first_duplicate,
    has_duplicates,
    key_list,
    positional_key_list,
    violation,
)
from sqlvec.storage.view import SegmentView, segment_view


def segments_at(table, epoch: int) -> tuple:
    """The segment list of a snapshot taken at compaction ``epoch``."""
    segs = {s.segment_id: s for s in table.segments}
    for c in reversed(table.compactions):
        if c.epoch > epoch:
            segs.pop(c.new_id, None)
            for s in c.removed:
                segs[s.segment_id] = s
    return tuple(segs[k] for k in sorted(segs))

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine

PRIVATE_SEGMENT = 0x7FFF_FFFF
PRIVATE_BASE = np.int64(PRIVATE_SEGMENT) << 32
_EMPTY = np.empty(0, np.int64)


def serialization_failure() -> SerializationFailure:
    return SerializationFailure("could not serialize access due to concurrent update")


class Snapshot:
    """Read-only view of the latest durable commit at the time it was taken."""

    def __init__(self, ts: int, tables: dict, epoch: int | None = None) -> None:
        self.ts = ts
        self._tables = tables  # the engine's table dict then (replaced, never mutated)
        self.epoch = epoch  # compactions seen (None: always the current segment list)
        self.wall = time.time()  # no statement reading it starts earlier (TTL: expiry.py)

    def scan(self, table_oid: int, columns: Columns) -> Iterator[SegmentView]:
        table = self._tables.get(table_oid)
        if table is None:
            return
        segments = table.segments
        comps = table.compactions
        if comps and self.epoch is not None and comps[-1].epoch > self.epoch:
            segments = segments_at(table, self.epoch)  # keep reading the pre-swap segments
        for seg in segments:
            view = segment_view(seg, self.ts, columns)
            if view is not None:
                yield view


class _Own:
    """One table's private writes in a transaction."""

    __slots__ = ("batches", "n", "dead", "deletes", "truncated", "dropped", "specs", "maps",
                 "_deleted", "bulk")

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []
        self.n = 0
        self.dead: list[np.ndarray] = []  # private offsets deleted again
        self.deletes: list[np.ndarray] = []  # committed row ids deleted
        self.truncated = False
        self.dropped = False
        self.specs: dict[tuple, UniqueSpec] = {}
        self.maps: dict[tuple, dict] = {}  # own live rows: key -> provisional row id
        self._deleted: tuple[int, np.ndarray] = (0, _EMPTY)  # cache: (len(deletes), ids)
        # rows staged as sealed segment folders (sqlvec.storage.bulk): index in ``batches``
        # -> (first own offset, folder)
        self.bulk: dict[int, tuple[int, str]] = {}

    def copy(self) -> _Own:
        o = _Own()
        o.batches, o.n, o.dead, o.deletes = self.batches[:], self.n, self.dead[:], self.deletes[:]
        o.truncated, o.dropped, o.specs = self.truncated, self.dropped, dict(self.specs)
        o.bulk = dict(self.bulk)
        return o  # maps are rebuilt on demand

    def live_mask(self) -> np.ndarray | None:
        if not self.dead:
            return None
        mask = np.ones(self.n, bool)
        for d in self.dead:
            mask[d] = False
        return mask

    def deleted(self) -> np.ndarray:
        if self._deleted[0] != len(self.deletes) or (self.deletes and not len(self._deleted[1])):
            ids = np.concatenate(self.deletes) if self.deletes else _EMPTY
            self._deleted = (len(self.deletes), ids)
        return self._deleted[1]

    def key_map(self, spec: UniqueSpec) -> dict:
        m = self.maps.get(spec.ident)
        if m is None:
            keys: list = []
            for b in self.batches:
                keys.extend(key_list(b, spec.column_ids))
            live = self.live_mask()
            rid = (PRIVATE_BASE | np.arange(self.n, dtype=np.int64)).tolist()
            m = {k: r for i, (k, r) in enumerate(zip(keys, rid))
                 if k is not None and (live is None or live[i])}
            self.maps[spec.ident] = m
        return m


class Txn:
    """A transaction. Not thread-safe itself; many transactions on many threads are."""

    def __init__(self, engine: StorageEngine, snapshot_ts: int, tables: dict) -> None:
        self.snapshot_ts = snapshot_ts
        self._engine = engine
        self._snapshot = Snapshot(snapshot_ts, tables)
        self._own: dict[int, _Own] = {}
        self._catalog: dict | None = None
        self._committed: list[records.Entry] = []
        # sqlvec.growing_segment_max_bytes for this commit (None: the engine's default)
        self.growing_max_bytes: int | None = None
        self._staged: list[str] = []  # bulk folders written by this transaction
        self.done = False

    # -- reads ---------------------------------------------------------------------------
    def scan(self, table_oid: int, columns: Columns) -> Iterator[SegmentView]:
        own = self._own.get(table_oid)
        if own is None:
            yield from self._snapshot.scan(table_oid, columns)
            return
        if not own.truncated and not own.dropped:
            deleted = own.deleted()
            for view in self._snapshot.scan(table_oid, columns):
                if len(deleted):
                    mine = deleted[(deleted >> 32) == view.segment_id] & OFFSET_MASK
                    mine = mine[mine < view.num_rows]
                    if len(mine):
                        mask = (np.ones(view.num_rows, bool) if view.visible is None
                                else view.visible.copy())
                        mask[mine] = False
                        view.visible = mask
                yield view
        if own.n:
            live = own.live_mask()
            if live is None or live.any():
                yield SegmentView(PRIVATE_SEGMENT, own.n,
                                  columns_of_batches(own.batches, own.n, columns), live)

    # -- writes --------------------------------------------------------------------------
    def _writable(self, table_oid: int) -> _Own:
        if self.done:
            raise InvalidTransactionState("transaction is already finished")
        own = self._own.get(table_oid)
        if own is None:
            own = self._own[table_oid] = _Own()
        return own

    def insert(self, table_oid: int, data: pa.Table | pa.RecordBatch,
               unique: list[UniqueSpec] | tuple = (), *, bulk: bool = False) -> np.ndarray:
        """Insert rows privately; returns their provisional row ids. ``bulk``: write them
        now as a sealed segment folder that COMMIT publishes without logging the rows
        (sqlvec.storage.bulk; ignored by an in-memory engine)."""
        own = self._writable(table_oid)
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        batches = [b for b in batches if b.num_rows]
        n = sum(b.num_rows for b in batches)
        if n == 0:
            return _EMPTY.copy()
        checked: list[tuple[UniqueSpec, list]] = []
        for spec in unique:
            keys: list = []
            for b in batches:
                keys.extend(key_list(b, spec.column_ids))
            self._check_unique(table_oid, own, spec, keys)
            checked.append((spec, keys))
        start = own.n
        if bulk and self._engine.path is not None:
            path, mapped = stage_bulk(self._engine.path, table_oid, batches)
            self._staged.append(path)
            own.bulk[len(own.batches)] = (start, path)
            batches = [mapped]  # read back from the file: no second copy in memory
        own.batches.extend(batches)
        own.n += n
        rowids = PRIVATE_BASE | np.arange(start, start + n, dtype=np.int64)
        rid = rowids.tolist()
        for spec, keys in checked:
            own.specs[spec.ident] = spec
            m = own.key_map(spec)
            m.update(zip(keys, rid))
            m.pop(None, None)
        done = {s.ident for s, _ in checked}
        for ident, m in own.maps.items():  # maps of specs not given this time stay exact
            if ident not in done:
                m.update(zip(key_list(pa.Table.from_batches(batches), ident[1]), rid))
                m.pop(None, None)
        return rowids

    def _check_unique(self, table_oid: int, own: _Own, spec: UniqueSpec, keys: list) -> None:
        if has_duplicates(keys):
            raise violation(spec, first_duplicate(keys))
        mine = own.key_map(spec)
        for k in keys:
            if k is not None and k in mine:
                raise violation(spec, k)
        if own.truncated:
            return  # every committed row is gone for us
        committed = self._engine._committed_key_map(table_oid, spec)
        hits = [(k, r) for k in keys if k is not None and (r := committed.get(k)) is not None]
        if hits:
            ids = np.array([r for _, r in hits], np.int64)
            table = self._engine._tables.get(table_oid)
            mine_gone = own.deleted() if table is None else table.forward(own.deleted())
            gone = np.isin(ids, mine_gone)
            if not gone.all():
                # A key taken by a commit our snapshot cannot see is a concurrent write to the
                # same key (typically a concurrent UPDATE of the row we are replacing): that is
                # a serialization failure, not a duplicate the user could have seen.
                table = self._engine._tables.get(table_oid)
                if table is not None and (table.inserted_at(ids[~gone]) > self.snapshot_ts).any():
                    raise serialization_failure()
            for (k, _), g in zip(hits, gone.tolist()):
                if not g:
                    raise violation(spec, k)

    def delete(self, table_oid: int, rowids: np.ndarray) -> None:
        own = self._writable(table_oid)
        rowids = np.asarray(rowids, np.int64)
        private = (rowids >> 32) == PRIVATE_SEGMENT
        if private.any():
            own.dead.append(rowids[private] & OFFSET_MASK)
            own.maps.clear()
        shared = rowids[~private]
        if not len(shared):
            return
        table = self._engine._tables.get(table_oid)
        if table is None:
            raise serialization_failure()
        xmax = table.deleted_at(shared)
        if ((xmax != INF_TS) & (xmax > self.snapshot_ts)).any():
            raise serialization_failure()
        # Rows deleted at or before our snapshot were never visible to us: nothing to do.
        own.deletes.append(shared[xmax == INF_TS])

    def find_conflicts(self, table_oid: int, spec: UniqueSpec, keys: pa.Table) -> np.ndarray:
        own = self._own.get(table_oid)
        kl = positional_key_list(keys)
        out = np.full(len(kl), -1, np.int64)
        mine = own.key_map(spec) if own is not None else {}
        truncated = own is not None and (own.truncated or own.dropped)
        committed = {} if truncated else self._engine._committed_key_map(table_oid, spec)
        cand_pos, cand_rid = [], []
        for i, k in enumerate(kl):
            if k is None:
                continue
            r = mine.get(k)
            if r is not None:
                out[i] = r
            elif (r := committed.get(k)) is not None:
                cand_pos.append(i)
                cand_rid.append(r)
        if cand_pos:
            rid = np.array(cand_rid, np.int64)
            if own is not None:
                table = self._engine._tables.get(table_oid)
                gone = own.deleted() if table is None else table.forward(own.deleted())
                keep = ~np.isin(rid, gone)
                out[np.array(cand_pos)[keep]] = rid[keep]
            else:
                out[cand_pos] = rid
        return out

    def truncate(self, table_oid: int) -> None:
        own = self._writable(table_oid)
        own.truncated = True
        self._kill_own(own)

    def drop_table(self, table_oid: int) -> None:
        own = self._writable(table_oid)
        own.dropped = True
        self._kill_own(own)

    @staticmethod
    def _kill_own(own: _Own) -> None:
        if own.n:
            own.dead.append(np.arange(own.n, dtype=np.int64))
        own.deletes = []
        own._deleted = (0, _EMPTY)
        own.maps.clear()

    def set_catalog(self, blob: dict) -> None:
        if self.done:
            raise InvalidTransactionState("transaction is already finished")
        self._catalog = blob

    # -- savepoints ----------------------------------------------------------------------
    def savepoint(self) -> object:
        return ({oid: o.copy() for oid, o in self._own.items()}, self._catalog)

    def rollback_to(self, token: object) -> None:
        own, catalog = token  # type: ignore[misc]
        self._own = {oid: o.copy() for oid, o in own.items()}
        self._catalog = catalog

    # -- end -----------------------------------------------------------------------------
    def _entries(self) -> list[records.Entry]:
        """The changes to log and apply, built (and serialised) outside the commit lock."""
        out: list[records.Entry] = []
        if self._catalog is not None:
            out.append(records.Catalog(self._catalog))
        for oid, own in self._own.items():
            if own.dropped:
                out.append(records.Drop(oid))
                continue
            if own.truncated:
                out.append(records.Truncate(oid))
            if own.deletes:
                out.append(records.Delete(oid, np.unique(np.concatenate(own.deletes))))
            for batch in _live_batches(own):
                ins = records.Insert(oid, batch)
                ins.serialize()
                out.append(ins)
            out += _bulk_entries(oid, own)
        return out

    def commit(self, *, synchronous: bool | None = None) -> int:
        """Commit; returns the commit ts. Durable before returning unless asynchronous."""
        if self.done:
            raise InvalidTransactionState("transaction is already finished")
        loads: list[records.Bulk] = []
        try:
            entries = self._entries()
            if not entries:
                return self.snapshot_ts
            loads = [e for e in entries if isinstance(e, records.Bulk)]
            created: list[int] = []
            try:
                if loads:
                    created = bulk_place(self._engine, loads)
                ts = self._engine._commit(self, entries, synchronous)
            except BaseException:
                bulk_unplace(self._engine, loads, created)
                raise
            self._committed = entries  # for final_rowids
            return ts
        finally:
            self.done = True
            self._engine._release(self)
            # folders no entry took (rolled back to a savepoint, truncated or dropped
            # before COMMIT); the others were renamed to their segments at COMMIT
            bulk_discard([p for p in self._staged if os.path.isdir(p)])

    def rollback(self) -> None:
        self.done = True
        self._own = {}
        self._engine._release(self)
        bulk_discard(self._staged)

    def final_rowids(self, table_oid: int, provisional: np.ndarray) -> np.ndarray:
        """After commit: the committed row ids of rows inserted with these provisional ids
        (-1 for rows the transaction deleted again)."""
        placed = _placement(self._own[table_oid], [
            e for e in self._committed if getattr(e, "oid", None) == table_oid])
        return placed[np.asarray(provisional, np.int64) & OFFSET_MASK]

    # -- used by the engine at commit ----------------------------------------------------
    def own_tables(self) -> dict[int, _Own]:
        return self._own

    @property
    def catalog_change(self) -> dict | None:
        return self._catalog


def _live_batches(own: _Own) -> list[pa.RecordBatch]:
    """Own rows not deleted again (bulk-staged ones aside), as few batches as the schemas
    allow."""
    if not own.n:
        return []
    live = own.live_mask()
    batches, pos = [], 0
    for i, b in enumerate(own.batches):
        keep = live[pos : pos + b.num_rows] if live is not None else None
        pos += b.num_rows
        if i in own.bulk:
            continue
        if keep is not None and not keep.all():
            b = b.filter(pa.array(keep))
        if b.num_rows:
            batches.append(b)
    groups: list[list[pa.RecordBatch]] = []
    for b in batches:
        if groups and groups[-1][0].schema.equals(b.schema):
            groups[-1].append(b)
        else:
            groups.append([b])
    return [g[0] if len(g) == 1 else pa.concat_batches(g) for g in groups]


def _bulk_entries(oid: int, own: _Own) -> list[records.Bulk]:
    """One Bulk entry per staged folder that still has a live row."""
    if not own.bulk or own.dropped:
        return []
    live = own.live_mask()
    out = []
    for i, (start, path) in sorted(own.bulk.items()):
        rows = own.batches[i].num_rows
        keep = None if live is None else live[start : start + rows]
        if keep is not None and not keep.any():
            continue
        dead = _EMPTY if keep is None else np.flatnonzero(~keep).astype(np.int64)
        out.append(records.Bulk(oid, -1, rows, dead, staged=path, batch=own.batches[i]))
    return out


def _placement(own: _Own, entries: list) -> np.ndarray:
    """Own offset -> committed row id (-1: deleted again, or in no segment)."""
    out = np.full(own.n, -1, np.int64)
    live = own.live_mask()
    bulk_rows = np.zeros(own.n, bool)
    placed = {id(e.batch): e for e in entries if isinstance(e, records.Bulk)}
    for i, (start, _path) in own.bulk.items():
        rows = own.batches[i].num_rows
        bulk_rows[start : start + rows] = True
        e = placed.get(id(own.batches[i]))  # the staged folder was renamed at commit
        if e is not None:
            out[start : start + rows] = (np.int64(e.segment_id) << 32) | np.arange(
                rows, dtype=np.int64)
    plain = ~bulk_rows if live is None else ~bulk_rows & live
    pieces = [(np.int64(s) << 32) | np.arange(o, o + c, dtype=np.int64)
              for e in entries if isinstance(e, records.Insert) for s, o, c in e.pieces]
    if pieces:
        out[np.flatnonzero(plain)] = np.concatenate(pieces)
    if live is not None:
        out[~live] = -1
    return out
