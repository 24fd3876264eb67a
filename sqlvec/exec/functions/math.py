"""Mathematical functions (PostgreSQL's float8 and numeric families).

float8 functions run as numpy ufuncs over the whole column, with PostgreSQL's domain errors
checked on the non-NULL rows; numeric variants compute Decimals.
"""

from __future__ import annotations

import decimal
import secrets
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.arith import decimals, numeric_pow, numeric_unary
from sqlvec.exec.functions.common import (
    NUMERIC_CTX,
    Datum,
    call_checked,
    finish,
    from_numpy,
    length,
    map_rows,
    numeric_out,
    numpy_values,
    to_decimal,
    valid_mask,
)
from sqlvec.exec.functions.registry import Overload, type_named
from sqlvec.types.base import SqlType

F8 = "double precision"
INTS = ("smallint", "integer", "bigint")


def _domain(check: Callable[[np.ndarray], np.ndarray], sqlstate: str, message: str):
    return (check, sqlstate, message)


_NEG = _domain(lambda x: x < 0, "2201F", "cannot take square root of a negative number")
_LOG0 = _domain(lambda x: x == 0, "2201E", "cannot take logarithm of zero")
_LOGNEG = _domain(lambda x: x < 0, "2201E", "cannot take logarithm of a negative number")
_TRIG = _domain(lambda x: np.isinf(x), "22003", "input is out of range")
_ATRIG = _domain(lambda x: (x < -1) | (x > 1), "22003", "input is out of range")


def _float_fn(fn: Callable[..., np.ndarray], *checks: tuple, out: str = F8):
    """A float8 function of one or more float8 arguments via a numpy ufunc."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        ok = valid_mask(args, m)
        vals = [numpy_values(a, m, np.float64) for a in args]
        for check, state, msg in checks:
            with np.errstate(invalid="ignore"):
                if np.any(check(vals[0]) & ok):
                    raise errors.error_for(state, msg)
        with np.errstate(all="ignore"):
            res = fn(*vals)
        dt = type_named(out).arrow_type()
        return finish(from_numpy(np.asarray(res).astype(dt.to_pandas_dtype()), ok, dt), args)

    return impl


def _abs(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    if types[0].name in INTS:
        return call_checked(pc.abs_checked, types[0], args[0])
    return pc.abs(args[0])


def _dround(places: int | None):
    def fn(d: decimal.Decimal, p: int | None = places) -> decimal.Decimal:
        q = decimal.Decimal(1).scaleb(-(p or 0))
        return d.quantize(q, rounding=decimal.ROUND_HALF_UP, context=NUMERIC_CTX)

    return fn


def _numeric_places(rounding: str):
    """round(numeric, int) / trunc(numeric, int); negative places round left of the point."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        vals = decimals(args[0], m)
        places = numpy_values(args[1], m, np.int64)
        ok = valid_mask(args, m)
        res = []
        for v, p, good in zip(vals, places.tolist(), ok.tolist()):
            if not good:
                res.append(None)
                continue
            r = v.quantize(decimal.Decimal(1).scaleb(-p), rounding=rounding, context=NUMERIC_CTX)
            res.append(r if p >= 0 else r.quantize(decimal.Decimal(1), context=NUMERIC_CTX))
        return finish(numeric_out(res, type_named("numeric")), args)

    return impl


def _numeric_sqrt(d: decimal.Decimal) -> decimal.Decimal:
    if d < 0:
        raise errors.error_for("2201F", "cannot take square root of a negative number")
    res = d.sqrt(NUMERIC_CTX)
    scale = max(16, -d.as_tuple().exponent)  # type: ignore[operator]
    return res.quantize(decimal.Decimal(1).scaleb(-scale), context=NUMERIC_CTX)


def _numeric_ln(d: decimal.Decimal) -> decimal.Decimal:
    if d == 0:
        raise errors.error_for("2201E", "cannot take logarithm of zero")
    if d < 0:
        raise errors.error_for("2201E", "cannot take logarithm of a negative number")
    return d.ln(NUMERIC_CTX).quantize(decimal.Decimal("1e-16"), context=NUMERIC_CTX)


def _numeric_sign(d: decimal.Decimal) -> decimal.Decimal:
    return decimal.Decimal((d > 0) - (d < 0))


def _random(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    # called with no argument columns: the executor passes n, the number of rows wanted
    return pa.array(np.random.default_rng(secrets.randbits(64)).random(n))


def _pi(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pa.scalar(np.pi, pa.float64())


def _extreme(fn: Callable[..., Datum], pick: Callable):
    """greatest/least: NULLs ignored; numeric (text-stored) compared as Decimals."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        if types[0].name != "numeric":
            return fn(*args, skip_nulls=True)
        m = length(args, n)
        cols = [decimals(a, m) for a in args]
        res = []
        for row in zip(*cols):
            live = [v for v in row if v is not None]
            res.append(pick(live) if live else None)
        return finish(numeric_out(res, type_named("numeric")), args)

    return impl


def _int_div_mod(which: str):
    from sqlvec.exec.functions.arith import _int_divmod

    return _int_divmod(which == "div")


def _numeric_div_trunc(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if b == 0:
        raise errors.DivisionByZero("division by zero")
    return NUMERIC_CTX.divide_int(a, b)


def _numeric2(fn: Callable[[decimal.Decimal, decimal.Decimal], decimal.Decimal]):
    from sqlvec.exec.functions.arith import numeric_binary

    return numeric_binary(fn)


def _numeric_mod(a: decimal.Decimal, b: decimal.Decimal) -> decimal.Decimal:
    if b == 0:
        raise errors.DivisionByZero("division by zero")
    return NUMERIC_CTX.remainder(a, b)


_FLOAT1: dict[str, tuple] = {
    "ceil": (np.ceil,), "ceiling": (np.ceil,), "floor": (np.floor,), "trunc": (np.trunc,),
    "round": (np.rint,),  # float8 round is rint(): half to even
    "sqrt": (np.sqrt, _NEG), "cbrt": (np.cbrt,), "exp": (np.exp,),
    "ln": (np.log, _LOG0, _LOGNEG), "log": (np.log10, _LOG0, _LOGNEG),
    "log10": (np.log10, _LOG0, _LOGNEG), "sign": (np.sign,), "degrees": (np.degrees,),
    "radians": (np.radians,), "sin": (np.sin, _TRIG), "cos": (np.cos, _TRIG),
    "tan": (np.tan, _TRIG), "cot": (lambda x: 1.0 / np.tan(x), _TRIG),
    "asin": (np.arcsin, _ATRIG), "acos": (np.arccos, _ATRIG), "atan": (np.arctan,),
    "sinh": (np.sinh,), "cosh": (np.cosh,), "tanh": (np.tanh,),
}
_NUMERIC1: dict[str, Callable[[decimal.Decimal], decimal.Decimal]] = {
    "abs": abs, "ceil": lambda d: d.to_integral_value(decimal.ROUND_CEILING),
    "ceiling": lambda d: d.to_integral_value(decimal.ROUND_CEILING),
    "floor": lambda d: d.to_integral_value(decimal.ROUND_FLOOR),
    "trunc": lambda d: d.quantize(1, decimal.ROUND_DOWN) if d == d.to_integral_value(
        decimal.ROUND_DOWN) else d.to_integral_value(decimal.ROUND_DOWN),
    "round": _dround(0), "sqrt": _numeric_sqrt, "ln": _numeric_ln, "sign": _numeric_sign,
}

def _width_bucket(x, lo, hi, count: int) -> int:
    """width_bucket(operand, low, high, count): 0 below the range, count + 1 above it."""
    if count <= 0:
        raise errors.error_for("2201G", "count must be greater than zero")
    if any(v != v for v in (x, lo, hi)):
        raise errors.error_for("2201G", "operand, lower bound, and upper bound cannot be NaN")
    if any(isinstance(v, float) and v in (float("inf"), float("-inf")) for v in (lo, hi)):
        raise errors.error_for("2201G", "lower and upper bounds must be finite")
    if lo == hi:
        raise errors.error_for("2201G", "lower bound cannot equal upper bound")
    if lo < hi:
        if x < lo:
            return 0
        if x >= hi:
            return count + 1
        return int((x - lo) * count // (hi - lo)) + 1
    if x > lo:
        return 0
    if x <= hi:
        return count + 1
    return int((lo - x) * count // (lo - hi)) + 1


def _width_bucket_impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    numeric = types[0].name == "numeric"
    conv = [to_decimal] * 3 + [int] if numeric else [float, float, float, int]
    return map_rows(_width_bucket, args, n, pa.int32(), convert=conv)


FUNCTIONS: list[Overload] = [
    Overload("width_bucket", (F8, F8, F8, "integer"), "integer", _width_bucket_impl),
    Overload("width_bucket", ("numeric", "numeric", "numeric", "integer"), "integer",
             _width_bucket_impl),
    *(Overload(name, (F8,), F8, _float_fn(*spec)) for name, spec in _FLOAT1.items()),
    *(Overload(name, ("numeric",), "numeric", numeric_unary(fn)) for name, fn in _NUMERIC1.items()),
    *(Overload("abs", (t,), t, _abs) for t in (*INTS, "real", F8)),
    Overload("log", ("numeric", "numeric"), "numeric",
             _numeric2(lambda b, x: (x.ln(NUMERIC_CTX) / b.ln(NUMERIC_CTX)).quantize(decimal.Decimal("1e-16")))),
    Overload("round", ("numeric", "integer"), "numeric", _numeric_places(decimal.ROUND_HALF_UP)),
    Overload("trunc", ("numeric", "integer"), "numeric", _numeric_places(decimal.ROUND_DOWN)),
    *(Overload(name, (F8, F8), F8, _float_fn(lambda a, b: np.power(a, b)))
      for name in ("power", "pow")),
    *(Overload(name, ("numeric", "numeric"), "numeric", _numeric2(numeric_pow))
      for name in ("power", "pow")),
    Overload("atan2", (F8, F8), F8, _float_fn(np.arctan2)),
    Overload("pi", (), F8, _pi),
    Overload("random", (), F8, _random, volatile=True),
    *(Overload("mod", (t, t), t, _int_div_mod("mod")) for t in INTS),
    Overload("mod", ("numeric", "numeric"), "numeric", _numeric2(_numeric_mod)),
    Overload("div", ("numeric", "numeric"), "numeric", _numeric2(_numeric_div_trunc)),
    Overload("greatest", ("anycompatible",), lambda ts: ts[0],
             _extreme(pc.max_element_wise, max), variadic=True, strict=False),
    Overload("least", ("anycompatible",), lambda ts: ts[0],
             _extreme(pc.min_element_wise, min), variadic=True, strict=False),
]

# sqlglot function classes named by their key (see registry._fill)
ALIASES = {"widthbucket": "width_bucket"}
