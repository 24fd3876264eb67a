"""Grouping by a column gathered from a much smaller one (a dimension column after a join)
encodes the small column and gathers its codes: the groups, their numbering by first
appearance and their first rows are those of encoding the gathered column itself."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec import relation as R


def gathered(source: pa.Array, positions: np.ndarray):
    cols = R.gather([source], pa.array(positions, pa.int64()))
    return cols[0]


SOURCES = {
    "strings with NULLs and repeats": pa.array(["b", None, "a", "b", "c", None] * 50),
    "integers": pa.array(np.arange(300) % 17, pa.int32()),
    "unique names": pa.array([f"n{i}" for i in range(1000)]),
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_gathered_codes_equal_direct_codes(source):
    rng = np.random.default_rng(3)
    positions = rng.integers(0, len(source) - 1, 40_000)  # the last source row never appears
    col = gathered(source, positions)
    assert id(col) in R._ORIGIN  # the fast path is taken
    plain = pa.array(col.to_pylist(), col.type)  # the same values, without an origin
    assert id(plain) not in R._ORIGIN
    got = R.group_ids([col], len(col))
    want = R.group_ids([plain], len(plain))
    assert got[1] == want[1]
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[2], want[2])
    assert np.array_equal(R._codes(col)[0], R._codes(plain)[0])


def test_small_or_null_positions_take_the_general_path():
    source = pa.array(["x", "y"] * 10)
    small = gathered(source, np.arange(20))
    assert id(small) not in R._ORIGIN  # too few rows to pay off
    cols = R.gather([source], pa.array(np.r_[np.zeros(20_000, np.int64), [-1]], mask=np.r_[np.zeros(20_000, bool), [True]]))
    assert id(cols[0]) not in R._ORIGIN  # outer-join NULL positions


def test_origin_is_forgotten_with_the_column():
    source = pa.array(np.arange(100) % 7)
    col = gathered(source, np.zeros(20_000, np.int64))
    key = id(col)
    assert key in R._ORIGIN
    del col
    import gc

    gc.collect()
    assert key not in R._ORIGIN
