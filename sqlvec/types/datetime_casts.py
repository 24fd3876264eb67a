"""Casts among date, timestamp, timestamptz and time, whole columns at a time.

Every cast that crosses between an instant (timestamptz) and a wall-clock value (date,
timestamp, time) happens in the session's TimeZone, as in PostgreSQL: ``timestamptz::date``
is the local date, ``date::timestamptz`` local midnight, ``timestamp::timestamptz`` reads
the wall-clock time in the zone (DST gaps and overlaps resolved as datetime_zone says).
±infinity stays ±infinity.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlvec.types import registry as R
from sqlvec.types.base import SqlType
from sqlvec.types.datetime_text import DATE_NEG_INF_DAYS, DATE_POS_INF_DAYS
from sqlvec.types.datetime_zone import NEG_INF_US, POS_INF_US, Zone, session_zone

DAY_US = 86_400_000_000


def micros(arr: pa.Array) -> np.ndarray:
    """int64 microseconds of a timestamp column (NULL as 0)."""
    return np.asarray(arr.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False),
                      np.int64)


def _mask(arr: pa.Array) -> np.ndarray | None:
    return np.asarray(arr.is_null()) if arr.null_count else None


def _days(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False),
                      np.int64)


def days_to_micros(days: np.ndarray) -> np.ndarray:
    us = days * DAY_US
    us = np.where(days >= DATE_POS_INF_DAYS, POS_INF_US, us)
    return np.where(days <= DATE_NEG_INF_DAYS, NEG_INF_US, us)


def micros_to_days(us: np.ndarray) -> np.ndarray:
    days = np.floor_divide(us, DAY_US)
    days = np.where(us >= POS_INF_US, DATE_POS_INF_DAYS, days)
    return np.where(us <= NEG_INF_US, DATE_NEG_INF_DAYS, days)


def local_micros(arr: pa.Array, t: SqlType, zone: Zone | None = None) -> np.ndarray:
    """Wall-clock microseconds of a date/timestamp/timestamptz column (timestamptz in
    ``zone``, default the session's)."""
    if t.oid == R.DATE.oid:
        return days_to_micros(_days(arr))
    us = micros(arr)
    if t.oid == R.TIMESTAMPTZ.oid:
        return (zone or session_zone()).to_local(us)
    return us


def from_local_micros(local: np.ndarray, mask: np.ndarray | None, dst: SqlType,
                      zone: Zone | None = None) -> pa.Array:
    """A ``dst`` column (date, timestamp, timestamptz or time) of wall-clock microseconds."""
    if dst.oid == R.DATE.oid:
        return pa.array(micros_to_days(local).astype(np.int32), pa.int32(), mask=mask).cast(
            pa.date32())
    if dst.oid == R.TIME.oid:
        return pa.array(np.mod(local, DAY_US), pa.int64(), mask=mask).cast(pa.time64("us"))
    if dst.oid == R.TIMESTAMPTZ.oid:
        local = (zone or session_zone()).to_utc(local)
    return pa.array(local, pa.int64(), mask=mask).cast(dst.arrow_type())


def cast_datetime(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """date/timestamp/timestamptz -> date/timestamp/timestamptz/time."""
    return from_local_micros(local_micros(arr, src), _mask(arr), dst)
