"""to_char for timestamps, dates, intervals and numbers (PostgreSQL's formatting.c patterns).

Timestamp patterns: YYYY YY Y MM DD DDD D HH HH12 HH24 MI SS MS US AM PM am pm Mon MON mon
Month MONTH month Dy DY dy Day DAY day Q TZ, with the FM prefix (no padding); anything else is
copied, and "quoted text" is copied without its quotes. Number patterns: 9 0 . , D G S MI PR
and FM.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from sqlvec.exec.functions.common import to_decimal
from sqlvec.exec.functions.pyrows import rows_typed
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.values import Interval

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def _case(word: str, pat: str) -> str:
    if pat.isupper():
        return word.upper()
    if pat.islower():
        return word.lower()
    return word


def _hour12(h: int) -> int:
    return 12 if h % 12 == 0 else h % 12


# pattern -> (value function, zero-padded width or 0 for names padded to 9)
_FIELDS: list[tuple[str, Any]] = [
    ("YYYY", lambda t: (t.year, 4)), ("HH24", lambda t: (t.hour, 2)),
    ("HH12", lambda t: (_hour12(t.hour), 2)), ("DDD", lambda t: (t.timetuple().tm_yday, 3)),
    ("YYY", lambda t: (t.year % 1000, 3)), ("YY", lambda t: (t.year % 100, 2)),
    ("MM", lambda t: (t.month, 2)), ("DD", lambda t: (t.day, 2)), ("HH", lambda t:
                                                                    (_hour12(t.hour), 2)),
    ("MI", lambda t: (t.minute, 2)), ("SS", lambda t: (t.second, 2)),
    ("MS", lambda t: (t.microsecond // 1000, 3)), ("US", lambda t: (t.microsecond, 6)),
    ("Y", lambda t: (t.year % 10, 1)), ("Q", lambda t: ((t.month - 1) // 3 + 1, 1)),
    ("D", lambda t: ((t.weekday() + 1) % 7 + 1, 1)),
]
_NAMES: list[tuple[str, Any, bool]] = [  # (pattern, name function, padded to 9)
    ("MONTH", lambda t: _MONTHS[t.month - 1], True),
    ("MON", lambda t: _MONTHS[t.month - 1][:3], False),
    ("DAY", lambda t: _DAYS[(t.weekday() + 1) % 7], True),
    ("DY", lambda t: _DAYS[(t.weekday() + 1) % 7][:3], False),
]
_MERIDIEM = {"AM": True, "PM": True, "A.M.": True, "P.M.": True}


def _zone_field(t: dt.datetime, rest: str) -> tuple[str, int] | None:
    """TZ/tz (abbreviation), OF (offset), TZH/TZM (its hours and minutes) and the pattern
    length; a timestamp without time zone has no abbreviation and offset +00."""
    off = int(t.utcoffset().total_seconds()) if t.tzinfo is not None else 0  # type: ignore[union-attr]
    sign, a = ("-" if off < 0 else "+"), abs(off)
    if rest.startswith(("TZH", "tzh")):
        return f"{sign}{a // 3600:02d}", 3
    if rest.startswith(("TZM", "tzm")):
        return f"{a // 60 % 60:02d}", 3
    if rest.startswith(("TZ", "tz")):
        name = (t.tzname() or "") if t.tzinfo is not None else ""
        return (name.lower() if rest[0] == "t" else name), 2
    if rest.startswith("OF"):
        return sign + f"{a // 3600:02d}" + (f":{a // 60 % 60:02d}" if a % 3600 >= 60 else ""), 2
    return None


def format_timestamp(t: dt.datetime, fmt: str) -> str:
    if t.tzinfo is not None:
        # a timestamptz is formatted as wall-clock time in the session's TimeZone
        from sqlvec.types.datetime_zone import session_zone

        t = t.astimezone(session_zone().tzinfo)
    out: list[str] = []
    i = 0
    while i < len(fmt):
        fm = fmt.startswith(("FM", "fm"), i)
        if fm:
            i += 2
        rest = fmt[i:]
        if rest.startswith('"'):
            end = fmt.find('"', i + 1)
            end = len(fmt) if end < 0 else end
            out.append(fmt[i + 1 : end])
            i = end + 1
            continue
        if rest.startswith("\\") and len(rest) > 1:
            out.append(rest[1])
            i += 2
            continue
        upper = rest.upper()
        for pat, fn, padded in _NAMES:
            if upper.startswith(pat):
                word = _case(fn(t), rest[: len(pat)] if rest[:2].isupper() or
                             rest[:2].islower() else rest[0] + rest[1:len(pat)].lower())
                out.append(word if fm or not padded else word.ljust(9))
                i += len(pat)
                break
        else:
            for pat, fn in _FIELDS:
                if rest.startswith(pat) or rest.startswith(pat.lower()) and pat in (
                        "HH24", "HH12", "HH", "MI", "SS", "MS", "US", "DD", "MM"):
                    v, width = fn(t)
                    out.append(str(v) if fm else str(v).zfill(width))
                    i += len(pat)
                    break
            else:
                for word in ("A.M.", "P.M.", "AM", "PM", "a.m.", "p.m.", "am", "pm"):
                    if rest.startswith(word):
                        pm = t.hour >= 12
                        text = ("P" if pm else "A") + word[1:]
                        out.append(text if word[0].isupper() else text.lower())
                        i += len(word)
                        break
                else:
                    zone_field = _zone_field(t, rest)
                    if zone_field is not None:
                        out.append(zone_field[0])
                        i += zone_field[1]
                    else:
                        out.append(fmt[i])
                        i += 1
    return "".join(out)


def _interval_as_ts(v: Interval) -> dt.datetime:
    # to_char(interval): hours may exceed 24; fields come from the justified parts
    secs, us = divmod(v.microseconds, 1_000_000)
    mins, s = divmod(secs, 60)
    h, mi = divmod(mins, 60)

    class _T:
        year, month, day = v.months // 12, v.months % 12, v.days
        hour, minute, second, microsecond = h, mi, s, us
        tzinfo = None

        def timetuple(self):
            return type("tt", (), {"tm_yday": v.days})()

        def weekday(self):
            return 0

    return _T()  # type: ignore[return-value]


# ---------------------------------------------------------------------------- numbers

_NUM_TOKENS = re.compile(r"FM|9|0|\.|,|D|G|S|MI|PR|PL|SG|EEEE|.", re.I)


def format_number(value: Any, fmt: str) -> str:
    toks = [m.group(0) for m in _NUM_TOKENS.finditer(fmt)]
    fm = any(t.upper() == "FM" for t in toks)
    toks = [t for t in toks if t.upper() != "FM"]
    point = next((k for k, t in enumerate(toks) if t in (".", "D", "d")), len(toks))
    int_digits = sum(1 for t in toks[:point] if t in "90")
    frac_digits = sum(1 for t in toks[point:] if t in ("9", "0"))
    d = to_decimal(value)
    neg = d < 0
    q = abs(d).quantize(decimal.Decimal(1).scaleb(-frac_digits), rounding=decimal.ROUND_HALF_UP)
    int_part, _, frac_part = format(q, "f").partition(".")
    int_part = int_part.lstrip("0")
    overflow = len(int_part) > int_digits
    digits = list(int_part.rjust(int_digits, " ")) if not overflow else ["#"] * int_digits
    fracs = list(frac_part.ljust(frac_digits, "0")) if not overflow else ["#"] * frac_digits
    first_zero = next((k for k, t in enumerate(t for t in toks[:point] if t in "90")
                       if t == "0"), int_digits)
    out: list[str] = []
    k = 0
    started = False
    first_digit = next((k for k, t in enumerate(toks) if t in "90"), len(toks))
    # a leading S sits right before the first printed digit, like the implicit sign
    lead_s = any(t.upper() == "S" for t in toks[:first_digit])
    if lead_s:
        toks = [t for t in toks if t.upper() != "S" or toks.index(t) >= first_digit]
        point -= 1
    explicit_sign = any(t.upper() in ("S", "MI", "PR", "PL", "SG") for t in toks)
    pos_sign = "+" if lead_s else (" " if not fm else "")
    for pos, t in enumerate(toks):
        if pos < point and t in "90":
            ch = digits[k]
            if ch == " " and (t == "0" or k >= first_zero):
                ch = "0"
            if ch != " " and not started:
                started = True
                if not explicit_sign:
                    out.append("-" if neg else pos_sign)
            elif ch == " " and not fm:
                ch = " "
            if ch == " " and fm:
                ch = ""
            if k == int_digits - 1 and not started:  # the units digit of zero
                if not explicit_sign:
                    out.append("-" if neg else pos_sign)
                started = True
                ch = "0" if ch in ("", " ") and not frac_digits or t == "0" else ch
            out.append(ch)
            k += 1
        elif t in (".", "D", "d"):
            out.append(".")
        elif t in (",", "G", "g"):
            out.append("," if started else ("" if fm else " "))
        elif pos > point and t in "90":
            j = sum(1 for x in toks[point:pos] if x in ("9", "0"))
            out.append(fracs[j])
        elif t.upper() == "S":
            out.append("-" if neg else "+")
        elif t.upper() == "MI":
            out.append("-" if neg else ("" if fm else " "))
        elif t.upper() == "PR":
            out.append(">" if neg else ("" if fm else " "))
        else:
            out.append(t)
    text = "".join(out)
    if any(t.upper() == "PR" for t in toks) and neg:
        text = "<" + text.lstrip()
    if fm and frac_digits:
        # FM drops trailing zeros that came from 9 positions
        nines = sum(1 for t in toks[point:] if t == "9")
        body, dot, frac = text.partition(".")
        keep = len(frac) - nines
        frac = frac[:keep] + frac[keep:].rstrip("0")
        text = body + dot + frac
    return text


_TS = ("timestamp without time zone", "timestamp with time zone")
_NUMS = ("smallint", "integer", "bigint", "real", "double precision", "numeric")

FUNCTIONS: list[Overload] = [
    *(Overload("to_char", (t, "text"), "text", rows_typed(format_timestamp, "text"))
      for t in _TS),
    Overload("to_char", ("interval", "text"), "text",
             rows_typed(lambda v, f: format_timestamp(_interval_as_ts(v), f), "text")),
    *(Overload("to_char", (t, "text"), "text", rows_typed(format_number, "text"))
      for t in _NUMS),
]
