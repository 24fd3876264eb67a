"""REINDEX in the storage engine: build a fresh index for every sealed segment, publish all
of them in one manifest version, then remove the old files.

The new files get a new name (``<oid>.r<generation><suffix>``), so the old ones stay valid
until the manifest that lists the new ones is durable: a crash before that leaves unlisted
new files (removed at the next open) and the old index in use; after it, the old files are
unlisted garbage. Readers never wait: a search that already holds an old index object keeps
using it (hnswlib graphs live in memory; IVF/flat arrays are memory-mapped, and an unlinked
file stays readable through its mapping), later searches find the new slot. Rows deleted at
or before the engine's horizon are marked in the new index before it is published, as the
background sync would have marked them in the old one.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import numpy as np

from sqlvec.index import isolated
from sqlvec.index.progress import BuildProgress

if TYPE_CHECKING:
    from sqlvec.index.manager import IndexManager


def next_file_name(spec, old: str | None) -> str:
    """``<base>.r<n><suffix>`` with ``n`` one past the old file's generation."""
    base = isolated.file_name(spec)
    stem, suffix = base[: -len(spec.suffix)], spec.suffix
    gen = 0
    if old is not None:
        m = re.fullmatch(re.escape(stem) + r"\.r(\d+)" + re.escape(suffix), old)
        gen = int(m.group(1)) if m else 0
    return f"{stem}.r{gen + 1}{suffix}"


def rebuild_index(manager: IndexManager, table_oid: int, index_oid: int,
                  reporter: BuildProgress | None = None) -> int:
    """Rebuild index ``index_oid`` of every sealed segment of the table in the calling
    thread (with every core); returns how many segments were rebuilt. Segments sealed
    meanwhile are indexed by the background builder as usual."""
    # the manager's module imports the storage engine, which imports it: import it late
    from sqlvec.index.manager import IndexSlot, _remove, build_index, republish, segment_matrix

    eng = manager.engine
    spec = manager.specs.get(table_oid, {}).get(index_oid)
    table = eng._tables.get(table_oid)
    if spec is None or table is None:
        return 0
    segs = [s for s in list(table.segments) if s.sealed]
    if reporter is not None:
        reporter.segments_total = len(segs)
        reporter.rows_total = sum(int(s.mvcc.n) for s in segs)
    built: list[tuple[object, IndexSlot]] = []
    done_rows = 0
    try:
        for seg in segs:
            matrix = segment_matrix(seg, spec.column_id, spec.metric)
            if matrix is None:
                continue
            index = build_index(spec, seg, matrix, threads=manager.threads,
                                progress=_row_progress(manager, reporter, done_rows))
            done_rows += int(seg.mvcc.n)
            fname = None
            if seg.path is not None:
                old = seg.vector_indexes.get(index_oid)
                fname = next_file_name(spec, old.file if old is not None else None)
                path = os.path.join(seg.path, fname)
                _remove(path + ".tmp")
                _remove(path)  # left by an earlier attempt that failed: never listed
                index.save(path)
            built.append((seg, IndexSlot(spec, fname, index)))
            if reporter is not None:
                reporter.segment_finished()
                reporter.poll()
    except BaseException:
        for seg, slot in built:  # nothing published: the new files are garbage now
            if slot.file is not None:
                _remove(os.path.join(seg.path, slot.file))
        raise
    _mark_deleted(eng, built)
    old_files = []
    with manager._cond:
        if manager.specs.get(table_oid, {}).get(index_oid) is not spec:  # dropped meanwhile
            built, old_files = [], [os.path.join(s.path, x.file) for s, x in built if x.file]
        for seg, slot in built:
            old = seg.vector_indexes.get(index_oid)
            seg.vector_indexes[index_oid] = slot
            if old is not None and old.file is not None and old.file != slot.file:
                old_files.append(os.path.join(seg.path, old.file))
    if built:
        republish(eng)  # the new files are listed, the old ones are not
    for path in old_files:
        _remove(path)
    return len(built)


def _row_progress(manager: IndexManager, reporter: BuildProgress | None, before: int):
    def report(done: int, total: int) -> None:
        if manager._stop:
            from sqlvec.index.manager import BuildStopped

            raise BuildStopped()
        if reporter is not None:
            reporter.rows(before + done, reporter.rows_total)
            reporter.poll()
    return report


def _mark_deleted(eng, built) -> None:
    """Rows deleted at or before the horizon: no snapshot can see them any more."""
    horizon = eng._horizon()
    for seg, slot in built:
        if seg.mvcc.max_xmax == 0:  # nothing deleted in the segment
            slot.marked_ts = horizon
            continue
        xmax = seg.mvcc.xmax[: seg.mvcc.n]
        offs = np.flatnonzero((xmax > 0) & (xmax <= horizon))
        if len(offs):
            slot.index.mark_deleted(offs)
        slot.marked_ts = horizon


__all__ = ["next_file_name", "rebuild_index"]
