"""Whole queries: WITH (and WITH RECURSIVE), set operations, VALUES, and subquery expressions.

:class:`QueryPlanner` turns any query expression into a plan with ``columns`` (ResultColumn)
and ``run(ctx) -> pa.Table``; SELECT blocks are planned by :class:`SelectPlanner`. Subqueries
inside expressions become :class:`SubqueryExpr` nodes: uncorrelated ones run once per
statement, correlated ones once per distinct combination of the outer values they use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec.nodes import MaterializedScan, SubqueryScan, cast_columns
from sqlvec.exec.relation import ExecContext, SortKey, group_ids, limit_value, sort_indices
from sqlvec.plan import expr as E
from sqlvec.plan.scope import Scope, ScopeColumn
from sqlvec.plan.select import SelectPlanner
from sqlvec.result import ResultColumn
from sqlvec.types import registry as T
from sqlvec.types.casts import common_supertype

_MAX_RECURSION = 1_000_000  # rows a recursive CTE may produce before we call it runaway


@dataclass
class ValuesPlan:
    rows: list[list[E.Expr]]
    columns: list[ResultColumn]

    def run(self, ctx: ExecContext) -> pa.Table:
        ec = ctx.eval_ctx([], 1)
        cols = []
        for j, c in enumerate(self.columns):
            parts = [E.broadcast(r[j].eval(ec), 1) for r in self.rows]
            at = c.type.arrow_type()
            cols.append(pa.concat_arrays([p if p.type == at else p.cast(at) for p in parts]))
        return pa.table(cols, names=[f"c{i}" for i in range(len(cols))])


@dataclass
class SetOpPlan:
    op: str  # union | intersect | except
    all: bool
    left: Any
    right: Any
    columns: list[ResultColumn]
    sort: list[SortKey] = field(default_factory=list)
    limit: E.Expr | None = None
    offset: E.Expr | None = None

    def run(self, ctx: ExecContext) -> pa.Table:
        types = [c.type for c in self.columns]
        lt, rt = self.left.run(ctx), self.right.run(ctx)
        lcols = cast_columns(lt, [c.type for c in self.left.columns], types)
        rcols = cast_columns(rt, [c.type for c in self.right.columns], types)
        n_l, n_r = lt.num_rows, rt.num_rows
        both = [pa.concat_arrays([a, b]) for a, b in zip(lcols, rcols)]
        n = n_l + n_r
        if self.op == "union" and self.all:
            idx = np.arange(n)
        else:
            gids, ng, first = group_ids(both, n)
            side = np.r_[np.zeros(n_l, np.int64), np.ones(n_r, np.int64)]
            cl = np.bincount(gids[side == 0], minlength=ng)
            cr = np.bincount(gids[side == 1], minlength=ng)
            if self.op == "union":
                idx = np.sort(first)
            else:
                if self.op == "intersect":
                    keep = np.minimum(cl, cr) if self.all else ((cl > 0) & (cr > 0)).astype(np.int64)
                else:
                    keep = np.maximum(cl - cr, 0) if self.all else ((cl > 0) & (cr == 0)).astype(np.int64)
                # emit each kept group `keep` times, represented by its first (left) row
                idx = np.repeat(first, keep)
        outs = [c.take(pa.array(idx, type=pa.int64())) for c in both]
        m = len(idx)
        if self.sort:
            order = sort_indices(outs, self.sort, m)
            outs = [c.take(pa.array(order)) for c in outs]
        off = limit_value(_const(ctx, self.offset), "OFFSET") or 0
        lim = limit_value(_const(ctx, self.limit), "LIMIT")
        if off or lim is not None:
            end = m if lim is None else min(m, off + lim)
            outs = [c.slice(off, max(0, end - off)) for c in outs]
        return pa.table(outs, names=[f"c{i}" for i in range(len(outs))])


@dataclass
class RecursivePlan:
    """WITH RECURSIVE: the non-recursive term, then the recursive term over the previous
    iteration's rows until it yields none (UNION drops rows already produced)."""

    seed: Any
    step: Any
    key: str  # where the working table lives in ctx.stmt while the step runs
    all: bool
    columns: list[ResultColumn]

    def run(self, ctx: ExecContext) -> pa.Table:
        types = [c.type for c in self.columns]
        first = self.seed.run(ctx)
        work = pa.table(cast_columns(first, [c.type for c in self.seed.columns], types), names=first.column_names)
        if not self.all:
            work = _distinct_table(work)
        parts = [work]
        total = work.num_rows
        while work.num_rows:
            ctx.check()
            ctx.stmt[self.key] = work
            nxt = self.step.run(ctx)
            nxt = pa.table(cast_columns(nxt, [c.type for c in self.step.columns], types), names=work.column_names)
            if not self.all:
                seen = pa.concat_tables(parts)
                nxt = _distinct_table(nxt)
                nxt = _anti(nxt, seen)
            parts.append(nxt)
            total += nxt.num_rows
            if total > _MAX_RECURSION:
                raise errors.ProgramLimitExceeded("recursive query produced too many rows")
            work = nxt
        ctx.stmt.pop(self.key, None)
        return pa.concat_tables(parts)


def _distinct_table(t: pa.Table) -> pa.Table:
    if t.num_rows == 0:
        return t
    _, _, first = group_ids([c.combine_chunks() for c in t.columns], t.num_rows)
    return t.take(pa.array(np.sort(first)))


def _anti(new: pa.Table, seen: pa.Table) -> pa.Table:
    if new.num_rows == 0 or seen.num_rows == 0:
        return new
    both = [pa.concat_arrays([a.combine_chunks(), b.combine_chunks()]) for a, b in zip(seen.columns, new.columns)]
    gids, ng, _ = group_ids(both, seen.num_rows + new.num_rows)
    old = np.zeros(ng, bool)
    old[gids[: seen.num_rows]] = True
    keep = ~old[gids[seen.num_rows:]]
    return new.filter(pa.array(keep))


def _const(ctx: ExecContext, e: E.Expr | None):
    if e is None:
        return None
    v = e.eval(ctx.eval_ctx([], 1))
    return v if isinstance(v, pa.Scalar) else v[0]


@dataclass
class _Cte:
    name: str
    plan: Any
    columns: list[ResultColumn]
    key: str
    recursive_ref: bool = False  # the working table of a recursive CTE being planned


class QueryPlanner:
    """Plans query expressions; holds the CTEs visible while planning."""

    def __init__(self, binder, resolve_table, virtual_lookup=None):
        self.b = binder
        self.resolve_table = resolve_table
        self.virtual_lookup = virtual_lookup  # (exp.Table) -> RelNode-building info or None
        self.ctes: list[dict[str, _Cte]] = []
        binder.queries = self

    # -- entry ----------------------------------------------------------------------------------
    def plan_query(self, node: exp.Expression, outer: Scope | None = None):
        # a subquery is its own query block: the enclosing block's GROUP BY binding must not
        # reach into it
        hook, self.b.aggregate_hook = self.b.aggregate_hook, None
        with_ = node.args.get("with_") or node.args.get("with")
        pushed = False
        try:
            if with_ is not None:
                self.ctes.append(self._plan_ctes(with_, outer))
                pushed = True
            return self._plan_body(node, outer)
        finally:
            if pushed:
                self.ctes.pop()
            self.b.aggregate_hook = hook

    def _plan_body(self, node: exp.Expression, outer: Scope | None):
        if isinstance(node, exp.Subquery):
            return self.plan_query(node.this, outer)
        if isinstance(node, exp.Select):
            return SelectPlanner(self.b, self.resolve_table, self).plan(node, outer)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            return self._set_op(node, outer)
        if isinstance(node, exp.Values):
            return self._values(node, outer)
        raise errors.FeatureNotSupported(f"query form not supported yet: {type(node).__name__}")

    # -- VALUES ---------------------------------------------------------------------------------
    def _values(self, node: exp.Values, outer: Scope | None) -> ValuesPlan:
        scope = Scope([], outer)
        rows = []
        for tup in node.expressions:
            items = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
            rows.append([self.b.bind(i, scope) for i in items])
        width = {len(r) for r in rows}
        if len(width) != 1:
            raise errors.SyntaxError("VALUES lists must all be the same length")
        cols = []
        for j in range(len(rows[0])):
            exprs, t = self.b.unify([r[j] for r in rows], "VALUES")
            for r, e in zip(rows, exprs):
                r[j] = e
            cols.append(ResultColumn(f"column{j + 1}", t))
        return ValuesPlan(rows, cols)

    # -- set operations ---------------------------------------------------------------------------
    def _set_op(self, node, outer: Scope | None) -> SetOpPlan:
        op = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(node)]
        left = self.plan_query(node.this, outer)
        right = self.plan_query(node.expression, outer)
        if len(left.columns) != len(right.columns):
            word = op.upper()
            raise errors.SyntaxError(f"each {word} query must have the same number of columns")
        cols = []
        for lc, rc in zip(left.columns, right.columns):
            t = common_supertype([lc.type, rc.type])
            if t.defn is T.UNKNOWN.defn:
                t = T.TEXT
            cols.append(ResultColumn(lc.name, t))
        distinct = node.args.get("distinct")
        plan = SetOpPlan(op, distinct is False, left, right, cols)
        order = node.args.get("order")
        if order is not None:
            names = [c.name for c in cols]
            for o in order.expressions:
                plan.sort.append(_output_sort_key(o, names))
        if node.args.get("limit") is not None:
            plan.limit = self._count(node.args["limit"].expression)
        if node.args.get("offset") is not None:
            plan.offset = self._count(node.args["offset"].expression)
        return plan

    def _count(self, node):
        if isinstance(node, exp.Var) and node.name.upper() == "ALL":
            return None
        return self.b.coerce(self.b.bind(node, Scope()), T.INT8, "a")

    # -- WITH -----------------------------------------------------------------------------------
    def _plan_ctes(self, with_: exp.With, outer: Scope | None) -> dict[str, _Cte]:
        out: dict[str, _Cte] = {}
        self.ctes.append(out)  # later CTEs see earlier ones
        try:
            for cte in with_.expressions:
                name = cte.alias
                if name in out:
                    raise errors.DuplicateAlias(f'WITH query name "{name}" specified more than once')
                aliases = [c.name for c in cte.args["alias"].columns] if cte.args["alias"].columns else None
                body = cte.this
                key = f"cte:{id(cte)}"
                if with_.args.get("recursive") and isinstance(body, exp.Union) and _references(body.expression, name):
                    plan = self._recursive(name, body, aliases, key, outer)
                else:
                    plan = self.plan_query(body, outer)
                cols = [ResultColumn(n, c.type) for n, c in zip(_names(plan.columns, aliases, name), plan.columns)]
                out[name] = _Cte(name, plan, cols, key)
        finally:
            self.ctes.pop()
        return out

    def _recursive(self, name: str, body: exp.Union, aliases, key: str, outer: Scope | None) -> RecursivePlan:
        seed = self.plan_query(body.this, outer)
        cols = [ResultColumn(n, c.type) for n, c in zip(_names(seed.columns, aliases, name), seed.columns)]
        work_key = f"{key}:work"
        self.ctes.append({name: _Cte(name, None, cols, work_key, recursive_ref=True)})
        try:
            step = self.plan_query(body.expression, outer)
        finally:
            self.ctes.pop()
        if len(step.columns) != len(cols):
            raise errors.SyntaxError("each UNION query must have the same number of columns")
        return RecursivePlan(seed, step, work_key, body.args.get("distinct") is False, cols)

    def lookup_relation(self, node: exp.Table):
        """A CTE or virtual (catalog) relation named by a FROM item, as a RelNode; else None."""
        if not node.db:
            for frame in reversed(self.ctes):
                cte = frame.get(node.name)
                if cte is not None:
                    return self._cte_scan(cte, node)
        if self.virtual_lookup is not None:
            return self.virtual_lookup(node)
        return None

    def _cte_scan(self, cte: _Cte, node: exp.Table):
        alias = node.alias_or_name
        alias_node = node.args.get("alias")
        aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else None
        names = _names(cte.columns, aliases, alias)
        scope = [ScopeColumn(n, c.type, i, alias) for i, (n, c) in enumerate(zip(names, cte.columns))]
        if cte.recursive_ref:
            key = cte.key
            return MaterializedScan(lambda ctx, k=key: ctx.stmt[k], scope)
        return SubqueryScan(cte.plan, scope, cache_key=cte.key)

    def function_scan(self, node: exp.Expression, outer: Scope | None):
        """A function (or unnest, or LATERAL function) as the first FROM item."""
        from sqlvec.plan.lateral import function_scan

        return function_scan(self.b, node, outer)

    # -- subquery expressions ---------------------------------------------------------------------
    def subquery_expr(self, node: exp.Expression, scope: Scope, kind: str, arg: E.Expr | None = None,
                      op: str | None = None) -> E.Expr:
        capture: set[int] = set()
        scope.captures.append(capture)
        try:
            plan = self.plan_query(node, scope)
        finally:
            scope.captures.pop()
        if kind in ("scalar", "in", "any", "all") and len(plan.columns) != 1:
            if kind == "scalar":
                raise errors.SyntaxError("subquery must return only one column")
            raise errors.SyntaxError("subquery has too many columns")
        t = plan.columns[0].type if plan.columns else T.BOOL
        if kind == "array":
            if len(plan.columns) != 1:
                raise errors.SyntaxError("subquery must return only one column")
            return SubqueryExpr(plan, "array", T.array_of(t), None, None, sorted(capture))
        cmp = None
        if kind in ("in", "any", "all"):
            probe = E.ColRef(0, arg.type)
            cmp = self.b.operator(op or "=", probe, E.ColRef(1, t))
            if cmp.type.defn is not T.BOOL.defn:
                raise errors.DatatypeMismatch("op ANY/ALL (array) requires operator to yield boolean")
        out_type = t if kind == "scalar" else T.BOOL
        return SubqueryExpr(plan, kind, out_type, arg, cmp, sorted(capture))


@dataclass(eq=False)
class OuterRef(E.Expr):
    """A column of an enclosing query, read from the frame the subquery runs in."""

    depth: int
    index: int
    type: Any
    volatile: bool = True  # varies with the outer row: never constant-folded

    def eval(self, ctx: E.EvalContext):
        return ctx.outer[-self.depth][self.index]


@dataclass(eq=False)
class SubqueryExpr(E.Expr):
    plan: Any
    kind: str  # scalar | exists | in | any | all
    type: Any
    arg: E.Expr | None
    cmp: E.Expr | None  # op(probe, value) over a 2-column context
    captured: list[int]  # outer (this query's) column positions the subquery reads
    volatile: bool = True  # never constant-folded: it reads tables

    def children(self) -> list[E.Expr]:
        return [self.arg] if self.arg is not None else []

    def eval(self, ctx: E.EvalContext):
        xc: ExecContext = ctx.exec
        if not self.captured:
            key = f"subq:{id(self)}:{len(ctx.outer)}:{id(ctx.outer[-1]) if ctx.outer else 0}"
            t = ctx.stmt.get(key)
            if t is None:
                t = ctx.stmt[key] = self.plan.run(xc)
            return self._combine(ctx, t, None)
        # correlated: once per distinct combination of the outer values used
        n = ctx.n
        keys = [E.broadcast(ctx.columns[i], n) for i in self.captured]
        gids, ng, first = group_ids(keys, n)
        results = []
        for g in range(ng):
            row = int(first[g])
            frame = {i: k[row] for i, k in zip(self.captured, keys)}
            results.append(self.plan.run(xc.with_frame(frame)))
        return self._combine(ctx, results, gids)

    def _combine(self, ctx: E.EvalContext, tables, gids):
        if gids is None:
            return self._one(ctx, tables, np.arange(ctx.n) if self.arg is not None else None)
        parts = [None] * len(tables)
        for g, t in enumerate(tables):
            rows = np.flatnonzero(gids == g)
            parts[g] = (rows, self._one(ctx, t, rows))
        out = [None] * ctx.n
        for rows, v in parts:
            vals = E.broadcast(v, len(rows)).to_pylist() if not isinstance(v, pa.Scalar) else [v.as_py()] * len(rows)
            for r, x in zip(rows.tolist(), vals):
                out[r] = x
        return pa.array(out, type=self.type.arrow_type())

    def _one(self, ctx: E.EvalContext, t: pa.Table, rows):
        """The value of the subquery for the given outer rows (None: a scalar for all)."""
        if self.kind == "exists":
            return pa.scalar(t.num_rows > 0)
        if self.kind == "array":
            return pa.scalar(t.column(0).to_pylist(), type=self.type.arrow_type())
        if self.kind == "scalar":
            if t.num_rows > 1:
                raise errors.CardinalityViolation("more than one row returned by a subquery used as an expression")
            if t.num_rows == 0:
                return pa.nulls(1, self.type.arrow_type())[0]
            return t.column(0).combine_chunks()[0]
        # IN / ANY / ALL: compare the probe with every value the subquery returned
        vals = t.column(0).combine_chunks()
        probe = E.broadcast(self.arg.eval(ctx), ctx.n)
        if rows is not None and len(rows) != ctx.n:
            probe = probe.take(pa.array(rows, type=pa.int64()))
        return quantified(probe, vals, self.cmp, "all" if self.kind == "all" else "any", ctx)


def quantified(probe: pa.Array, values: pa.Array, cmp: E.Expr, how: str, ctx) -> pa.Array:
    """probe op ANY/ALL (values) with SQL's three-valued logic, vectorised over probe x values."""
    n, m = len(probe), len(values)
    if m == 0:
        return pa.array(np.full(n, how == "all"), pa.bool_())
    pi = np.repeat(np.arange(n), m)
    vi = np.tile(np.arange(m), n)
    r = E.broadcast(cmp.eval(E.EvalContext([probe.take(pa.array(pi)), values.take(pa.array(vi))], n * m, ctx.params, ctx.stmt)), n * m)
    valid = np.asarray(r.is_valid().to_numpy(zero_copy_only=False), bool).reshape(n, m)
    val = np.asarray(pc.fill_null(r, False).to_numpy(zero_copy_only=False), bool).reshape(n, m)
    has_null = (~valid).any(axis=1)
    if how == "any":
        yes = (val & valid).any(axis=1)
        return pa.array(yes, pa.bool_(), mask=~yes & has_null)
    no = (~val & valid).any(axis=1)
    return pa.array(~no, pa.bool_(), mask=~no & has_null)


def _names(columns: list[ResultColumn], aliases: list[str] | None, alias: str) -> list[str]:
    names = [c.name for c in columns]
    if aliases is None:
        return names
    if len(aliases) > len(names):
        raise errors.InvalidColumnReference(f'table "{alias}" has {len(names)} columns available but {len(aliases)} columns specified')
    return aliases + names[len(aliases):]


def _references(node: exp.Expression, name: str) -> bool:
    return any(isinstance(t, exp.Table) and not t.db and t.name == name for t in node.find_all(exp.Table))


def _output_sort_key(o: exp.Ordered, names: list[str]) -> SortKey:
    node = o.this
    desc = bool(o.args.get("desc"))
    nulls_first = bool(o.args.get("nulls_first"))
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        i = int(node.this)
        if not 1 <= i <= len(names):
            raise errors.InvalidColumnReference(f"ORDER BY position {i} is not in select list")
        return SortKey(i - 1, desc, nulls_first)
    if isinstance(node, exp.Column) and not node.table and node.name in names:
        return SortKey(names.index(node.name), desc, nulls_first)
    raise errors.FeatureNotSupported(
        "invalid UNION/INTERSECT/EXCEPT ORDER BY clause",
        detail="Only result column names can be used, not expressions or functions.",
        hint="Add the expression/function to every SELECT, or move the UNION into a FROM clause.",
        sqlstate="0A000",
    )


@dataclass(eq=False)
class ArrayQuantified(E.Expr):
    """x op ANY/ALL (array): per row, against that row's array (or one constant array)."""

    arg: E.Expr
    array: E.Expr
    cmp: E.Expr  # op(ColRef 0 = probe, ColRef 1 = element)
    how: str  # any | all
    type: Any = T.BOOL

    def children(self) -> list[E.Expr]:
        return [self.arg, self.array]

    def eval(self, ctx: E.EvalContext):
        n = ctx.n
        probe = E.broadcast(self.arg.eval(ctx), n)
        arr = self.array.eval(ctx)
        if isinstance(arr, pa.Scalar):
            if not arr.is_valid:
                return pa.nulls(n, pa.bool_())
            return quantified(probe, E.scalar_array(arr).flatten(), self.cmp, self.how, ctx)
        arr = E.broadcast(arr, n)
        flat = arr.flatten()
        parents = pc.list_parent_indices(arr).to_numpy()
        r = E.broadcast(self.cmp.eval(E.EvalContext([probe.take(pa.array(parents)), flat], len(flat), ctx.params, ctx.stmt)), len(flat))
        valid = np.asarray(r.is_valid().to_numpy(zero_copy_only=False), bool)
        val = np.asarray(pc.fill_null(r, False).to_numpy(zero_copy_only=False), bool)
        nulls = np.bincount(parents[~valid], minlength=n) > 0
        if self.how == "any":
            yes = np.bincount(parents[val & valid], minlength=n) > 0
            out, mask = yes, ~yes & nulls
        else:
            no = np.bincount(parents[~val & valid], minlength=n) > 0
            out, mask = ~no, ~no & nulls
        mask = mask | np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)
        return pa.array(out, pa.bool_(), mask=mask)
