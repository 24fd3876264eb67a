"""Text input/output of boolean, the integers, the floats and numeric, as PostgreSQL 16."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

import numpy as np

from sqlvec.errors import (
    InvalidParameterValue,
    InvalidTextRepresentation,
    NumericValueOutOfRange,
)
from sqlvec.types.floatfmt import float4_out, float8_out

# --- boolean ------------------------------------------------------------------------------

# boolin accepts any unique prefix of these words (and "on"/"off" from two letters).
_BOOL_WORDS = (("true", True, 1), ("false", False, 1), ("yes", True, 1), ("no", False, 1),
               ("on", True, 2), ("off", False, 2), ("1", True, 1), ("0", False, 1))


def bool_in(text: str, typmod: int = -1) -> bool:
    s = text.strip().lower()
    for word, value, minlen in _BOOL_WORDS:
        if len(s) >= minlen and word.startswith(s):
            return value
    raise InvalidTextRepresentation(f'invalid input syntax for type boolean: "{text}"')


def bool_out(value: bool) -> str:
    return "t" if value else "f"


# --- integers -----------------------------------------------------------------------------

# PostgreSQL 16 accepts 0x/0o/0b prefixes and single underscores between digits.
_INT_RE = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[0-9](?:_?[0-9])*)"
)
INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}


def _int_in(text: str, name: str) -> int:
    s = text.strip(" \t\n\r\v\f")
    if not _INT_RE.fullmatch(s):
        raise InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
    body = s.lstrip("+-").replace("_", "")
    base = {"x": 16, "o": 8, "b": 2}.get(body[1:2].lower(), 10) if len(body) > 1 else 10
    v = int(body[2:] if base != 10 else body, base)
    if s.startswith("-"):
        v = -v
    lo, hi = INT_RANGES[name]
    if not lo <= v <= hi:
        raise NumericValueOutOfRange(f'value "{text}" is out of range for type {name}')
    return v


def int2_in(text: str, typmod: int = -1) -> int:
    return _int_in(text, "smallint")


def int4_in(text: str, typmod: int = -1) -> int:
    return _int_in(text, "integer")


def int8_in(text: str, typmod: int = -1) -> int:
    return _int_in(text, "bigint")


def int_out(value: int) -> str:
    return str(int(value))


# --- floats -------------------------------------------------------------------------------

# strtod's decimal syntax plus PostgreSQL's spellings of the special values; Python's
# float() alone would also accept underscores, which PostgreSQL's float input rejects.
_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


def parse_float(text: str, name: str, float4: bool) -> float:
    """float4in/float8in: errors carry the type name ("real", "double precision", "vector")."""
    s = text.strip(" \t\n\r\v\f")
    if not _FLOAT_RE.fullmatch(s):
        raise InvalidTextRepresentation(f'invalid input syntax for type {name}: "{text}"')
    v = float(s)
    if math.isinf(v) and "inf" not in s.lower():
        raise NumericValueOutOfRange(f'"{s}" is out of range for type {name}')
    if float4 and math.isfinite(v):
        with np.errstate(over="ignore"):
            f = float(np.float32(v))
        if math.isinf(f):
            raise NumericValueOutOfRange(f'"{s}" is out of range for type {name}')
        if f == 0 and v != 0:
            raise NumericValueOutOfRange(f'"{s}" is out of range for type {name}')
        v = f
    elif v == 0 and re.search(r"[1-9]", s.lower().split("e")[0]):
        # strtod underflow to zero is an error in PostgreSQL
        raise NumericValueOutOfRange(f'"{s}" is out of range for type {name}')
    return v


def float4_in(text: str, typmod: int = -1) -> float:
    return parse_float(text, "real", True)


def float8_in(text: str, typmod: int = -1) -> float:
    return parse_float(text, "double precision", False)


# --- numeric ------------------------------------------------------------------------------

NUMERIC_MAX_PRECISION = 1000
# numeric values can carry 1000 digits; the default 28-digit context would round them.
_BIG = Context(prec=2000, Emax=999_999, Emin=-999_999)
_NUMERIC_RE = re.compile(
    r"[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.?(?:[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9]+)?"
    r"|infinity|inf|nan)",
    re.IGNORECASE,
)


def numeric_typmod(precision: int, scale: int = 0) -> int:
    """PostgreSQL's atttypmod for numeric(p,s): ((p << 16) | s) + VARHDRSZ."""
    if not 1 <= precision <= NUMERIC_MAX_PRECISION:
        raise InvalidParameterValue(
            f"NUMERIC precision {precision} must be between 1 and {NUMERIC_MAX_PRECISION}"
        )
    if not -1000 <= scale <= 1000:
        raise InvalidParameterValue(f"NUMERIC scale {scale} must be between -1000 and 1000")
    return ((precision << 16) | (scale & 0x7FF)) + 4


def numeric_precision_scale(typmod: int) -> tuple[int, int] | None:
    if typmod < 4:
        return None
    t = typmod - 4
    scale = t & 0x7FF
    if scale > 1023:  # PostgreSQL 15+ allows negative scales, stored 11-bit two's complement
        scale -= 2048
    return (t >> 16) & 0xFFFF, scale


def numeric_in(text: str, typmod: int = -1) -> Decimal:
    s = text.strip(" \t\n\r\v\f")
    if not s or not _NUMERIC_RE.fullmatch(s) or not re.search(r"[0-9]|inf|nan", s, re.I):
        raise InvalidTextRepresentation(f'invalid input syntax for type numeric: "{text}"')
    low = s.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        d = Decimal("-Infinity" if s.startswith("-") else "Infinity")
    elif low == "nan":
        d = Decimal("NaN")
    else:
        try:
            d = Decimal(s.replace("_", ""))
        except InvalidOperation:
            raise InvalidTextRepresentation(
                f'invalid input syntax for type numeric: "{text}"'
            ) from None
    return numeric_apply_typmod(d, typmod)


def numeric_apply_typmod(d: Decimal, typmod: int) -> Decimal:
    """Round to the column's scale (half away from zero) and check its precision."""
    ps = numeric_precision_scale(typmod)
    if ps is None:
        return d
    precision, scale = ps
    if not d.is_finite():
        if d.is_nan():
            return d
        raise NumericValueOutOfRange(
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} cannot hold an "
            "infinite value.",
        )
    q = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=_BIG)
    if q != 0 and q.adjusted() >= precision - scale:
        if precision - scale > 0:
            detail = (
                f"A field with precision {precision}, scale {scale} must round to an "
                f"absolute value less than 10^{precision - scale}."
            )
        else:
            detail = (
                f"A field with precision {precision}, scale {scale} must round to an "
                f"absolute value less than 1."
            )
        raise NumericValueOutOfRange("numeric field overflow", detail=detail)
    return q


def numeric_out(d: Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "-Infinity" if d < 0 else "Infinity"
    if d.is_zero():
        d = abs(d)  # PostgreSQL has no negative zero numeric
    # PostgreSQL keeps the input's display scale but never a negative one ("1e3" -> 1000).
    if d.as_tuple().exponent > 0:  # type: ignore[operator]
        d = d.quantize(Decimal(1), context=_BIG)
    return format(d, "f")


FLOAT_OUT = {True: float4_out, False: float8_out}
