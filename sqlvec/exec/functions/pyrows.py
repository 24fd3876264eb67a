"""Per-row Python over SQL values (not Arrow storage values), for the function families whose
types have no Arrow kernels: arrays, json, intervals, bytea helpers.

Arguments are converted with sqlvec.types.arrow.from_arrow and results with to_arrow, so an
implementation sees the Python values base.py documents (Decimal, Interval, list, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from sqlvec.exec.functions.common import Datum, all_scalar, length
from sqlvec.exec.functions.registry import Impl
from sqlvec.types.base import SqlType


def values(d: Datum, t: SqlType, m: int) -> list[Any]:
    """The SQL values of one argument, m of them (a Scalar repeats)."""
    from sqlvec.types.arrow import from_arrow

    if isinstance(d, pa.Scalar):
        v = from_arrow(pa.array([d], d.type), t)[0] if d.is_valid else None
        return [v] * m
    if isinstance(d, pa.ChunkedArray):
        d = d.combine_chunks()
    return from_arrow(d, t)


def result(vals: list[Any], t: SqlType, args: list[Datum]) -> Datum:
    from sqlvec.types.arrow import to_arrow

    arr = to_arrow(vals, t)
    return arr[0] if all_scalar(args) else arr


def typed(ret: str | Callable[[list[SqlType]], SqlType]) -> Callable[[list[SqlType]], SqlType]:
    """A result-type function from a type name or function."""
    if isinstance(ret, str):
        from sqlvec.exec.functions.registry import type_named

        return lambda ts: type_named(ret)
    return ret


def rows_typed(fn: Callable[..., Any], ret: str | Callable[[list[SqlType]], SqlType],
               strict: bool = True, with_types: bool = False) -> Impl:
    """An implementation calling ``fn(*row_values)`` per row (NULL in -> NULL out when
    ``strict``); ``with_types`` passes the argument types as the first argument of ``fn``."""
    rt = typed(ret)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        cols = [values(a, t, m) for a, t in zip(args, types)]
        out = []
        for row in zip(*cols) if cols else [()] * m:
            if strict and any(v is None for v in row):
                out.append(None)
            else:
                out.append(fn(types, *row) if with_types else fn(*row))
        return result(out, rt(types), args)

    return impl
