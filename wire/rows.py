"""DataRow messages for a whole Arrow table at once, in text or binary format.

Each column is first turned into one Arrow binary array of wire values (NULL stays null):
text through the engine's vectorised ``text_out_array``, binary through a numpy encoder for
the fixed-width types and dense vectors, or ``TypeDef.send`` per value for the rest. The
DataRow framing (``'D'``, length, column count, and an int32 length before every value) is
then computed with numpy and glued row by row by ``binary_join_element_wise`` in C, so no
Python code runs per cell on the common types.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.result import ResultColumn
from sqlvec.types import registry as R
from sqlvec.types.arrow import from_arrow, text_out_array
from sqlvec.types.base import SqlType

TEXT, BINARY = 0, 1
ROWS_PER_CHUNK = 4096  # rows encoded per step: bounds memory and lets output stream
# Below this many cells the Arrow kernels' fixed cost (~100 us) exceeds a plain Python loop:
# single-row answers (the round-trip case) take the small path.
SMALL_CELLS = 64
_LEN = struct.Struct("!i")
_EMPTY = pa.scalar(b"", pa.binary())


def _fixed_width(values: np.ndarray, width: int, valid: pa.Array | None) -> pa.Array:
    """Big-endian bytes of ``values`` (one row each) as a binary array with ``valid``'s nulls."""
    n = len(values)
    buf = pa.py_buffer(np.ascontiguousarray(values).tobytes())
    arr = pa.Array.from_buffers(pa.binary(width), n, [None, buf]).cast(pa.binary())
    if valid is not None:
        arr = pc.if_else(valid, arr, pa.scalar(None, pa.binary()))
    return arr


def _validity(arr: pa.Array) -> pa.Array | None:
    return arr.is_valid() if arr.null_count else None


def _numeric(dtype: str) -> Callable[[pa.Array, SqlType], pa.Array]:
    def encode(arr: pa.Array, t: SqlType) -> pa.Array:
        values = arr.fill_null(0).to_numpy(zero_copy_only=False).astype(dtype)
        return _fixed_width(values, np.dtype(dtype).itemsize, _validity(arr))

    return encode


def _bool(arr: pa.Array, t: SqlType) -> pa.Array:
    values = arr.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
    return _fixed_width(values, 1, _validity(arr))


def _utf8(arr: pa.Array, t: SqlType) -> pa.Array:
    # text_send is the UTF-8 bytes of the value: the Arrow string buffer as it is
    return arr.cast(pa.binary())


def _dense(elem: str) -> Callable[[pa.Array, SqlType], pa.Array | None]:
    """pgvector's vector/halfvec send: int16 dim, int16 0, dim big-endian elements."""

    def encode(arr: pa.Array, t: SqlType) -> pa.Array | None:
        if not isinstance(arr, pa.FixedSizeListArray):
            return None  # ragged lists (no typmod): per value through TypeDef.send
        dim = arr.type.list_size
        n = len(arr)
        flat = arr.values.slice(arr.offset * dim, n * dim).to_numpy(zero_copy_only=False)
        body = flat.astype(elem).reshape(n, dim).view(np.uint8).reshape(n, -1)
        head = np.broadcast_to(np.array([dim, 0], dtype=">i2").view(np.uint8), (n, 4))
        return _fixed_width(np.hstack([head, body]), 4 + body.shape[1], _validity(arr))

    return encode


# binary encoders that agree byte for byte with TypeDef.send (tests/wire check this)
_BINARY_FAST: dict[int, Callable[[pa.Array, SqlType], pa.Array | None]] = {
    R.INT2.oid: _numeric(">i2"),
    R.INT4.oid: _numeric(">i4"),
    R.INT8.oid: _numeric(">i8"),
    R.FLOAT4.oid: _numeric(">f4"),
    R.FLOAT8.oid: _numeric(">f8"),
    R.BOOL.oid: _bool,
    R.TEXT.oid: _utf8,
    R.VARCHAR.oid: _utf8,
    R.BPCHAR.oid: _utf8,
    R.UNKNOWN.oid: _utf8,
    R.JSON.oid: _utf8,
    R.VECTOR.oid: _dense(">f4"),
    R.HALFVEC.oid: _dense(">f2"),
}


def binary_column(arr: pa.Array, t: SqlType) -> pa.Array:
    """Binary wire values (TypeDef.send) of one column."""
    fast = _BINARY_FAST.get(t.oid) if t.elem is None else None
    if fast is not None and len(arr):
        out = fast(arr, t)
        if out is not None:
            return out
    send = t.defn.send
    return pa.array([None if v is None else send(v) for v in from_arrow(arr, t)], pa.binary())


def text_column(arr: pa.Array, t: SqlType) -> pa.Array:
    """Text wire values (PostgreSQL's output function) of one column."""
    return pa.array(text_out_array(arr, t), pa.string()).cast(pa.binary())


def _frame(cells: Sequence[pa.Array], n: int) -> bytes:
    """``n`` DataRow messages for columns of wire values (binary arrays, null = NULL)."""
    ncols = len(cells)
    parts: list[pa.Array] = []
    total = np.full(n, 4 + 2 + 4 * ncols, dtype=np.int64)
    for cell in cells:
        lengths = pc.binary_length(cell).fill_null(-1).to_numpy(zero_copy_only=False)
        total += np.maximum(lengths, 0)
        parts.append(_fixed_width(lengths.astype(">i4"), 4, None))
        parts.append(cell.fill_null(_EMPTY) if cell.null_count else cell)
    head = np.empty(n, dtype=[("t", "u1"), ("len", ">i4"), ("ncols", ">i2")])
    head["t"] = ord("D")
    head["len"] = total
    head["ncols"] = ncols
    joined = pc.binary_join_element_wise(_fixed_width(head, 7, None), *parts, _EMPTY)
    _, offsets, data = joined.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[[joined.offset, joined.offset + n]]
    return data.slice(int(bounds[0]), int(bounds[1] - bounds[0])).to_pybytes()


def _int_text(values: list) -> list[bytes | None]:
    return [None if v is None else str(v).encode() for v in values]


def _str_text(values: list) -> list[bytes | None]:
    return [None if v is None else v.encode() for v in values]


def _bool_text(values: list) -> list[bytes | None]:
    return [None if v is None else (b"t" if v else b"f") for v in values]


# text output of a few values straight from Python (no Arrow kernel): the types whose text
# form does not depend on a setting and equals what text_out_array makes
_SMALL_TEXT: dict[int, Callable[[list], list[bytes | None]]] = {
    R.INT2.oid: _int_text,
    R.INT4.oid: _int_text,
    R.INT8.oid: _int_text,
    R.TEXT.oid: _str_text,
    R.VARCHAR.oid: _str_text,
    R.BPCHAR.oid: _str_text,
    R.UNKNOWN.oid: _str_text,
    R.BOOL.oid: _bool_text,
}


def _small(arr: pa.Array, t: SqlType, fmt: int) -> list[bytes | None]:
    if fmt == TEXT and t.elem is None:
        fast = _SMALL_TEXT.get(t.oid)
        if fast is not None and (
            pa.types.is_integer(arr.type) or pa.types.is_string(arr.type) or pa.types.is_boolean(arr.type)
        ):
            return fast(arr.to_pylist())
    if fmt == BINARY:
        send = t.defn.send
        return [None if v is None else send(v) for v in from_arrow(arr, t)]
    return [None if v is None else v.encode() for v in text_out_array(arr, t)]


def _frame_small(cells: Sequence[list[bytes | None]], n: int) -> bytes:
    head = b"D"
    ncols = struct.pack("!h", len(cells))
    out = []
    for r in range(n):
        parts = [ncols]
        for col in cells:
            v = col[r]
            parts.append(b"\xff\xff\xff\xff" if v is None else _LEN.pack(len(v)) + v)
        body = b"".join(parts)
        out.append(head + _LEN.pack(len(body) + 4) + body)
    return b"".join(out)


def data_rows_of_values(rows: Sequence[tuple], columns: Sequence[ResultColumn],
                        formats: Sequence[int]) -> bytes | None:
    """DataRow messages straight from Python rows (a short path's answer, which carries
    them): binary through each type's send, text for the types whose text form no setting
    changes; None when a column needs the Arrow path (its text output reads a setting)."""
    if not columns:
        return None
    cells = []
    for i, (col, fmt) in enumerate(zip(columns, formats)):
        values = [r[i] for r in rows]
        t = col.type
        if fmt == BINARY:
            send = t.defn.send
            cells.append([None if v is None else send(v) for v in values])
            continue
        text = _SMALL_TEXT.get(t.oid) if t.elem is None else None
        if text is None:
            return None
        cells.append(text(values))
    return _frame_small(cells, len(rows))


def data_rows(
    table: pa.Table,
    columns: Sequence[ResultColumn],
    formats: Sequence[int],
    start: int = 0,
    stop: int | None = None,
) -> Iterator[bytes]:
    """DataRow messages for rows ``start:stop`` of ``table``, in chunks of bytes.

    ``formats`` holds one format code per column (0 text, 1 binary).
    """
    stop = table.num_rows if stop is None else min(stop, table.num_rows)
    for lo in range(start, stop, ROWS_PER_CHUNK):
        hi = min(lo + ROWS_PER_CHUNK, stop)
        if (hi - lo) * len(columns) <= SMALL_CELLS and columns:
            small = [
                _small(table.column(i).slice(lo, hi - lo), col.type, formats[i])
                for i, col in enumerate(columns)
            ]
            yield _frame_small(small, hi - lo)
            continue
        cells = []
        for i, col in enumerate(columns):
            arr = table.column(i).slice(lo, hi - lo).combine_chunks()
            encode = binary_column if formats[i] == BINARY else text_column
            cells.append(encode(arr, col.type))
        if not cells:  # SELECT with no columns: rows without values
            yield (b"D" + (6).to_bytes(4, "big") + b"\0\0") * (hi - lo)
            continue
        yield _frame(cells, hi - lo)
