"""Date/time functions and operators.

"now": now(), current_timestamp, transaction_timestamp() and statement_timestamp() return the
instant pinned with :func:`pin_now` (the session pins it once per statement, so every row and
every call in a statement sees the same value, as PostgreSQL's transaction start time);
without a pin they read the clock. clock_timestamp() always reads the clock and is volatile.
Column-wide work uses pyarrow temporal kernels; interval arithmetic (months are calendar
months) runs per row on Python datetimes.
"""

from __future__ import annotations

import calendar
import contextvars
import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import (
    Datum,
    finish,
    from_numpy,
    length,
    map_rows,
    numeric_out,
    numpy_values,
    valid_mask,
)
from sqlvec.exec.functions.datetime_tz import (
    at_time_zone,
    column,
    date_trunc,
    local_column,
    plus_interval,
    zone_fields,
)
from sqlvec.exec.functions.registry import Overload, type_named
from sqlvec.types.base import SqlType

TS, TSTZ, IV = "timestamp without time zone", "timestamp with time zone", "interval"
_NOW: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("sqlvec_now",
                                                                          default=None)
_USEC_DAY = 86_400_000_000


def pin_now(ts: dt.datetime | None) -> contextvars.Token:
    """Pin now() for the current statement/transaction (aware UTC datetime); returns a token
    for ``_NOW.reset``. ``None`` unpins."""
    return _NOW.set(ts)


def current_now() -> dt.datetime:
    return _NOW.get() or dt.datetime.now(dt.UTC)


def _now(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pa.scalar(current_now(), pa.timestamp("us", "UTC"))


def _clock(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pa.scalar(dt.datetime.now(dt.UTC), pa.timestamp("us", "UTC"))


def _local_now(t: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        from sqlvec.types.datetime_casts import cast_datetime
        from sqlvec.types.registry import TIMESTAMPTZ

        now = pa.array([current_now()], pa.timestamp("us", "UTC"))
        return cast_datetime(now, TIMESTAMPTZ, type_named(t))[0]

    return impl


# ------------------------------------------------------------------------------ intervals


def _iv(v: object) -> tuple[int, int, int]:
    """(months, days, microseconds) of an Arrow MonthDayNano value."""
    return v.months, v.days, v.nanoseconds // 1000  # type: ignore[attr-defined]


def _mdn(months: int, days: int, us: int) -> pa.MonthDayNano:
    return pa.MonthDayNano([months, days, us * 1000])


def _ts_minus_ts(a: dt.datetime, b: dt.datetime) -> pa.MonthDayNano:
    us = (a - b) // dt.timedelta(microseconds=1)
    days = int(us / _USEC_DAY)  # justify_hours: whole days, same sign as the remainder
    return _mdn(0, days, us - days * _USEC_DAY)


def _ts_op(fn, out: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(fn, args, n, type_named(out).arrow_type())

    return impl


def _iv_add(sign: int):
    def fn(a: object, b: object) -> pa.MonthDayNano:
        am, ad, au = _iv(a)
        bm, bd, bu = _iv(b)
        return _mdn(am + sign * bm, ad + sign * bd, au + sign * bu)

    return fn


def _iv_neg(a: object) -> pa.MonthDayNano:
    m, d, u = _iv(a)
    return _mdn(-m, -d, -u)


def _iv_scale(a: object, f: float) -> pa.MonthDayNano:
    """interval * number as PostgreSQL does it: fractional months spill into days (30 per
    month) and fractional days into time (24 hours per day)."""
    m, d, u = _iv(a)
    fm = m * f
    months = int(fm)
    fd = d * f + (fm - months) * 30
    days = int(fd)
    us = round(u * f + (fd - days) * _USEC_DAY)
    return _mdn(months, days, us)


def _iv_div(a: object, f: float) -> pa.MonthDayNano:
    if f == 0:
        raise errors.DivisionByZero("division by zero")
    return _iv_scale(a, 1.0 / f)


def _date_int(sign: int):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        ok = valid_mask(args, m)
        days = numpy_values(args[0], m, "datetime64[D]", fill=np.datetime64(0, "D"))
        delta = numpy_values(args[1], m, np.int64)
        res = days.astype(np.int64) + sign * delta
        return finish(from_numpy(res.astype(np.int32), ok, pa.int32()).cast(pa.date32()), args)

    return impl


def _date_minus_date(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pc.cast(pc.days_between(args[1], args[0]), pa.int32())


# ------------------------------------------------------------------------ trunc and parts

def _parts(field: str, arr: Datum) -> tuple[Datum, int]:
    """(integer-valued Arrow result, decimal scale) of EXTRACT(field FROM arr)."""
    f = field.lower()
    simple = {"year": pc.year, "month": pc.month, "day": pc.day, "hour": pc.hour,
              "minute": pc.minute, "quarter": pc.quarter, "doy": pc.day_of_year,
              "week": pc.iso_week, "isoyear": pc.iso_year}
    if f in simple:
        return simple[f](arr), 0
    if f == "dow":
        return pc.day_of_week(arr, count_from_zero=True, week_start=7), 0
    if f == "isodow":
        return pc.day_of_week(arr, count_from_zero=False, week_start=1), 0
    if f in ("second", "milliseconds", "microseconds"):
        us = pc.add(pc.multiply(pc.cast(pc.second(arr), pa.int64()), 1_000_000),
                    pc.cast(pc.add(pc.multiply(pc.millisecond(arr), 1000),
                                   pc.microsecond(arr)), pa.int64()))
        return us, {"second": 6, "milliseconds": 3, "microseconds": 0}[f]
    if f == "epoch":
        us = pc.cast(pc.cast(arr, pa.timestamp("us")) if not pa.types.is_date(arr.type)
                     else pc.cast(pc.cast(arr, pa.timestamp("us")), pa.timestamp("us")),
                     pa.int64())
        return us, 6
    raise errors.InvalidParameterValue(f'unit "{field}" not recognized for type timestamp')


def _date_part(numeric: bool):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        if not isinstance(args[0], pa.Scalar):
            raise errors.FeatureNotSupported("date_part with a non-constant field")
        field, arr = str(args[0].as_py()), args[1]
        if types[1].name == TSTZ:
            # calendar fields in the session's TimeZone; epoch is the instant itself
            col = column(arr, 1 if isinstance(arr, pa.Scalar) else len(arr))
            zf = zone_fields(field, col)
            if zf is not None:
                vals, scale = (zf[0] if isinstance(arr, pa.Scalar) else zf), 0
            elif field.lower() != "epoch":
                local = local_column(col)
                vals, scale = _parts(field, local[0] if isinstance(arr, pa.Scalar) else local)
            else:
                vals, scale = _parts(field, arr)
        else:
            vals, scale = _parts(field, arr)
        if not numeric:
            res = pc.divide(pc.cast(vals, pa.float64()), float(10**scale))
            return res
        col = vals if isinstance(vals, pa.Array) else pa.array([vals.as_py()], vals.type)
        out = [None if v is None else decimal.Decimal(v).scaleb(-scale) for v in col.to_pylist()]
        return finish(numeric_out(out, type_named("numeric")), [args[1]])

    return impl


def _to_timestamp(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    ok = valid_mask(args, m)
    secs = numpy_values(args[0], m, np.float64)
    if np.any(~np.isfinite(secs) & ok):
        raise errors.DatetimeFieldOverflow("timestamp cannot be NaN" if np.any(
            np.isnan(secs) & ok) else "timestamp out of range")
    us = np.rint(secs * 1e6).astype(np.int64)
    return finish(from_numpy(us, ok, pa.int64()).cast(pa.timestamp("us", "UTC")), args)


def _make_date(y: int, mo: int, d: int) -> dt.date:
    try:
        return dt.date(y, mo, d)
    except ValueError:
        raise errors.DatetimeFieldOverflow(
            f'date field value out of range: {y}-{mo:02d}-{d:02d}') from None


def _age_local(a: dt.datetime, b: dt.datetime) -> pa.MonthDayNano:
    """age(timestamptz, timestamptz): fields of both in the session's TimeZone."""
    from sqlvec.types.datetime_zone import session_zone

    tz = session_zone().tzinfo
    return _age(a.astimezone(tz).replace(tzinfo=None), b.astimezone(tz).replace(tzinfo=None))


def _age(a: dt.datetime, b: dt.datetime) -> pa.MonthDayNano:
    """PostgreSQL age() (timestamp_age): subtract field by field, borrowing from the next
    larger field; a negative day count borrows the length of the earlier date's month."""
    sign = 1
    if a < b:
        a, b, sign = b, a, -1
    us = (a.hour - b.hour) * 3_600_000_000 + (a.minute - b.minute) * 60_000_000 \
        + (a.second - b.second) * 1_000_000 + (a.microsecond - b.microsecond)
    days = a.day - b.day
    months = (a.year - b.year) * 12 + (a.month - b.month)
    if us < 0:
        us += _USEC_DAY
        days -= 1
    if days < 0:
        days += calendar.monthrange(b.year, b.month)[1]
        months -= 1
    return _mdn(sign * months, sign * days, sign * us)


FUNCTIONS: list[Overload] = [
    *(Overload(name, (), TSTZ, _now) for name in ("now", "current_timestamp",
                                                 "transaction_timestamp", "statement_timestamp")),
    Overload("localtimestamp", (), TS, _local_now(TS)),
    Overload("clock_timestamp", (), TSTZ, _clock, volatile=True),
    Overload("current_date", (), "date", _local_now("date")),
    *(Overload("date_trunc", ("text", t), t, date_trunc) for t in (TS, TSTZ)),
    Overload("date_trunc", ("text", TSTZ, "text"), TSTZ, date_trunc),
    *(Overload("date_part", ("text", t), "double precision", _date_part(False))
      for t in (TS, TSTZ, "date")),
    *(Overload("extract", ("text", t), "numeric", _date_part(True)) for t in (TS, TSTZ, "date")),
    Overload("to_timestamp", ("double precision",), TSTZ, _to_timestamp),
    Overload("make_date", ("integer", "integer", "integer"), "date",
             lambda a, t, n: map_rows(_make_date, a, n, pa.date32())),
    Overload("age", (TS, TS), IV, _ts_op(_age, IV)),
    Overload("age", (TSTZ, TSTZ), IV, _ts_op(_age_local, IV)),
    Overload("timezone", ("text", TSTZ), TS, at_time_zone(True)),
    Overload("timezone", ("text", TS), TSTZ, at_time_zone(False)),
]

OPERATORS: list[Overload] = [
    *(Overload("+", (t, IV), t, plus_interval(1)) for t in (TS, TSTZ)),
    *(Overload("-", (t, IV), t, plus_interval(-1)) for t in (TS, TSTZ)),
    *(Overload("-", (t, t), IV, _ts_op(_ts_minus_ts, IV)) for t in (TS, TSTZ)),
    Overload("+", ("date", "integer"), "date", _date_int(1)),
    Overload("-", ("date", "integer"), "date", _date_int(-1)),
    Overload("-", ("date", "date"), "integer", _date_minus_date),
    Overload("+", ("date", IV), TS, plus_interval(1)),
    Overload("-", ("date", IV), TS, plus_interval(-1)),
    Overload("+", (IV, IV), IV, _ts_op(_iv_add(1), IV)),
    Overload("-", (IV, IV), IV, _ts_op(_iv_add(-1), IV)),
    Overload("-", (IV,), IV, _ts_op(_iv_neg, IV)),
    Overload("*", (IV, "double precision"), IV, _ts_op(_iv_scale, IV)),
    Overload("*", ("double precision", IV), IV, _ts_op(lambda f, a: _iv_scale(a, f), IV)),
    Overload("/", (IV, "double precision"), IV, _ts_op(_iv_div, IV)),
]
