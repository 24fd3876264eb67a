"""Casting whole Arrow columns, vectorised with pyarrow.compute where the cast is common.

Rules that differ from Arrow's own casts and are PostgreSQL's:
float -> integer rounds half to even (rint), numeric -> integer rounds half away from zero;
overflow raises ``integer out of range`` (22003); float8 -> numeric keeps 15 significant
digits (DBL_DIG), float4 -> numeric 6; varchar(n)/char(n) truncate on an explicit cast and
raise on assignment unless only spaces are cut; vector(n) checks the dimension count.
Anything else goes through the source's output and the target's input function per value,
which is what PostgreSQL's I/O conversion casts do.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.errors import (
    CannotCoerce,
    DataException,
    NullValueNotAllowed,
    NumericValueOutOfRange,
    StringDataRightTruncation,
)
from sqlvec.types import registry as R
from sqlvec.types.arrow import from_arrow, text_out_array, to_arrow
from sqlvec.types.base import SqlType
from sqlvec.types.numbers import INT_RANGES, numeric_apply_typmod
from sqlvec.types.values import SparseVector
from sqlvec.types.vectors import check_dim, check_elements

_INT_NAME = {R.INT2.oid: "smallint", R.INT4.oid: "integer", R.INT8.oid: "bigint"}
_INTS = set(_INT_NAME)
_FLOATS = {R.FLOAT4.oid, R.FLOAT8.oid}
_STRINGS = {R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid, R.UNKNOWN.oid}
_DENSE = {R.VECTOR.oid: np.float32, R.HALFVEC.oid: np.float16}
_FEW = 8  # arrays this short are cast value by value


def _to_int(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    name = _INT_NAME[dst.oid]
    lo, hi = INT_RANGES[name]
    if src.oid in _FLOATS:
        x = arr.to_numpy(zero_copy_only=False)
        valid = np.asarray(arr.is_valid()) if arr.null_count else None
        xv = x if valid is None else x[valid]
        r = np.rint(xv)  # rint: half to even, as dtoi4/dtoi8 do
        if xv.size and (not np.isfinite(r).all() or r.min() < lo or r.max() > hi
                        or (dst.oid == R.INT8.oid and r.max() >= 2.0**63)):
            raise NumericValueOutOfRange(f"{name} out of range")
        out = np.zeros(len(arr), dtype=dst.arrow_type().to_pandas_dtype())
        if valid is None:
            out[:] = r
        else:
            out[valid] = r
        return pa.array(out, mask=None if valid is None else ~valid)
    if src.oid == R.NUMERIC.oid:
        vals = from_arrow(arr, src)
        out_vals = []
        for v in vals:
            if v is None:
                out_vals.append(None)
                continue
            if not v.is_finite():
                raise NumericValueOutOfRange(f"cannot convert {'NaN' if v.is_nan() else 'infinity'} to {name}")
            n = int(v.to_integral_value(ROUND_HALF_UP))
            if not lo <= n <= hi:
                raise NumericValueOutOfRange(f"{name} out of range")
            out_vals.append(n)
        return pa.array(out_vals, dst.arrow_type())
    if src.oid == R.BOOL.oid:
        return arr.cast(dst.arrow_type())
    if len(arr) <= _FEW:  # a parameter or a VALUES row: Python beats the compute kernels
        vals = arr.to_pylist()
        if any(v is not None and not lo <= v <= hi for v in vals):
            raise NumericValueOutOfRange(f"{name} out of range")
        return pa.array(vals, dst.arrow_type())
    if src.oid in _INTS and INT_RANGES[_INT_NAME[src.oid]][1] <= hi:
        return arr.cast(dst.arrow_type())  # widening (int2 -> int4 ...): nothing to check
    mm = pc.min_max(arr).as_py()
    if mm["min"] is not None and (mm["min"] < lo or mm["max"] > hi):
        raise NumericValueOutOfRange(f"{name} out of range")
    return arr.cast(dst.arrow_type(), safe=False)


def _to_float(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    if src.oid == R.NUMERIC.oid:
        vals = from_arrow(arr, src)
        out = [None if v is None else float(v) for v in vals]
        if dst.oid == R.FLOAT4.oid:
            # numeric_float4 goes through float4in of the numeric's text
            with np.errstate(over="ignore", under="ignore"):
                for v, f in zip(vals, out):
                    if f is None or not v.is_finite() or v == 0:
                        continue
                    g = np.float32(f)
                    if np.isinf(g) or g == 0:
                        raise NumericValueOutOfRange(
                            f'"{format(v, "f")}" is out of range for type real')
        return pa.array(out, dst.arrow_type())
    if src.oid == R.FLOAT8.oid and dst.oid == R.FLOAT4.oid:
        x = arr.to_numpy(zero_copy_only=False)
        with np.errstate(over="ignore"):
            y = x.astype(np.float32)
        fin = np.isfinite(x)
        if (np.isinf(y) & fin).any():
            raise NumericValueOutOfRange("value out of range: overflow")
        if ((y == 0) & (x != 0) & fin).any():
            raise NumericValueOutOfRange("value out of range: underflow")
        return pa.array(y, mask=np.asarray(arr.is_null()) if arr.null_count else None)
    return arr.cast(dst.arrow_type(), safe=False)


def _to_numeric(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    vals = from_arrow(arr, src)
    if src.oid in _FLOATS:
        digits = 6 if src.oid == R.FLOAT4.oid else 15  # FLT_DIG / DBL_DIG
        conv = [None if v is None else Decimal(
            "NaN" if v != v else (f"{v:.{digits}g}" if abs(v) != float("inf")
                                  else ("Infinity" if v > 0 else "-Infinity"))) for v in vals]
    else:
        conv = [None if v is None else Decimal(int(v) if isinstance(v, bool | int) else v)
                for v in vals]
    return to_arrow([None if d is None else numeric_apply_typmod(d, dst.typmod) for d in conv],
                    dst)


def _strings(arr: pa.Array, src: SqlType, dst: SqlType, explicit: bool) -> pa.Array:
    """text/varchar/bpchar -> varchar(n)/bpchar(n)/text."""
    if src.oid == R.BOOL.oid:
        s = pc.if_else(arr, "true", "false")  # booltext, unlike boolout's t/f
    else:
        s = arr if src.oid in _STRINGS else pa.array(text_out_array(arr, src), pa.string())
    if src.oid == R.BPCHAR.oid and dst.oid != R.BPCHAR.oid:
        s = pc.utf8_rtrim(s, " ")  # bpchar loses its padding when it becomes text
    if dst.typmod >= 4 and dst.oid in (R.VARCHAR.oid, R.BPCHAR.oid):
        n = dst.typmod - 4
        too_long = pc.greater(pc.utf8_length(s), n)
        if pc.any(too_long).as_py():
            if not explicit:
                rest = pc.utf8_slice_codeunits(pc.filter(s, too_long), n)
                if pc.any(pc.not_equal(pc.utf8_length(pc.utf8_rtrim(rest, " ")), 0)).as_py():
                    name = "character varying" if dst.oid == R.VARCHAR.oid else "character"
                    raise StringDataRightTruncation(f"value too long for type {name}({n})")
            s = pc.utf8_slice_codeunits(s, 0, n)
        if dst.oid == R.BPCHAR.oid:
            s = pc.utf8_rpad(s, n, " ")
    return s


def _dense(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """vector/halfvec/real[]... -> vector(n)/halfvec(n)."""
    name = dst.name
    if src.elem is not None and arr.null_count < len(arr):
        values = arr.values if not isinstance(arr, pa.ListArray) else arr.flatten()
        if values.null_count:
            raise NullValueNotAllowed("array must not contain nulls")
    if src.oid in _STRINGS or src.defn is R.UNKNOWN.defn:
        return _per_value(arr, src, dst)  # '[1,2]'::text::vector reads the text
    rows = from_arrow(arr, src) if src.oid in _DENSE or src.oid == R.SPARSEVEC.oid else [
        None if v is None else np.asarray([float(x) for x in v], dtype=np.float64)
        for v in from_arrow(arr, src)]
    out = []
    for r in rows:
        if r is None:
            out.append(None)
            continue
        if isinstance(r, SparseVector):
            r = r.to_dense()
        with np.errstate(over="ignore"):
            v = np.asarray(r).astype(_DENSE[dst.oid])
        if np.isinf(v).any() and np.isfinite(np.asarray(r, dtype=np.float64)).all():
            raise NumericValueOutOfRange("value out of range: overflow")
        check_elements(v, name)
        check_dim(name, v.shape[0], 16000)
        if dst.typmod > 0 and v.shape[0] != dst.typmod:
            raise DataException(f"expected {dst.typmod} dimensions, not {v.shape[0]}")
        out.append(v)
    return to_arrow(out, dst)


def _same_vector(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """vector -> vector(n): only the dimension check; no per-row work."""
    if dst.typmod <= 0:
        return arr.cast(dst.arrow_type()) if isinstance(arr, pa.FixedSizeListArray) else arr
    if isinstance(arr, pa.FixedSizeListArray):
        n = arr.type.list_size
        if n != dst.typmod and len(arr) > arr.null_count:
            raise DataException(f"expected {dst.typmod} dimensions, not {n}")
        return arr
    lengths = pc.list_value_length(arr)
    bad = pc.and_(pc.not_equal(lengths, dst.typmod), pc.is_valid(arr))
    if pc.any(bad).as_py():
        first = pc.filter(lengths, bad)[0].as_py()
        raise DataException(f"expected {dst.typmod} dimensions, not {first}")
    return arr.cast(dst.arrow_type())


def _per_value(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """I/O conversion: the source's output function, then the target's input function."""
    texts = text_out_array(arr, src) if src.oid not in _STRINGS else arr.to_pylist()
    return to_arrow([None if s is None else dst.defn.text_in(s, dst.typmod) for s in texts], dst)


def _sparse(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    rows = from_arrow(arr, src)
    out = []
    for r in rows:
        if r is None:
            out.append(None)
            continue
        sv = r if isinstance(r, SparseVector) else SparseVector.from_dense(r)
        if dst.typmod > 0 and sv.dim != dst.typmod:
            raise DataException(f"expected {dst.typmod} dimensions, not {sv.dim}")
        out.append(sv)
    return to_arrow(out, dst)


def _to_arrays(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """vector/halfvec -> real[]; arrays element-wise."""
    assert dst.elem is not None
    if src.oid in _DENSE:
        rows = from_arrow(arr, src)
        return to_arrow([None if r is None else r.astype(np.float32).tolist() for r in rows],
                        dst)
    offsets = arr.offsets
    child = cast_array(arr.values, src.elem, dst.elem, explicit=True)  # type: ignore[arg-type]
    return pa.ListArray.from_arrays(offsets, child, type=dst.arrow_type(),
                                    mask=arr.is_null() if arr.null_count else None)


def _bool_from_int(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    return pc.not_equal(arr, 0)


def _datetime(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    if src.oid == dst.oid:
        return arr.cast(dst.arrow_type())
    # timestamptz <-> wall-clock types go through the session's TimeZone
    from sqlvec.types.datetime_casts import cast_datetime

    return cast_datetime(arr, src, dst)


_DATETIMES = {R.DATE.oid, R.TIMESTAMP.oid, R.TIMESTAMPTZ.oid}
# (source oid, target oid) -> column cast, for types defined outside this module (catalog_types)
CAST_FUNCS: dict[tuple[int, int], Callable[..., pa.Array]] = {}


def _plan(src: SqlType, dst: SqlType) -> Callable[..., pa.Array] | None:
    if (src.oid, dst.oid) in CAST_FUNCS:
        return CAST_FUNCS[(src.oid, dst.oid)]
    if dst.oid in _INTS and (src.oid in _INTS | _FLOATS | {R.NUMERIC.oid, R.BOOL.oid}):
        return _to_int
    if dst.oid in _FLOATS and src.oid in _INTS | _FLOATS | {R.NUMERIC.oid}:
        return _to_float
    if dst.oid == R.NUMERIC.oid and src.oid in _INTS | _FLOATS | {R.NUMERIC.oid}:
        return _to_numeric
    if dst.oid == R.BOOL.oid and src.oid in _INTS:
        return _bool_from_int
    if dst.oid in _DENSE:
        return _same_vector if src.oid == dst.oid else _dense
    if dst.oid == R.SPARSEVEC.oid and src.oid in (R.SPARSEVEC.oid, *_DENSE):
        return _sparse
    if dst.elem is not None and (src.elem is not None or src.oid in _DENSE):
        return _to_arrays
    if src.oid in _DATETIMES and dst.oid in _DATETIMES | {R.TIME.oid}:
        return _datetime
    return None


def cast_array(arr: pa.Array | pa.ChunkedArray, src: SqlType, dst: SqlType,
               explicit: bool = False) -> pa.Array:
    """Cast a column from ``src`` to ``dst``; ``explicit`` is CAST/:: (vs assignment)."""
    from sqlvec.types.casts import find_cast

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    cast = find_cast(src, dst)
    if cast is None or not cast.allowed("e" if explicit else "a"):
        raise CannotCoerce(f"cannot cast type {src} to {dst}")
    if src == dst:
        return arr
    if dst.oid in _STRINGS - {R.UNKNOWN.oid} and src.elem is None:
        return _strings(arr, src, dst, explicit)
    fn = _plan(src, dst)
    if fn is not None:
        return fn(arr, src, dst)
    return _per_value(arr, src, dst)
