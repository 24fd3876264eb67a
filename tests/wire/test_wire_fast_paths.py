"""Fast paths added for the wire benchmark give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec.knn import _take_rows


def _column(chunk_sizes: list[int], nulls: bool = False) -> pa.ChunkedArray:
    rng = np.random.default_rng(1)
    chunks, start = [], 0
    for size in chunk_sizes:
        vals = rng.standard_normal(size * 4).astype(np.float32)
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vals), 4)
        if nulls:
            arr = pa.array([None if (start + i) % 5 == 0 else v for i, v in enumerate(arr.to_pylist())], arr.type)
        chunks.append(arr)
        start += size
    return pa.chunked_array(chunks, type=pa.list_(pa.float32(), 4))


@pytest.mark.parametrize("nrows", [1, 10, 64, 65, 300])
@pytest.mark.parametrize("sizes", [[1000], [100, 1, 250, 649], [3] * 50])
def test_take_rows_matches_take(nrows, sizes):
    col = _column(sizes, nulls=nrows == 10)
    rng = np.random.default_rng(nrows)
    rows = rng.choice(len(col), size=min(nrows, len(col)), replace=False).astype(np.int64)
    got = _take_rows(col, rows)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == col.take(pa.array(rows)).to_pylist()
    assert got.type == col.type


def test_take_rows_plain_array():
    arr = pa.array([5, 6, 7, None], pa.int32())
    assert _take_rows(arr, np.array([3, 0], np.int64)).to_pylist() == [None, 5]
