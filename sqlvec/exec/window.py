"""Window functions: one column per window call, computed over whole partitions at once.

For each call the input rows are sorted by (partition, ORDER BY keys); in that order every
row knows its partition's bounds, its peer group's bounds (rows equal on the ORDER BY keys)
and its frame [start, end). Ranking functions are arithmetic on those positions; lag/lead and
first/last/nth_value are gathers; aggregates use prefix sums (count, integer sum/avg, and
running float/numeric sums), a sparse table over value ranks (min/max/bool_and/bool_or), or,
for anything else, the aggregate implementation itself run over every row's frame members.
The result is scattered back to the input order.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec import frames
from sqlvec.exec.functions.arith import decimals, numeric_div
from sqlvec.exec.functions.common import NUMERIC_CTX, numeric_out
from sqlvec.exec.relation import ExecContext, Rel, SortKey, group_ids, sort_indices
from sqlvec.plan import expr as E

_EXPAND_LIMIT = 8_000_000  # frame members materialised at once by the generic aggregate path
INTS = ("smallint", "integer", "bigint")
FLOATS = ("real", "double precision")


@dataclass
class FrameSpec:
    mode: str  # rows | range | groups
    start: str  # unbounded | preceding | current | following
    end: str  # unbounded | preceding | current | following
    start_off: E.Expr | None = None  # rows/groups: bigint; range: the ORDER BY key's offset type
    end_off: E.Expr | None = None
    exclude: str | None = None  # "current row" | "group" | "ties" (None: no others)


@dataclass
class WindowCall:
    """One window function call; ``agg`` is set for aggregates used as window functions."""

    name: str
    args: list[E.Expr]
    partition: list[E.Expr]
    order: list[tuple[E.Expr, bool, bool | None]]
    frame: FrameSpec | None
    type: Any
    agg: Any = None  # AggCall (impl, filter, empty_value)
    filter: E.Expr | None = None
    spec_key: tuple = field(default_factory=tuple)  # equal keys share one sort

    def exprs(self) -> list[E.Expr]:
        out = list(self.args) + list(self.partition) + [o[0] for o in self.order]
        return out + ([self.filter] if self.filter is not None else [])


@dataclass
class _Layout:
    """Sorted positions of one window's rows and what each row knows about its neighbours."""

    perm: np.ndarray  # sorted position -> input row
    part: np.ndarray  # partition number of each sorted position (0..nparts-1, ascending)
    pstart: np.ndarray
    pend: np.ndarray  # exclusive
    peer_start: np.ndarray
    peer_end: np.ndarray  # exclusive
    new_peer: np.ndarray
    starts: np.ndarray  # first position of every partition
    ordered: bool


def run_windows(ctx: ExecContext, rel: Rel, calls: list[WindowCall]) -> Rel:
    """rel with one more column per call (in calls order), rows in the last window's order."""
    ec = ctx.eval_ctx(rel.columns, rel.n)
    layouts: dict[tuple, _Layout] = {}
    cols = list(rel.columns)
    last = None
    for call in calls:
        ctx.check()
        lay = layouts.get(call.spec_key)
        if lay is None:
            lay = layouts[call.spec_key] = _layout(ec, rel.n, call)
        out = _compute(ctx, ec, rel.n, call, lay)
        inv = np.empty(rel.n, np.int64)
        inv[lay.perm] = np.arange(rel.n)
        cols.append(out.take(pa.array(inv)))
        last = lay
    out = Rel(cols, rel.n)
    if last is not None and rel.n:
        # PostgreSQL hands rows on in the order its last window sort produced
        out = out.take(last.perm)
    return out


def _layout(ec: E.EvalContext, n: int, call: WindowCall) -> _Layout:
    pkeys = [E.broadcast(p.eval(ec), n) for p in call.partition]
    gids = group_ids(pkeys, n)[0] if pkeys else np.zeros(n, np.int64)
    okeys = [E.broadcast(o[0].eval(ec), n) for o in call.order]
    keys = [SortKey(0)] + [SortKey(i + 1, o[1], o[2]) for i, o in enumerate(call.order)]
    perm = sort_indices([pa.array(gids)] + okeys, keys, n).astype(np.int64)
    pos = np.arange(n)
    g = gids[perm]
    new_part = np.r_[True, g[1:] != g[:-1]] if n else np.zeros(0, bool)
    if okeys:
        codes = group_ids([pa.array(gids)] + okeys, n)[0][perm]
        new_peer = new_part | np.r_[True, codes[1:] != codes[:-1]] if n else new_part
    else:
        new_peer = new_part
    pstart, pend, part, starts = _runs(new_part, pos, n)
    peer_start, peer_end, _, _ = _runs(new_peer, pos, n)
    return _Layout(perm, part, pstart, pend, peer_start, peer_end, new_peer, starts, bool(okeys))


def _runs(new: np.ndarray, pos: np.ndarray, n: int):
    """Start and (exclusive) end of the run each position belongs to, run numbers, run starts."""
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    ends = np.r_[starts[1:], n]
    return starts[run], ends[run], run, starts


# -- frames -------------------------------------------------------------------------------------


def _offset(ctx: E.EvalContext, e: E.Expr, what: str) -> int:
    v = e.eval(E.EvalContext([], 1, ctx.params, ctx.stmt, ctx.outer, ctx.exec))
    v = v if isinstance(v, pa.Scalar) else v[0]
    if not v.is_valid:
        raise errors.NullValueNotAllowed(f"frame {what} offset must not be null")
    x = v.as_py()
    if x < 0:
        raise errors.DataException(f"frame {what} offset must not be negative", sqlstate="22013")
    return int(x)


def frame_bounds(ec: E.EvalContext, call: WindowCall, lay: _Layout, n: int) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of every sorted position's frame (clipped to its partition)."""
    f = call.frame
    pos = np.arange(n)
    if f is None:
        return lay.pstart, (lay.peer_end if lay.ordered else lay.pend)
    bounds = []
    for which, side, off in (("starting", f.start, f.start_off), ("ending", f.end, f.end_off)):
        if side == "unbounded":
            b = lay.pstart if which == "starting" else lay.pend
        elif side == "current":
            if f.mode == "rows":
                b = pos if which == "starting" else pos + 1
            else:
                b = lay.peer_start if which == "starting" else lay.peer_end
        elif f.mode == "range":
            b = frames.range_bound(ec, call, lay, n, which, side, off)
        elif f.mode == "groups":
            b = frames.groups_bound(lay, n, which, side, _offset(ec, off, which))
        else:
            k = _offset(ec, off, which)
            shift = -k if side == "preceding" else k
            b = pos + shift + (0 if which == "starting" else 1)
        bounds.append(np.clip(b, lay.pstart, lay.pend))
    s, e = bounds
    return s, np.maximum(e, s)


# -- dispatch -----------------------------------------------------------------------------------


def _compute(ctx: ExecContext, ec: E.EvalContext, n: int, call: WindowCall, lay: _Layout) -> pa.Array:
    at = call.type.arrow_type()
    if n == 0:
        return pa.array([], type=at)
    fn = RANKING.get(call.name)
    if fn is not None and call.agg is None:
        return fn(ec, n, call, lay)
    args = [E.broadcast(a.eval(ec), n).take(pa.array(lay.perm)) for a in call.args]
    s, e = frame_bounds(ec, call, lay, n)
    if call.agg is None:
        if call.frame is not None and call.frame.exclude:
            raise errors.FeatureNotSupported(f"frame EXCLUDE is not supported for {call.name} yet")
        return VALUE_FUNCTIONS[call.name](ec, n, call, lay, args, s, e)
    keep = None
    if call.filter is not None:
        keep = E.as_mask(call.filter.eval(ec), n)[lay.perm]
    return _aggregate(call, lay, args, s, e, keep, n)


# -- ranking --------------------------------------------------------------------------------------


def _row_number(ec, n, call, lay):
    return pa.array(np.arange(n) - lay.pstart + 1, pa.int64())


def _rank(ec, n, call, lay):
    return pa.array(lay.peer_start - lay.pstart + 1, pa.int64())


def _dense_rank(ec, n, call, lay):
    cs = np.cumsum(lay.new_peer)
    return pa.array(cs - cs[lay.pstart] + 1, pa.int64())


def _percent_rank(ec, n, call, lay):
    size = lay.pend - lay.pstart
    rank = lay.peer_start - lay.pstart
    return pa.array(np.where(size > 1, rank / np.maximum(size - 1, 1), 0.0), pa.float64())


def _cume_dist(ec, n, call, lay):
    return pa.array((lay.peer_end - lay.pstart) / (lay.pend - lay.pstart), pa.float64())


def _ntile(ec, n, call, lay):
    karr = E.broadcast(call.args[0].eval(ec), n).take(pa.array(lay.perm))
    # PostgreSQL reads the bucket count once per partition, on its first row
    kp = karr.take(pa.array(lay.pstart))
    valid = np.asarray(kp.is_valid()) if kp.null_count else np.ones(n, bool)
    k = np.asarray(pc.fill_null(kp, 1).to_numpy(zero_copy_only=False), np.int64)
    if (k[valid] <= 0).any():
        raise errors.DataException("argument of ntile must be greater than zero", sqlstate="22014")
    size = lay.pend - lay.pstart
    pos = np.arange(n) - lay.pstart
    q, r = size // k, size % k
    big = r * (q + 1)  # the first r buckets hold one row more
    bucket = np.where(pos < big, pos // np.maximum(q + 1, 1), r + (pos - big) // np.maximum(q, 1))
    return pa.array(bucket + 1, pa.int32(), mask=~valid)


RANKING = {"row_number": _row_number, "rank": _rank, "dense_rank": _dense_rank,
           "percent_rank": _percent_rank, "cume_dist": _cume_dist, "ntile": _ntile}


# -- value functions ------------------------------------------------------------------------------


def _gather(values: pa.Array, idx: np.ndarray, ok: np.ndarray) -> pa.Array:
    return values.take(pa.array(np.where(ok, idx, 0), pa.int64(), mask=~ok))


def _shifted(sign: int):
    def impl(ec, n, call, lay, args, s, e):
        x = args[0]
        if len(args) > 1:
            off_arr = args[1]
            off_ok = np.asarray(off_arr.is_valid()) if off_arr.null_count else np.ones(n, bool)
            off = np.asarray(pc.fill_null(off_arr, 0).to_numpy(zero_copy_only=False), np.int64)
        else:
            off, off_ok = np.ones(n, np.int64), np.ones(n, bool)
        target = np.arange(n) + sign * off
        inside = (target >= lay.pstart) & (target < lay.pend) & off_ok
        out = _gather(x, target, inside)
        if len(args) > 2:
            dflt = args[2]
            use = ~inside & off_ok
            if use.any():
                out = pc.if_else(pa.array(use), dflt, out)
        return out

    return impl


def _first_value(ec, n, call, lay, args, s, e):
    return _gather(args[0], s, e > s)


def _last_value(ec, n, call, lay, args, s, e):
    return _gather(args[0], e - 1, e > s)


def _nth_value(ec, n, call, lay, args, s, e):
    k_arr = args[1]
    valid = np.asarray(k_arr.is_valid()) if k_arr.null_count else np.ones(n, bool)
    k = np.asarray(pc.fill_null(k_arr, 1).to_numpy(zero_copy_only=False), np.int64)
    if (k[valid] <= 0).any():
        raise errors.DataException("argument of nth_value must be greater than zero", sqlstate="22016")
    idx = s + k - 1
    return _gather(args[0], idx, valid & (idx < e))


VALUE_FUNCTIONS = {"lag": _shifted(-1), "lead": _shifted(1), "first_value": _first_value,
                   "last_value": _last_value, "nth_value": _nth_value}
WINDOW_FUNCTIONS = set(RANKING) | set(VALUE_FUNCTIONS)


# -- aggregates over frames -------------------------------------------------------------------------


def _aggregate(call: WindowCall, lay: _Layout, args: list[pa.Array], s, e, keep, n: int) -> pa.Array:
    agg = call.agg
    if call.frame is not None and call.frame.exclude:
        return _expanded(call, args, s, e, keep, n, lay)  # frames with holes: member by member
    whole = bool(np.all(s == lay.pstart) and np.all(e == lay.pend))
    if whole:
        gids, nparts = lay.part, len(lay.starts)
        if keep is not None:
            sel = pa.array(np.flatnonzero(keep))
            res = agg.impl([a.take(sel) for a in args], gids[keep], nparts, False)
        else:
            res = agg.impl(args, gids, nparts, False)
        res = _empty_as(res, agg, gids, keep, nparts)
        return res.take(pa.array(gids))
    fast = FAST.get(agg.name)
    if fast is not None:
        out = fast(call, lay, args, s, e, keep, n)
        if out is not None:
            return out
    return _expanded(call, args, s, e, keep, n)


def _empty_as(res: pa.Array, agg, gids, keep, ngroups: int) -> pa.Array:
    """Groups without rows take the aggregate's empty value (count: 0)."""
    if agg.empty_value is None:
        return res
    counts = np.bincount(gids if keep is None else gids[keep], minlength=ngroups)
    if (counts > 0).all():
        return res
    return pc.if_else(pa.array(counts > 0), res, pa.scalar(agg.empty_value, res.type))


def _expanded(call: WindowCall, args: list[pa.Array], s, e, keep, n: int, lay: _Layout | None = None) -> pa.Array:
    """Any aggregate: its implementation run once, every row's frame members as one group."""
    agg = call.agg
    lens = e - s
    parts = []
    lo = 0
    csum = np.cumsum(lens)
    while lo < n:
        # rows [lo, hi) whose frames together stay under the materialisation limit
        base = csum[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(csum, base + _EXPAND_LIMIT, side="right")))
        hi = min(hi, n)
        ln = lens[lo:hi]
        total = int(ln.sum())
        rows = np.repeat(np.arange(hi - lo), ln)
        starts = np.repeat(s[lo:hi], ln)
        offs = np.arange(total) - np.repeat(np.cumsum(ln) - ln, ln)
        idx = starts + offs
        if keep is not None:
            m = keep[idx]
            idx, rows = idx[m], rows[m]
        if lay is not None and call.frame is not None and call.frame.exclude:
            m = ~frames.excluded(call.frame.exclude, idx, rows + lo, lay)
            idx, rows = idx[m], rows[m]
        ia = pa.array(idx, pa.int64())
        res = agg.impl([a.take(ia) for a in args], rows, hi - lo, False)
        parts.append(_empty_as(res, agg, rows, None, hi - lo))
        lo = hi
    out = pa.concat_arrays(parts) if len(parts) != 1 else parts[0]
    at = call.type.arrow_type()
    return out if out.type == at else out.cast(at)


def _valid(a: pa.Array, keep) -> np.ndarray:
    v = np.asarray(a.is_valid()) if a.null_count else np.ones(len(a), bool)
    return v if keep is None else v & keep


def _prefix(flags: np.ndarray, dtype=np.int64) -> np.ndarray:
    return np.r_[np.zeros(1, dtype), np.cumsum(flags, dtype=dtype)]


def _fast_count(call, lay, args, s, e, keep, n):
    flags = _valid(args[0], keep) if args else (np.ones(n, bool) if keep is None else keep)
    c = _prefix(flags)
    return pa.array(c[e] - c[s], pa.int64())


def _running(s, lay) -> bool:
    return bool(np.all(s == lay.pstart))


def _seg_cumsum(vals: np.ndarray, lay: _Layout, zero) -> np.ndarray:
    """Sequential running sums restarting at every partition: additions in row order, as
    PostgreSQL's transition function does them (floats and Decimals stay exact). Partitions of
    similar size are padded into one matrix and summed along its rows."""
    starts = lay.starts
    sizes = np.r_[starts[1:], len(vals)] - starts
    out = np.empty(len(vals), dtype=vals.dtype)
    width = 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)
    for w in np.unique(width):
        sel = width == w
        st, sz = starts[sel], sizes[sel]
        col = np.arange(w)
        inside = col[None, :] < sz[:, None]
        idx = st[:, None] + col[None, :]
        mat = np.full((len(st), w), zero, dtype=vals.dtype)
        mat[inside] = vals[idx[inside]]
        acc = np.cumsum(mat, axis=1, dtype=vals.dtype)
        out[idx[inside]] = acc[inside]
    return out


def _sum_like(avg: bool):
    def impl(call, lay, args, s, e, keep, n):
        a = args[0]
        tname = call.args[0].type.defn.name
        flags = _valid(a, keep)
        cnt = _prefix(flags)
        count = cnt[e] - cnt[s]
        empty = count == 0
        if tname in INTS and not (tname == "bigint" or avg):
            v = np.where(flags, np.asarray(pc.fill_null(a, 0).to_numpy(zero_copy_only=False), np.int64), 0)
            c = _prefix(v)
            return pa.array(c[e] - c[s], pa.int64(), mask=empty)
        if tname in INTS:
            vals = np.where(flags, np.asarray(pc.fill_null(a, 0).to_numpy(zero_copy_only=False), np.int64), 0)
            c = _prefix(vals.astype(object), object)  # Python ints: exact past 2**63
            tot = c[e] - c[s]
            return _numeric_result(tot, count, empty, avg, call)
        if tname in FLOATS:
            if not _running(s, lay):
                return None
            dt = np.float32 if (tname == "real" and not avg) else np.float64
            vals = np.where(flags, np.asarray(pc.fill_null(a, 0).to_numpy(zero_copy_only=False), dt), dt(0))
            run = _seg_cumsum(vals.astype(dt), lay, dt(0))
            tot = run[np.maximum(e - 1, 0)]
            res = tot / np.maximum(count, 1) if avg else tot
            return pa.array(res, call.type.arrow_type(), mask=empty)
        if tname == "numeric":
            if not _running(s, lay):
                return None
            ds = decimals(a, n)
            vals = np.array([d if (f and d is not None) else decimal.Decimal(0) for d, f in zip(ds, flags)], dtype=object)
            with decimal.localcontext(NUMERIC_CTX):
                run = _seg_cumsum(vals, lay, decimal.Decimal(0))
            tot = run[np.maximum(e - 1, 0)]
            return _numeric_result(tot, count, empty, avg, call)
        return None

    return impl


def _numeric_result(tot: np.ndarray, count: np.ndarray, empty: np.ndarray, avg: bool, call) -> pa.Array:
    out: list = []
    for t, c, z in zip(tot.tolist(), count.tolist(), empty.tolist()):
        if z:
            out.append(None)
        elif avg:
            out.append(numeric_div(decimal.Decimal(t), decimal.Decimal(c)))
        else:
            out.append(decimal.Decimal(t))
    return numeric_out(out, call.type)


def _sparse_max(keys: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """max(keys[s:e]) for every row, through a sparse table (O(n log n), no per-row loop)."""
    table = [keys]
    k = 1
    while (1 << k) <= len(keys):
        prev = table[-1]
        half = 1 << (k - 1)
        table.append(np.maximum(prev[:-half], prev[half:]))
        k += 1
    length = np.maximum(e - s, 1)
    lvl = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(len(s), keys.dtype)
    for j in np.unique(lvl):
        m = lvl == j
        t = table[j]
        out[m] = np.maximum(t[s[m]], t[e[m] - (1 << j)])
    return out


def _extreme(want_max: bool):
    def impl(call, lay, args, s, e, keep, n):
        a = args[0]
        flags = _valid(a, keep)
        if pa.types.is_boolean(a.type):
            ranks = np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), np.int64)
            order = None
        else:
            try:
                order = sort_indices([a], [SortKey(0)], n)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                return None
            ranks = np.empty(n, np.int64)
            ranks[order] = np.arange(n)
        # max of ranks (min: of negated ranks); NULLs and filtered rows never win
        key = np.where(flags, ranks if want_max else -ranks, np.iinfo(np.int64).min)
        ss = np.minimum(s, n - 1)  # empty frames (masked below) still need a valid probe
        best = _sparse_max(key, ss, np.maximum(e, ss + 1))
        empty = (e <= s) | (best == np.iinfo(np.int64).min)
        r = np.where(empty, 0, best if want_max else -best)
        if order is None:
            return pa.array(r.astype(bool), pa.bool_(), mask=empty)
        return _gather(a, order[r], ~empty)

    return impl


FAST = {"count": _fast_count, "sum": _sum_like(False), "avg": _sum_like(True),
        "min": _extreme(False), "max": _extreme(True), "bool_and": _extreme(False),
        "every": _extreme(False), "bool_or": _extreme(True)}
