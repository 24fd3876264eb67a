"""The storage engine: tables of segments, MVCC transactions, WAL, checkpoints, sequences.

Commit protocol (under one commit lock, so commit ts order = WAL order = apply order): check
conflicts, assign the ts, append one WAL record, apply to the in-memory segments. Outside the
lock the committer waits for the group fsync; the ts readers get (``visible_ts``) advances only
once the record is flushed, so no reader sees a commit that a crash could take back.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable

import numpy as np

from sqlvec.errors import ObjectNotInPrerequisiteState
from sqlvec.index import structure_for
from sqlvec.index.base import IndexSpec
from sqlvec.index.manager import BuildHandle, IndexManager
from sqlvec.index.options import validate_options
from sqlvec.storage import bulk, expiry, records
from sqlvec.storage.checkpoint import run_checkpoint
from sqlvec.storage.compaction import OP_COMPACT, Compactor
from sqlvec.storage.compaction import replay as replay_compaction
from sqlvec.storage.files import collect_garbage, dir_bytes, load_segment, segment_dir
from sqlvec.storage.manifest import DirLock, load_current
from sqlvec.storage.mvcc import INF_TS
from sqlvec.storage.segment import GrowingSegment, SealedSegment, unify, write_sealed
from sqlvec.storage.table import TableData
from sqlvec.storage.txn import Snapshot, Txn, serialization_failure
from sqlvec.storage.unique import UniqueSpec, violation
from sqlvec.storage.wal import OP_COMMIT, OP_SEQUENCE, NullWal, WalWriter, read_wal

log = logging.getLogger(__name__)

CHECKPOINT_WAL_BYTES = 256 << 20  # checkpoint when this much WAL accumulates
# sqlvec.growing_segment_max_bytes: the server's default, unless the environment sets it
GROWING_MAX_BYTES_ENV = "SQLVEC_GROWING_SEGMENT_MAX_BYTES"
GROWING_MAX_BYTES = 256 << 20
SEQ_PREFETCH = 32  # log sequences this far ahead, as PostgreSQL's SEQ_LOG_VALS


class StorageEngine:
    def __init__(self, path: str | None, synchronous_commit: bool, seal_rows: int) -> None:
        self.path = os.path.abspath(path) if path is not None else None
        self.synchronous_commit = synchronous_commit
        self.seal_rows = seal_rows
        self.catalog: dict = {}
        self._catalog_ts = 0
        self._tables: dict[int, TableData] = {}  # replaced (copy-on-write), never mutated
        self._dropped: dict[int, int] = {}  # oid -> ts of the commit that dropped it
        self._commit_lock = threading.Lock()
        self._ckpt_lock = threading.Lock()
        self._last_ts = 0
        self._visible_ts = 0
        self._visible_lock = threading.Lock()
        self._seqs: dict[int, list[int]] = {}  # id -> [next, logged horizon, horizon lsn]
        self._active: weakref.WeakSet = weakref.WeakSet()
        self._active_lock = threading.Lock()
        self._seal_queue: deque[tuple[TableData, GrowingSegment]] = deque()
        self._bg_cond = threading.Condition()
        self._bg_thread: threading.Thread | None = None
        self._stop = False
        self._closing = False
        self.manifest_version = 0
        self.checkpoint_lsn = 0
        self._ckpt_wal_bytes = 0
        self._lock: DirLock | None = None
        self._wal: WalWriter | NullWal
        self._manifest: dict | None = None  # the last published manifest (for republishing)
        self._indexes = IndexManager(self)  # vector indexes of sealed segments
        self._epoch = 0  # bumped by each compaction swap (see sqlvec.storage.compaction)
        self._compact_lock = threading.Lock()
        self.compactor = Compactor(self)
        self._ttl_rules: tuple[int, dict] | None = None
        self.growing_max_bytes = int(os.environ.get(GROWING_MAX_BYTES_ENV, GROWING_MAX_BYTES))
        self._growing_bytes = 0  # an upper bound of the bytes in open growing segments

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | None, *, synchronous_commit: bool = True,
             seal_rows: int = 131072) -> StorageEngine:
        eng = cls(path, synchronous_commit, seal_rows)
        if eng.path is None:
            eng._wal = NullWal(eng._advance_visible)
        else:
            eng._recover()
        eng._bg_thread = threading.Thread(target=eng._background, name="sqlvec-storage",
                                          daemon=True)
        eng._bg_thread.start()
        eng._indexes.start()
        return eng

    def _recover(self) -> None:
        root = self.path
        for sub in ("manifest", "wal", "tables"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        self._lock = DirLock(root)
        try:
            keep_files = self._load_manifest()
            last_lsn = self.checkpoint_lsn
            for rec in read_wal(os.path.join(root, "wal"), self.checkpoint_lsn):
                if rec.op == OP_COMMIT:
                    self._apply(rec.ts, records.decode(rec.payload))
                    self._last_ts = max(self._last_ts, rec.ts)
                elif rec.op == OP_SEQUENCE:
                    self._apply_sequence(records.decode_sequence(rec.payload), rec.lsn)
                elif rec.op == OP_COMPACT:
                    replay_compaction(self, rec.payload)
                last_lsn = rec.lsn
            # Leftovers of a crash between sealing/checkpointing/compacting and publishing a
            # manifest: after the replay, which may have published compacted segments.
            keep = {oid: {s.segment_id: s.delete_log for s in t.segments if s.sealed}
                    for oid, t in self._tables.items()}
            collect_garbage(self.path, keep, keep_files)
            self._visible_ts = self._last_ts
            self._wal = WalWriter(os.path.join(root, "wal"), last_lsn + 1, self._advance_visible)
        except BaseException:
            self._lock.release()
            raise

    def _load_manifest(self) -> dict[int, dict[int, set[str]]]:
        current = load_current(self.path)
        keep: dict[int, dict[int, str | None]] = {}
        keep_files: dict[int, dict[int, set[str]]] = {}  # index files the manifest lists
        if current is not None:
            self.manifest_version, m = current
            self.catalog, self._catalog_ts = m["catalog"], m["catalog_ts"]
            self._last_ts, self.checkpoint_lsn = m["max_ts"], m["checkpoint_lsn"]
            self._seqs = {int(k): [v, v, 0] for k, v in m["sequences"].items()}
            tables = {}
            for oid_s, t in m["tables"].items():
                table = TableData(int(oid_s), self.seal_rows)
                for entry in t["segments"]:
                    table.add(load_segment(self.path, table.oid, entry))
                table.next_segment_id = max(table.next_segment_id, t["next_segment"])
                tables[table.oid] = table
                keep[table.oid] = {e["id"]: e.get("deletes") for e in t["segments"]}
            self._tables = tables
            self._manifest = {k: v for k, v in m.items() if k not in ("format", "version")}
            self._indexes.restore(m)
            for oid_s, t in m["tables"].items():
                for e in t["segments"]:
                    keep_files.setdefault(int(oid_s), {})[e["id"]] = set(
                        (e.get("indexes") or {}).values())
        return keep_files

    # -- transactions --------------------------------------------------------------------
    def begin(self, ts: int | None = None) -> Txn:
        """A transaction reading the latest durable commit, or the snapshot ``ts`` (which
        the caller keeps readable by holding a snapshot at or below it: see consistency)."""
        self._check_open()
        with self._active_lock:
            txn = Txn(self, self._visible_ts if ts is None else ts, self._tables)
            txn._snapshot.epoch = self._epoch
            self._active.add(txn)
        return txn

    def snapshot(self, ts: int | None = None) -> Snapshot:
        """The latest durable commit, or the older snapshot ``ts`` raised to the horizon (rows
        deleted at or before it may be gone from segments and indexes: see consistency)."""
        self._check_open()
        with self._active_lock:
            if ts is None or ts > self._visible_ts:
                ts = self._visible_ts
            else:
                ts = max(ts, min((o.ts if isinstance(o, Snapshot) else o.snapshot_ts
                                  for o in list(self._active)), default=self._visible_ts))
            snap = Snapshot(ts, self._tables, self._epoch)
            self._active.add(snap)
        return snap

    def release(self, snap: Snapshot) -> None:
        """End a snapshot taken with :meth:`snapshot` (it no longer holds the horizon)."""
        self._release(snap)

    def _release(self, txn: Txn) -> None:
        with self._active_lock:
            self._active.discard(txn)

    def _horizon(self) -> int:
        """No active reader has a snapshot older than this."""
        with self._active_lock:
            stamps = [o.ts if isinstance(o, Snapshot) else o.snapshot_ts
                      for o in list(self._active)]
        return min(stamps, default=self._visible_ts)

    def _advance_visible(self, ts: int) -> None:
        with self._visible_lock:
            if ts > self._visible_ts:
                self._visible_ts = ts

    def _check_open(self) -> None:
        if self._closing:
            raise ObjectNotInPrerequisiteState("the storage engine is closed")

    def _committed_key_map(self, oid: int, spec: UniqueSpec) -> dict:
        table = self._tables.get(oid)
        if table is None:
            return {}
        m = table.key_maps.get(spec.ident)
        if m is None:
            with self._commit_lock:  # built from a state no commit is changing
                m = table.key_map(spec)
        return m

    def _commit(self, txn: Txn, entries: list[records.Entry], synchronous: bool | None) -> int:
        sync = self.synchronous_commit if synchronous is None else synchronous
        with self._commit_lock:
            self._check_open()
            self._check_conflicts(txn)
            sizes: dict[int, list[records.Insert]] = {}
            for e in entries:
                if isinstance(e, records.Insert):
                    sizes.setdefault(e.oid, []).append(e)
            for oid, inserts in sizes.items():
                table = self._tables.get(oid) or self._create_table(oid)
                for e, plan in zip(inserts, table.plan([e.batch.num_rows for e in inserts])):
                    e.pieces = plan
            for e in entries:
                if isinstance(e, records.Delete) and (t := self._tables.get(e.oid)) is not None:
                    e.rowids = t.forward(e.rowids)  # ids read before a compaction swap
            ts = self._last_ts + 1
            lsn = self._wal.append(ts, OP_COMMIT, records.encode(entries))
            self._apply(ts, entries)
            self._last_ts = ts
            if sizes:
                self._cap_growing(txn.growing_max_bytes)
            self._wal.mark_applied(lsn, ts)
            if not sync:
                self._advance_visible(ts)  # as PostgreSQL: visible before it is durable
        if sync:
            self._wal.wait_durable(lsn)
        if self._seal_queue or self._wal.bytes_written - self._ckpt_wal_bytes > \
                CHECKPOINT_WAL_BYTES:
            with self._bg_cond:
                self._bg_cond.notify()
        return ts

    def _check_conflicts(self, txn: Txn) -> None:
        """The commit-time re-checks: concurrent DDL, first updater wins, unique keys."""
        if txn.catalog_change is not None and self._catalog_ts > txn.snapshot_ts:
            raise serialization_failure()
        for oid, own in txn.own_tables().items():
            if self._dropped.get(oid, -1) > txn.snapshot_ts:
                raise serialization_failure()
            if own.dropped:
                continue
            table = self._tables.get(oid)
            if own.deletes and not own.truncated:
                if table is None or (table.deleted_at(own.deleted()) != INF_TS).any():
                    raise serialization_failure()
            if table is None or own.truncated or not own.n:
                continue
            for spec in own.specs.values():
                mine = own.key_map(spec)
                committed = table.key_map(spec)
                hits = [(k, r) for k in mine if (r := committed.get(k)) is not None]
                if hits:
                    gone = np.isin(np.array([r for _, r in hits], np.int64),
                                   table.forward(own.deleted()))
                    for (k, _), g in zip(hits, gone.tolist()):
                        if not g:
                            raise violation(spec, k)

    # -- applying changes (commit and replay) ------------------------------------------------
    def _create_table(self, oid: int) -> TableData:
        table = TableData(oid, self.seal_rows)
        self._tables = {**self._tables, oid: table}
        return table

    def _apply(self, ts: int, entries: list[records.Entry]) -> None:
        for e in entries:
            _APPLY[type(e)](self, e, ts)

    def _apply_catalog(self, e: records.Catalog, ts: int) -> None:
        blob = e.blob
        if blob.get("delta"):  # a DDL's change: merged into the JSON checkpoints write
            blob = records.merge_patch(self.catalog, blob)
        self.catalog, self._catalog_ts = blob, ts

    def _apply_drop(self, e: records.Drop, ts: int) -> None:
        self._tables = {k: v for k, v in self._tables.items() if k != e.oid}
        self._dropped[e.oid] = ts

    def _apply_truncate(self, e: records.Truncate, ts: int) -> None:
        if (table := self._tables.get(e.oid)) is not None:
            table.apply_truncate(ts)

    def _apply_delete(self, e: records.Delete, ts: int) -> None:
        self._tables[e.oid].apply_delete(e.rowids, ts)

    def _apply_bulk(self, e: records.Bulk, ts: int) -> None:
        seg = bulk.apply(self, e, ts)
        self._indexes.on_sealed(e.oid, seg)  # its index builds run in the background

    def _apply_insert(self, e: records.Insert, ts: int) -> None:
        table = self._tables.get(e.oid) or self._create_table(e.oid)
        self._growing_bytes += e.batch.nbytes
        for seg in table.apply_insert(e.batch, e.pieces, ts):
            self._seal_queue.append((table, seg))

    # -- sealing, checkpoints ------------------------------------------------------------
    def _cap_growing(self, limit: int | None) -> None:
        """sqlvec.growing_segment_max_bytes (commit lock held): when the open growing segments
        of all tables hold more than ``limit`` bytes, close the largest and hand it to the
        sealer (which writes it as a sealed segment and queues its index builds)."""
        limit = self.growing_max_bytes if limit is None else limit
        if limit <= 0 or self._growing_bytes <= limit:
            return
        open_segs = [(t.growing.nbytes, t.oid) for t in self._tables.values()
                     if t.growing is not None and not t.growing.closed]
        self._growing_bytes = sum(b for b, _ in open_segs)
        if self._growing_bytes <= limit:
            return
        _, oid = max(open_segs)
        table = self._tables[oid]
        g = table.growing
        assert g is not None
        g.closed = True
        self._seal_queue.append((table, g))
        self._growing_bytes -= g.nbytes

    def _seal(self, table: TableData, seg: GrowingSegment) -> None:
        """Turn a closed growing segment into a sealed one (same id, same Mvcc)."""
        with seg.mvcc.lock:
            if table.by_id.get(seg.segment_id) is not seg:
                return  # sealed already, or removed
            if seg.mvcc.n == 0:
                table.remove({seg.segment_id})
                return
            batch = unify(seg.batches)
            path = None
            if self.path is not None:
                path = segment_dir(self.path, table.oid, seg.segment_id)
                write_sealed(path, batch)
                sealed = SealedSegment.load(seg.segment_id, path)
                sealed.mvcc, sealed.synced = seg.mvcc, False
            else:
                sealed = SealedSegment(seg.segment_id, batch, seg.mvcc)
            table.replace(sealed)
        self._indexes.on_sealed(table.oid, sealed)  # queue its index builds (background)

    def checkpoint(self) -> None:
        """Seal all growing data, write delete logs, publish a manifest, trim the WAL."""
        with self._ckpt_lock:
            run_checkpoint(self, exact_sequences=False)

    def _background(self) -> None:
        while True:
            with self._bg_cond:
                if not self._seal_queue and not self._stop:
                    self._bg_cond.wait(timeout=0.2)
                if self._stop:
                    return
            try:
                while self._seal_queue:
                    self._seal(*self._seal_queue.popleft())
                if not self.synchronous_commit or self._wal.durable_lsn < self._wal.next_lsn - 1:
                    self._wal.flush()  # asynchronous commits become durable within ~200 ms
                if self._wal.bytes_written - self._ckpt_wal_bytes > CHECKPOINT_WAL_BYTES:
                    self.checkpoint()
                self.compactor.tick()
            except Exception:  # keep serving; the next checkpoint or close will retry
                log.exception("sqlvec storage background work failed")

    def close(self) -> None:
        """Checkpoint, stop the background thread, release the directory lock."""
        if self._closing:
            return
        with self._bg_cond:
            self._stop = True
            self._bg_cond.notify()
        if self._bg_thread is not None:
            self._bg_thread.join()
        self._indexes.stop()  # a build in progress is abandoned; redone at the next open
        if getattr(self, "_fulltext", None) is not None:
            self._fulltext.close()  # BM25 indexes: release tantivy's writer lock
        try:
            with self._ckpt_lock:
                with self._commit_lock:
                    self._closing = True
                run_checkpoint(self, exact_sequences=True)
                self._wal.close()
                if self.path is not None:
                    # The checkpoint covers every record: no WAL needs to survive.
                    wal_dir = os.path.join(self.path, "wal")
                    for name in os.listdir(wal_dir):
                        os.unlink(os.path.join(wal_dir, name))
        finally:
            if self._lock is not None:
                self._lock.release()

    # -- vector indexes ------------------------------------------------------------------
    def create_vector_index(self, table_oid: int, index_oid: int, column_id: str, method: str,
                            metric: str, options: dict | None = None, *,
                            progress: Callable[[int, int], None] | None = None,
                            wait: bool = True) -> BuildHandle:
        """Index every sealed segment of the table (and each one sealed later) in the
        background with all cores. ``method`` is 'hnsw' | 'ivfflat' (USING ...); metrics
        hnswlib lacks get an exact 'flat' index. Validates options as pgvector does (raises
        before anything is queued). ``wait``: return once the existing segments are indexed
        (CREATE INDEX); else at once (CONCURRENTLY: the handle's ``wait()`` joins later).
        ``progress(rows_done, rows_total)`` is called from the builder thread. Idempotent:
        calling it again for an index oid that exists re-queues only unindexed segments."""
        self._check_open()
        spec = IndexSpec(index_oid, column_id, structure_for(method, metric), metric,
                         validate_options(method, options or {}))
        handle = self._indexes.create(table_oid, spec, progress)
        if wait:
            handle.wait()
        return handle

    def drop_vector_index(self, table_oid: int, index_oid: int) -> None:
        """Forget the index: no new builds, slots removed, manifest republished, files gone."""
        self._indexes.drop(table_oid, index_oid)

    def vector_index_specs(self, table_oid: int) -> list[IndexSpec]:
        return list(self._indexes.specs.get(table_oid, {}).values())

    def wait_for_indexes(self, timeout: float | None = None) -> bool:
        """Block until the builder's queue is empty (tests, REINDEX-like waits)."""
        return self._indexes.wait_idle(timeout)

    # -- sequences -----------------------------------------------------------------------
    def seq_alloc(self, seq_id: int, count: int = 1) -> int:
        """First of ``count`` new values; durable before returning; never handed out twice."""
        with self._commit_lock:
            self._check_open()
            st = self._seqs.setdefault(seq_id, [1, 1, 0])
            first = st[0]
            if first + count > st[1]:
                st[1] = first + count + SEQ_PREFETCH
                st[2] = self._log_sequence({"id": seq_id, "upto": st[1]})
            st[0] = first + count
            lsn = st[2]
        self._wal.wait_durable(lsn)  # also when another caller logged the horizon we use
        return first

    def seq_set(self, seq_id: int, next_value: int) -> None:
        with self._commit_lock:
            self._check_open()
            lsn = self._log_sequence({"id": seq_id, "next": next_value})
            self._seqs[seq_id] = [next_value, next_value, lsn]
        self._wal.wait_durable(lsn)

    def _log_sequence(self, change: dict) -> int:
        lsn = self._wal.append(self._last_ts, OP_SEQUENCE, records.encode_sequence(change))
        self._wal.mark_applied(lsn, self._last_ts)
        return lsn

    def _apply_sequence(self, change: dict, lsn: int) -> None:
        value = change["upto"] if "upto" in change else change["next"]
        self._seqs[change["id"]] = [value, value, 0]

    def ttl_rules(self) -> dict:
        """oid -> :class:`sqlvec.storage.expiry.TtlRule` of the tables with a TTL."""
        cached = self._ttl_rules
        if cached is None or cached[0] != self._catalog_ts:
            cached = self._ttl_rules = (self._catalog_ts, expiry.rules(self.catalog))
        return cached[1]

    # -- information ---------------------------------------------------------------------
    def stats(self, table_oid: int) -> dict:
        table = self._tables.get(table_oid)
        if table is None:
            return {"rows": 0, "segments": 0, "bytes": 0}
        on_disk = 0
        if self.path is not None:
            on_disk = dir_bytes(os.path.join(self.path, "tables", str(table_oid)))
        return {"rows": table.live_rows(), "segments": len(table.segments), "bytes": on_disk}

    @property
    def visible_ts(self) -> int:
        return self._visible_ts


_APPLY = {
    records.Catalog: StorageEngine._apply_catalog,
    records.Drop: StorageEngine._apply_drop,
    records.Truncate: StorageEngine._apply_truncate,
    records.Delete: StorageEngine._apply_delete,
    records.Insert: StorageEngine._apply_insert,
    records.Bulk: StorageEngine._apply_bulk,
}
