"""Text output of date, timestamp and timestamptz in the session's DateStyle and TimeZone,
one value at a time and for whole Arrow columns.

=========  ==============================  =========================================
DateStyle  date                            timestamp with time zone
=========  ==============================  =========================================
ISO        2020-07-01                      2020-07-01 08:34:56.5-04
SQL        07/01/2020 (DMY: 01/07/2020)    07/01/2020 08:34:56.5 EDT
German     01.07.2020                      01.07.2020 08:34:56.5 EDT
Postgres   07-01-2020 (DMY: 01-07-2020)    Wed Jul 01 08:34:56.5 2020 EDT (DMY: Wed 01 Jul ...)
=========  ==============================  =========================================

A timestamp without time zone prints the same without the zone. Offsets print as PostgreSQL
prints them: ``-04``, ``+05:30``, and seconds when a zone has them (``+00:53:28``, LMT).
The column path formats with Arrow's strftime over wall-clock seconds and computes offsets
with one table look-up (datetime_zone), so no Python code runs per row.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.types.datetime_style import datestyle
from sqlvec.types.datetime_zone import NEG_INF_US, POS_INF_US, Zone, format_offset, session_zone

_DAY_US = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
DATE_POS_INF_DAYS = (dt.date.max - _EPOCH_DATE).days
DATE_NEG_INF_DAYS = (dt.date.min - _EPOCH_DATE).days

# (style, order) -> (date format, timestamp format before the fraction, after the fraction)
_DATE_FMT = {
    ("ISO", "MDY"): "%Y-%m-%d", ("ISO", "DMY"): "%Y-%m-%d", ("ISO", "YMD"): "%Y-%m-%d",
    ("SQL", "MDY"): "%m/%d/%Y", ("SQL", "DMY"): "%d/%m/%Y", ("SQL", "YMD"): "%m/%d/%Y",
    ("German", "MDY"): "%d.%m.%Y", ("German", "DMY"): "%d.%m.%Y", ("German", "YMD"): "%d.%m.%Y",
    ("Postgres", "MDY"): "%m-%d-%Y", ("Postgres", "DMY"): "%d-%m-%Y",
    ("Postgres", "YMD"): "%m-%d-%Y",
}


def _ts_fmt(style: str, order: str) -> tuple[str, str]:
    if style == "Postgres":
        head = "%a %d %b %H:%M:%S" if order == "DMY" else "%a %b %d %H:%M:%S"
        return head, " %Y"
    return _DATE_FMT[(style, order)] + " %H:%M:%S", ""


def _frac(us: int) -> str:
    return f".{us:06d}".rstrip("0") if us else ""


# --- one value ------------------------------------------------------------------------------


_DOW = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _strftime(d: dt.date, fmt: str) -> str:
    """The few strftime fields used here, with four-digit years below 1000 (C does not pad)."""
    t = d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)
    fields = {"%Y": f"{t.year:04d}", "%m": f"{t.month:02d}", "%d": f"{t.day:02d}",
              "%H": f"{t.hour:02d}", "%M": f"{t.minute:02d}", "%S": f"{t.second:02d}",
              "%a": _DOW[t.weekday()], "%b": _MON[t.month - 1]}
    out = fmt
    for k, v in fields.items():
        out = out.replace(k, v)
    return out


def format_date(d: dt.date) -> str:
    if d == dt.date.max:
        return "infinity"
    if d == dt.date.min:
        return "-infinity"
    return _strftime(d, _DATE_FMT[datestyle()])


def format_timestamp(value: dt.datetime, zone: Zone | None = None) -> str:
    """A timestamp (``zone`` None) or a timestamptz (``zone``: where to show it)."""
    naive = value.replace(tzinfo=None)
    if naive == dt.datetime.max:
        return "infinity"
    if naive == dt.datetime.min:
        return "-infinity"
    style, order = datestyle()
    tail = ""
    if zone is not None:
        if value.tzinfo is not None:
            naive = value.astimezone(dt.UTC).replace(tzinfo=None)
        us = (naive - _EPOCH) // dt.timedelta(microseconds=1)
        off = zone.offset_at_utc(us)
        naive = naive + dt.timedelta(seconds=off)
        if style == "ISO":
            tail = format_offset(off)
        else:
            tail = " " + str(zone.abbrevs(np.array([us], dtype=np.int64))[0])
    head, year = _ts_fmt(style, order)
    return (_strftime(naive, head) + _frac(naive.microsecond) + _strftime(naive, year)
            + tail)


# --- whole columns --------------------------------------------------------------------------


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_valid()) if arr.null_count else np.ones(len(arr), dtype=bool)


def _finish(out: pa.Array, us: np.ndarray, valid: np.ndarray, pos: int, neg: int) -> pa.Array:
    out = pc.if_else(pa.array(us >= pos), "infinity", out)
    out = pc.if_else(pa.array(us <= neg), "-infinity", out)
    return out if valid.all() else pc.if_else(pa.array(valid), out, None)


def _fraction_strings(us: np.ndarray) -> pa.Array:
    frac = np.mod(us, 1_000_000)
    digits = pc.utf8_slice_codeunits(pa.array(frac + 1_000_000).cast(pa.string()), 1)
    text = pc.binary_join_element_wise(".", pc.utf8_rtrim(digits, characters="0"), "")
    return pc.if_else(pa.array(frac == 0), "", text)


def _clamped_seconds(us: np.ndarray) -> pa.Array:
    lo, hi = NEG_INF_US + _DAY_US, POS_INF_US - _DAY_US
    secs = np.floor_divide(np.clip(us, lo, hi), 1_000_000)
    return pa.array(secs, pa.int64()).cast(pa.timestamp("s"))


# Arrow's cast to string prints 'YYYY-MM-DD HH:MM:SS' (ten times faster than its strftime);
# the other styles are rearranged slices of it. Layout items: a slice of the ISO text,
# a literal, or a name looked up by weekday / month.
_Y, _M, _D, _T = (0, 4), (5, 7), (8, 10), (10, 19)
_WEEKDAY, _MONTH = ("weekday",), ("month",)
_LAYOUT: dict[tuple[str, str], list] = {
    ("ISO", "MDY"): [(0, 10)], ("SQL", "MDY"): [_M, "/", _D, "/", _Y],
    ("SQL", "DMY"): [_D, "/", _M, "/", _Y], ("German", "MDY"): [_D, ".", _M, ".", _Y],
    ("Postgres", "MDY"): [_M, "-", _D, "-", _Y], ("Postgres", "DMY"): [_D, "-", _M, "-", _Y],
}
for _order in ("DMY", "YMD"):
    _LAYOUT[("ISO", _order)] = _LAYOUT[("ISO", "MDY")]
    _LAYOUT[("German", _order)] = _LAYOUT[("German", "MDY")]
_LAYOUT[("SQL", "YMD")] = _LAYOUT[("SQL", "MDY")]
_LAYOUT[("Postgres", "YMD")] = _LAYOUT[("Postgres", "MDY")]


def _pieces(iso: pa.Array, layout: list, ts: pa.Array | None = None) -> list:
    out: list = []
    for item in layout:
        if isinstance(item, str):
            out.append(item)
        elif item == _WEEKDAY:
            dow = pc.day_of_week(ts, count_from_zero=True, week_start=1)
            out.append(pa.array(list(_DOW), pa.string()).take(dow))
        elif item == _MONTH:
            out.append(pa.array(list(_MON), pa.string()).take(pc.subtract(pc.month(ts), 1)))
        else:
            out.append(pc.utf8_slice_codeunits(iso, item[0], item[1]))
    return out


def _ts_layout(style: str, order: str) -> tuple[list, list]:
    """(pieces before the fraction, pieces after it)."""
    if style == "Postgres":
        day_mon = [_D, " ", _MONTH] if order == "DMY" else [_MONTH, " ", _D]
        return [_WEEKDAY, " ", *day_mon, _T], [" ", _Y]
    return [*_LAYOUT[(style, order)], _T], []


def format_timestamp_column(arr: pa.Array, with_zone: bool) -> pa.Array:
    """Text of every value of a timestamp / timestamptz column (NULL stays NULL)."""
    valid = _valid(arr)
    us = np.asarray(arr.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    style, order = datestyle()
    local = us
    tail: pa.Array | None = None
    if with_zone:
        zone = session_zone()
        offs = zone.utc_offsets(us)
        local = us + offs * 1_000_000
        if style == "ISO":
            uniq, inv = np.unique(offs, return_inverse=True)
            tail = pa.array([format_offset(int(o)) for o in uniq], pa.string()).take(
                pa.array(inv.ravel()))
        else:
            names = zone.abbrevs(us)
            tail = pc.binary_join_element_wise(" ", pa.array(names.tolist(), pa.string()), "")
    secs = _clamped_seconds(local)
    iso = secs.cast(pa.string())
    head, after = _ts_layout(style, order)
    parts = [*_pieces(iso, head, secs), _fraction_strings(local), *_pieces(iso, after, secs)]
    if tail is not None:
        parts.append(tail)
    out = pc.binary_join_element_wise(*parts, "")
    return _finish(out, us, valid, POS_INF_US, NEG_INF_US)


def format_date_column(arr: pa.Array) -> pa.Array:
    valid = _valid(arr)
    days = np.asarray(arr.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False),
                      np.int64)
    iso = arr.fill_null(0).cast(pa.string()) if arr.null_count else arr.cast(pa.string())
    layout = _LAYOUT[datestyle()]
    out = iso if layout == [(0, 10)] else pc.binary_join_element_wise(*_pieces(iso, layout), "")
    return _finish(out, days, valid, DATE_POS_INF_DAYS, DATE_NEG_INF_DAYS)
