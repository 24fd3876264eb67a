"""Frame bounds with offsets in RANGE and GROUPS mode, and frame exclusion.

RANGE ``x PRECEDING`` / ``FOLLOWING`` bounds are found by value: every row's target (its ORDER
BY key minus or plus the offset, computed with the SQL ``-`` / ``+`` operators so that
``timestamp - interval '1 month'`` follows the calendar) is looked up among the sorted keys of
its partition in one merged sort (a searchsorted by (partition, value) for all rows at once).
GROUPS bounds count peer groups. EXCLUDE removes the current row, its peer group or its other
peers from a frame; it is applied to the frame members the generic aggregate path builds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.plan import expr as E


def _numeric(arr: pa.Array) -> np.ndarray:
    """Sort keys as float64 (temporal types by their integer form), NULLs as NaN."""
    t = arr.type
    if pa.types.is_date(t):  # date - interval is a timestamp: compare both in microseconds
        return _numeric(arr.cast(pa.timestamp("us")))
    if pa.types.is_timestamp(t):
        arr = arr.cast(pa.timestamp("us", t.tz)).cast(pa.int64())
    elif pa.types.is_temporal(t):
        arr = arr.cast(pa.int64())
    elif pa.types.is_decimal(t) or pa.types.is_string(t):
        arr = arr.cast(pa.float64())
    return np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False), np.float64)


def _search(part: np.ndarray, keys: np.ndarray, tpart: np.ndarray, targets: np.ndarray, right: bool) -> np.ndarray:
    """For every target: the number of sorted (part, key) pairs before (tpart, target) —
    strictly before (searchsorted left) or up to equal (right). keys ascend within part."""
    n, m = len(keys), len(targets)
    allp = np.concatenate([part, tpart])
    allv = np.concatenate([keys, targets])
    # equal values: a left search puts the target before the keys, a right search after
    flag = np.concatenate([np.zeros(n, np.int8), np.ones(m, np.int8)]) if right else \
        np.concatenate([np.ones(n, np.int8), np.zeros(m, np.int8)])
    order = np.lexsort((flag, allv, allp))
    is_key = order < n
    before = np.cumsum(is_key) - is_key
    out = np.empty(m, np.int64)
    out[order[~is_key] - n] = before[~is_key]
    return out


def range_bound(ec: E.EvalContext, call, lay, n: int, which: str, side: str, off: E.Expr) -> np.ndarray:
    """Start (or exclusive end) of every sorted position's RANGE frame with an offset bound."""
    from sqlvec.exec.functions.registry import resolve_operator

    key_expr, desc, nulls_first = call.order[0]
    if nulls_first is None:
        nulls_first = desc
    v = off.eval(E.EvalContext([], 1, ec.params, ec.stmt, ec.outer, ec.exec))
    v = v if isinstance(v, pa.Scalar) else v[0]
    if not v.is_valid:
        raise errors.NullValueNotAllowed(f"frame {which} offset must not be null")
    if _negative(v.as_py()):
        raise errors.DataException("invalid preceding or following size in window function", sqlstate="22013")
    keys = E.broadcast(key_expr.eval(ec), n).take(pa.array(lay.perm))
    # a row's bound value: key - offset before it in sort order, key + offset after it
    op = "-" if (side == "preceding") != desc else "+"
    ov = resolve_operator(op, key_expr.type, off.type)[0]
    target = E.broadcast(ov.impl([keys, v], [key_expr.type, off.type], n), n)
    k, t = _numeric(keys), _numeric(target)
    sign = -1.0 if desc else 1.0
    fill = -np.inf if nulls_first else np.inf  # NULL keys sit at their end of the partition
    kk = np.where(np.isnan(k), fill, k * sign)
    tt = np.where(np.isnan(t), fill, t * sign)
    b = _search(lay.part, kk, lay.part, tt, right=(which == "ending"))
    # a row whose key is NULL frames its NULL peers, as in PostgreSQL
    null = np.isnan(k)
    if null.any():
        b = np.where(null, lay.peer_start if which == "starting" else lay.peer_end, b)
    return b


def _negative(x) -> bool:
    if hasattr(x, "months"):  # an interval (pyarrow's MonthDayNano or our Interval)
        sub = getattr(x, "nanoseconds", None)
        sub = getattr(x, "microseconds", 0) if sub is None else sub
        return x.months < 0 or x.days < 0 or sub < 0
    return x < 0


def groups_bound(lay, n: int, which: str, side: str, k: int) -> np.ndarray:
    """Start (or exclusive end) of every sorted position's GROUPS frame with an offset bound."""
    run = np.cumsum(lay.new_peer) - 1  # peer group number of every position (global)
    run_start = np.flatnonzero(lay.new_peer)
    run_end = np.r_[run_start[1:], n]
    first = run[lay.pstart]
    last = run[lay.pend - 1]
    target = run - k if side == "preceding" else run + k
    if which == "starting":
        inside = target <= last
        idx = np.clip(target, first, last)
        return np.where(inside, run_start[idx], lay.pend)
    inside = target >= first
    idx = np.clip(target, first, last)
    return np.where(inside, run_end[idx], lay.pstart)


def excluded(exclude: str, idx: np.ndarray, rows: np.ndarray, lay) -> np.ndarray:
    """Mask of frame members (positions idx, of frames of rows) that EXCLUDE removes."""
    if exclude == "current row":
        return idx == rows
    same_peers = (idx >= lay.peer_start[rows]) & (idx < lay.peer_end[rows])
    if exclude == "group":
        return same_peers
    return same_peers & (idx != rows)  # ties
