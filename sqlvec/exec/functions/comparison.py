"""Comparison operators ``= <> < <= > >=`` for every comparable type.

Types Arrow compares natively use pyarrow.compute (text compares bytewise: the "C" collation).
Floats follow PostgreSQL, where NaN equals NaN and sorts above every number. numeric (stored
as text) and interval (compared after PostgreSQL's 30-day-month normalisation) go through a
sign array. Vectors compare lexicographically as pgvector's vector_cmp_internal: element by
element over the shorter length, then the shorter vector is smaller.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.exec.functions.common import (
    Datum,
    finish,
    from_numpy,
    length,
    numpy_values,
    pylist,
    valid_mask,
)
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.base import SqlType

_PC = {"=": pc.equal, "<>": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
       ">": pc.greater, ">=": pc.greater_equal}
_FROM_SIGN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "=": lambda s: s == 0, "<>": lambda s: s != 0, "<": lambda s: s < 0,
    "<=": lambda s: s <= 0, ">": lambda s: s > 0, ">=": lambda s: s >= 0,
}
ARROW_NATIVE = ("smallint", "integer", "bigint", "text", "boolean", "date", "bytea",
                "time without time zone", "timestamp without time zone",
                "timestamp with time zone", "character", "uuid")
FLOATS = ("real", "double precision")


def _native(op: str):
    fn = _PC[op]

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return fn(*args)

    return impl


def float_sign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """-1/0/1 with NaN equal to NaN and greater than any number (float8_cmp_internal)."""
    an, bn = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        s = np.where(a == b, 0, np.where(a < b, -1, 1))
    s = np.where(an & bn, 0, np.where(an, 1, np.where(bn, -1, s)))
    return s.astype(np.int8)


def _float_cmp(op: str):
    conv = _FROM_SIGN[op]

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        ok = valid_mask(args, m)
        a = numpy_values(args[0], m, np.float64)
        b = numpy_values(args[1], m, np.float64)
        return finish(from_numpy(conv(float_sign(a, b)), ok, pa.bool_()), args)

    return impl


def sign_compare(sign_fn: Callable[[list[Datum], list[SqlType], int], np.ndarray], op: str):
    """An operator from a function giving the comparison sign of each row."""
    conv = _FROM_SIGN[op]

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        ok = valid_mask(args, m)
        return finish(from_numpy(conv(sign_fn(args, types, m)), ok, pa.bool_()), args)

    return impl


def _py_sign(key: Callable[[object], object]):
    def sign(args: list[Datum], types: list[SqlType], m: int) -> np.ndarray:
        a, b = pylist(args[0], m), pylist(args[1], m)
        out = np.zeros(m, dtype=np.int8)
        for i, (x, y) in enumerate(zip(a, b)):
            if x is not None and y is not None:
                kx, ky = key(x), key(y)
                out[i] = (kx > ky) - (kx < ky)
        return out

    return sign


def _numeric_key(v: object):
    from sqlvec.exec.functions.common import to_decimal

    d = to_decimal(v)
    # NaN sorts above every number and equals itself, as numeric.c cmp_numerics
    return (1, 0) if d.is_nan() else (0, d)


def _interval_key(v: object) -> int:
    months, days, nanos = v.months, v.days, v.nanoseconds  # type: ignore[attr-defined]
    return (months * 30 + days) * 86_400_000_000_000 + nanos


def _vector_sign(args: list[Datum], types: list[SqlType], m: int) -> np.ndarray:
    from sqlvec.exec.functions.vecdata import dense_rows

    a, b = dense_rows(args[0], m), dense_rows(args[1], m)
    da, db = a.shape[1], b.shape[1]
    d = min(da, db)
    x, y = a[:, :d], b[:, :d]
    if d == 0:  # no common prefix (NULL rows give no columns): the longer vector is greater
        return np.full(m, np.sign(da - db), dtype=np.int8)
    diff = (x > y).astype(np.int8) - (x < y).astype(np.int8)
    nz = diff != 0
    first = np.argmax(nz, axis=1)
    s = np.where(nz.any(axis=1), diff[np.arange(m), first], np.sign(da - db))
    return s.astype(np.int8)


OPERATORS: list[Overload] = [
    *(Overload(op, (t, t), "boolean", _native(op)) for op in _PC for t in ARROW_NATIVE),
    *(Overload(op, (a, b), "boolean", _float_cmp(op)) for op in _PC for a in FLOATS
      for b in FLOATS),
    *(Overload(op, ("numeric", "numeric"), "boolean", sign_compare(_py_sign(_numeric_key), op))
      for op in _PC),
    *(Overload(op, ("interval", "interval"), "boolean",
               sign_compare(_py_sign(_interval_key), op)) for op in _PC),
    *(Overload(op, (t, t), "boolean", sign_compare(_vector_sign, op)) for op in _PC
      for t in ("vector", "halfvec")),
]
