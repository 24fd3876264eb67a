"""Python values <-> Arrow storage, and PostgreSQL text output of whole Arrow columns.

Vector columns never go through a Python loop per element: ``from_arrow`` reshapes the flat
float buffer and ``text_out_array`` formats all floats in one pass (see floatfmt).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.errors import FeatureNotSupported
from sqlvec.types import registry as R
from sqlvec.types.adapt import adapt_param, infer_param_type
from sqlvec.types.base import SqlType
from sqlvec.types.datetime_text import format_date_column, format_timestamp_column
from sqlvec.types.datetimes import UTC
from sqlvec.types.floatfmt import format_floats
from sqlvec.types.values import BitString, Interval, SparseVector

__all__ = ["to_arrow", "from_arrow", "text_out_array", "adapt_param", "infer_param_type"]

_NP_FLOAT = {R.VECTOR.oid: np.float32, R.HALFVEC.oid: np.float16}


def _mask(values: list) -> np.ndarray:
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


# --- Python -> Arrow ----------------------------------------------------------------------


def _dense_to_arrow(values: list, t: SqlType) -> pa.Array:
    dtype = _NP_FLOAT[t.oid]
    if len(values) == 1 and values[0] is not None:  # one query vector (a k-NN parameter)
        flat = np.asarray(values[0], dtype=dtype)
        if t.typmod > 0:
            return pa.FixedSizeListArray.from_arrays(pa.array(flat), t.typmod)
        return pa.ListArray.from_arrays(pa.array(np.array([0, len(flat)], np.int32)), pa.array(flat))
    mask = _mask(values)
    rows = [np.asarray(v, dtype=dtype) for v in values if v is not None]
    if t.typmod > 0:
        flat = np.empty((len(values), t.typmod), dtype=dtype)
        flat[~mask] = np.stack(rows) if rows else flat[:0]
        flat[mask] = 0
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), t.typmod,
                                                 mask=pa.array(mask))
    lengths = np.zeros(len(values), dtype=np.int32)
    lengths[~mask] = [r.shape[0] for r in rows]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = np.concatenate(rows) if rows else np.empty(0, dtype=dtype)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), mask=pa.array(mask))


def _sparse_to_arrow(values: list[SparseVector | None], t: SqlType) -> pa.Array:
    mask = _mask(values)
    present = [v for v in values if v is not None]
    dims = np.zeros(len(values), dtype=np.int32)
    dims[~mask] = [v.dim for v in present]
    nnz = np.zeros(len(values), dtype=np.int32)
    nnz[~mask] = [v.indices.shape[0] for v in present]
    offsets = pa.array(np.concatenate([[0], np.cumsum(nnz)]).astype(np.int32))
    idx = np.concatenate([v.indices for v in present]) if present else np.empty(0, np.int32)
    val = np.concatenate([v.values for v in present]) if present else np.empty(0, np.float32)
    return pa.StructArray.from_arrays(
        [pa.array(dims), pa.ListArray.from_arrays(offsets, pa.array(idx.astype(np.int32))),
         pa.ListArray.from_arrays(offsets, pa.array(val.astype(np.float32)))],
        fields=list(R.SPARSEVEC_ARROW), mask=pa.array(mask))


def _bits_to_arrow(values: list[BitString | None], t: SqlType) -> pa.Array:
    mask = _mask(values)
    return pa.StructArray.from_arrays(
        [pa.array([0 if v is None else v.nbits for v in values], pa.int32()),
         pa.array([b"" if v is None else v.data for v in values], pa.binary())],
        fields=list(R.BIT_ARROW), mask=pa.array(mask))


def _list_to_arrow(values: list, t: SqlType) -> pa.Array:
    assert t.elem is not None
    mask = _mask(values)
    lengths = [0 if v is None else len(v) for v in values]
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    flat = [x for v in values if v is not None for x in v]
    child = to_arrow(flat, t.elem)
    return pa.ListArray.from_arrays(offsets, child, type=t.arrow_type(), mask=pa.array(mask))


def _numeric_to_arrow(values: list, t: SqlType) -> pa.Array:
    typ = t.arrow_type()
    # values may come as the numeric storage text (a constant's Arrow value read back)
    values = [Decimal(v) if isinstance(v, str) else v for v in values]
    if pa.types.is_string(typ):
        return pa.array([None if v is None else R.NUMERIC_DEF.text_out(v) for v in values],
                        pa.string())
    if any(v is not None and not v.is_finite() for v in values):
        raise FeatureNotSupported(f"NaN and infinity cannot be stored in a {t} column")
    return pa.array(values, typ)


_TO_ARROW: dict[int, Callable[[list, SqlType], pa.Array]] = {
    R.VECTOR.oid: _dense_to_arrow,
    R.HALFVEC.oid: _dense_to_arrow,
    R.SPARSEVEC.oid: _sparse_to_arrow,
    R.BIT.oid: _bits_to_arrow,
    R.VARBIT.oid: _bits_to_arrow,
    R.NUMERIC.oid: _numeric_to_arrow,
    R.UUID.oid: lambda vs, t: pa.array([None if v is None else v.bytes for v in vs],
                                       pa.binary(16)),
    R.INTERVAL.oid: lambda vs, t: pa.array(
        [None if v is None else pa.MonthDayNano([v.months, v.days, v.microseconds * 1000])
         for v in vs], pa.month_day_nano_interval()),
}


def to_arrow(values: list, t: SqlType) -> pa.Array:
    """Arrow storage of Python values of type ``t`` (None is NULL)."""
    if t.elem is not None:
        return _list_to_arrow(values, t)
    conv = _TO_ARROW.get(t.oid)
    if conv is not None:
        return conv(values, t)
    return pa.array(values, t.arrow_type())


# --- Arrow -> Python ----------------------------------------------------------------------


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return arr.is_valid().to_numpy(zero_copy_only=False)


def _with_nulls(rows: list, valid: np.ndarray) -> list:
    if valid.all():
        return rows
    return [r if ok else None for r, ok in zip(rows, valid.tolist())]


def _dense_from_arrow(arr: pa.Array, t: SqlType) -> list:
    dtype = _NP_FLOAT[t.oid]
    valid = _valid(arr)
    if isinstance(arr, pa.FixedSizeListArray):
        n = arr.type.list_size
        flat = arr.values.to_numpy(zero_copy_only=False)[arr.offset * n:(arr.offset + len(arr)) * n]
        # one copy of the whole block, so that the rows are writable views into it
        rows = list(np.array(flat, dtype=dtype).reshape(len(arr), n))
        return _with_nulls(rows, valid)
    offsets = arr.offsets.to_numpy()
    flat = np.array(arr.values.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]], dtype=dtype)
    rows = np.split(flat, (offsets[1:-1] - offsets[0]).tolist())
    return _with_nulls(rows, valid)


def _list_from_arrow(arr: pa.Array, t: SqlType) -> list:
    assert t.elem is not None
    offsets = arr.offsets.to_numpy()
    child = from_arrow(arr.values.slice(offsets[0], offsets[-1] - offsets[0]), t.elem)
    rel = (offsets - offsets[0]).tolist()
    rows = [child[rel[i]:rel[i + 1]] for i in range(len(arr))]
    return _with_nulls(rows, _valid(arr))


def _sparse_from_arrow(arr: pa.Array, t: SqlType) -> list:
    dims = arr.field("dim").to_pylist()
    idx, vals = arr.field("indices"), arr.field("values")
    off = idx.offsets.to_numpy()
    flat_i = idx.values.to_numpy(zero_copy_only=False)
    flat_v = vals.values.to_numpy(zero_copy_only=False)
    voff = vals.offsets.to_numpy()
    rows = [None if dims[k] is None else SparseVector(dims[k], flat_i[off[k]:off[k + 1]].copy(),
                                                       flat_v[voff[k]:voff[k + 1]].copy())
            for k in range(len(arr))]
    return _with_nulls(rows, _valid(arr))


def _bits_from_arrow(arr: pa.Array, t: SqlType) -> list:
    # a NULL struct may have NULL children too (pa.repeat of a NULL scalar, for one)
    rows = [None if n is None or d is None else BitString(n, d)
            for n, d in zip(arr.field("nbits").to_pylist(), arr.field("data").to_pylist())]
    return _with_nulls(rows, _valid(arr))


def _map(fn: Callable[[Any], Any]) -> Callable[[pa.Array, SqlType], list]:
    return lambda arr, t: [None if v is None else fn(v) for v in arr.to_pylist()]


_FROM_ARROW: dict[int, Callable[[pa.Array, SqlType], list]] = {
    R.VECTOR.oid: _dense_from_arrow,
    R.HALFVEC.oid: _dense_from_arrow,
    R.SPARSEVEC.oid: _sparse_from_arrow,
    R.BIT.oid: _bits_from_arrow,
    R.VARBIT.oid: _bits_from_arrow,
    R.UUID.oid: _map(lambda b: uuid.UUID(bytes=b)),
    R.INTERVAL.oid: _map(lambda m: Interval(m.months, m.days, m.nanoseconds // 1000)),
    R.TIMESTAMPTZ.oid: _map(lambda d: d.replace(tzinfo=UTC)),
    R.NUMERIC.oid: lambda arr, t: (_map(Decimal)(arr, t) if pa.types.is_string(arr.type)
                                   else arr.to_pylist()),
}


def from_arrow(arr: pa.Array | pa.ChunkedArray, t: SqlType) -> list:
    """Python values (see base.py) of an Arrow column of type ``t``."""
    if isinstance(arr, pa.ChunkedArray):
        out: list = []
        for chunk in arr.chunks:
            out.extend(from_arrow(chunk, t))
        return out
    if t.elem is not None:
        return _list_from_arrow(arr, t)
    conv = _FROM_ARROW.get(t.oid)
    return conv(arr, t) if conv is not None else arr.to_pylist()


# --- text output of whole columns ---------------------------------------------------------


def _floats_text(arr: pa.Array, t: SqlType) -> pa.Array:
    valid = _valid(arr)
    values = arr.fill_null(0).to_numpy(zero_copy_only=False)
    out = format_floats(values, t.oid == R.FLOAT4.oid)
    return out if valid.all() else pc.if_else(pa.array(valid), out, None)


def _vector_text(arr: pa.Array, t: SqlType) -> pa.Array:
    if isinstance(arr, pa.FixedSizeListArray):
        n = arr.type.list_size
        flat = arr.values.slice(arr.offset * n, len(arr) * n)
        offsets = pa.array(np.arange(len(arr) + 1, dtype=np.int32) * n)
    else:
        offs = arr.offsets.to_numpy()
        flat = arr.values.slice(offs[0], offs[-1] - offs[0])
        offsets = pa.array((offs - offs[0]).astype(np.int32))
    # halfvec prints its elements widened to real, like vector
    strings = format_floats(flat.to_numpy(zero_copy_only=False).astype(np.float32), True)
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, strings), ",")
    out = pc.binary_join_element_wise("[", joined, "]", "")
    valid = _valid(arr)
    return out if valid.all() else pc.if_else(pa.array(valid), out, None)


def _bool_text(arr: pa.Array, t: SqlType) -> pa.Array:
    return pc.if_else(arr, "t", "f")


def _cast_text(arr: pa.Array, t: SqlType) -> pa.Array:
    return arr.cast(pa.string())


_TEXT_FAST: dict[int, Callable[[pa.Array, SqlType], pa.Array]] = {
    R.FLOAT4.oid: _floats_text,
    R.FLOAT8.oid: _floats_text,
    R.VECTOR.oid: _vector_text,
    R.HALFVEC.oid: _vector_text,
    R.BOOL.oid: _bool_text,
    R.INT2.oid: _cast_text,
    R.INT4.oid: _cast_text,
    R.INT8.oid: _cast_text,
    # DateStyle and TimeZone of the session (datetime_text)
    R.DATE.oid: lambda arr, t: format_date_column(arr),
    R.TIMESTAMP.oid: lambda arr, t: format_timestamp_column(arr, False),
    R.TIMESTAMPTZ.oid: lambda arr, t: format_timestamp_column(arr, True),
}
_TEXT_AS_IS = {R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid, R.JSON.oid, R.JSONB.oid, R.UNKNOWN.oid}


def text_out_array(arr: pa.Array | pa.ChunkedArray, t: SqlType) -> list[str | None]:
    """PostgreSQL's text output of every value of an Arrow column (None for NULL)."""
    if isinstance(arr, pa.ChunkedArray):
        out: list[str | None] = []
        for chunk in arr.chunks:
            out.extend(text_out_array(chunk, t))
        return out
    if t.elem is None:
        if t.oid in _TEXT_AS_IS:
            return arr.to_pylist()
        fast = _TEXT_FAST.get(t.oid)
        if fast is not None:
            return fast(arr, t).to_pylist()
        if t.oid == R.NUMERIC.oid and pa.types.is_decimal(arr.type) and arr.type.scale >= 0:
            return arr.cast(pa.string()).to_pylist()
    out_fn = t.defn.text_out
    return [None if v is None else out_fn(v) for v in from_arrow(arr, t)]
