"""Client parameters -> Python values of a SQL type, and the type of a parameter nobody typed.

A ``str`` is read by the type's input function, exactly as PostgreSQL reads an untyped
literal or a text-format Bind parameter; other Python values are converted the way the
matching assignment cast would.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from sqlvec.errors import DatatypeMismatch, NumericValueOutOfRange
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType
from sqlvec.types.numbers import INT_RANGES, numeric_apply_typmod
from sqlvec.types.values import BitString, Interval, SparseVector
from sqlvec.types.vectors import check_elements, check_expected_dim, check_sparse_indices


def _mismatch(value: Any, t: SqlType) -> DatatypeMismatch:
    return DatatypeMismatch(
        f"cannot use a Python {type(value).__name__} as a parameter of type {t}"
    )


def _int(name: str) -> Callable[[Any, SqlType], int]:
    lo, hi = INT_RANGES[name]

    def adapt(v: Any, t: SqlType) -> int:
        if isinstance(v, bool | np.bool_):
            raise _mismatch(v, t)
        if isinstance(v, float | np.floating | Decimal):
            if not math.isfinite(v):
                raise NumericValueOutOfRange(f"{name} out of range")
            v = int(Decimal(float(v) if isinstance(v, np.floating) else v)
                    .to_integral_value(ROUND_HALF_UP))
        n = int(v)
        if not lo <= n <= hi:
            raise NumericValueOutOfRange(f"{name} out of range")
        return n

    return adapt


def _float(float4: bool) -> Callable[[Any, SqlType], float]:
    def adapt(v: Any, t: SqlType) -> float:
        if isinstance(v, bool | np.bool_):
            raise _mismatch(v, t)
        f = float(v)
        if float4 and math.isfinite(f):
            with np.errstate(over="ignore"):
                g = float(np.float32(f))
            if math.isinf(g):
                raise NumericValueOutOfRange("value out of range: overflow")
            return g
        return f

    return adapt


def _numeric(v: Any, t: SqlType) -> Decimal:
    if isinstance(v, bool | np.bool_):
        raise _mismatch(v, t)
    d = v if isinstance(v, Decimal) else Decimal(repr(float(v)) if isinstance(
        v, float | np.floating) else int(v))
    return numeric_apply_typmod(d, t.typmod)


def _string(v: Any, t: SqlType) -> str:
    if isinstance(v, bytes | bytearray | memoryview):
        raise _mismatch(v, t)
    text = v if isinstance(v, str) else _text_of(v)
    return t.defn.text_in(text, t.typmod)


def _text_of(v: Any) -> str:
    t = infer_param_type(v)
    return t.defn.text_out(adapt_param(v, t))


def _dense(dtype: type, name: str) -> Callable[[Any, SqlType], np.ndarray]:
    def adapt(v: Any, t: SqlType) -> np.ndarray:
        if isinstance(v, SparseVector):
            v = v.to_dense()
        arr = np.asarray(v)
        if arr.ndim != 1 or arr.dtype.kind not in "biuf":
            raise _mismatch(v, t)
        if arr.dtype == dtype:
            out = arr  # already the storage type (a float32 query vector): no copy
        else:
            with np.errstate(over="ignore"):
                out = arr.astype(dtype)
        if not np.isfinite(out).all():  # one pass in the common case; details only on failure
            if np.isinf(out).any() and np.isfinite(arr.astype(np.float64)).all():
                raise NumericValueOutOfRange(f"value out of range for type {name}")
            check_elements(out, name)
        from sqlvec.types.vectors import check_dim

        check_dim(name, out.shape[0], 16000)
        check_expected_dim(t.typmod, out.shape[0])
        return out

    return adapt


def _sparse(v: Any, t: SqlType) -> SparseVector:
    if not isinstance(v, SparseVector):
        v = SparseVector.from_dense(_dense(np.float32, "sparsevec")(v, R.VECTOR))
    check_elements(v.values, "sparsevec")
    check_sparse_indices(v.indices, v.dim)
    check_expected_dim(t.typmod, v.dim)
    nz = v.values != 0
    return v if nz.all() else SparseVector(v.dim, v.indices[nz], v.values[nz])


def _bits(v: Any, t: SqlType) -> BitString:
    if not isinstance(v, BitString):
        v = BitString.from_bools(np.asarray(v))
    return t.defn.text_in(str(v), t.typmod)


def _of(*types: type, convert: Callable[[Any], Any] | None = None):
    def adapt(v: Any, t: SqlType) -> Any:
        if isinstance(v, types):
            return convert(v) if convert else v
        raise _mismatch(v, t)

    return adapt


def _timestamp(v: Any, t: SqlType) -> dt.datetime:
    if not isinstance(v, dt.datetime):
        if isinstance(v, dt.date):
            v = dt.datetime.combine(v, dt.time())
        else:
            raise _mismatch(v, t)
    if v.tzinfo is not None:
        v = v.astimezone(dt.UTC).replace(tzinfo=None)
    return v


def _timestamptz(v: Any, t: SqlType) -> dt.datetime:
    # naive values are read in the session TimeZone (UTC); aware ones are converted
    return _timestamp(v, t).replace(tzinfo=dt.UTC)


def _json(v: Any, t: SqlType) -> str:
    return t.defn.text_in(json.dumps(v), t.typmod)


_ADAPT: dict[int, Callable[[Any, SqlType], Any]] = {
    R.BOOL.oid: _of(bool, np.bool_, convert=bool),
    R.INT2.oid: _int("smallint"),
    R.INT4.oid: _int("integer"),
    R.INT8.oid: _int("bigint"),
    R.FLOAT4.oid: _float(True),
    R.FLOAT8.oid: _float(False),
    R.NUMERIC.oid: _numeric,
    R.TEXT.oid: _string,
    R.VARCHAR.oid: _string,
    R.BPCHAR.oid: _string,
    R.UNKNOWN.oid: _string,
    R.BYTEA.oid: _of(bytes, bytearray, memoryview, convert=bytes),
    R.UUID.oid: _of(uuid.UUID),
    R.DATE.oid: lambda v, t: _of(dt.date)(v.date() if isinstance(v, dt.datetime) else v, t),
    R.TIME.oid: _of(dt.time, convert=lambda v: v.replace(tzinfo=None)),
    R.TIMESTAMP.oid: _timestamp,
    R.TIMESTAMPTZ.oid: _timestamptz,
    R.INTERVAL.oid: _of(Interval, dt.timedelta, convert=lambda v: v if isinstance(
        v, Interval) else Interval.from_timedelta(v)),
    R.JSON.oid: _json,
    R.JSONB.oid: _json,
    R.VECTOR.oid: _dense(np.float32, "vector"),
    R.HALFVEC.oid: _dense(np.float16, "halfvec"),
    R.SPARSEVEC.oid: _sparse,
    R.BIT.oid: _bits,
    R.VARBIT.oid: _bits,
}


def adapt_param(value: Any, t: SqlType) -> Any:
    """The Python value of type ``t`` for a client parameter (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):  # read as PostgreSQL reads a text parameter
        return t.defn.text_in(value, t.typmod)
    if t.elem is not None:
        if isinstance(value, np.ndarray | list | tuple):
            return [adapt_param(v, t.elem) for v in (
                value.tolist() if isinstance(value, np.ndarray) else value)]
        raise _mismatch(value, t)
    adapt = _ADAPT.get(t.oid)
    # types without an adapter (oid, regclass ...) take their own Python values as they are
    return adapt(value, t) if adapt is not None else value


def infer_param_type(value: Any) -> SqlType:
    """The type a parameter has when nothing else says: what psycopg 3 would send.

    int -> smallint/integer/bigint/numeric by magnitude (psycopg picks the smallest);
    float -> double precision; str -> unknown (resolved by context, text by default);
    numpy float32/float16 1-D -> vector/halfvec; lists -> the array of their elements' type
    (a list of numbers is an array, not a vector: send numpy float32 for a vector).
    """
    if value is None:
        return R.UNKNOWN
    for py_type, sql in _INFER:
        if isinstance(value, py_type):
            return sql if isinstance(sql, SqlType) else sql(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.dtype == np.float32:
            return R.VECTOR
        if value.ndim == 1 and value.dtype == np.float16:
            return R.HALFVEC
        return infer_param_type(value.tolist())
    if isinstance(value, list | tuple):
        elems = [infer_param_type(v) for v in value if v is not None]
        if not elems:
            return R.array_of(R.TEXT)
        if all(e.oid in _INT_ORDER for e in elems):
            return R.array_of(max(elems, key=lambda e: _INT_ORDER[e.oid]))
        return R.array_of(elems[0] if elems[0].oid != R.UNKNOWN.oid else R.TEXT)
    if isinstance(value, dict):
        return R.JSONB
    raise DatatypeMismatch(f"cannot adapt type '{type(value).__name__}' to a SQL type")


def _int_type(v: int) -> SqlType:
    for t, name in ((R.INT2, "smallint"), (R.INT4, "integer"), (R.INT8, "bigint")):
        lo, hi = INT_RANGES[name]
        if lo <= v <= hi:
            return t
    return R.NUMERIC


_INT_ORDER = {R.INT2.oid: 0, R.INT4.oid: 1, R.INT8.oid: 2, R.NUMERIC.oid: 3}
# order matters: bool before int, datetime before date
_INFER: list[tuple[type | tuple[type, ...], Any]] = [
    ((bool, np.bool_), R.BOOL),
    ((int, np.integer), lambda v: _int_type(int(v))),
    ((float, np.floating), R.FLOAT8),
    (Decimal, R.NUMERIC),
    (str, R.UNKNOWN),
    ((bytes, bytearray, memoryview), R.BYTEA),
    (uuid.UUID, R.UUID),
    (dt.datetime, lambda v: R.TIMESTAMPTZ if v.tzinfo is not None else R.TIMESTAMP),
    (dt.date, R.DATE),
    (dt.time, R.TIME),
    ((dt.timedelta, Interval), R.INTERVAL),
    (SparseVector, R.SPARSEVEC),
    (BitString, R.VARBIT),
]
