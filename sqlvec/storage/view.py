"""What a reader gets: one segment of one table as seen by a snapshot or a transaction."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlvec.storage.segment import Columns, GrowingSegment, SealedSegment, fixed_to_numpy


class SegmentView:
    """``num_rows`` physical rows; ``visible`` masks the ones the reader may see (None: all)."""

    __slots__ = ("segment_id", "num_rows", "columns", "visible", "_segment", "_dense")

    def __init__(self, segment_id: int, num_rows: int,
                 columns: dict[str, pa.Array | pa.ChunkedArray], visible: np.ndarray | None,
                 segment: GrowingSegment | SealedSegment | None = None) -> None:
        self.segment_id = segment_id
        self.num_rows = num_rows
        self.columns = columns
        self.visible = visible
        self._segment = segment  # None for a transaction's own uncommitted rows
        self._dense: dict[str, np.ndarray] = {}

    def rowids(self) -> np.ndarray:
        return (np.int64(self.segment_id) << 32) | np.arange(self.num_rows, dtype=np.int64)

    def numpy_fixed(self, column_id: str) -> np.ndarray:
        """(num_rows, dim) array of a fixed_size_list<float32|float16> column.

        Zero-copy for a sealed segment without NULLs; otherwise a contiguous copy, cached (on
        the segment, so later queries reuse it until the segment changes). NULL rows are NaN.
        """
        out = self._dense.get(column_id)
        if out is None:
            arr = self.columns[column_id]
            if self._segment is not None:
                out = self._segment.dense(column_id, self.num_rows, arr)
            else:
                if isinstance(arr, pa.ChunkedArray):
                    arr = arr.combine_chunks()
                out = fixed_to_numpy(arr)
            self._dense[column_id] = out
        return out

    def vector_index(self, index_oid: int):
        """The segment's built index ``index_oid`` (a :class:`sqlvec.index.VectorIndex`), or
        None: a growing segment, a transaction's own rows, or a build not finished yet.

        The index covers the whole sealed segment; pass the reader's mask (``visible`` AND the
        WHERE clause) as ``allowed``: rows deleted after the oldest snapshot are still in it."""
        seg = self._segment
        slots = getattr(seg, "vector_indexes", None)
        if not slots:
            return None
        slot = slots.get(index_oid)
        return None if slot is None else slot.get(seg)

    def derived(self, key: str, build):
        """``build()`` cached on the segment for this row count: for data computed from the
        segment's columns (row norms for vector search) that readers should not recompute.
        Sealed segments never change; growing ones only append, so the row count keys it."""
        seg = self._segment
        if seg is None:
            return build()
        cache = seg.derived_cache
        hit = cache.get(key)
        if hit is not None and hit[0] == self.num_rows:
            return hit[1]
        value = build()
        cache[key] = (self.num_rows, value)
        return value

    def __repr__(self) -> str:
        vis = "all" if self.visible is None else int(self.visible.sum())
        return f"SegmentView(segment={self.segment_id}, rows={self.num_rows}, visible={vis})"


def segment_view(seg: GrowingSegment | SealedSegment, ts: int,
                 columns: Columns) -> SegmentView | None:
    """The view of ``seg`` at snapshot ``ts``; None when no row of it is visible."""
    mvcc = seg.mvcc
    n = mvcc.visible_prefix(ts)
    if n == 0:
        return None
    visible = mvcc.visible(ts, n)
    if visible is not None and not visible.any():
        return None
    return SegmentView(seg.segment_id, n, seg.columns(columns, n), visible, seg)
