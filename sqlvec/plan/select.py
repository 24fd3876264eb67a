"""Planning and running SELECT over one table (joins and subqueries slot in as new sources).

The plan is a fixed pipeline — source (scan + filter, or exact top-k vector search) ->
aggregate -> project -> distinct -> sort -> offset/limit — whose stages are chosen at bind
time. The vector path replaces scan + sort when ORDER BY is a distance to a constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec import knn
from sqlvec.exec.functions.registry import is_aggregate, resolve_aggregate
from sqlvec.exec.relation import (
    ExecContext,
    Rel,
    SortKey,
    distinct_rows,
    group_ids,
    limit_value,
    scan_table,
    sort_indices,
)
from sqlvec.plan import expr as E
from sqlvec.plan.binder import Binder, function_signature, output_name
from sqlvec.plan.scope import Scope, ScopeColumn
from sqlvec.result import ResultColumn
from sqlvec.types import registry as T


@dataclass
class AggCall:
    name: str
    impl: object
    args: list[E.Expr]
    type: object
    distinct: bool = False
    filter: E.Expr | None = None
    order: list[tuple[E.Expr, bool, bool | None]] = field(default_factory=list)
    empty_value: object = None


@dataclass
class TableSource:
    table: Table
    alias: str
    needed: set[int] = field(default_factory=set)


@dataclass
class SelectPlan:
    source: TableSource | None
    where: E.Expr | None
    outputs: list[E.Expr]  # visible outputs first, then hidden sort expressions
    columns: list[ResultColumn]
    group_keys: list[E.Expr] | None = None  # None: no aggregation
    aggs: list[AggCall] = field(default_factory=list)
    having: E.Expr | None = None
    distinct: bool = False
    sort: list[SortKey] = field(default_factory=list)
    limit: E.Expr | None = None
    offset: E.Expr | None = None
    knn: knn.KnnSpec | None = None
    distinct_on: list[int] | None = None  # output positions of the DISTINCT ON keys

    def run(self, ctx: ExecContext) -> pa.Table:
        rel, presorted = self._source(ctx)
        if self.group_keys is not None:
            rel = self._aggregate(ctx, rel)
        ec = ctx.eval_ctx(rel.columns, rel.n)
        outs = [E.broadcast(e.eval(ec), rel.n) for e in self.outputs]
        n = rel.n
        if self.distinct:
            idx = distinct_rows(outs[: len(self.columns)], n)
            outs, n = [c.take(pa.array(idx)) for c in outs], len(idx)
        if self.sort and not presorted:
            idx = sort_indices(outs, self.sort, n)
            outs = [c.take(pa.array(idx)) for c in outs]
        if self.distinct_on is not None:
            # the first row of each group in ORDER BY order
            idx = distinct_rows([outs[i] for i in self.distinct_on], n)
            outs, n = [c.take(pa.array(idx)) for c in outs], len(idx)
        off = limit_value(self._const(ctx, self.offset), "OFFSET") or 0
        lim = limit_value(self._const(ctx, self.limit), "LIMIT")
        if not presorted and (off or lim is not None):
            end = n if lim is None else min(n, off + lim)
            outs = [c.slice(off, max(0, end - off)) for c in outs]
        names = [f"c{i}" for i in range(len(self.columns))]
        return pa.table(outs[: len(self.columns)], names=names) if names else pa.table({})

    def _const(self, ctx: ExecContext, e: E.Expr | None) -> pa.Scalar | None:
        if e is None:
            return None
        v = e.eval(ctx.eval_ctx([], 1))
        return v if isinstance(v, pa.Scalar) else v[0]

    def _source(self, ctx: ExecContext) -> tuple[Rel, bool]:
        """The input rows, and whether they are already sorted and limited (top-k path)."""
        if self.source is None:
            rel = Rel([], 1)
            if self.where is not None:
                m = E.as_mask(self.where.eval(ctx.eval_ctx([], 1)), 1)
                rel = Rel([], int(m[0]))
            return rel, False
        if self.knn is not None:
            off = limit_value(self._const(ctx, self.offset), "OFFSET") or 0
            lim = limit_value(self._const(ctx, self.limit), "LIMIT")
            rel = knn.run(ctx, self.source.table, self.source.needed, self.where, self.knn, off, lim)
            if rel is not None:
                return rel, True
        return scan_table(ctx, self.source.table, self.source.needed, self.where), False

    def _aggregate(self, ctx: ExecContext, rel: Rel) -> Rel:
        ec = ctx.eval_ctx(rel.columns, rel.n)
        keys = [E.broadcast(k.eval(ec), rel.n) for k in self.group_keys]
        gids, ngroups, first = group_ids(keys, rel.n)
        if not self.group_keys:
            ngroups = 1
        out = [k.take(pa.array(first)) for k in keys]
        for a in self.aggs:
            args = [E.broadcast(x.eval(ec), rel.n) for x in a.args]
            g = gids
            if a.filter is not None:
                m = np.flatnonzero(E.as_mask(a.filter.eval(ec), rel.n))
                args = [x.take(pa.array(m)) for x in args]
                g = gids[m]
            if a.order:
                cols = [E.broadcast(o[0].eval(ec), rel.n) for o in a.order]
                if a.filter is not None:
                    cols = [c.take(pa.array(m)) for c in cols]
                idx = sort_indices(cols, [SortKey(i, d, nf) for i, (_, d, nf) in enumerate(a.order)], len(g))
                args = [x.take(pa.array(idx)) for x in args]
                g = g[idx]
            out.append(a.impl(args, g, ngroups, a.distinct))
        rel2 = Rel(out, ngroups)
        if self.having is not None:
            m = E.as_mask(self.having.eval(ctx.eval_ctx(out, ngroups)), ngroups)
            rel2 = rel2.take(np.flatnonzero(m))
        return rel2


class SelectPlanner:
    """Builds a SelectPlan from a sqlglot Select over at most one table."""

    def __init__(self, binder: Binder, resolve_table):
        self.b = binder
        self.resolve_table = resolve_table  # (exp.Table) -> catalog Table

    def plan(self, node: exp.Select) -> SelectPlan:
        for key in ("joins", "windows", "laterals", "with_", "with"):
            if node.args.get(key):
                raise errors.FeatureNotSupported(f"{key.rstrip('_').upper()} is not supported yet")
        source, scope = self._from(node)
        where = None
        if node.args.get("where") is not None:
            _no_aggregates(node.args["where"].this, "WHERE")
            where = self.b.bind_bool(node.args["where"].this, scope, "WHERE")
        items = self._expand_star(node.expressions, scope)
        group_node = node.args.get("group")
        aggregating = group_node is not None or any(_has_aggregate(i) for i in items) or node.args.get("having") is not None
        plan = SelectPlan(source, where, [], [])
        post_scope = scope
        if aggregating:
            post_scope = self._bind_grouping(node, items, scope, plan)
        order_node = node.args.get("order")
        outputs, columns = [], []
        for it in items:
            e = self.b.bind(it.this if isinstance(it, exp.Alias) else it, post_scope)
            if e.type.defn is T.UNKNOWN.defn:
                e = self.b.coerce(e, T.TEXT, "i")
            outputs.append(e)
            columns.append(_result_column(it, e))
        plan.outputs, plan.columns = outputs, columns
        distinct = node.args.get("distinct")
        on = distinct.args.get("on") if distinct is not None else None
        plan.distinct = distinct is not None and on is None
        if order_node is not None:
            plan.sort = [self._sort_key(o, items, post_scope, plan) for o in order_node.expressions]
        if on is not None:
            plan.distinct_on = self._distinct_on(on, items, post_scope, plan)
        self.b.aggregate_hook = None
        if node.args.get("limit") is not None:
            plan.limit = self._count(node.args["limit"].expression, scope)
        if node.args.get("offset") is not None:
            plan.offset = self._count(node.args["offset"].expression, scope)
        if source is not None and not aggregating and not plan.distinct and plan.distinct_on is None:
            plan.knn = knn.match(plan, source)
        if source is not None:
            used = E.referenced_columns(([where] if where else []) + (plan.outputs if not aggregating else []))
            if aggregating:
                used |= E.referenced_columns(list(plan.group_keys or []))
                for a in plan.aggs:
                    used |= E.referenced_columns(a.args + ([a.filter] if a.filter else []) + [o[0] for o in a.order])
            source.needed = used
        return plan

    # -- FROM -----------------------------------------------------------------------------------
    def _from(self, node: exp.Select) -> tuple[TableSource | None, Scope]:
        f = node.args.get("from_") or node.args.get("from")
        if f is None:
            return None, Scope()
        src = f.this
        if not isinstance(src, exp.Table) or isinstance(src.this, exp.Func):
            raise errors.FeatureNotSupported("only a plain table is supported in FROM yet")
        table = self.resolve_table(src)
        alias = src.alias_or_name
        scope = Scope(
            [
                ScopeColumn(c.name, c.type, i, alias, table.oid, c.attnum)
                for i, c in enumerate(table.columns)
            ]
        )
        return TableSource(table, alias), scope

    def _expand_star(self, items: list[exp.Expression], scope: Scope) -> list[exp.Expression]:
        out: list[exp.Expression] = []
        for it in items:
            if isinstance(it, exp.Star) or (isinstance(it, exp.Column) and isinstance(it.this, exp.Star)):
                table = it.table if isinstance(it, exp.Column) else None
                if not scope.columns and table is None:
                    raise errors.SyntaxError("SELECT * with no tables specified is not valid")
                for c in scope.star(table or None):
                    col = exp.column(c.name, table=c.table, quoted=True)
                    out.append(exp.alias_(col, c.name, quoted=True))
            else:
                out.append(it)
        return out

    # -- GROUP BY / aggregates --------------------------------------------------------------------
    def _bind_grouping(self, node: exp.Select, items, scope: Scope, plan: SelectPlan) -> Scope:
        group_node = node.args.get("group")
        key_nodes: list[exp.Expression] = []
        if group_node is not None:
            if group_node.args.get("rollup") or group_node.args.get("cube") or group_node.args.get("grouping_sets"):
                raise errors.FeatureNotSupported("GROUPING SETS, ROLLUP and CUBE are not supported yet")
            for g in group_node.expressions:
                key_nodes.append(self._resolve_ordinal_or_alias(g, items, "GROUP BY"))
        keys = [self.b.bind(k, scope) for k in key_nodes]
        plan.group_keys = keys
        aggs: list[AggCall] = []
        nkeys = len(keys)
        post = Scope()

        def hook(n: exp.Expression, sc: Scope):
            for i, kn in enumerate(key_nodes):
                if n == kn:
                    return E.ColRef(i, keys[i].type, output_name(kn))
            if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
                c = scope.resolve(n.name, n.table or None)
                for i, k in enumerate(keys):
                    if isinstance(k, E.ColRef) and k.index == c.index:
                        return E.ColRef(i, k.type, c.name)
                raise errors.GroupingError(
                    f'column "{c.table}.{c.name}" must appear in the GROUP BY clause or be used in an aggregate function'
                )
            agg = _aggregate_node(n)
            if agg is not None:
                self.b.aggregate_hook = None
                try:
                    call = self._bind_aggregate(agg, n, scope)
                finally:
                    self.b.aggregate_hook = hook
                aggs.append(call)
                return E.ColRef(nkeys + len(aggs) - 1, call.type, call.name)
            return None

        self.b.aggregate_hook = hook
        if node.args.get("having") is not None:
            plan.having = self.b.bind_bool(node.args["having"].this, post, "HAVING")
        plan.aggs = aggs
        return post

    def _bind_aggregate(self, agg: exp.Expression, outer: exp.Expression, scope: Scope) -> AggCall:
        filt = None
        if isinstance(outer, exp.Filter):
            filt = self.b.bind_bool(outer.expression.this, scope, "FILTER")
        distinct = False
        order: list = []
        if isinstance(agg, exp.Count) and (agg.this is None or isinstance(agg.this, exp.Star)):
            name, argnodes = "count", []
        else:
            name, argnodes = function_signature(agg)
            if isinstance(agg, exp.Anonymous):
                name = agg.name.lower()
            fixed = []
            for a in argnodes:
                if isinstance(a, exp.Distinct):
                    distinct = True
                    fixed.extend(a.expressions)
                elif isinstance(a, exp.Order):
                    fixed.append(a.this)
                    order = [(self.b.bind(o.this, scope), bool(o.args.get("desc")), o.args.get("nulls_first")) for o in a.expressions]
                else:
                    fixed.append(a)
            argnodes = fixed
            if name == "count":
                name = "count"
        args = [self.b.bind(a, scope) for a in argnodes]
        for a in argnodes:
            if _has_aggregate(a):
                raise errors.GroupingError("aggregate function calls cannot be nested")
        ov, casts, ret = resolve_aggregate(name, [a.type for a in args])
        args = [self.b.coerce(a, t, "i") for a, t in zip(args, casts)]
        return AggCall(name, ov.impl, args, ret, distinct, filt, order, getattr(ov, "empty_value", None))

    def _resolve_ordinal_or_alias(self, g: exp.Expression, items, clause: str) -> exp.Expression:
        if isinstance(g, exp.Literal) and not g.is_string and g.this.isdigit():
            i = int(g.this)
            if not 1 <= i <= len(items):
                raise errors.InvalidColumnReference(f"{clause} position {i} is not in select list")
            it = items[i - 1]
            return it.this if isinstance(it, exp.Alias) else it
        return g

    # -- ORDER BY ---------------------------------------------------------------------------------
    def _sort_key(self, o: exp.Ordered, items, scope: Scope, plan: SelectPlan) -> SortKey:
        desc = bool(o.args.get("desc"))
        # the postgres dialect fills in PostgreSQL's default (NULLS LAST for ASC, FIRST for DESC)
        nulls_first = bool(o.args.get("nulls_first"))
        node = o.this
        if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
            i = int(node.this)
            if not 1 <= i <= len(plan.columns):
                raise errors.InvalidColumnReference(f"ORDER BY position {i} is not in select list")
            return SortKey(i - 1, desc, nulls_first)
        if isinstance(node, exp.Column) and not node.table:
            for i, it in enumerate(items):
                if isinstance(it, exp.Alias) and it.alias == node.name:
                    return SortKey(i, desc, nulls_first)
        for i, it in enumerate(items):
            if (it.this if isinstance(it, exp.Alias) else it) == node:
                return SortKey(i, desc, nulls_first)
        if plan.distinct:
            raise errors.InvalidColumnReference("for SELECT DISTINCT, ORDER BY expressions must appear in select list")
        e = self.b.bind(node, scope)
        plan.outputs.append(e)
        return SortKey(len(plan.outputs) - 1, desc, nulls_first)

    def _distinct_on(self, on: exp.Expression, items, scope: Scope, plan: SelectPlan) -> list[int]:
        keys = on.expressions if isinstance(on, exp.Tuple) else [on]
        out = [self._sort_key(exp.Ordered(this=k), items, scope, plan).index for k in keys]
        # PostgreSQL: the DISTINCT ON expressions must match the leftmost ORDER BY expressions
        lead = [k.index for k in plan.sort[: len(out)]]
        if plan.sort and sorted(lead) != sorted(out[: len(lead)]):
            raise errors.InvalidColumnReference("SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
        return out

    def _count(self, node: exp.Expression, scope: Scope) -> E.Expr | None:
        if isinstance(node, exp.Var) and node.name.upper() == "ALL":
            return None  # LIMIT ALL
        e = self.b.bind(node, Scope())
        if e.type.defn is T.UNKNOWN.defn or isinstance(e, E.ParamRef):
            e = self.b.coerce(e, T.INT8, "a")
        elif e.type.defn not in (T.INT2.defn, T.INT4.defn, T.INT8.defn):
            e = self.b.coerce(e, T.INT8, "a")
        return e


def _result_column(item: exp.Expression, e: E.Expr) -> ResultColumn:
    name = output_name(item)
    if isinstance(e, E.ColRef) and e.table_oid:
        return ResultColumn(name, e.type, e.table_oid, e.attnum)
    return ResultColumn(name, e.type)


def _aggregate_node(n: exp.Expression) -> exp.Expression | None:
    inner = n.this if isinstance(n, exp.Filter) else n
    if isinstance(inner, exp.AggFunc) or (isinstance(inner, exp.Func) and is_aggregate(function_signature(inner)[0])):
        return inner
    return None


def _has_aggregate(n: exp.Expression) -> bool:
    return any(_aggregate_node(x) is not None for x in n.walk() if isinstance(x, exp.Expression))


def _no_aggregates(n: exp.Expression, clause: str) -> None:
    if _has_aggregate(n):
        raise errors.GroupingError(f"aggregate functions are not allowed in {clause}")
