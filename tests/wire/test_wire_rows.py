"""DataRow encoding: the vectorised paths must produce exactly what the per-value type
functions (TypeDef.send / text output) produce."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
from sqlvec.wire import rows

from sqlvec.result import ResultColumn
from sqlvec.types import registry as R
from sqlvec.types.arrow import from_arrow, text_out_array, to_arrow

CASES = [
    (R.INT2, [1, -32768, None, 32767]),
    (R.INT4, [0, None, -(2**31), 2**31 - 1]),
    (R.INT8, [None, 2**62, -5]),
    (R.FLOAT4, [1.5, None, float("inf"), -0.0, float("nan")]),
    (R.FLOAT8, [0.1, None, -1e300, float("-inf")]),
    (R.BOOL, [True, False, None]),
    (R.TEXT, ["", "héllo", None, "x" * 1000]),
    (R.VARCHAR, ["a", None]),
    (R.vector(3), [np.array([1, 2.5, -3], np.float32), None, np.zeros(3, np.float32)]),
    (R.halfvec(2), [np.array([1, 0.5], np.float16), None]),
]


@pytest.mark.parametrize("t,values", CASES, ids=[str(t) for t, _ in CASES])
def test_fast_binary_matches_send(t, values):
    arr = to_arrow(values, t)
    got = rows.binary_column(arr, t).to_pylist()
    want = [None if v is None else t.defn.send(v) for v in from_arrow(arr, t)]
    assert got == want


@pytest.mark.parametrize("t,values", CASES, ids=[str(t) for t, _ in CASES])
def test_text_matches_text_out(t, values):
    arr = to_arrow(values, t)
    got = rows.text_column(arr, t).to_pylist()
    assert got == [None if v is None else v.encode() for v in text_out_array(arr, t)]


def _parse_rows(data: bytes) -> list[list[bytes | None]]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 1] == b"D"
        (length,) = struct.unpack_from("!i", data, pos + 1)
        (n,) = struct.unpack_from("!h", data, pos + 5)
        p, row = pos + 7, []
        for _ in range(n):
            (ln,) = struct.unpack_from("!i", data, p)
            p += 4
            row.append(None if ln < 0 else data[p : p + ln])
            p += max(ln, 0)
        assert p == pos + 1 + length  # the length field covers exactly the row
        out.append(row)
        pos = p
    return out


def test_data_rows_framing_chunks_and_slices(monkeypatch):
    monkeypatch.setattr(rows, "ROWS_PER_CHUNK", 3)
    n = 10
    table = pa.table({
        "a": pa.array([i if i % 4 else None for i in range(n)], pa.int32()),
        "b": pa.array([f"s{i}" for i in range(n)]),
    })
    cols = [ResultColumn("a", R.INT4), ResultColumn("b", R.TEXT)]
    chunks = list(rows.data_rows(table, cols, [0, 1], start=2, stop=9))
    assert len(chunks) == 3
    got = _parse_rows(b"".join(chunks))
    assert got == [[None if i % 4 == 0 else str(i).encode(), f"s{i}".encode()] for i in range(2, 9)]


def test_rows_without_columns():
    """SELECT FROM t (no columns): one empty DataRow per row."""
    table = pa.table({"x": [1, 2]}).drop_columns(["x"])
    assert table.num_rows == 2
    assert _parse_rows(b"".join(rows.data_rows(table, [], []))) == [[], []]


@pytest.mark.parametrize("t,values", CASES, ids=[str(t) for t, _ in CASES])
@pytest.mark.parametrize("fmt", [rows.TEXT, rows.BINARY])
def test_small_path_matches_vectorised(t, values, fmt):
    """Tiny results (the round-trip case) are encoded in Python: same bytes as the Arrow path."""
    arr = to_arrow(values, t)
    cols = [ResultColumn("c", t)]
    table = pa.table({"c": arr})
    small = b"".join(rows.data_rows(table, cols, [fmt]))
    assert len(values) * len(cols) <= rows.SMALL_CELLS
    wide = rows._frame([(rows.binary_column if fmt else rows.text_column)(arr, t)], len(values))
    assert small == wide
