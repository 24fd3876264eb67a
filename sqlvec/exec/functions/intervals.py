"""justify_days / justify_hours / justify_interval and the interval aggregates.

Field arithmetic follows PostgreSQL's timestamp.c: C integer division truncates toward zero,
then signs are made consistent between the fields. avg(interval) divides the sum as
interval_div does (fractional months spill into days at 30 per month, fractional days into
time, each rounded to the microsecond).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec.functions.pyrows import rows_typed, values
from sqlvec.exec.functions.registry import AggOverload, Overload, type_named
from sqlvec.types.values import Interval

IV = "interval"
USECS_PER_DAY = 86_400_000_000
_INT32 = 2**31
_INT64 = 2**63


def _tdiv(a: int, b: int) -> int:
    """C integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _checked(months: int, days: int, us: int) -> Interval:
    if not (-_INT32 <= months < _INT32 and -_INT32 <= days < _INT32 and -_INT64 <= us < _INT64):
        raise errors.DatetimeFieldOverflow("interval out of range")
    return Interval(months, days, us)


def _hours_into_days(days: int, us: int) -> tuple[int, int]:
    """Whole days of the time part move to the days, and both end with the same sign."""
    whole = _tdiv(us, USECS_PER_DAY)
    us -= whole * USECS_PER_DAY
    days += whole
    if days > 0 and us < 0:
        us += USECS_PER_DAY
        days -= 1
    elif days < 0 and us > 0:
        us -= USECS_PER_DAY
        days += 1
    return days, us


def justify_hours(v: Interval) -> Interval:
    days, us = _hours_into_days(v.days, v.microseconds)
    return _checked(v.months, days, us)


def justify_days(v: Interval) -> Interval:
    months, days = v.months, v.days
    whole = _tdiv(days, 30)
    days -= whole * 30
    months += whole
    if months > 0 and days < 0:
        days += 30
        months -= 1
    elif months < 0 and days > 0:
        days -= 30
        months += 1
    return _checked(months, days, v.microseconds)


def justify_interval(v: Interval) -> Interval:
    months, days, us = v.months, v.days, v.microseconds
    if (days > 0 and us > 0) or (days < 0 and us < 0):
        whole = _tdiv(us, USECS_PER_DAY)
        us -= whole * USECS_PER_DAY
        days += whole
    whole = _tdiv(days, 30)
    days -= whole * 30
    months += whole
    if months > 0 and (days < 0 or (days == 0 and us < 0)):
        days += 30
        months -= 1
    elif months < 0 and (days > 0 or (days == 0 and us > 0)):
        days -= 30
        months += 1
    days, us = _hours_into_days(days, us)
    return _checked(months, days, us)


def _tsround(x: float) -> float:
    return round(x * 1e6) / 1e6


def interval_div(v: Interval, factor: float) -> Interval:
    """interval / float8 as interval_div computes it."""
    if factor == 0:
        raise errors.DivisionByZero("division by zero")
    months = int(v.months / factor)
    days = int(v.days / factor)
    month_rem_days = _tsround((v.months / factor - months) * 30)
    sec_rem = _tsround((v.days / factor - days + month_rem_days - int(month_rem_days)) * 86400)
    if abs(sec_rem) >= 86400:
        days += int(sec_rem / 86400)
        sec_rem -= int(sec_rem / 86400) * 86400
    days += int(month_rem_days)
    us = v.microseconds / factor + sec_rem * 1e6
    if math.isnan(us) or abs(us) >= 2**63:
        raise errors.DatetimeFieldOverflow("interval out of range")
    return _checked(months, days, int(round(us)))


def _group_values(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    vals = values(args[0], type_named(IV), len(args[0]))
    groups: list[list[Interval]] = [[] for _ in range(n_groups)]
    seen: set = set()
    for g, v in zip(gids.tolist(), vals):
        if v is None or (distinct and (g, v) in seen):
            continue
        seen.add((g, v))
        groups[g].append(v)
    return groups


def _sum(vs: list[Interval]) -> Interval:
    m = d = u = 0
    for v in vs:
        m, d, u = m + v.months, d + v.days, u + v.microseconds
        _checked(m, d, u)
    return Interval(m, d, u)


def _agg(fn):
    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        from sqlvec.types.arrow import to_arrow

        res = [fn(vs) if vs else None for vs in _group_values(args, gids, n_groups, distinct)]
        return to_arrow(res, type_named(IV))

    return impl


FUNCTIONS: list[Overload] = [
    Overload("justify_hours", (IV,), IV, rows_typed(justify_hours, IV)),
    Overload("justify_days", (IV,), IV, rows_typed(justify_days, IV)),
    Overload("justify_interval", (IV,), IV, rows_typed(justify_interval, IV)),
]

AGGREGATES: list[AggOverload] = [
    AggOverload("sum", (IV,), IV, _agg(_sum)),
    AggOverload("avg", (IV,), IV, _agg(lambda vs: interval_div(_sum(vs), len(vs)))),
    AggOverload("max", (IV,), IV, _agg(lambda vs: max(vs, key=Interval.sort_key))),
    AggOverload("min", (IV,), IV, _agg(lambda vs: min(vs, key=Interval.sort_key))),
]

# sqlglot function classes named by their key (see registry._fill)
ALIASES = {"justifyhours": "justify_hours", "justifydays": "justify_days",
           "justifyinterval": "justify_interval"}
