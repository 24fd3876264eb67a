"""Ordered-set and hypothetical-set aggregates: ``f(direct args) WITHIN GROUP (ORDER BY x)``.

percentile_cont, percentile_disc (one fraction or an array of them), mode(), and the
hypothetical-set rank, dense_rank, percent_rank and cume_dist. They become ordinary
aggregate calls (``AggCall``) whose ``order`` makes the aggregation step hand over each
group's rows sorted; the implementations then work on all groups at once: NULL inputs are
dropped, a stable sort by group makes each group a contiguous sorted run, and the answers are
positions within those runs (numpy, no per-group Python loop).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sqlvec import errors
from sqlvec.plan import expr as E
from sqlvec.types import registry as T
from sqlvec.types.base import SqlType

_HYPOTHETICAL = {exp.Rank: "rank", exp.DenseRank: "dense_rank", exp.PercentRank: "percent_rank",
                 exp.CumeDist: "cume_dist"}
_CLASSES = {exp.PercentileCont: "percentile_cont", exp.PercentileDisc: "percentile_disc", exp.Mode: "mode",
            **_HYPOTHETICAL}


def ordered_set_name(node: exp.Expression) -> str | None:
    """The ordered-set aggregate a WITHIN GROUP node calls (None: not one we know)."""
    if not isinstance(node, exp.WithinGroup):
        return None
    f = node.this
    name = _CLASSES.get(type(f))
    if name is None and isinstance(f, exp.Anonymous):
        name = f.name.lower()
    return name


def bind_within_group(planner, node: exp.WithinGroup, filt: E.Expr | None, scope):
    """An AggCall for ``f(...) WITHIN GROUP (ORDER BY ...)``."""
    from sqlvec.plan.select import AggCall

    b = planner.b
    name = ordered_set_name(node)
    f = node.this
    direct = [x for x in ([f.this] if f.args.get("this") is not None else []) + list(f.expressions)]
    keys = list(node.expression.expressions)
    order = [(b.bind(o.this, scope), bool(o.args.get("desc")), o.args.get("nulls_first")) for o in keys]
    args = [b.bind(x, scope) for x in direct]
    if name in ("percentile_cont", "percentile_disc"):
        if len(args) != 1 or len(order) != 1:
            raise errors.UndefinedFunction(f"function {name} with {len(args)} direct and {len(order)} ordered arguments does not exist")
        frac = args[0]
        many = frac.type.is_array or (frac.type.defn is T.UNKNOWN.defn and str(frac.value.as_py()).startswith("{"))
        frac = b.coerce(frac, T.array_of(T.FLOAT8) if many else T.FLOAT8, "i")
        value = order[0][0]
        if name == "percentile_cont":
            if value.type.defn is T.UNKNOWN.defn or value.type.defn.category == "N":
                value = b.coerce(value, T.FLOAT8, "i")
            else:
                raise errors.UndefinedFunction(f"function percentile_cont({frac.type} ORDER BY {value.type}) does not exist",
                                               hint="No function matches the given name and argument types. You might need to add explicit type casts.")
            rtype = value.type
        else:
            if value.type.defn is T.UNKNOWN.defn:
                value = b.coerce(value, T.TEXT, "i")
            rtype = value.type
        order[0] = (value, order[0][1], order[0][2])
        impl = _percentiles(name == "percentile_cont", many, rtype)
        return AggCall(name, impl, [value, frac], T.array_of(rtype) if many else rtype, False, filt, order)
    if name == "mode":
        if args or len(order) != 1:
            raise errors.UndefinedFunction("function mode must have no direct arguments and one ordered argument")
        value = order[0][0]
        if value.type.defn is T.UNKNOWN.defn:
            value = b.coerce(value, T.TEXT, "i")
            order[0] = (value, order[0][1], order[0][2])
        return AggCall(name, _mode, [value], value.type, False, filt, order)
    if name in _HYPOTHETICAL.values():
        if len(args) != len(order) or len(order) != 1:
            raise errors.FeatureNotSupported(f"hypothetical-set {name} takes one direct and one ordered argument here")
        (value, hyp), t = b.unify([order[0][0], args[0]], name)
        order[0] = (value, order[0][1], order[0][2])
        rtype = T.INT8 if name in ("rank", "dense_rank") else T.FLOAT8
        impl = _hypothetical(name, order[0][1], order[0][2])
        return AggCall(name, impl, [value, hyp], rtype, False, filt, [])
    raise errors.WrongObjectType(f"WITHIN GROUP is specified, but {name} is not an ordered-set aggregate function")


def _runs(values: pa.Array, gids: np.ndarray, ngroups: int):
    """Non-NULL values grouped into contiguous runs (keeping their sorted order within a group):
    (values, start of each group's run, count of each group)."""
    ok = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), bool) if values.null_count else np.ones(len(values), bool)
    keep = np.flatnonzero(ok)
    g = gids[keep]
    order = keep[np.argsort(g, kind="stable")]
    counts = np.bincount(g, minlength=ngroups)
    starts = np.cumsum(counts) - counts
    return values.take(pa.array(order, pa.int64())), starts, counts


def _first_per_group(arr: pa.Array, gids: np.ndarray, ngroups: int) -> pa.Array:
    first = np.full(ngroups, -1, np.int64)
    idx = np.arange(len(gids))[::-1]
    first[gids[::-1]] = idx
    return arr.take(pa.array(first, mask=first < 0))


def _check_fraction(f: np.ndarray) -> None:
    bad = f[(f < 0) | (f > 1) | np.isnan(f)]
    if len(bad):
        raise errors.NumericValueOutOfRange(f"percentile value {bad[0]:g} is not between 0 and 1")


def _percentiles(continuous: bool, many: bool, rtype: SqlType) -> Callable:
    def impl(args, gids, ngroups, distinct):
        values, fracs = args
        sorted_vals, starts, counts = _runs(values, gids, ngroups)
        frac_g = _first_per_group(fracs, gids, ngroups).to_pylist()
        if not many:
            frac_g = [[f] for f in frac_g]
        # one (group, fraction) pair per answer, flattened
        lens = np.array([0 if fl is None else len(fl) for fl in frac_g], np.int64)
        flat = [x for fl in frac_g if fl is not None for x in fl]
        fvals = np.array([np.nan if x is None else x for x in flat], np.float64)
        fnull = np.array([x is None for x in flat], bool)
        _check_fraction(fvals[~fnull])
        grp = np.repeat(np.arange(ngroups), lens)
        c = counts[grp]
        empty = (c == 0) | fnull
        f = np.where(fnull, 0.0, fvals)
        if continuous:
            x = np.asarray(sorted_vals.to_numpy(zero_copy_only=False), np.float64) if len(sorted_vals) else np.zeros(0)
            pos = f * np.maximum(c - 1, 0)
            lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
            base = starts[grp]
            safe = lambda i: np.where(empty, 0, base + i)  # noqa: E731
            xl = x[safe(lo)] if len(x) else np.zeros(len(grp))
            xh = x[safe(hi)] if len(x) else np.zeros(len(grp))
            out = pa.array(xl + (xh - xl) * (pos - lo), pa.float64(), mask=empty)
        else:
            pos = np.maximum(np.ceil(f * c).astype(np.int64) - 1, 0)
            idx = np.where(empty, 0, starts[grp] + pos)
            out = sorted_vals.take(pa.array(idx, pa.int64(), mask=empty)) if len(sorted_vals) else pa.nulls(len(grp), rtype.arrow_type())
        if not many:
            return out
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
        isnull = np.array([fl is None for fl in frac_g], bool) | (counts == 0)  # no input: NULL
        return pa.ListArray.from_arrays(pa.array(offsets), out, mask=pa.array(isnull))

    return impl


def _mode(args, gids, ngroups, distinct):
    """The most frequent value of each group; the first in sort order among equally frequent."""
    values, starts, counts = _runs(args[0], gids, ngroups)
    n = len(values)
    if n == 0:
        return pa.nulls(ngroups, args[0].type)
    codes = np.asarray(pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False), np.int64)
    grp = np.repeat(np.arange(ngroups), counts)
    # a new run where the value or the group changes
    new = np.ones(n, bool)
    new[1:] = (codes[1:] != codes[:-1]) | (grp[1:] != grp[:-1])
    run_start = np.flatnonzero(new)
    run_len = np.diff(np.append(run_start, n))
    run_grp = grp[run_start]
    # per group, the longest run, the earliest on ties: sort by (group, -length, start)
    best = np.lexsort((run_start, -run_len, run_grp))
    first_of_group = np.ones(len(best), bool)
    first_of_group[1:] = run_grp[best][1:] != run_grp[best][:-1]
    pick = best[first_of_group]
    at = np.full(ngroups, -1, np.int64)
    at[run_grp[pick]] = run_start[pick]
    return values.take(pa.array(at, mask=at < 0))


def _hypothetical(name: str, desc: bool, nulls_first: bool | None) -> Callable:
    """rank(v) WITHIN GROUP (ORDER BY x): where v would rank among each group's x."""
    if nulls_first is None:
        nulls_first = desc

    def impl(args, gids, ngroups, distinct):
        x, hyp = args
        v = _first_per_group(hyp, gids, ngroups).take(pa.array(gids, pa.int64())) if len(gids) else hyp
        before = pc.greater(x, v) if desc else pc.less(x, v)
        before = np.asarray(pc.fill_null(before, False).to_numpy(zero_copy_only=False), bool)
        if nulls_first:  # NULL inputs sort before any value
            before |= np.asarray(x.is_null().to_numpy(zero_copy_only=False), bool)
        peer = np.asarray(pc.fill_null(pc.equal(x, v), False).to_numpy(zero_copy_only=False), bool)
        total = np.bincount(gids, minlength=ngroups)
        nb = np.bincount(gids, weights=before, minlength=ngroups).astype(np.int64)
        if name == "rank":
            return pa.array(nb + 1, pa.int64())
        if name == "percent_rank":
            return pa.array(np.where(total > 0, nb / np.maximum(total, 1), 0.0), pa.float64())
        if name == "cume_dist":
            npeer = np.bincount(gids, weights=peer, minlength=ngroups).astype(np.int64)
            return pa.array((nb + npeer + 1) / (total + 1), pa.float64())
        # dense_rank: distinct values before v, plus one
        sel = np.flatnonzero(before & ~np.asarray(x.is_null().to_numpy(zero_copy_only=False), bool))
        t = pa.table({"g": gids[sel], "x": x.take(pa.array(sel, pa.int64()))})
        d = t.group_by(["g", "x"], use_threads=False).aggregate([])
        nd = np.bincount(d.column("g").to_numpy(), minlength=ngroups) if d.num_rows else np.zeros(ngroups, np.int64)
        has_null_before = np.bincount(gids, weights=before & np.asarray(x.is_null().to_numpy(zero_copy_only=False), bool),
                                      minlength=ngroups) > 0
        return pa.array(nd + has_null_before + 1, pa.int64())

    return impl
