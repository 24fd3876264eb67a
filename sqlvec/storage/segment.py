"""Segments: the growing one (a list of Arrow batches) and sealed ones (one Arrow IPC file each).

Both forms expose the same reading surface: ``columns(ids, n)`` and ``take(ids, offsets)``. A
segment keeps its id when it is sealed, so row ids (``segment_id << 32 | offset``) never change.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.storage.mvcc import Mvcc

Columns = dict[str, pa.DataType]


def _fit(arr: pa.Array | pa.ChunkedArray | None, n: int, dtype: pa.DataType):
    """A stored column as the requested type; all NULL when the segment predates the column."""
    if arr is None:
        return pa.nulls(n, dtype)
    if arr.type != dtype:
        # ALTER COLUMN TYPE: the catalog asks for the new type, old segments hold the old one.
        arr = arr.cast(dtype, safe=False)
    return arr


def batch_column(batch: pa.RecordBatch, column_id: str):
    idx = batch.schema.get_field_index(column_id)
    return batch.column(idx) if idx >= 0 else None


def columns_of_batches(
    batches: list[pa.RecordBatch], n: int, columns: Columns
) -> dict[str, pa.ChunkedArray]:
    """The first ``n`` rows of a list of batches, one ChunkedArray per requested column."""
    parts: list[pa.RecordBatch] = []
    left = n
    for b in batches:
        if left <= 0:
            break
        parts.append(b if b.num_rows <= left else b.slice(0, left))
        left -= parts[-1].num_rows
    out = {}
    for cid, dtype in columns.items():
        chunks = [_fit(batch_column(b, cid), b.num_rows, dtype) for b in parts]
        out[cid] = pa.chunked_array(chunks, type=dtype)
    return out


def unify(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One record batch from batches whose column sets may differ (ADD COLUMN between them)."""
    if len(batches) == 1:
        return batches[0]
    fields: dict[str, pa.Field] = {}
    for b in batches:
        for f in b.schema:
            fields.setdefault(f.name, f)
    n = sum(b.num_rows for b in batches)
    arrays = []
    for name, f in fields.items():
        chunked = columns_of_batches(batches, n, {name: f.type})[name]
        arrays.append(chunked.combine_chunks())
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(list(fields.values())))


class GrowingSegment:
    """Recent committed rows of one table, appended by commits under the commit lock."""

    sealed = False

    def __init__(self, segment_id: int, limit: int) -> None:
        self.segment_id = segment_id
        self.limit = limit  # rows at which it is closed and handed to the sealer
        self.batches: list[pa.RecordBatch] = []
        self.mvcc = Mvcc()
        self.closed = False  # no more appends: full, or frozen by a checkpoint
        self.nbytes = 0  # Arrow bytes of its batches (sqlvec.growing_segment_max_bytes)
        self._dense: tuple[str, int, np.ndarray] | None = None
        self.derived_cache: dict[str, tuple[int, object]] = {}  # see SegmentView.derived

    @property
    def room(self) -> int:
        return 0 if self.closed else self.limit - self.mvcc.n

    def append(self, batch: pa.RecordBatch, ts: int) -> None:
        self.batches.append(batch)
        self.nbytes += batch.nbytes
        self.mvcc.append(batch.num_rows, ts)
        if self.mvcc.n >= self.limit:
            self.closed = True

    def columns(self, columns: Columns, n: int) -> dict[str, pa.ChunkedArray]:
        return columns_of_batches(self.batches, n, columns)

    def take(self, column_ids: Iterable[str], offsets: np.ndarray) -> pa.Table:
        """Rows at ``offsets`` (in that order), for the key maps of unique constraints."""
        column_ids = list(column_ids)
        batches = self.batches[:]
        starts = np.cumsum([0] + [b.num_rows for b in batches])
        which = np.searchsorted(starts, offsets, side="right") - 1
        order = np.argsort(which, kind="stable")
        parts = []
        for i in np.unique(which):
            b = batches[i]
            local = pa.array(offsets[which == i] - starts[i])
            parts.append(pa.table({
                c: (col.take(local) if (col := batch_column(b, c)) is not None
                    else pa.nulls(len(local)))
                for c in column_ids
            }))
        if not parts:
            return pa.table({c: pa.nulls(0) for c in column_ids})
        grouped = pa.concat_tables(parts, promote_options="permissive")
        return grouped.take(pa.array(np.argsort(order, kind="stable")))

    def dense(self, column_id: str, n: int, arr: pa.ChunkedArray) -> np.ndarray:
        """A contiguous (n, dim) copy of a vector column, cached until more rows arrive."""
        cached = self._dense
        if cached is not None and cached[0] == column_id and cached[1] == n:
            return cached[2]
        out = fixed_to_numpy(arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0))
        self._dense = (column_id, n, out)
        return out


class SealedSegment:
    """An immutable segment: one record batch, memory-mapped from data.arrow when on disk."""

    sealed = True

    def __init__(self, segment_id: int, batch: pa.RecordBatch, mvcc: Mvcc,
                 path: str | None = None) -> None:
        self.segment_id = segment_id
        self.batch = batch
        self.mvcc = mvcc
        self.path = path  # the segment's folder; None in memory
        self.delete_log: str | None = None  # file name of the current delete log
        self.synced = path is not None  # files known to be on disk (see write_sealed)
        self.vector_indexes: dict = {}  # index oid -> sqlvec.index.manager.IndexSlot
        self._dense: dict[str, np.ndarray] = {}
        self._dense_lock = threading.Lock()
        self.derived_cache: dict[str, tuple[int, object]] = {}  # see SegmentView.derived

    @classmethod
    def load(cls, segment_id: int, path: str) -> SealedSegment:
        source = pa.memory_map(os.path.join(path, "data.arrow"), "r")
        batch = pa.ipc.open_file(source).get_batch(0)
        return cls(segment_id, batch, Mvcc(n=batch.num_rows), path)

    def sync(self) -> None:
        if not self.synced and self.path is not None:
            sync_sealed(self.path)
            self.synced = True

    def columns(self, columns: Columns, n: int) -> dict[str, pa.Array]:
        b = self.batch if n == self.batch.num_rows else self.batch.slice(0, n)
        return {cid: _fit(batch_column(b, cid), n, t) for cid, t in columns.items()}

    def take(self, column_ids: Iterable[str], offsets: np.ndarray) -> pa.Table:
        idx = pa.array(offsets)
        return pa.table({
            c: (col.take(idx) if (col := batch_column(self.batch, c)) is not None
                else pa.nulls(len(offsets)))
            for c in column_ids
        })

    def dense(self, column_id: str, n: int, arr: pa.Array) -> np.ndarray:
        view = fixed_to_numpy(arr, zero_copy=True)
        if view is not None:
            return view
        with self._dense_lock:
            if column_id not in self._dense:
                self._dense[column_id] = fixed_to_numpy(self.batch.column(
                    self.batch.schema.get_field_index(column_id)))
            return self._dense[column_id][:n]


def fixed_to_numpy(arr: pa.Array, zero_copy: bool = False) -> np.ndarray | None:
    """(rows, dim) float array of a fixed_size_list column; NULL rows become NaN.

    With ``zero_copy`` return a view of the Arrow buffer, or None if that is impossible.
    """
    if not pa.types.is_fixed_size_list(arr.type):
        raise TypeError(f"column of type {arr.type} is not a fixed-size vector column")
    dim = arr.type.list_size
    if arr.null_count == 0:
        values = arr.flatten()
        if values.null_count == 0:
            try:
                flat = values.to_numpy(zero_copy_only=True)
            except pa.ArrowInvalid:
                flat = None
            if flat is not None:
                return flat.reshape(len(arr), dim) if zero_copy else flat.reshape(
                    len(arr), dim).copy()
    if zero_copy:
        return None
    dtype = arr.type.value_type.to_pandas_dtype()
    filled = arr.fill_null(pa.scalar([None] * dim, arr.type)) if arr.null_count else arr
    flat = pc.fill_null(filled.flatten(), float("nan")).to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(flat.astype(dtype, copy=False).reshape(len(arr), dim))


def column_stats(batch: pa.RecordBatch) -> dict:
    """Row count and per-column min/max/null count, where Arrow computes them."""
    cols = {}
    for f, col in zip(batch.schema, batch.columns):
        entry: dict = {"null_count": col.null_count}
        t = f.type
        # intervals are temporal to Arrow but have no order (min_max is not implemented)
        if (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_string(t)
                or (pa.types.is_temporal(t) and not pa.types.is_interval(t)) or pa.types.is_boolean(t)
                or pa.types.is_decimal(t)) and col.null_count < len(col):
            mm = pc.min_max(col)
            entry["min"] = _jsonable(mm["min"].as_py())
            entry["max"] = _jsonable(mm["max"].as_py())
        cols[f.name] = entry
    return {"rows": batch.num_rows, "columns": cols}


def _jsonable(v: object) -> object:
    return v if isinstance(v, int | float | str | bool) or v is None else str(v)


def write_sealed(path: str, batch: pa.RecordBatch) -> None:
    """Write data.arrow and stats.json into ``path`` (not yet synced: see :func:`sync_sealed`).

    The background sealer does not fsync: a sealed file matters only once a manifest lists
    it, so the checkpoint syncs it then. Forcing 64 MB to disk in the background would stall
    the WAL's fdatasync of concurrent commits behind it.
    """
    os.makedirs(path, exist_ok=True)
    tmp = os.path.join(path, "data.arrow.tmp")
    with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)
    os.replace(tmp, os.path.join(path, "data.arrow"))
    with open(os.path.join(path, "stats.json"), "w") as f:
        json.dump(column_stats(batch), f)


def sync_sealed(path: str) -> None:
    for name in ("data.arrow", "stats.json"):
        fsync_file(os.path.join(path, name))
    fsync_dir(path)
    fsync_dir(os.path.dirname(path))


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
