"""Index lifecycle in the storage engine: which indexes a table has, building them per sealed
segment in the background, loading them lazily, and skipping deleted rows inside them.

- One worker thread builds one segment index at a time with every core (hnswlib's
  ``add_items`` releases the GIL); readers and writers never wait for it. A new sealed segment
  is queued when it is sealed; CREATE INDEX queues every sealed segment the table has.
- Files: ``<segment dir>/<index oid>.hnsw`` (or ``.ivf``, ``.flat``), written and fsynced, then
  listed by a manifest (a checkpoint, or :func:`republish` right after a build). Unlisted files
  are garbage at the next open.
- Deletes and MVCC: a row is marked deleted in an index only once it was deleted at or before
  the oldest active snapshot (the engine's horizon): then no snapshot, present or future, can
  see it. Rows deleted later are still in the graph and are filtered by the reader's
  ``allowed`` mask (its visibility), so a snapshot never loses a row it may see.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sqlvec.index import INDEX_CLASSES, isolated
from sqlvec.index import progress as build_progress
from sqlvec.index.base import BIT_METRICS, IndexSpec, Progress, VectorIndex
from sqlvec.index.flat import packed_bits
from sqlvec.storage.manifest import publish

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine
    from sqlvec.storage.segment import SealedSegment

log = logging.getLogger(__name__)

DELETE_SYNC_SECONDS = 0.5  # how often deletes that fell behind the horizon get marked


class BuildStopped(Exception):
    """The engine is closing: a build in progress is abandoned (and redone at next open)."""


def segment_matrix(seg: SealedSegment, column_id: str, metric: str) -> np.ndarray | None:
    """The segment's vectors as an index sees them; None when the column is not stored there."""
    idx = seg.batch.schema.get_field_index(column_id)
    if idx < 0:
        return None
    arr = seg.batch.column(idx)
    if metric in BIT_METRICS:
        return packed_bits(arr)[0]
    return seg.dense(column_id, seg.batch.num_rows, arr)


class IndexSlot:
    """One index of one sealed segment: its file, and the loaded index (lazily)."""

    def __init__(self, spec: IndexSpec, file: str | None, index: VectorIndex | None) -> None:
        self.spec = spec
        self.file = file  # name inside the segment folder; None for an in-memory engine
        self.index = index
        self.marked_ts = 0  # rows deleted at or before this ts are marked in ``index``
        self._lock = threading.Lock()

    def get(self, seg: SealedSegment) -> VectorIndex | None:
        if self.index is None and self.file is not None:
            with self._lock:
                if self.index is None:
                    matrix = segment_matrix(seg, self.spec.column_id, self.spec.metric)
                    if matrix is None:
                        return None
                    cls = isolated.index_class(self.spec)
                    self.index = cls.load(os.path.join(seg.path, self.file), matrix)
        return self.index


@dataclass
class BuildHandle:
    """A CREATE INDEX in progress: ``wait()`` returns when every queued segment is indexed."""

    table_oid: int
    index_oid: int
    progress: Callable[[int, int], None] | None = None
    outstanding: set[int] = field(default_factory=set)
    rows_total: int = 0
    rows_done: int = 0
    error: BaseException | None = None
    method: str = ""  # the spec's kind, for progress notices
    segments_total: int = 0
    _done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the build; inside a session, report progress as NOTICEs meanwhile."""
        reporter = None
        if not self._done.is_set() and self.segments_total:
            reporter = build_progress.for_session(self.method, table_oid=self.table_oid,
                                                  index_oid=self.index_oid)
        if reporter is None:
            finished = self._done.wait(timeout)
        else:
            reporter.segments_total = self.segments_total
            reporter.refresh = self._refresh_progress
            finished = reporter.wait(self._done, timeout)
            if finished and self.error is None:
                reporter.finish()
            else:
                reporter.abandon()
        if self.error is not None:
            raise self.error
        return finished

    def _refresh_progress(self, reporter: build_progress.BuildProgress) -> None:
        reporter.segments_done = self.segments_total - len(self.outstanding)
        reporter.rows(self.rows_done, self.rows_total)

    @property
    def done(self) -> bool:
        return self._done.is_set()


class IndexManager:
    def __init__(self, engine: StorageEngine) -> None:
        self.engine = engine
        self.specs: dict[int, dict[int, IndexSpec]] = {}  # table oid -> index oid -> spec
        self.threads = os.cpu_count() or 1
        self._queue: deque[tuple[int, int, int]] = deque()  # (table, segment, index)
        self._handles: list[BuildHandle] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._busy = False  # a job is being built

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlvec-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def restore(self, manifest: dict) -> None:
        """Specs and segment index files listed by the manifest just loaded; queue the rest."""
        for oid_s, specs in manifest.get("vector_indexes", {}).items():
            self.specs[int(oid_s)] = {s["index_oid"]: IndexSpec.from_json(s) for s in specs}
        for oid_s, t in manifest.get("tables", {}).items():
            table = self.engine._tables.get(int(oid_s))
            specs = self.specs.get(int(oid_s), {})
            if table is None:
                continue
            for entry in t["segments"]:
                seg = table.by_id.get(entry["id"])
                for ioid_s, fname in (entry.get("indexes") or {}).items():
                    spec = specs.get(int(ioid_s))
                    if seg is not None and spec is not None:
                        seg.vector_indexes[spec.index_oid] = IndexSlot(spec, fname, None)
        for oid, specs in self.specs.items():
            for spec in specs.values():
                self._queue_table(oid, spec, None)

    # -- the engine's API -----------------------------------------------------------------
    def create(self, table_oid: int, spec: IndexSpec,
               progress: Callable[[int, int], None] | None) -> BuildHandle:
        with self._cond:
            table_specs = dict(self.specs.get(table_oid, {}))
            table_specs[spec.index_oid] = spec
            self.specs = {**self.specs, table_oid: table_specs}
            handle = BuildHandle(table_oid, spec.index_oid, progress, method=spec.kind)
            self._queue_table(table_oid, spec, handle)
            handle.segments_total = len(handle.outstanding)
            if not handle.outstanding:
                handle._done.set()
            else:
                self._handles.append(handle)
            self._cond.notify_all()
        return handle

    def drop(self, table_oid: int, index_oid: int) -> None:
        with self._cond:
            table_specs = {k: v for k, v in self.specs.get(table_oid, {}).items()
                           if k != index_oid}
            self.specs = {**self.specs, table_oid: table_specs}
            self._queue = deque(q for q in self._queue if not (q[0] == table_oid and
                                                                 q[2] == index_oid))
        files = []
        table = self.engine._tables.get(table_oid)
        for seg in table.segments if table is not None else ():
            slot = getattr(seg, "vector_indexes", {}).pop(index_oid, None)
            if slot is not None and slot.file is not None:
                files.append(os.path.join(seg.path, slot.file))
        republish(self.engine)
        for path in files:  # readers holding the index keep it: hnswlib's graph is in memory
            _remove(path)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy or
                                       self._stop, timeout)

    def on_sealed(self, table_oid: int, seg: SealedSegment) -> None:
        specs = self.specs.get(table_oid)
        if specs:
            with self._cond:
                for spec in specs.values():
                    self._queue.append((table_oid, seg.segment_id, spec.index_oid))
                    for h in self._handles:
                        if h.table_oid == table_oid and h.index_oid == spec.index_oid:
                            h.outstanding.add(seg.segment_id)
                            h.rows_total += seg.mvcc.n
                self._cond.notify_all()

    def manifest_specs(self) -> dict:
        dropped = self.engine._dropped
        return {str(oid): [s.to_json() for s in specs.values()]
                for oid, specs in self.specs.items() if specs and oid not in dropped}

    # -- the worker -----------------------------------------------------------------------
    def _queue_table(self, table_oid: int, spec: IndexSpec, handle: BuildHandle | None) -> None:
        table = self.engine._tables.get(table_oid)
        for seg in table.segments if table is not None else ():
            if seg.sealed and spec.index_oid not in seg.vector_indexes:
                self._queue.append((table_oid, seg.segment_id, spec.index_oid))
                if handle is not None:
                    handle.outstanding.add(seg.segment_id)
                    handle.rows_total += seg.mvcc.n

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._stop:
                    self._cond.wait(timeout=DELETE_SYNC_SECONDS)
                if self._stop or self.engine._closing:
                    return  # closed, or abandoned (a simulated crash)
                job = self._queue.popleft() if self._queue else None
                self._busy = job is not None
            try:
                if job is not None:
                    self._build(*job)
                self.sync_deletes()
            except BuildStopped:
                return
            except Exception as exc:  # keep serving: readers fall back to exact search
                log.exception("sqlvec index build failed")
                if job is not None:
                    self._finish(job, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _build(self, table_oid: int, segment_id: int, index_oid: int) -> None:
        spec = self.specs.get(table_oid, {}).get(index_oid)
        table = self.engine._tables.get(table_oid)
        seg = table.by_id.get(segment_id) if table is not None else None
        if spec is None or seg is None or not seg.sealed or index_oid in seg.vector_indexes:
            self._finish((table_oid, segment_id, index_oid), None)
            return
        matrix = segment_matrix(seg, spec.column_id, spec.metric)
        if matrix is not None:
            index = build_index(spec, seg, matrix, threads=self.threads,
                                progress=self._progress_fn(table_oid, index_oid, segment_id))
            fname = None
            if seg.path is not None:
                fname = isolated.file_name(spec)
                path = os.path.join(seg.path, fname)
                _remove(path + ".tmp")
                index.save(path)
            if self.specs.get(table_oid, {}).get(index_oid) is spec:  # not dropped meanwhile
                seg.vector_indexes[index_oid] = IndexSlot(spec, fname, index)
                if fname is not None:
                    republish(self.engine)
        self._finish((table_oid, segment_id, index_oid), None)

    def _progress_fn(self, table_oid: int, index_oid: int, segment_id: int):
        handles = [h for h in self._handles
                   if h.table_oid == table_oid and h.index_oid == index_oid]
        last = [0]

        def report(done: int, total: int) -> None:
            if self._stop:
                raise BuildStopped()
            for h in handles:
                h.rows_done += done - last[0]
                if h.progress is not None:
                    h.progress(h.rows_done, max(h.rows_total, h.rows_done))
            last[0] = done
        return report

    def _finish(self, job: tuple[int, int, int], error: BaseException | None) -> None:
        table_oid, segment_id, index_oid = job
        with self._cond:
            for h in list(self._handles):
                if h.table_oid == table_oid and h.index_oid == index_oid:
                    h.outstanding.discard(segment_id)
                    h.error = h.error or error
                    if not h.outstanding:
                        self._handles.remove(h)
                        h._done.set()

    def sync_deletes(self) -> None:
        """Mark rows deleted at or before the horizon in every loaded index."""
        horizon = None
        for oid in list(self.specs):
            table = self.engine._tables.get(oid)
            for seg in table.segments if table is not None else ():
                slots = getattr(seg, "vector_indexes", None)
                if not slots or seg.mvcc.max_xmax == 0:
                    continue
                for slot in list(slots.values()):
                    if slot.index is None or seg.mvcc.max_xmax <= slot.marked_ts:
                        continue
                    if horizon is None:
                        horizon = self.engine._horizon()
                    if horizon <= slot.marked_ts:
                        continue
                    xmax = seg.mvcc.xmax[: seg.mvcc.n]
                    offs = np.flatnonzero((xmax > slot.marked_ts) & (xmax <= horizon))
                    if len(offs):
                        slot.index.mark_deleted(offs)
                    slot.marked_ts = horizon


def build_index(spec: IndexSpec, seg: SealedSegment, matrix: np.ndarray, *, threads: int,
                progress: Progress | None = None) -> VectorIndex:
    """One sealed segment's index for ``spec`` (the builder's and compaction's path): tenant
    sub-indexes when the spec isolates a partition key (:mod:`sqlvec.index.isolated`)."""
    if isolated.is_isolated(spec):
        return isolated.IsolatedIndex.build_segment(seg, matrix, spec, threads=threads,
                                                    progress=progress)
    return INDEX_CLASSES[spec.kind].build(matrix, spec.metric, spec.options, threads=threads,
                                          progress=progress)


def republish(eng: StorageEngine) -> None:
    """A new manifest version: the last one with the segments' current index files and the
    index specs. Nothing else changes (no sealing, no WAL trim): it only makes builds durable."""
    if eng.path is None:
        return
    with eng._ckpt_lock:
        last = getattr(eng, "_manifest", None)
        if last is None or eng._closing:
            return  # nothing published yet: the next checkpoint lists the indexes
        m = copy.deepcopy(last)
        for oid_s, t in m["tables"].items():
            table = eng._tables.get(int(oid_s))
            for entry in t["segments"]:
                seg = table.by_id.get(entry["id"]) if table is not None else None
                entry["indexes"] = index_files(seg)
        m["vector_indexes"] = eng._indexes.manifest_specs()
        eng.manifest_version += 1
        publish(eng.path, eng.manifest_version, m)
        eng._manifest = m


def index_files(seg) -> dict[str, str]:
    """index oid -> file name, of a segment's built and saved indexes (for the manifest)."""
    slots = getattr(seg, "vector_indexes", None) or {}
    return {str(oid): s.file for oid, s in list(slots.items()) if s.file is not None}


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


__all__ = ["BuildHandle", "IndexManager", "IndexSlot", "build_index", "index_files", "republish",
           "segment_matrix"]
