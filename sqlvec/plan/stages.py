"""Binding the stages a SELECT block runs between aggregation and projection.

:class:`StageBinder` wraps the binder's aggregate hook while a SELECT list, ORDER BY and
DISTINCT ON are bound. It turns window calls (``exp.Window``) into :class:`WindowCall`s and
set-returning functions in the select list into :class:`SrfCall`s, and returns column
references to the columns those stages append; ``grouping()`` becomes a lookup on the
grouping-set number. Because aggregates are still being discovered while the list is bound,
the stage columns get their positions in :meth:`StageBinder.finish`, once the width of the
aggregated relation is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec.functions.registry import is_aggregate, resolve_aggregate
from sqlvec.exec.records import as_record_srf
from sqlvec.exec.srf import SrfCall, bind_srf, srf_name
from sqlvec.exec.window import WINDOW_FUNCTIONS, FrameSpec, WindowCall
from sqlvec.grammar import to_sql
from sqlvec.plan import expr as E
from sqlvec.plan.binder import function_signature
from sqlvec.plan.scope import Scope
from sqlvec.types import registry as T

_RESULT_TYPES = {"row_number": T.INT8, "rank": T.INT8, "dense_rank": T.INT8,
                 "percent_rank": T.FLOAT8, "cume_dist": T.FLOAT8, "ntile": T.INT4}
_ARITY = {"row_number": (0, 0), "rank": (0, 0), "dense_rank": (0, 0), "percent_rank": (0, 0),
          "cume_dist": (0, 0), "ntile": (1, 1), "lag": (1, 3), "lead": (1, 3),
          "first_value": (1, 1), "last_value": (1, 1), "nth_value": (2, 2)}


@dataclass(eq=False)
class GroupingFunc(E.Expr):
    """grouping(a, b, ...): a bit per argument, set when the row's grouping set lacks it."""

    ref: E.ColRef  # the grouping-set number column
    values: np.ndarray  # the result for each grouping set
    type: Any = T.INT4

    def children(self) -> list[E.Expr]:
        return [self.ref]

    def eval(self, ctx: E.EvalContext):
        sets = E.broadcast(self.ref.eval(ctx), ctx.n).to_numpy(zero_copy_only=False)
        return pa.array(self.values[sets.astype(np.int64)], pa.int32())


def walk_same_level(n: exp.Expression):
    """Nodes of an expression outside subqueries and outside window function calls (their
    arguments, PARTITION BY and ORDER BY are still walked: they belong to this level)."""
    yield n
    if isinstance(n, exp.Window):
        func = n.this.this if isinstance(n.this, exp.Filter) else n.this
        kids = list(func.iter_expressions()) if isinstance(func, exp.Expression) else []
        if isinstance(n.this, exp.Filter):
            kids.append(n.this.expression)
        kids += [x for k in ("partition_by", "order") for x in _as_list(n.args.get(k))]
    else:
        kids = list(n.iter_expressions())
    for child in kids:
        if isinstance(child, (exp.Subquery, exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Exists)):
            continue
        yield from walk_same_level(child)


def _as_list(v) -> list:
    return [] if v is None else (v if isinstance(v, list) else [v])


def forbid(node: exp.Expression, clause: str, *, grouping_ok: bool = False) -> None:
    """PostgreSQL's errors for window functions and set-returning functions in a clause."""
    for x in walk_same_level(node):
        if isinstance(x, exp.Window):
            raise errors.WindowingError(f"window functions are not allowed in {clause}")
        if isinstance(x, exp.Grouping) and not grouping_ok:
            raise errors.GroupingError(f"grouping operations are not allowed in {clause}")
        if isinstance(x, exp.Func) and srf_name(x) is not None:
            raise errors.FeatureNotSupported(f"set-returning functions are not allowed in {clause}")


class StageBinder:
    def __init__(self, binder, select: exp.Select):
        self.b = binder
        self.named = {w.this.name: w for w in select.args.get("windows") or []}
        self.windows: list[WindowCall] = []
        self.srfs: list[SrfCall] = []
        self._refs: list[tuple[str, int, E.ColRef]] = []
        self._in_window: str | bool = False  # while a window call is bound: "spec" or "args"
        self._in_srf = False
        self.grouping_keys: list[exp.Expression] | None = None  # GROUP BY key nodes
        self.grouping_sets: list[list[int]] | None = None
        self._gset_refs: list[E.ColRef] = []

    # -- the hook ------------------------------------------------------------------------------
    def wrap(self, inner):
        def hook(n: exp.Expression, scope: Scope):
            if isinstance(n, exp.Window):
                return self._window(n, scope)
            if isinstance(n, exp.Grouping):
                return self._grouping(n)
            if isinstance(n, exp.Func) and not isinstance(n, exp.AggFunc) and srf_name(n) is not None:
                return self._srf(n, scope)
            if isinstance(n, exp.AggFunc) and any(isinstance(x, exp.Window) for x in walk_same_level(n)):
                raise errors.GroupingError("aggregate function calls cannot contain window function calls")
            return inner(n, scope) if inner is not None else None

        return hook

    def finish(self, width: int) -> None:
        """Give stage columns their positions: after the width columns of the aggregated (or
        source) relation come the grouping-set number (if any), the windows, then the SRFs."""
        for ref in self._gset_refs:
            ref.index = width
        base = width + (1 if self.grouping_sets is not None else 0)
        for kind, k, ref in self._refs:
            ref.index = base + k if kind == "win" else base + len(self.windows) + k

    # -- window calls ----------------------------------------------------------------------------
    def _window(self, n: exp.Window, scope: Scope) -> E.Expr:
        if self._in_window == "args":
            raise errors.WindowingError("window function calls cannot be nested")
        if self._in_window:
            raise errors.WindowingError("window functions are not allowed in window definitions")
        partition, order, spec = self._spec(n)
        func, filt = n.this, None
        if isinstance(func, exp.Filter):
            func, filt = func.this, func.expression.this
        self._in_window = "spec"
        try:
            call = self._window_call(func, filt, partition, order, spec, scope)
        finally:
            self._in_window = False
        call.spec_key = (tuple(to_sql(p) for p in partition), tuple(to_sql(o) for o in order))
        self.windows.append(call)
        ref = E.ColRef(-1, call.type, call.name)
        self._refs.append(("win", len(self.windows) - 1, ref))
        return ref

    def _window_call(self, func, filt, partition, order, spec, scope: Scope) -> WindowCall:
        b = self.b
        if isinstance(func, exp.Count) and (func.this is None or isinstance(func.this, exp.Star)):
            name, argnodes = "count", []
        else:
            name, argnodes = function_signature(func)
        if any(isinstance(a, exp.Distinct) for a in argnodes):
            raise errors.FeatureNotSupported("DISTINCT is not implemented for window functions")
        if any(isinstance(a, exp.Order) for a in argnodes):
            raise errors.FeatureNotSupported("aggregate ORDER BY is not implemented for window functions")
        part = [b.bind(p, scope) for p in partition]
        order_b = [(b.bind(o.this, scope), bool(o.args.get("desc")), o.args.get("nulls_first")) for o in order]
        frame = self._frame(spec, order_b)
        self._in_window = "args"
        args = [b.bind(a, scope) for a in argnodes]
        args = [b.coerce(a, T.TEXT, "i") if a.type.defn is T.UNKNOWN.defn else a for a in args]
        if name in WINDOW_FUNCTIONS:
            if filt is not None:
                raise errors.FeatureNotSupported("FILTER is not implemented for non-aggregate window functions")
            lo, hi = _ARITY[name]
            if not lo <= len(args) <= hi:
                sig = ", ".join(str(a.type) for a in args)
                raise errors.UndefinedFunction(f"function {name}({sig}) does not exist")
            args, rtype = self._window_args(name, args)
            return WindowCall(name, args, part, order_b, frame, rtype)
        if not is_aggregate(name):
            raise errors.WrongObjectType(f"OVER specified, but {name} is not a window function nor an aggregate function")
        from sqlvec.plan.select import AggCall

        ov, casts, ret = resolve_aggregate(name, [a.type for a in args])
        args = [b.coerce(a, t, "i") for a, t in zip(args, casts)]
        f = b.bind_bool(filt, scope, "FILTER") if filt is not None else None
        agg = AggCall(name, ov.impl, args, ret, False, None, [], getattr(ov, "empty_value", None))
        return WindowCall(name, args, part, order_b, frame, ret, agg, f)

    def _window_args(self, name: str, args: list[E.Expr]):
        b = self.b
        if name == "ntile":
            return [b.coerce(args[0], T.INT4, "i")], T.INT4
        if name in _RESULT_TYPES:
            return args, _RESULT_TYPES[name]
        if name in ("lag", "lead"):
            x = args[0]
            out = [x] + ([b.coerce(args[1], T.INT4, "i")] if len(args) > 1 else [])
            if len(args) > 2:
                (x, d), t = b.unify([x, args[2]], name)
                out = [x, out[1], d]
            return out, out[0].type
        if name == "nth_value":
            return [args[0], b.coerce(args[1], T.INT4, "i")], args[0].type
        return args, args[0].type

    def _spec(self, n: exp.Window):
        """PARTITION BY, ORDER BY and frame of a window, resolving references to named windows."""
        partition = list(n.args.get("partition_by") or [])
        order = list(n.args["order"].expressions) if n.args.get("order") is not None else []
        spec = n.args.get("spec")
        ref = n.args.get("alias")
        seen = set()
        while ref is not None:
            name = ref.name
            base = self.named.get(name)
            if base is None or name in seen:
                raise errors.UndefinedObject(f'window "{name}" does not exist')
            seen.add(name)
            if partition:
                raise errors.WindowingError(f'cannot override PARTITION BY clause of window "{name}"')
            bo = list(base.args["order"].expressions) if base.args.get("order") is not None else []
            if order and bo:
                raise errors.WindowingError(f'cannot override ORDER BY clause of window "{name}"')
            if base.args.get("spec") is not None and (order or spec is not None or n.args.get("partition_by")):
                raise errors.WindowingError(f'cannot copy window "{name}" because it has a frame clause')
            partition = list(base.args.get("partition_by") or [])
            order = order or bo
            spec = spec if spec is not None else base.args.get("spec")
            ref = base.args.get("alias")
            n = base
        return partition, order, spec

    def _frame(self, spec, order: list) -> FrameSpec | None:
        if spec is None:
            return None
        kind = str(spec.args.get("kind") or "range").lower()
        ex = spec.args.get("exclude")
        exclude = " ".join(str(ex.name if isinstance(ex, exp.Expression) else ex).lower().split()) if ex is not None else None
        if exclude not in (None, "no others", "current row", "group", "ties"):
            raise errors.SyntaxError(f'syntax error at or near "{exclude}"')
        # RANGE offsets have the ORDER BY key's type (an interval for temporal keys)
        key_type = order[0][0].type if kind == "range" and len(order) == 1 else None
        start, start_off = _bound(spec.args.get("start"), spec.args.get("start_side"), self.b, key_type)
        end_node = spec.args.get("end")
        end, end_off = ("current", None) if end_node is None else _bound(end_node, spec.args.get("end_side"), self.b, key_type)
        if kind == "range" and (start_off is not None or end_off is not None) and len(order) != 1:
            raise errors.WindowingError("RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column")
        if kind == "groups" and not order:
            raise errors.WindowingError("GROUPS mode requires an ORDER BY clause")
        if start == "unbounded_following":
            raise errors.WindowingError("frame start cannot be UNBOUNDED FOLLOWING")
        if end == "unbounded_preceding":
            raise errors.WindowingError("frame end cannot be UNBOUNDED PRECEDING")
        if start == "current" and end == "preceding":
            raise errors.WindowingError("frame starting from current row cannot have preceding rows")
        if start == "following" and end in ("preceding", "current"):
            raise errors.WindowingError("frame starting from following row cannot have preceding rows")
        return FrameSpec(kind, start.split("_")[0], end.split("_")[0], start_off, end_off,
                         None if exclude == "no others" else exclude)

    # -- grouping() ----------------------------------------------------------------------------
    def _grouping(self, n: exp.Grouping) -> E.Expr:
        keys = self.grouping_keys
        if keys is None:
            raise errors.GroupingError("arguments to GROUPING must be grouping expressions of the associated query level")
        pos = []
        for a in n.expressions:
            hit = next((i for i, k in enumerate(keys) if k == a), None)
            if hit is None:
                raise errors.GroupingError("arguments to GROUPING must be grouping expressions of the associated query level")
            pos.append(hit)
        if len(pos) > 31:
            raise errors.ProgramLimitExceeded("GROUPING must have fewer than 32 arguments")
        sets = self.grouping_sets
        if sets is None:
            return E.Const(pa.scalar(0, pa.int32()), T.INT4)
        values = np.array([sum((p not in s) << (len(pos) - 1 - i) for i, p in enumerate(pos)) for s in sets], np.int64)
        ref = E.ColRef(-1, T.INT8, "grouping")
        self._gset_refs.append(ref)
        return GroupingFunc(ref, values)

    # -- set-returning functions in the select list ------------------------------------------------
    def _srf(self, n: exp.Func, scope: Scope) -> E.Expr:
        if self._in_srf:
            raise errors.FeatureNotSupported("set-returning functions nested in set-returning function arguments are not supported yet")
        if self._in_window:
            raise errors.FeatureNotSupported("window function calls cannot contain set-returning function calls")
        name, argnodes = function_signature(n)
        self._in_srf = True
        try:
            args = [self.b.bind(a, scope) for a in argnodes]
        finally:
            self._in_srf = False
        call = bind_srf(self.b, srf_name(n) or name, args, in_from=False)
        if len(call.columns) != 1:
            call = as_record_srf(call)  # OUT columns make one record per row, as in PostgreSQL
        self.srfs.append(call)
        ref = E.ColRef(-1, call.columns[0][1], name)
        self._refs.append(("srf", len(self.srfs) - 1, ref))
        return ref


def _bound(node, side, binder, key_type=None) -> tuple[str, E.Expr | None]:
    side_s = str(side or "").lower()
    if isinstance(node, str):
        word = node.upper()
        if word == "UNBOUNDED":
            return ("unbounded_following" if side_s == "following" else "unbounded_preceding"), None
        if word == "CURRENT ROW":
            return "current", None
    if isinstance(node, exp.Var) and node.name.upper() in ("UNBOUNDED", "CURRENT ROW"):
        return _bound(node.name, side, binder)
    off = binder.bind(node, Scope())
    if key_type is not None:
        temporal = key_type.defn.category in ("D", "T")
        off = binder.coerce(off, T.INTERVAL if temporal else key_type, "a")
    else:
        off = binder.coerce(off, T.INT8, "a")
    return ("following" if side_s == "following" else "preceding"), off
