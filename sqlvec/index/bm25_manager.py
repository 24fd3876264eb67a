"""The storage engine's BM25 indexes: open them, keep them in step with commits, close them.

One :class:`Bm25Manager` per storage engine (``fulltext_manager(engine)``). Indexes are opened
when CREATE INDEX commits or the database opens (both through
``sqlvec.exec.indexes.build_vector_index``); opening catches up from the table. A background
thread syncs every open index to the latest durable commit a few times a second, and a
reader syncs the index it needs up to its own snapshot first (``ensure``), so a query always
sees the rows of its snapshot even right after a commit. Files: ``<dir>/fulltext/<index oid>/``.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlvec.index.bm25 import Bm25Index, Bm25Spec

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.2


class Bm25Manager:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.indexes: dict[int, Bm25Index] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _dir(self, index_oid: int) -> str | None:
        if self.engine.path is None:
            return None
        return os.path.join(self.engine.path, "fulltext", str(index_oid))

    def open(self, spec: Bm25Spec) -> Bm25Index:
        """The index of ``spec`` (opened or created, caught up with the table)."""
        with self._lock:
            ix = self.indexes.get(spec.index_oid)
            if ix is not None and ix.spec != spec:
                ix.destroy()
                ix = None
            if ix is None:
                ix = self.indexes[spec.index_oid] = Bm25Index(spec, self._dir(spec.index_oid))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlvec-bm25", daemon=True)
                self._thread.start()
        self.ensure(ix, self.engine.visible_ts)
        return ix

    def get(self, index_oid: int) -> Bm25Index | None:
        return self.indexes.get(index_oid)

    def ensure(self, ix: Bm25Index, ts: int) -> None:
        """Make every commit up to ``ts`` (a reader's snapshot) searchable in ``ix``, and the
        segment list after the latest compaction."""
        eng = self.engine
        if ix.applied_ts < ts or ix.epoch != eng._epoch or ix.retired:
            self._sync(ix, max(ts, eng.visible_ts))

    def _sync(self, ix: Bm25Index, upto: int) -> None:
        from sqlvec.storage.compaction import min_active_epoch

        eng = self.engine
        epoch = eng._epoch  # read before the tables: a later swap makes the next sync run
        oldest = min_active_epoch(eng) if ix.retired else None
        ix.sync(eng._tables, upto, eng._horizon(), epoch, oldest)

    def on_remap(self, table_oid: int, removed: list[int], epoch: int) -> None:
        """A compaction replaced ``removed`` segments of the table (durably): index the new
        segment now, drop the old documents once no snapshot reads the old segments."""
        for ix in list(self.indexes.values()):
            if ix.spec.table_oid == table_oid and ix.writer is not None:
                ix.retire(removed, epoch)
                self._sync(ix, self.engine.visible_ts)

    def drop(self, index_oid: int) -> None:
        with self._lock:
            ix = self.indexes.pop(index_oid, None)
        if ix is not None:
            ix.destroy()
        else:
            d = self._dir(index_oid)
            if d is not None and os.path.isdir(d):
                import shutil

                shutil.rmtree(d, ignore_errors=True)

    def _run(self) -> None:
        while not self._stop.wait(SYNC_SECONDS):
            eng = self.engine
            if eng._closing:
                return
            for ix in list(self.indexes.values()):
                try:
                    if ix.writer is not None:
                        self._sync(ix, eng.visible_ts)
                except Exception:  # keep serving: readers sync again before they search
                    log.exception("sqlvec bm25 sync failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            for ix in self.indexes.values():
                ix.close()
            self.indexes.clear()


def fulltext_manager(engine) -> Bm25Manager:
    """The engine's manager (created on first use)."""
    m = getattr(engine, "_fulltext", None)
    if m is None:
        with _CREATE:
            m = getattr(engine, "_fulltext", None)
            if m is None:
                m = engine._fulltext = Bm25Manager(engine)
    return m


_CREATE = threading.Lock()


def _remapped(engine, table_oid: int, removed: list[int], new_id: int, epoch: int, source) -> None:
    m = getattr(engine, "_fulltext", None)
    if m is not None:
        m.on_remap(table_oid, removed, epoch)


def _subscribe() -> None:
    from sqlvec.storage.compaction import on_remap

    on_remap(_remapped)


_subscribe()

__all__ = ["Bm25Manager", "fulltext_manager"]
