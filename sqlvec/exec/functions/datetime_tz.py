"""Date/time functions that depend on the session's TimeZone, over whole columns.

PostgreSQL computes calendar fields of a timestamptz in the session's zone: date_trunc('day',
tz) is local midnight, extract(hour ...) the local hour, and ``tz + interval '1 day'`` adds a
calendar day (23 or 25 hours across a DST change) while ``interval '24 hours'`` adds exactly
24 hours. Each function here converts the instants to wall-clock microseconds with one table
look-up (sqlvec.types.datetime_zone), works on numpy/Arrow arrays, and converts back.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import Datum, all_scalar, length
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType
from sqlvec.types.datetime_casts import DAY_US, from_local_micros, local_micros, micros
from sqlvec.types.datetime_zone import (
    NEG_INF_US,
    POS_INF_US,
    Zone,
    offset_zone,
    parse_zone,
    session_zone,
)

# PostgreSQL's range for timestamps that Python can also hold: years 1..9999
_MIN_US, _MAX_US = NEG_INF_US, POS_INF_US


def column(d: Datum, n: int) -> pa.Array:
    """A Datum as an Arrow array of n rows."""
    if isinstance(d, pa.Scalar):
        return pa.array([d.as_py()] * n, d.type) if n != 1 else pa.array([d.as_py()], d.type)
    return d.combine_chunks() if isinstance(d, pa.ChunkedArray) else d


def _result(arr: pa.Array, args: list[Datum]) -> Datum:
    return arr[0] if all_scalar(args) else arr


def _nulls(*arrs: pa.Array) -> np.ndarray | None:
    mask = None
    for a in arrs:
        if a.null_count:
            m = np.asarray(a.is_null())
            mask = m if mask is None else mask | m
    return mask


def zone_argument(name: str) -> Zone:
    """The zone of AT TIME ZONE / date_trunc's third argument: an abbreviation (EST), a zone
    name, or a POSIX spec ('+02' is two hours *west*, as in PostgreSQL)."""
    from sqlvec.types.datetimes import _ABBREV_HOURS

    hours = _ABBREV_HOURS.get(name.strip().upper())
    if hours is not None:
        return offset_zone(round(hours * 3600))
    zone = parse_zone(name, numeric_is_hours=False)
    if zone is None:
        raise errors.InvalidParameterValue(f'time zone "{name}" not recognized')
    return zone


def _by_zone(zones: Datum, m: int, fn) -> pa.Array:
    """Apply fn(zone, row mask) for each distinct zone name of a (possibly varying) argument
    and stitch the pieces; fn returns a full-length array."""
    if isinstance(zones, pa.Scalar):
        return fn(zone_argument(zones.as_py()), None)
    out = None
    for name in pc.unique(zones.drop_null()).to_pylist():
        sel = np.asarray(pc.equal(zones, name).fill_null(False))
        piece = fn(zone_argument(name), sel)
        out = piece if out is None else pc.if_else(pa.array(sel), piece, out)
    return out


# ------------------------------------------------------------------------------ AT TIME ZONE


def at_time_zone(to_local: bool):
    """timezone(zone, timestamptz) -> timestamp (wall clock there), and timezone(zone,
    timestamp) -> timestamptz (that wall clock there, as an instant)."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        arr = column(args[1], m)
        us = micros(arr)
        mask = _nulls(arr) if isinstance(args[0], pa.Scalar) and args[0].is_valid else \
            _nulls(arr, column(args[0], m))
        if isinstance(args[0], pa.Scalar) and not args[0].is_valid:
            return pa.scalar(None, (R.TIMESTAMP if to_local else R.TIMESTAMPTZ).arrow_type())

        def conv(zone: Zone, sel) -> pa.Array:
            out = zone.to_local(us) if to_local else zone.to_utc(us)
            t = pa.timestamp("us") if to_local else pa.timestamp("us", "UTC")
            return pa.array(out, pa.int64(), mask=mask).cast(t)

        return _result(_by_zone(args[0], m, conv), args)

    return impl


# ------------------------------------------------------------------------------ date_trunc

_TRUNC = {"microseconds": "microsecond", "milliseconds": "millisecond", "second": "second",
          "minute": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month",
          "quarter": "quarter", "year": "year"}


_KEEP_OFFSET = {"hour", "minute", "second", "millisecond", "microsecond"}


def _trunc_unit(field: str, type_name: str) -> str:
    f = field.lower()
    unit = _TRUNC.get(f if f in _TRUNC else f.rstrip("s"))
    if unit is None:
        raise errors.InvalidParameterValue(f'unit "{field}" not recognized for type {type_name}')
    return unit


def _trunc_local(local: np.ndarray, unit: str) -> np.ndarray:
    naive = pa.array(np.clip(local, _MIN_US + DAY_US * 7, _MAX_US - DAY_US * 7),
                     pa.int64()).cast(pa.timestamp("us"))
    out = pc.floor_temporal(naive, unit=unit, week_starts_monday=True)
    res = np.asarray(out.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64)
    return np.where((local >= _MAX_US) | (local <= _MIN_US), local, res)


def date_trunc(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    """date_trunc(field, timestamp | timestamptz [, zone]): a timestamptz is truncated as
    wall-clock time in the zone (default the session's) and read back in it."""
    if not isinstance(args[0], pa.Scalar):
        raise errors.FeatureNotSupported("date_trunc with a non-constant field")
    if not args[0].is_valid:
        return pa.scalar(None, types[1].arrow_type())
    t = types[1]
    unit = _trunc_unit(str(args[0].as_py()), t.name)
    m = length(args[1:], n)
    arr = column(args[1], m)
    mask = _nulls(arr)
    if t.oid != R.TIMESTAMPTZ.oid:
        return _result(from_local_micros(_trunc_local(micros(arr), unit), mask, t), args[1:])

    def conv(zone: Zone, sel) -> pa.Array:
        us = micros(arr)
        local = _trunc_local(zone.to_local(us), unit)
        if unit in _KEEP_OFFSET:
            # PostgreSQL looks the offset up again only for units of a day or more: below
            # that the input's own offset is kept (01:30 EDT on a fall-back day -> 01:00 EDT)
            out = np.where((us >= _MAX_US) | (us <= _MIN_US), us,
                           local - zone.utc_offsets(us) * 1_000_000)
            return pa.array(out, pa.int64(), mask=mask).cast(t.arrow_type())
        return from_local_micros(local, mask, t, zone)

    if len(args) > 2:
        if isinstance(args[2], pa.Scalar):
            if not args[2].is_valid:
                return pa.scalar(None, t.arrow_type())
        else:
            mask = _nulls(arr, column(args[2], m))
        return _result(_by_zone(args[2], m, conv), args[1:])
    return _result(conv(session_zone(), None), args[1:])


# ------------------------------------------------------------------------------ extract


def zone_fields(field: str, arr: pa.Array) -> pa.Array | None:
    """timezone, timezone_hour, timezone_minute of a timestamptz column (None for other
    fields): the session zone's offset at each instant, east positive."""
    f = field.lower()
    if f not in ("timezone", "timezone_hour", "timezone_minute"):
        return None
    off = session_zone().utc_offsets(micros(arr))
    if f == "timezone_hour":
        off = np.trunc(off / 3600).astype(np.int64)
    elif f == "timezone_minute":  # C's truncating division and fmod, as PostgreSQL
        off = np.fmod(np.trunc(off / 60), 60).astype(np.int64)
    return pa.array(off, pa.int64(), mask=_nulls(arr))


def local_column(arr: pa.Array) -> pa.Array:
    """A timestamptz column as wall-clock timestamps in the session's TimeZone."""
    return from_local_micros(local_micros(arr, R.TIMESTAMPTZ), _nulls(arr), R.TIMESTAMP)


# ------------------------------------------------------------------------------ ± interval

_MDN = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])


def interval_parts(d: Datum, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months, days, microseconds) of an interval column, from its buffer (no row loop)."""
    arr = column(d, m)
    raw = np.frombuffer(arr.buffers()[1], dtype=_MDN, count=len(arr) + arr.offset)[arr.offset:]
    return (raw["months"].astype(np.int64), raw["days"].astype(np.int64),
            raw["nanos"] // 1000)


def add_months_local(local: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Calendar months added to wall-clock microseconds; the day is clamped to the target
    month's length (Jan 31 + 1 month = Feb 29 in 2020), as PostgreSQL does."""
    if not months.any():
        return local
    days = np.floor_divide(local, DAY_US)
    tod = local - days * DAY_US
    d = days.astype("datetime64[D]")
    ym = d.astype("datetime64[M]")
    dom = (d - ym.astype("datetime64[D]")).astype(np.int64)
    target = ym + months.astype("timedelta64[M]")
    start = target.astype("datetime64[D]")
    length_ = ((target + 1).astype("datetime64[D]") - start).astype(np.int64)
    new_days = (start + np.minimum(dom, length_ - 1)).astype(np.int64)
    return new_days * DAY_US + tod


def plus_interval(sign: int):
    """timestamp/timestamptz ± interval; for timestamptz months and days are calendar units
    in the session's TimeZone and the time part is exact."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        arr, ivs = column(args[0], m), column(args[1], m)
        mask = _nulls(arr, ivs)
        t = types[0]
        us = local_micros(arr, t) if t.oid == R.DATE.oid else micros(arr)
        months, days, iv_us = interval_parts(ivs, m)
        if mask is not None:
            months, days, iv_us = (np.where(mask, 0, x) for x in (months, days, iv_us))
        inf = (us >= POS_INF_US) | (us <= NEG_INF_US)
        tz = t.oid == R.TIMESTAMPTZ.oid
        if months.any() or days.any():
            zone = session_zone() if tz else None
            local = zone.to_local(us) if zone is not None else us
            local = add_months_local(local, sign * months) + sign * days * DAY_US
            us = zone.to_utc(local) if zone is not None else local
        out = us + sign * iv_us
        bad = ~inf & ((out >= POS_INF_US) | (out <= NEG_INF_US + DAY_US))
        if mask is not None:
            bad &= ~mask
        if bad.any():
            raise errors.DatetimeFieldOverflow("timestamp out of range")
        out = np.where(inf, us, out)
        res_type = R.TIMESTAMP if t.oid == R.DATE.oid else t
        return _result(pa.array(out, pa.int64(), mask=mask).cast(res_type.arrow_type()), args)

    return impl
