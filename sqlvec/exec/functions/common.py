"""Helpers the function families share: broadcasting, NULL masks, error mapping, row loops.

Arguments arrive as Arrays of length n or Scalars (constants, parameters); a result is a
Scalar exactly when every argument was a Scalar.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.types.base import SqlType

Datum = pa.Array | pa.Scalar


def all_scalar(args: Sequence[Datum]) -> bool:
    return all(isinstance(a, pa.Scalar) for a in args)


def as_array(d: Datum, n: int) -> pa.Array:
    """An Array of length n (a Scalar is repeated)."""
    if isinstance(d, pa.Scalar):
        return pa.repeat(d, n)
    if isinstance(d, pa.ChunkedArray):
        return d.combine_chunks()
    return d


def finish(arr: pa.Array, args: Sequence[Datum]) -> Datum:
    """Scalar when every argument was a Scalar (arr then has length 1), else the Array."""
    return arr[0] if all_scalar(args) else arr


def length(args: Sequence[Datum], n: int) -> int:
    """Rows to compute: 1 when every argument is a Scalar."""
    return 1 if all_scalar(args) else n


def valid_mask(args: Sequence[Datum], n: int) -> np.ndarray:
    """True where no argument is NULL (strict functions compute only there)."""
    ok = np.ones(n, dtype=bool)
    for a in args:
        if isinstance(a, pa.Scalar):
            if not a.is_valid:
                ok[:] = False
        elif a.null_count:
            ok &= np.asarray(a.is_valid())
    return ok


def numpy_values(d: Datum, n: int, dtype: Any = None, fill: Any = 0) -> np.ndarray:
    """Values as numpy (NULLs replaced by ``fill``), broadcast to n."""
    if isinstance(d, pa.Scalar):
        v = d.as_py() if d.is_valid else fill
        return np.full(n, v, dtype=dtype)
    if d.null_count:
        d = d.fill_null(fill)
    out = d.to_numpy(zero_copy_only=False)
    return out if dtype is None else out.astype(dtype, copy=False)


def from_numpy(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    mask = None if valid.all() else ~valid
    return pa.array(values, type=typ, mask=mask, from_pandas=False)


def pylist(d: Datum, n: int) -> list[Any]:
    if isinstance(d, pa.Scalar):
        return [d.as_py()] * n
    return d.to_pylist()


def map_rows(
    fn: Callable[..., Any],
    args: Sequence[Datum],
    n: int,
    out: pa.DataType,
    strict: bool = True,
    convert: Sequence[Callable[[Any], Any]] | None = None,
) -> Datum:
    """Per-row Python, for types stored as Python objects (numeric Decimals, intervals) and
    for rarely used string functions that pyarrow has no kernel for."""
    m = length(args, n)
    cols = [pylist(a, m) for a in args]
    if convert is not None:
        cols = [[None if v is None else cv(v) for v in col] for col, cv in zip(cols, convert)]
    res: list[Any] = []
    for row in zip(*cols) if cols else [()] * m:
        if strict and any(v is None for v in row):
            res.append(None)
        else:
            res.append(fn(*row))
    return finish(pa.array(res, type=out), args)


def arrow_type(t: SqlType) -> pa.DataType:
    return t.arrow_type()


# --------------------------------------------------------------------------- numeric values

NUMERIC_CTX = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP, Emax=10**6,
                              Emin=-(10**6), traps=[decimal.InvalidOperation])


def to_decimal(v: Any) -> decimal.Decimal:
    if isinstance(v, decimal.Decimal):
        return v
    if isinstance(v, float):
        # PostgreSQL's float8 -> numeric keeps the shortest round-trip digits (15 significant)
        return decimal.Decimal(repr(v))
    return decimal.Decimal(v)


def decimal_text(d: decimal.Decimal) -> str:
    """numeric_out: plain notation, scale kept (no exponent)."""
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    return format(d, "f")


def numeric_out(values: list[decimal.Decimal | None], t: SqlType) -> pa.Array:
    typ = arrow_type(t)
    if pa.types.is_decimal(typ):
        return pa.array(values, type=typ)
    return pa.array([None if v is None else decimal_text(v) for v in values], type=typ)


# --------------------------------------------------------------------------------- errors

_RANGE_NAMES = {"smallint": "smallint", "integer": "integer", "bigint": "bigint"}


def out_of_range(t: SqlType) -> errors.Error:
    name = _RANGE_NAMES.get(t.name, t.name)
    return errors.NumericValueOutOfRange(f"{name} out of range")


def call_checked(fn: Callable[..., Datum], t: SqlType, *args: Any) -> Datum:
    """Run a pyarrow ``*_checked`` kernel, turning Arrow errors into PostgreSQL's."""
    try:
        return fn(*args)
    except pa.ArrowInvalid as exc:
        msg = str(exc).lower()
        if "divide by zero" in msg:
            raise errors.DivisionByZero("division by zero") from None
        if "overflow" in msg:
            raise out_of_range(t) from None
        raise


def data_error(sqlstate: str, message: str) -> errors.Error:
    return errors.error_for(sqlstate, message)


def pc_fn(name: str) -> Callable[..., Datum]:
    """A pyarrow.compute function, called on the datums as they are (broadcasting built in)."""
    fn = getattr(pc, name)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return fn(*args)

    return impl
