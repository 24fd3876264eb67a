"""Text input/output of date, time, timestamp, timestamptz and interval.

Output follows the session's DateStyle and TimeZone (datetime_text), input reads ambiguous
dates (``01/02/2020``) in DateStyle's field order and a timestamptz without an offset as
wall-clock time in the session's TimeZone (datetime_zone resolves DST gaps and overlaps as
PostgreSQL does). A zone in the input may be an offset (``+05:30``), a zone name
(``Europe/Berlin``) or a common abbreviation (``EST``, ``CEST``).

PostgreSQL's ``infinity``/``-infinity`` dates and timestamps map to Python's max/min values
(``date.max``, ``datetime.max``), as psycopg's documentation suggests; they print back as
``infinity``/``-infinity`` and travel in binary as PostgreSQL's INT32/INT64 sentinels.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from sqlvec.errors import DatetimeFieldOverflow, InvalidDatetimeFormat, InvalidParameterValue
from sqlvec.types.datetime_style import datestyle
from sqlvec.types.datetime_text import format_date, format_timestamp
from sqlvec.types.datetime_zone import Zone, parse_zone, session_zone
from sqlvec.types.values import Interval

UTC = dt.UTC
DATE_POS_INF, DATE_NEG_INF = dt.date.max, dt.date.min
TS_POS_INF, TS_NEG_INF = dt.datetime.max, dt.datetime.min
TSTZ_POS_INF = dt.datetime.max.replace(tzinfo=UTC)
TSTZ_NEG_INF = dt.datetime.min.replace(tzinfo=UTC)

# ISO year-month-day, or three fields in DateStyle's order (01/02/2020, 02.01.2020)
_DATE = r"(\d{4,}|\d{1,2}(?=[-/.]))[-/.](\d{1,2})[-/.](\d{1,4})"
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
_ZONE = r"\s*([+-]\d{1,2}(?::?\d{2})?(?::?\d{2})?|[A-Za-z][A-Za-z0-9_/+\-]*)"
# PostgreSQL's default abbreviations (timezonesets/Default) that clients commonly send
_ABBREV_HOURS = {
    "Z": 0, "ZULU": 0, "UTC": 0, "UT": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6,
    "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
    "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2,
    "EEST": 3, "MSK": 3, "IST": 2, "JST": 9, "KST": 9, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}
_DATE_RE = re.compile(_DATE, re.I)
_TIME_RE = re.compile(_TIME + f"(?:{_ZONE})?", re.I)
_TS_RE = re.compile(f"{_DATE}(?:(?:T|\\s+){_TIME})?(?:{_ZONE})?", re.I)


def _bad(type_name: str, text: str) -> InvalidDatetimeFormat:
    return InvalidDatetimeFormat(f'invalid input syntax for type {type_name}: "{text}"')


def _special(text: str) -> str | None:
    s = text.strip().lower()
    return s if s in ("infinity", "+infinity", "-infinity", "epoch", "now", "today",
                      "tomorrow", "yesterday") else None


def _now_local() -> dt.datetime:
    """The statement's now() as wall-clock time in the session's TimeZone."""
    from sqlvec.exec.functions.datetime import current_now

    return current_now().astimezone(session_zone().tzinfo).replace(tzinfo=None)


def _relative_day(sp: str) -> dt.datetime:
    today = dt.datetime.combine(_now_local().date(), dt.time())
    return today + dt.timedelta(days={"today": 0, "tomorrow": 1, "yesterday": -1}[sp])


def _micro(frac: str | None) -> int:
    # PostgreSQL rounds fractional seconds to microseconds
    if not frac:
        return 0
    return int((Decimal("0." + frac) * 1_000_000).to_integral_value())


def _make_date(text: str, a: str, b: str, c: str) -> dt.date:
    """The date of three numeric fields: year first when the first has 3+ digits, else in
    DateStyle's field order; a year of one or two digits means 1970-2069."""
    iso = len(a) >= 3
    order = "YMD" if iso else datestyle()[1]
    y, m, d = {"YMD": (a, b, c), "MDY": (c, a, b), "DMY": (c, b, a)}[order]
    year = int(y)
    if len(y) <= 2:
        year += 2000 if year < 70 else 1900
    try:
        return dt.date(year, int(m), int(d))
    except ValueError:
        hint = None if iso else 'Perhaps you need a different "datestyle" setting.'
        if int(m) > 12 or int(m) < 1 or int(d) < 1 or int(d) > 31 or len(y) <= 4:
            raise DatetimeFieldOverflow(
                f'date/time field value out of range: "{text}"', hint=hint) from None
        raise DatetimeFieldOverflow(f'date out of range: "{text}"') from None


def date_in(text: str, typmod: int = -1) -> dt.date:
    sp = _special(text)
    if sp in ("now", "today", "tomorrow", "yesterday"):
        return (_now_local() if sp == "now" else _relative_day(sp)).date()
    if sp:
        return {"infinity": DATE_POS_INF, "+infinity": DATE_POS_INF,
                "-infinity": DATE_NEG_INF, "epoch": dt.date(1970, 1, 1)}[sp]
    m = _TS_RE.fullmatch(text.strip())
    if m is None:
        raise _bad("date", text)
    return _make_date(text, *m.group(1, 2, 3))


def date_out(value: dt.date) -> str:
    return format_date(value)


def _clock(text: str, h: str, mi: str, s: str | None, frac: str | None) -> tuple[int, int]:
    """(seconds of day, microseconds); 24:00:00 is allowed as PostgreSQL allows it."""
    hh, mm, ss = int(h), int(mi), int(s or 0)
    us = _micro(frac)
    if hh > 24 or mm > 59 or ss > 60 or (hh == 24 and (mm or ss or us)):
        raise DatetimeFieldOverflow(f'date/time field value out of range: "{text}"')
    return hh * 3600 + mm * 60 + ss, us


def time_in(text: str, typmod: int = -1) -> dt.time:
    s = text.strip()
    m = _TIME_RE.fullmatch(s) or re.fullmatch(_DATE + r"[T\s]+(" + _TIME_RE.pattern + ")", s)
    if m is None:
        raise _bad("time without time zone", text)
    g = m.groups() if m.re is _TIME_RE else _TIME_RE.fullmatch(m.group(4)).groups()  # type: ignore[union-attr]
    secs, us = _clock(text, g[0], g[1], g[2], g[3])
    if secs >= 86400:
        return dt.time.max  # 24:00:00 has no Python time; the closest value stands in
    return _round_time(secs, us, typmod)


def _round_time(secs: int, us: int, typmod: int) -> dt.time:
    total = secs * 1_000_000 + us
    total = _round_us(total, typmod)
    total = min(total, 86_400_000_000 - 1)
    s, us = divmod(total, 1_000_000)
    return dt.time(s // 3600, s // 60 % 60, s % 60, us)


def _round_us(total: int, typmod: int) -> int:
    if 0 <= typmod < 6:
        unit = 10 ** (6 - typmod)
        total = (total + unit // 2) // unit * unit if total >= 0 else -((-total + unit // 2) // unit * unit)
    return total


def _frac_out(us: int) -> str:
    return f".{us:06d}".rstrip("0") if us else ""


def time_out(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_frac_out(value.microsecond)}"


def _input_zone(z: str) -> dt.timedelta | Zone:
    """An offset, or the zone whose offset depends on the wall-clock time."""
    if z[0] not in "+-":
        hours = _ABBREV_HOURS.get(z.upper())
        if hours is not None:
            return dt.timedelta(hours=hours)
        zone = parse_zone(z, numeric_is_hours=False)
        if zone is None:
            raise InvalidParameterValue(f'time zone "{z.lower()}" not recognized')
        return zone
    return _parse_zone(z)


def _parse_zone(z: str) -> dt.timedelta:
    sign = -1 if z[0] == "-" else 1
    digits = z[1:].replace(":", "")
    if len(digits) <= 2:
        h, m, s = int(digits), 0, 0
    else:
        h = int(digits[:-2]) if len(digits) in (3, 4) else int(digits[:-4])
        m = int(digits[-2:]) if len(digits) in (3, 4) else int(digits[-4:-2])
        s = int(digits[-2:]) if len(digits) > 4 else 0
    return sign * dt.timedelta(hours=h, minutes=m, seconds=s)


def _timestamp(text: str, typmod: int, type_name: str, with_tz: bool) -> dt.datetime:
    sp = _special(text)
    if sp in ("now", "today", "tomorrow", "yesterday"):
        local = _now_local() if sp == "now" else _relative_day(sp)
        return _in_session_zone(local) if with_tz else local
    if sp:
        pos, neg = (TSTZ_POS_INF, TSTZ_NEG_INF) if with_tz else (TS_POS_INF, TS_NEG_INF)
        epoch = dt.datetime(1970, 1, 1, tzinfo=UTC if with_tz else None)
        return {"infinity": pos, "+infinity": pos, "-infinity": neg, "epoch": epoch}[sp]
    m = _TS_RE.fullmatch(text.strip())
    if m is None:
        raise _bad(type_name, text)
    y, mo, d, h, mi, s, frac, zone = m.groups()
    day = _make_date(text, y, mo, d)
    secs, us = _clock(text, h, mi, s, frac) if h else (0, 0)
    total_us = _round_us(secs * 1_000_000 + us, typmod)
    try:
        value = dt.datetime.combine(day, dt.time()) + dt.timedelta(microseconds=total_us)
        given = _input_zone(zone) if zone else None
        if with_tz:
            # without an explicit zone the session's TimeZone applies
            if isinstance(given, dt.timedelta):
                value = (value - given).replace(tzinfo=UTC)
            else:
                value = _in_session_zone(value, given)
    except OverflowError:
        raise DatetimeFieldOverflow(f'timestamp out of range: "{text}"') from None
    return value


def _in_session_zone(local: dt.datetime, zone: Zone | None = None) -> dt.datetime:
    """The instant of a wall-clock time in ``zone`` (default: the session's TimeZone)."""
    zone = zone or session_zone()
    us = (local - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
    return (local - dt.timedelta(seconds=zone.offset_at_local(us))).replace(tzinfo=UTC)


def timestamp_in(text: str, typmod: int = -1) -> dt.datetime:
    # PostgreSQL silently ignores a zone given to timestamp without time zone
    return _timestamp(text, typmod, "timestamp", False)


def timestamptz_in(text: str, typmod: int = -1) -> dt.datetime:
    return _timestamp(text, typmod, "timestamp with time zone", True)


def timestamp_out(value: dt.datetime) -> str:
    return format_timestamp(value.replace(tzinfo=None))


def timestamptz_out(value: dt.datetime) -> str:
    """In the session's TimeZone: ``2020-01-01 05:00:00-05`` (DateStyle ISO)."""
    return format_timestamp(value, session_zone())


# --- interval -----------------------------------------------------------------------------

_USEC = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
# unit -> (field, multiplier): field "M" months, "D" days, or a microsecond unit
_UNITS: dict[str, tuple[str, int]] = {}
for _names, _spec in (
    (("microsecond", "microseconds", "microsecon", "us", "usec", "usecs"), ("us", 1)),
    (("millisecond", "milliseconds", "ms", "msec", "msecs", "millisecon"), ("ms", 1)),
    (("second", "seconds", "s", "sec", "secs"), ("s", 1)),
    (("minute", "minutes", "m", "min", "mins"), ("m", 1)),
    (("hour", "hours", "h", "hr", "hrs"), ("h", 1)),
    (("day", "days", "d"), ("D", 1)),
    (("week", "weeks", "w"), ("D", 7)),
    (("month", "months", "mon", "mons"), ("M", 1)),
    (("year", "years", "y", "yr", "yrs"), ("M", 12)),
    (("decade", "decades", "dec", "decs"), ("M", 120)),
    (("century", "centuries", "c", "cent"), ("M", 1200)),
    (("millennium", "millennia", "mil", "mils"), ("M", 12000)),
):
    for _n in _names:
        _UNITS[_n] = _spec

_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)"
_TOKEN_RE = re.compile(
    rf"\s*(?:(?P<clock>[+-]?\d+:\d{{1,2}}(?::\d{{1,2}}(?:\.\d*)?)?)"
    rf"|(?P<num>{_NUM})\s*(?P<unit>[a-z]+)?|(?P<ago>ago))",
    re.I,
)
_ISO_RE = re.compile(
    rf"P(?:(?P<Y>{_NUM})Y)?(?:(?P<M>{_NUM})M)?(?:(?P<W>{_NUM})W)?(?:(?P<D>{_NUM})D)?"
    rf"(?:T(?:(?P<H>{_NUM})H)?(?:(?P<MI>{_NUM})M)?(?:(?P<S>{_NUM})S)?)?",
    re.I,
)


class _Acc:
    """Accumulates interval fields; fractions cascade down as in PostgreSQL's DecodeInterval."""

    def __init__(self) -> None:
        self.months = Decimal(0)
        self.days = Decimal(0)
        self.us = Decimal(0)

    def add(self, value: Decimal, field: str, mult: int) -> None:
        v = value * mult
        if field == "M":
            whole = int(v)
            self.months += whole
            v = (v - whole) * 30  # a fractional month is 30 days
            field = "D"
        if field == "D":
            whole = int(v)
            self.days += whole
            self.us += (v - whole) * 86_400_000_000
            return
        self.us += v * _USEC[field]

    def result(self, negate: bool = False) -> Interval:
        sign = -1 if negate else 1
        us = int(self.us.to_integral_value())
        return Interval(sign * int(self.months), sign * int(self.days), sign * us)


def interval_in(text: str, typmod: int = -1) -> Interval:
    s = text.strip()
    if s[:1].upper() == "P":
        m = _ISO_RE.fullmatch(s)
        if m is None or s.upper() in ("P", "PT"):
            raise _bad("interval", text)
        acc = _Acc()
        for key, field, mult in (("Y", "M", 12), ("M", "M", 1), ("W", "D", 7), ("D", "D", 1),
                                 ("H", "h", 1), ("MI", "m", 1), ("S", "s", 1)):
            if m.group(key):
                acc.add(Decimal(m.group(key)), field, mult)
        return acc.result()
    if s.startswith("@"):
        s = s[1:]
    acc, pos, ago, seen = _Acc(), 0, False, False
    while pos < len(s):
        m = _TOKEN_RE.match(s, pos)
        if m is None or m.end() == pos:
            if s[pos:].strip() == "":
                break
            raise _bad("interval", text)
        pos = m.end()
        if m.group("ago"):
            ago = True
        elif m.group("clock"):
            clock = m.group("clock")
            neg = clock.startswith("-")
            parts = clock.lstrip("+-").split(":")
            us = (Decimal(parts[0]) * 3600 + Decimal(parts[1]) * 60
                  + (Decimal(parts[2]) if len(parts) > 2 else 0)) * 1_000_000
            acc.us += -us if neg else us
        else:
            unit = (m.group("unit") or "s").lower()
            if unit not in _UNITS:
                raise _bad("interval", text)
            acc.add(Decimal(m.group("num")), *_UNITS[unit])
        seen = True
    if not seen:
        raise _bad("interval", text)
    return acc.result(negate=ago)


def _interval_iso(value: Interval) -> str:
    """IntervalStyle iso_8601: ``P1Y2M3DT4H5M6.5S``, each field with its own sign."""
    years = int(value.months / 12)
    fields = [(years, "Y"), (value.months - years * 12, "M"), (value.days, "D")]
    t = value.microseconds
    sign = "-" if t < 0 else ""
    h, rem = divmod(abs(t), 3_600_000_000)
    mi, rem = divmod(rem, 60_000_000)
    sec, us = divmod(rem, 1_000_000)
    out = "P" + "".join(f"{n}{u}" for n, u in fields if n)
    if t:
        out += "T" + (f"{sign}{h}H" if h else "") + (f"{sign}{mi}M" if mi else "")
        out += f"{sign}{sec}{_frac_out(us)}S" if sec or us else ""
    return out if out != "P" else "PT0S"


def interval_out(value: Interval) -> str:
    """IntervalStyle postgres: ``1 year 2 mons 3 days 04:05:06``; ``-1 days +02:00:00``;
    iso_8601: ``P1Y2M3DT4H5M6S``."""
    from sqlvec.types.datetime_style import intervalstyle

    if intervalstyle() == "iso_8601":
        return _interval_iso(value)
    parts: list[str] = []
    before_neg = False
    years, mons = int(value.months / 12), value.months - int(value.months / 12) * 12
    for n, unit in ((years, "year"), (mons, "mon"), (value.days, "day")):
        if n:
            plus = "+" if before_neg and n > 0 else ""
            parts.append(f"{plus}{n} {unit}{'' if n == 1 else 's'}")
            before_neg = n < 0
    t = value.microseconds
    if t or not parts:
        neg = t < 0
        a = abs(t)
        h, rem = divmod(a, 3_600_000_000)
        mi, rem = divmod(rem, 60_000_000)
        sec, us = divmod(rem, 1_000_000)
        sign = "-" if neg else ("+" if before_neg else "")
        parts.append(f"{sign}{h:02d}:{mi:02d}:{sec:02d}{_frac_out(us)}")
    return " ".join(parts)
