"""Arithmetic and bitwise operators on smallint/integer/bigint/real/double/numeric.

Only same-type overloads are declared for integers (as PostgreSQL's int48pl etc. widen, the
resolver casts the narrower side: integer + bigint -> bigint). real op double is declared,
as in PostgreSQL, which is why ``real + integer`` is double precision there too.
numeric is computed with Python's decimal module following numeric.c's scale rules.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import (
    NUMERIC_CTX,
    Datum,
    as_array,
    call_checked,
    finish,
    from_numpy,
    length,
    map_rows,
    numeric_out,
    numpy_values,
    out_of_range,
    pylist,
    to_decimal,
    valid_mask,
)
from sqlvec.exec.functions.registry import Overload, type_named
from sqlvec.types.base import SqlType

INTS = ("smallint", "integer", "bigint")
FLOATS = ("real", "double precision")
_NP = {"smallint": np.int16, "integer": np.int32, "bigint": np.int64, "real": np.float32,
       "double precision": np.float64}


# ------------------------------------------------------------------------------ integers


def _int_checked(fn: Callable[..., Datum]) -> Callable[..., Datum]:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return call_checked(fn, types[0], *args)

    return impl


def _int_divmod(is_div: bool) -> Callable[..., Datum]:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        dt = _NP[types[0].name]
        ok = valid_mask(args, m)
        a = numpy_values(args[0], m, np.int64)
        b = numpy_values(args[1], m, np.int64, fill=1)
        if np.any((b == 0) & ok):
            raise errors.DivisionByZero("division by zero")
        b = np.where(ok, b, 1)
        if is_div:
            lo = np.iinfo(dt).min
            if np.any((a == lo) & (b == -1) & ok):  # the one overflowing quotient
                raise out_of_range(types[0])
            q = np.abs(a) // np.abs(b)  # truncate toward zero, as C does
            res = np.where((a < 0) ^ (b < 0), -q, q)
        else:
            res = np.fmod(a, np.where(b == -1, 1, b))  # sign of the dividend, as C's %
        return finish(from_numpy(res.astype(dt), ok, pa.from_numpy_dtype(dt)), args)

    return impl


# -------------------------------------------------------------------------------- floats


def _float_op(op: Callable[[np.ndarray, np.ndarray], np.ndarray], kind: str):
    """float4/float8 arithmetic with PostgreSQL's overflow/underflow/zero-division checks."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        out_t = _float_result(types)
        dt = _NP[out_t]
        ok = valid_mask(args, m)
        a = numpy_values(args[0], m, dt)
        b = numpy_values(args[1], m, dt, fill=1)
        if kind == "div" and np.any((b == 0) & ok):
            raise errors.DivisionByZero("division by zero")
        with np.errstate(all="ignore"):
            res = op(a, b).astype(dt)
        finite_in = np.isfinite(a) & np.isfinite(b)
        if np.any(np.isinf(res) & finite_in & ok):
            raise errors.NumericValueOutOfRange("value out of range: overflow")
        if kind in ("mul", "div") and np.any((res == 0) & (a != 0) & finite_in & ok):
            if kind == "mul" and not np.any((b == 0) & ok) or kind == "div":
                raise errors.NumericValueOutOfRange("value out of range: underflow")
        return finish(from_numpy(res, ok, pa.from_numpy_dtype(dt)), args)

    return impl


def _float_result(types: list[SqlType]) -> str:
    return "real" if all(t.name == "real" for t in types) else "double precision"


def _float_pow(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    ok = valid_mask(args, m)
    a = numpy_values(args[0], m, np.float64)
    b = numpy_values(args[1], m, np.float64)
    if np.any((a == 0) & (b < 0) & ok):
        raise errors.error_for("2201F", "zero raised to a negative power is undefined")
    if np.any((a < 0) & (np.floor(b) != b) & np.isfinite(b) & ok):
        raise errors.error_for(
            "2201F", "a negative number raised to a non-integer power yields a complex result"
        )
    with np.errstate(all="ignore"):
        res = np.power(a, b)
    if np.any(np.isinf(res) & np.isfinite(a) & np.isfinite(b) & ok):
        raise errors.NumericValueOutOfRange("value out of range: overflow")
    return finish(from_numpy(res, ok, pa.float64()), args)


def _negate(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    if types[0].name in INTS:
        return call_checked(pc.negate_checked, types[0], args[0])
    return pc.negate(args[0])


def _identity(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return args[0]


# ------------------------------------------------------------------------------- numeric


def decimals(d: Datum, n: int) -> list[decimal.Decimal | None]:
    """numeric values as Decimals (storage is utf8 text or decimal128)."""
    return [None if v is None else to_decimal(v) for v in pylist(d, n)]


def _nbase_weight(d: decimal.Decimal) -> tuple[int, int]:
    """(weight, first digit) of |d| in numeric.c's base-10000 representation."""
    e = d.copy_abs().adjusted()
    weight = e // 4
    first = int(d.copy_abs().scaleb(-4 * weight, NUMERIC_CTX))
    return weight, first


def _scale(d: decimal.Decimal) -> int:
    exp = d.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def numeric_div(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    """numeric.c div_var with select_div_scale: at least 16 significant digits."""
    if b == 0:
        raise errors.DivisionByZero("division by zero")
    if a.is_nan() or b.is_nan():
        return decimal.Decimal("NaN")
    w1, f1 = _nbase_weight(a) if a != 0 else (0, 0)
    w2, f2 = _nbase_weight(b)
    qweight = w1 - w2 - (1 if f1 <= f2 else 0)
    rscale = max(16 - qweight * 4, _scale(a), _scale(b), 0)
    rscale = min(rscale, 1000)
    q = NUMERIC_CTX.divide(a, b)
    return q.quantize(decimal.Decimal(1).scaleb(-rscale), context=NUMERIC_CTX)


def _numeric_mod(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if b == 0:
        raise errors.DivisionByZero("division by zero")
    return NUMERIC_CTX.remainder(a, b)


def numeric_pow(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if a == 0 and b < 0:
        raise errors.error_for("2201F", "zero raised to a negative power is undefined")
    if a < 0 and b != b.to_integral_value():
        raise errors.error_for(
            "2201F", "a negative number raised to a non-integer power yields a complex result"
        )
    if b == b.to_integral_value() and abs(b) < 10000:
        res = NUMERIC_CTX.power(a, int(b))
        if b >= 0:
            return res
    else:
        res = NUMERIC_CTX.power(a, b)
    # non-exact result: numeric.c keeps at least 16 significant digits
    w, _ = _nbase_weight(res) if res != 0 else (0, 0)
    rscale = max(16 - w * 4, _scale(a), _scale(b))
    return res.quantize(decimal.Decimal(1).scaleb(-rscale), context=NUMERIC_CTX)


_NUMERIC_BIN: dict[str, Callable[[decimal.Decimal, decimal.Decimal], decimal.Decimal]] = {
    "+": lambda a, b: NUMERIC_CTX.add(a, b),
    "-": lambda a, b: NUMERIC_CTX.subtract(a, b),
    "*": lambda a, b: NUMERIC_CTX.multiply(a, b),
    "/": numeric_div,
    "%": _numeric_mod,
    "^": numeric_pow,
}


def numeric_binary(fn: Callable[[decimal.Decimal, decimal.Decimal], decimal.Decimal]):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        a, b = decimals(args[0], m), decimals(args[1], m)
        res = [None if x is None or y is None else fn(x, y) for x, y in zip(a, b)]
        return finish(numeric_out(res, type_named("numeric")), args)

    return impl


def numeric_unary(fn: Callable[[decimal.Decimal], decimal.Decimal]):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        res = [None if x is None else fn(x) for x in decimals(args[0], m)]
        return finish(numeric_out(res, type_named("numeric")), args)

    return impl


# ------------------------------------------------------------------------------- bitwise


def _shift(fn: Callable[..., Datum]):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        left_t = args[0].type
        return fn(args[0], pc.cast(args[1], left_t))

    return impl


def _bitwise_xor(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pc.bit_wise_xor(*args)


_INT_OPS = {"+": pc.add_checked, "-": pc.subtract_checked, "*": pc.multiply_checked}
_FLOAT_OPS = {"+": (np.add, "add"), "-": (np.subtract, "sub"), "*": (np.multiply, "mul"),
              "/": (np.divide, "div")}
_BIT_OPS = {"&": pc.bit_wise_and, "|": pc.bit_wise_or}

OPERATORS: list[Overload] = [
    *(Overload(op, (t, t), t, _int_checked(fn)) for op, fn in _INT_OPS.items() for t in INTS),
    *(Overload("/", (t, t), t, _int_divmod(True)) for t in INTS),
    *(Overload("%", (t, t), t, _int_divmod(False)) for t in INTS),
    *(
        Overload(op, (a, b), "real" if a == b == "real" else "double precision",
                 _float_op(fn, kind))
        for op, (fn, kind) in _FLOAT_OPS.items()
        for a in FLOATS
        for b in FLOATS
    ),
    Overload("^", ("double precision", "double precision"), "double precision", _float_pow),
    *(Overload(op, ("numeric", "numeric"), "numeric", numeric_binary(fn))
      for op, fn in _NUMERIC_BIN.items()),
    *(Overload("-", (t,), t, _negate) for t in (*INTS, *FLOATS)),
    Overload("-", ("numeric",), "numeric", numeric_unary(lambda x: -x)),
    *(Overload("+", (t,), t, _identity) for t in (*INTS, *FLOATS, "numeric")),
    *(Overload(op, (t, t), t, lambda a, ty, n, f=fn: f(*a)) for op, fn in _BIT_OPS.items()
      for t in INTS),
    *(Overload("#", (t, t), t, _bitwise_xor) for t in INTS),
    *(Overload("~", (t,), t, lambda a, ty, n: pc.bit_wise_not(a[0])) for t in INTS),
    *(Overload("<<", (t, "integer"), t, _shift(pc.shift_left)) for t in INTS),
    *(Overload(">>", (t, "integer"), t, _shift(pc.shift_right)) for t in INTS),
]

__all__ = ["OPERATORS", "decimals", "numeric_div", "numeric_binary", "numeric_unary",
           "as_array", "map_rows"]
