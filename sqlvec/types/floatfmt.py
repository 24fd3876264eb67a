"""Float text output exactly as PostgreSQL 12+ prints it.

With extra_float_digits > 0 (the default is 1):
PostgreSQL prints the shortest digit string that reads back to the same value (Ryu), in
fixed-point when the decimal exponent of the first digit is in [-4, 6) for real and
[-4, 15) for double precision, otherwise as ``d.ddde+XX`` with at least two exponent digits
(src/common/f2s.c and d2s.c, ``to_chars``). pgvector prints vector/halfvec/sparsevec
elements with the same real routine.

Python's ``repr`` and numpy's Dragon4 ``unique`` mode produce the same shortest digits;
Arrow's float->string cast does too (with other layout rules), which makes a vectorised path:
take Arrow's strings and redo only the rows whose layout differs.

With extra_float_digits <= 0, PostgreSQL prints ``%.*g`` with FLT_DIG/DBL_DIG +
extra_float_digits significant digits (float4out/float8out); the setting is read from the
session running the statement (sqlvec.exec.functions.context). pgvector's element output
ignores the setting and stays shortest.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Exponent (of the first significant digit) at which fixed-point output stops.
FLOAT4_FIXED_MAX = 6  # FLT_DIG
FLOAT8_FIXED_MAX = 15  # DBL_DIG


def _layout(neg: bool, digits: str, exp: int, fixed_max: int) -> str:
    """PostgreSQL's layout of shortest ``digits`` (no leading/trailing zeros) times 10**exp."""
    sign = "-" if neg else ""
    if -4 <= exp < fixed_max:
        if exp < 0:
            return f"{sign}0.{'0' * (-exp - 1)}{digits}"
        if len(digits) <= exp + 1:
            return sign + digits + "0" * (exp + 1 - len(digits))
        return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _split_sci(s: str) -> tuple[bool, str, int]:
    """'-1.25e+03' -> (True, '125', 3)."""
    neg = s.startswith("-")
    mant, _, e = s.lstrip("-").partition("e")
    return neg, mant.replace(".", ""), int(e)


def float8_out(x: float) -> str:
    if not math.isfinite(x):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    neg, digits, exp = _split_sci(_py_sci(x))
    return _layout(neg, digits.rstrip("0") or "0", exp, FLOAT8_FIXED_MAX)


def _py_sci(x: float) -> str:
    # repr() gives the shortest round-trip digits; re-read them as mantissa/exponent.
    r = repr(x)
    if "e" in r:
        return r
    neg = r.startswith("-")
    ip, _, fp = r.lstrip("-").partition(".")
    fp = fp.rstrip("0")
    if ip != "0":
        digits, exp = (ip + fp), len(ip) - 1
    else:
        stripped = fp.lstrip("0")
        digits, exp = stripped, -(len(fp) - len(stripped)) - 1
    digits = digits.rstrip("0") or "0"
    return f"{'-' if neg else ''}{digits[0]}.{digits[1:] or '0'}e{exp}"


def float4_out(x: float) -> str:
    f = np.float32(x)
    if not np.isfinite(f):
        return "NaN" if f != f else ("Infinity" if f > 0 else "-Infinity")
    if f == 0:
        return "-0" if np.signbit(f) else "0"
    s = np.format_float_scientific(f, unique=True, trim="-", exp_digits=2)
    neg, digits, exp = _split_sci(s)
    return _layout(neg, digits.rstrip("0") or "0", exp, FLOAT4_FIXED_MAX)


def session_extra_float_digits() -> int:
    """extra_float_digits of the statement's session (1 outside a statement)."""
    from sqlvec.exec.functions.context import peek_session

    session = peek_session()
    settings = getattr(session, "settings", None)
    if settings is None:
        return 1
    try:
        return int(settings.get("extra_float_digits"))
    except Exception:  # noqa: BLE001 - a session without the setting prints the default
        return 1


def precision_out(x: float, float4: bool, extra: int) -> str:
    """float4out/float8out with extra_float_digits <= 0: ``%.*g``."""
    if not math.isfinite(x):
        return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")
    ndig = max((FLOAT4_FIXED_MAX if float4 else FLOAT8_FIXED_MAX) + extra, 1)
    return f"{float(np.float32(x)) if float4 else x:.{ndig}g}"


def format_floats(values: np.ndarray, float4: bool, extra: int | None = None) -> pa.Array:
    """PostgreSQL text of every float in ``values`` (float32 or float64) as an Arrow string
    array, without a Python call per ordinary value. ``extra`` is extra_float_digits (None:
    the current session's)."""
    values = np.ascontiguousarray(values, dtype=np.float32 if float4 else np.float64)
    if values.size == 0:
        return pa.array([], pa.string())
    if extra is None:
        extra = session_extra_float_digits()
    if extra <= 0:
        return pa.array([precision_out(v, float4, extra) for v in values.tolist()], pa.string())
    out = pa.array(values).cast(pa.string())
    mag = np.abs(values)
    fixed_max = FLOAT4_FIXED_MAX if float4 else FLOAT8_FIXED_MAX
    with np.errstate(invalid="ignore"):
        # Arrow lays out fixed-point in a wider range than PostgreSQL; rows near or beyond
        # PostgreSQL's limits (with a margin for rounding to the next power of ten) and
        # non-finite rows are redone one by one.
        slow = ~np.isfinite(values) | (
            (mag != 0) & ((mag < 1.01e-4) | (mag >= 0.99 * 10.0**fixed_max))
        )
    # Arrow also switches to exponent form for long digit strings inside that range.
    slow |= pc.match_substring(out, "e").to_numpy(zero_copy_only=False)
    if slow.any():
        fn = float4_out if float4 else float8_out
        fixed = [fn(v) for v in values[slow].tolist()]
        out = pc.replace_with_mask(out, pa.array(slow), pa.array(fixed, pa.string()))
    return out


def format_float(x: float, float4: bool) -> str:
    extra = session_extra_float_digits()
    if extra <= 0:
        return precision_out(x, float4, extra)
    return float4_out(x) if float4 else float8_out(x)

