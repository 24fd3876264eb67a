"""Planning and running one SELECT block.

The plan is a fixed pipeline — source (the FROM clause as a tree of RelNodes: scans, joins,
derived tables) -> filter -> aggregate -> project -> distinct -> sort -> offset/limit — whose
stages are chosen at bind time. Over a single table the WHERE clause is pushed into the scan
(evaluated per segment on the columnar data), and the exact top-k vector path replaces scan +
sort when ORDER BY is a distance to a constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec import knn
from sqlvec.exec import range as vector_range
from sqlvec.exec.functions.registry import is_aggregate, resolve_aggregate
from sqlvec.exec.lateral import project_set
from sqlvec.exec.nodes import Join, RelNode, SubqueryScan, TableScan
from sqlvec.exec.records import record_fields
from sqlvec.exec.relation import (
    ExecContext,
    Rel,
    SortKey,
    distinct_rows,
    group_ids,
    limit_value,
    sort_indices,
)
from sqlvec.exec.window import run_windows
from sqlvec.grammar import to_sql
from sqlvec.plan import expr as E
from sqlvec.plan import grouping, lateral, stages, ttl
from sqlvec.plan.binder import Binder, function_signature, output_name
from sqlvec.plan.ordered_set import bind_within_group, ordered_set_name
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
class SelectPlan:
    source: RelNode | None  # None: SELECT without FROM (one row)
    where: E.Expr | None  # applied after the source unless pushed into a single TableScan
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
    fts: object = None  # search top-k (fulltext.FtsTopK, sparse_knn.SparseTopK): .run() answers
    distinct_on: list[int] | None = None  # output positions of the DISTINCT ON keys
    untyped: dict[int, E.Expr] = field(default_factory=dict)  # outputs that were untyped literals
    grouping_sets: list[list[int]] | None = None  # GROUPING SETS: key positions of each set
    windows: list = field(default_factory=list)  # WindowCall: one appended column each
    srfs: list = field(default_factory=list)  # SrfCall of the select list: run in lockstep

    def run(self, ctx: ExecContext) -> pa.Table:
        rel, presorted = self._source(ctx)
        if self.group_keys is not None:
            rel = self._aggregate(ctx, rel)
        if self.windows:
            rel = run_windows(ctx, rel, self.windows)
        if self.srfs:
            rel = project_set(ctx, rel, self.srfs)
        ec = ctx.eval_ctx(rel.columns, rel.n)
        # presorted (top-k path): the hidden sort keys (the distance) are never read again
        width = len(self.columns) if presorted else len(self.outputs)
        outs = [E.broadcast(e.eval(ec), rel.n) for e in self.outputs[:width]]
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
        if self.fts is not None:
            off = limit_value(self._const(ctx, self.offset), "OFFSET") or 0
            lim = limit_value(self._const(ctx, self.limit), "LIMIT")
            rel = self.fts.run(ctx, self.source, off, lim)
            if rel is not None:
                return rel, True
        if self.knn is not None:
            off = limit_value(self._const(ctx, self.offset), "OFFSET") or 0
            lim = limit_value(self._const(ctx, self.limit), "LIMIT")
            res = knn.run_source(ctx, self, off, lim)  # one table, or through joins
            if res is not None:
                return res
        rel = self.source.run(ctx) if self.source is not None else Rel([], 1)
        if self.where is not None and rel.n:
            m = E.as_mask(self.where.eval(ctx.eval_ctx(rel.columns, rel.n)), rel.n)
            if not m.all():
                rel = rel.take(np.flatnonzero(m))
        return rel, False

    def _aggregate(self, ctx: ExecContext, rel: Rel) -> Rel:
        ec = ctx.eval_ctx(rel.columns, rel.n)
        keys = [E.broadcast(k.eval(ec), rel.n) for k in self.group_keys]
        if self.grouping_sets is not None:
            rel2 = grouping.aggregate_sets(keys, rel.n, self.grouping_sets,
                                           lambda g, ng: self._agg_values(ec, rel, g, ng))
            out, ngroups = rel2.columns, rel2.n
        else:
            gids, ngroups, first = group_ids(keys, rel.n)
            if not self.group_keys:
                ngroups = 1
            out = [k.take(pa.array(first)) for k in keys] + self._agg_values(ec, rel, gids, ngroups)
        rel2 = Rel(out, ngroups)
        if self.having is not None:
            m = E.as_mask(self.having.eval(ctx.eval_ctx(out, ngroups)), ngroups)
            rel2 = rel2.take(np.flatnonzero(m))
        return rel2

    def _agg_values(self, ec, rel: Rel, gids: np.ndarray, ngroups: int) -> list[pa.Array]:
        """One column per aggregate call for the given grouping of rel's rows."""
        out = []
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
        return out


class SelectPlanner:
    """Builds a SelectPlan from one sqlglot Select block (set operations and CTEs: plan.query)."""

    def __init__(self, binder: Binder, resolve_table, queries=None):
        self.b = binder
        self.resolve_table = resolve_table  # (exp.Table) -> catalog Table
        self.queries = queries  # the QueryPlanner, for derived tables, CTEs and subqueries
        self.tables: dict[int, object] = {}  # catalog tables scanned by this block, by OID
        self._where_override = _UNSET  # the WHERE left after conjuncts moved into joins

    def plan(self, node: exp.Select, outer: Scope | None = None) -> SelectPlan:
        source, scope = self._from(node, outer)
        scope.parent = outer
        # window calls, select-list SRFs and grouping(): bound into stages after aggregation
        st = self._stages = stages.StageBinder(self.b, node)
        where = None
        where_node = node.args["where"].this if node.args.get("where") is not None else None
        if self._where_override is not _UNSET:
            where_node, self._where_override = self._where_override, _UNSET  # conjuncts moved into joins
        if where_node is not None:
            stages.forbid(where_node, "WHERE")
            _no_aggregates(where_node, "WHERE")
            where = self.b.bind_bool(where_node, scope, "WHERE")
        items = self._expand_star(node.expressions, scope)
        group_node = node.args.get("group")
        aggregating = group_node is not None or any(_has_aggregate(i) for i in items) or node.args.get("having") is not None
        plan = SelectPlan(source, where, [], [])
        post_scope = scope
        if aggregating:
            post_scope = self._bind_grouping(node, items, scope, plan)
            post_scope.parent = outer
        else:
            self.b.aggregate_hook = st.wrap(None)
        order_node = node.args.get("order")
        outputs, columns = [], []
        for it in items:
            e = self.b.bind(it.this if isinstance(it, exp.Alias) else it, post_scope)
            if e.type.defn is T.UNKNOWN.defn:
                # untyped ('x', NULL) outputs become text, unless an INSERT ... SELECT gives
                # them its column's type: keep the untyped form for that
                plan.untyped[len(outputs)] = e
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
        st.finish(len(plan.group_keys) + len(plan.aggs) if aggregating else len(scope.columns))
        self._stages = None
        plan.windows, plan.srfs = st.windows, st.srfs
        lim = node.args.get("limit")
        if isinstance(lim, exp.Fetch):
            if lim.args.get("limit_options") is not None and lim.args["limit_options"].args.get("with_ties"):
                raise errors.FeatureNotSupported("FETCH ... WITH TIES is not supported yet")
            count = lim.args.get("count")
            plan.limit = self._count(count, scope) if count is not None else self._count(exp.Literal.number(1), scope)
        elif lim is not None:
            plan.limit = self._count(lim.expression, scope)
        if node.args.get("offset") is not None:
            plan.offset = self._count(node.args["offset"].expression, scope)
        if isinstance(source, TableScan):
            # one table: the filter runs inside the scan, segment by segment
            where = ttl.combine(source.filter, where)
            source.filter, plan.where = where, None
            if not aggregating and not plan.distinct and plan.distinct_on is None and not st.windows and not st.srfs:
                plan.knn = knn.match(plan, source)
                if plan.knn is None:
                    from sqlvec.exec import fulltext

                    plan.fts = fulltext.match_search(plan, source)
            used = E.referenced_columns(([where] if where else []) + (plan.outputs if not aggregating else []))
            if not aggregating:  # stage inputs read the scan's columns directly
                used |= E.referenced_columns([x for w in st.windows for x in w.exprs()] + [a for f in st.srfs for a in f.args])
            if aggregating:
                used |= E.referenced_columns(list(plan.group_keys or []))
                for a in plan.aggs:
                    used |= E.referenced_columns(a.args + ([a.filter] if a.filter else []) + [o[0] for o in a.order])
            source.needed = used
            # WHERE emb <-> $1 < r: a range scan through the segments' indexes (plan.knn yields)
            plan.source = vector_range.rewrite(source, plan)
        elif source is not None:
            _read_all_columns(source)
            if isinstance(source, Join) and not aggregating and not plan.distinct and plan.distinct_on is None \
                    and not st.windows and not st.srfs:
                plan.knn = knn.match_join(plan, source)  # top-k on the vector table, then the join
        return plan

    # -- FROM -----------------------------------------------------------------------------------
    def _from(self, node: exp.Select, outer: Scope | None) -> tuple[RelNode | None, Scope]:
        f = node.args.get("from_") or node.args.get("from")
        if f is None:
            if node.args.get("joins"):
                raise errors.SyntaxError("syntax error at or near \"JOIN\"")
            return None, Scope()
        ordered = self._ordered_inner_joins(node, f, outer)
        if ordered is not None:
            return ordered
        rel = self._from_item(f.this, outer)
        for j in node.args.get("joins") or []:
            lat = lateral.join_item(self, rel, j, outer)  # functions and LATERAL see the left items
            if lat is not None:
                rel = lat
                continue
            right = self._from_item(j.this, outer)
            rel = self._join(rel, right, j, outer)
        scope = Scope(list(rel.scope))
        return rel, scope

    def _ordered_inner_joins(self, node: exp.Select, f, outer: Scope | None):
        """FROM a, b, c WHERE a.x = c.y AND ... (inner joins only): join in an order where each
        next relation is linked to those already joined by an equality, and move the WHERE
        conjuncts into the first join where they can be evaluated — so the joins are hash joins
        on their keys instead of cross products filtered afterwards (catalog queries of JDBC
        and BI tools are written this way). None when the FROM clause is not of that shape."""
        joins = node.args.get("joins") or []
        where = node.args.get("where")
        if not joins or where is None:
            return None
        # units: a FROM item with the outer joins written after it (`a, b LEFT JOIN c ON ...`
        # is `a, (b LEFT JOIN c ON ...)`: the ON sees only its unit), which stay together
        units: list[list] = [[None]]
        for j in joins:
            side = (j.args.get("side") or "").lower()
            kind = (j.args.get("kind") or "").lower()
            if isinstance(j.this, (exp.Lateral, exp.Unnest)) or j.this.args.get("lateral") \
                    or (isinstance(j.this, exp.Table) and isinstance(j.this.this, exp.Func)
                        and any(True for _ in j.this.this.find_all(exp.Column))):
                return None  # lateral items and functions reading earlier items keep their order
            if side and kind in ("", "outer") and j.args.get("on") is not None \
                    and not j.args.get("using") and not j.args.get("natural"):
                head = units[-1][0]
                if head is not None and (head.args.get("on") is not None or head.args.get("kind")):
                    # `a JOIN b ON .. LEFT JOIN c ON ..` is (a JOIN b) LEFT JOIN c: its ON may
                    # read a (SQLAlchemy's reflection does), so it is no unit of b's
                    return None
                units[-1].append(j)
                continue
            if side or kind not in ("", "inner", "cross") or j.args.get("using") or j.args.get("natural"):
                return None
            units.append([j])
        if len(units) < 2:
            return None
        items = []
        for unit in units:
            head = f.this if unit[0] is None else unit[0].this
            rel = self._from_item(head, outer)
            for j in unit[1:]:
                rel = self._join(rel, self._from_item(j.this, outer), j, outer)
            items.append(rel)
        inner_on = [u[0] for u in units[1:] if u[0].args.get("on") is not None]
        conjuncts = _split_and(where.this) + [c for j in inner_on for c in _split_and(j.args["on"])]
        refs = [_references(c, items) for c in conjuncts]
        joined, rel, pushed = [0], items[0], set()
        remaining = list(range(1, len(items)))
        while remaining:
            def linked(k):
                return any(r is not None and k in r and len(r) > 1 and r <= set(joined) | {k}
                           and isinstance(c, exp.EQ) for c, r in zip(conjuncts, refs))
            nxt = next((k for k in remaining if linked(k)), remaining[0])
            remaining.remove(nxt)
            now = set(joined) | {nxt}
            conds = [i for i, r in enumerate(refs) if i not in pushed and r is not None and nxt in r and r <= now]
            pushed.update(conds)
            on = exp.and_(*[conjuncts[i] for i in conds]) if conds else None
            rel = self._join(rel, items[nxt], exp.Join(this=exp.Table(), on=on), outer)
            joined.append(nxt)
        rest = [conjuncts[i] for i in range(len(conjuncts)) if i not in pushed]
        self._where_override = exp.and_(*rest) if rest else None
        # SELECT * lists columns in FROM order, whatever order the joins ran in
        order: dict = {}
        for p, it in enumerate(items):
            for c in it.scope:
                order.setdefault(c.table, p)
        cols = sorted(rel.scope, key=lambda c: order.get(c.table, len(items)))
        return rel, Scope(cols)

    def _from_item(self, src: exp.Expression, outer: Scope | None) -> RelNode:
        alias_node = src.args.get("alias")
        col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else None
        if isinstance(src, exp.Table) and not isinstance(src.this, exp.Func):
            hit = self.queries.lookup_relation(src) if self.queries is not None else None
            if hit is not None:
                return hit
            table = self.resolve_table(src)
            self.tables[table.oid] = table
            alias = src.alias_or_name
            names = _rename([c.name for c in table.columns], col_aliases, alias)
            scope = [ScopeColumn(nm, c.type, i, alias, table.oid, c.attnum) for i, (nm, c) in enumerate(zip(names, table.columns))]
            scan = TableScan(table, alias, scope)
            # expired rows of a TTL table are filtered in every scan of it
            scan.filter = ttl.predicate(self.b, table, Scope(list(scope)))
            return scan
        if isinstance(src, exp.Subquery) and isinstance(src.this, (exp.Table, exp.Subquery)) \
                and src.this.args.get("joins") and alias_node is None:
            return self._join_tree(src.this, outer)
        if isinstance(src, exp.Subquery) or isinstance(src, exp.Values):
            if src.args.get("lateral") or isinstance(src.parent, exp.Lateral):
                raise errors.FeatureNotSupported("LATERAL is not supported yet")
            inner = src.this if isinstance(src, exp.Subquery) else src
            plan = self.queries.plan_query(inner, None)
            alias = src.alias_or_name or ("*VALUES*" if isinstance(src, exp.Values) else None)
            if alias is None:
                raise errors.SyntaxError("subquery in FROM must have an alias",
                                         hint='For example, FROM (SELECT ...) [AS] foo.')
            names = [c.name for c in plan.columns]
            if isinstance(src, exp.Values) and col_aliases is None:
                names = [f"column{i + 1}" for i in range(len(names))]
            names = _rename(names, col_aliases, alias)
            scope = [ScopeColumn(nm, c.type, i, alias) for i, (nm, c) in enumerate(zip(names, plan.columns))]
            return SubqueryScan(plan, scope)
        if isinstance(src, exp.Table) and isinstance(src.this, exp.Func) or isinstance(src, exp.Unnest):
            return self.queries.function_scan(src, outer)
        if isinstance(src, exp.Lateral):
            if isinstance(src.this, exp.Subquery):  # nothing to its left: an ordinary derived table
                sub = src.this.copy()
                sub.set("alias", src.args.get("alias"))
                return self._from_item(sub, outer)
            return self.queries.function_scan(src, outer)
        raise errors.FeatureNotSupported(f"FROM item not supported yet: {to_sql(src)[:80]}")

    def _join_tree(self, node: exp.Expression, outer: Scope | None) -> RelNode:
        """A parenthesized join, ``((a JOIN b ON ..) JOIN c ON ..)`` as psqlODBC's SQLColumns
        writes it: sqlglot hangs each level's joins on the item (or inner parentheses) they follow."""
        if isinstance(node, exp.Subquery) and isinstance(node.this, (exp.Table, exp.Subquery)) \
                and node.this.args.get("joins") and node.args.get("alias") is None:
            rel = self._join_tree(node.this, outer)
        else:
            base = node.copy()
            base.set("joins", None)
            rel = self._from_item(base, outer)
        for j in node.args.get("joins") or []:
            rel = self._join(rel, self._from_item(j.this, outer), j, outer)
        return rel

    def _join(self, left: RelNode, right: RelNode, j: exp.Join, outer: Scope | None) -> RelNode:
        side = (j.args.get("side") or "").lower()
        kind = (j.args.get("kind") or "").lower()
        if kind == "cross" or (not side and not kind and j.args.get("on") is None and not j.args.get("using")):
            jk = "cross" if kind == "cross" or j.args.get("on") is None else "inner"
        else:
            jk = side or "inner"
        if kind == "natural" or j.args.get("natural"):
            lnames = {c.name for c in left.scope if not c.qualified_only}
            using = [c.name for c in right.scope if c.name in lnames and not c.qualified_only]
        else:
            using = [u.name for u in j.args.get("using") or []]
        nl = len(left.scope)
        rscope = [ScopeColumn(c.name, c.type, nl + c.index, c.table, c.table_oid, c.attnum, c.hidden, c.qualified_only) for c in right.scope]
        scope_cols = list(left.scope) + rscope
        join = Join(left, right, "inner" if jk == "cross" else jk, [])
        conds: list[E.Expr] = []
        if using:
            merged_scope = []
            for k, name in enumerate(using):
                lc = _unique_visible(left.scope, name, "left")
                rc = _unique_visible(right.scope, name, "right")
                lcol = E.ColRef(lc.index, lc.type, lc.name)
                rcol_r = E.ColRef(rc.index, rc.type, rc.name)
                eq = self.b.operator("=", lcol, E.ColRef(nl + rc.index, rc.type, rc.name))
                conds.append(eq)
                t = lc.type if lc.type == rc.type else self.b.unify([lcol, rcol_r], "JOIN/USING")[1]
                join.merged.append((lc.index, rc.index, t))
                merged_scope.append(ScopeColumn(name, t, len(scope_cols) + k, None))
            for c in scope_cols:
                if c.name in using and not c.qualified_only:
                    c.hidden, c.qualified_only = True, True
            # PostgreSQL lists the USING columns first in SELECT *
            scope_cols = merged_scope + scope_cols
        elif j.args.get("on") is not None:
            on = j.args["on"]
            _no_aggregates(on, "JOIN conditions")
            conds.append(self.b.bind_bool(on, Scope(scope_cols, outer), "JOIN/ON"))
        join.scope = scope_cols
        _split_join_condition(join, conds, nl, self.b)
        return join

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
            elif isinstance(it, exp.Dot) and isinstance(it.expression, exp.Star) and isinstance(it.this, exp.Paren):
                out.extend(self._expand_record_star(it.this, scope))
            else:
                out.append(it)
        return out

    def _expand_record_star(self, inner: exp.Expression, scope: Scope) -> list[exp.Expression]:
        """(f(x)).* -> (f(x)).a, (f(x)).b: one item per field (f runs once per item, in
        lockstep, as in PostgreSQL). The record is bound once, with throwaway stages, for its type."""
        saved = self.b.aggregate_hook
        self.b.aggregate_hook = stages.StageBinder(self.b, exp.Select()).wrap(saved)
        try:
            t = self.b.bind(inner, scope).type
        finally:
            self.b.aggregate_hook = saved
        fields = record_fields(t)
        if fields is None:
            raise errors.WrongObjectType(f"type {t} is not composite")
        return [exp.alias_(exp.Dot(this=inner.copy(), expression=exp.to_identifier(name, quoted=True)), name, quoted=True)
                for name, _ in fields]

    # -- GROUP BY / aggregates --------------------------------------------------------------------
    def _bind_grouping(self, node: exp.Select, items, scope: Scope, plan: SelectPlan) -> Scope:
        group_node = node.args.get("group")
        key_nodes: list[exp.Expression] = []

        def group_item(g: exp.Expression) -> exp.Expression:
            g = self._resolve_ordinal_or_alias(g, items, "GROUP BY")
            stages.forbid(g, "GROUP BY")
            _no_aggregates(g, "GROUP BY")
            if isinstance(g, exp.Column) and not g.table:
                # an input column wins; an output column alias is the fallback (PostgreSQL)
                try:
                    scope.resolve(g.name)
                except errors.UndefinedColumn:
                    for it in items:
                        if isinstance(it, exp.Alias) and it.alias == g.name:
                            return it.this
            return g

        if grouping.uses_sets(group_node):
            key_nodes, plan.grouping_sets = grouping.expand(group_node, group_item)
        elif group_node is not None:
            key_nodes = [group_item(g) for g in group_node.expressions]
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
                try:
                    c = scope.resolve(n.name, n.table or None)
                except (errors.UndefinedColumn, errors.UndefinedTable):
                    if scope.parent is None:
                        raise
                    return None  # an outer reference: the binder makes it one
                for i, k in enumerate(keys):
                    if isinstance(k, E.ColRef) and k.index == c.index:
                        return E.ColRef(i, k.type, c.name)
                if self._pk_grouped(c, keys, scope):
                    # functionally dependent on the grouped primary key: any row's value will do
                    aggs.append(AggCall("first", _first_value, [E.ColRef(c.index, c.type, c.name)], c.type))
                    return E.ColRef(nkeys + len(aggs) - 1, c.type, c.name)
                raise errors.GroupingError(
                    f'column "{c.table}.{c.name}" must appear in the GROUP BY clause or be used in an aggregate function'
                )
            agg = _aggregate_node(n)
            if agg is not None:
                prev, self.b.aggregate_hook = self.b.aggregate_hook, None
                try:
                    call = self._bind_aggregate(agg, n, scope)
                finally:
                    self.b.aggregate_hook = prev
                aggs.append(call)
                return E.ColRef(nkeys + len(aggs) - 1, call.type, call.name)
            return None

        st = self._stages
        st.grouping_keys, st.grouping_sets = key_nodes, plan.grouping_sets
        self.b.aggregate_hook = st.wrap(hook)
        if node.args.get("having") is not None:
            stages.forbid(node.args["having"].this, "HAVING", grouping_ok=True)
            plan.having = self.b.bind_bool(node.args["having"].this, post, "HAVING")
        plan.aggs = aggs
        return post

    def _pk_grouped(self, c: ScopeColumn, keys: list[E.Expr], scope: Scope) -> bool:
        """Whether every primary-key column of c's table is a GROUP BY key."""
        table = self.tables.get(c.table_oid) if c.table_oid else None
        pk = table.primary_key() if table is not None else None
        if pk is None:
            return False
        grouped = {k.index for k in keys if isinstance(k, E.ColRef)}
        for cid in pk.columns:
            attnum = table.column_by_id(cid).attnum
            pos = next((s.index for s in scope.columns
                        if s.table_oid == c.table_oid and s.table == c.table and s.attnum == attnum), None)
            if pos is None or pos not in grouped:
                return False
        return True

    def _bind_aggregate(self, agg: exp.Expression, outer: exp.Expression, scope: Scope) -> AggCall:
        filt = None
        if isinstance(outer, exp.Filter):
            filt = self.b.bind_bool(outer.expression.this, scope, "FILTER")
        distinct = False
        order: list = []
        if isinstance(agg, exp.WithinGroup):
            return bind_within_group(self, agg, filt, scope)
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
        for a in argnodes:
            if _has_aggregate(a):
                raise errors.GroupingError("aggregate function calls cannot be nested")
        args = [self.b.bind(a, scope) for a in argnodes]
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


def _first_value(args: list[pa.Array], gids: np.ndarray, ngroups: int, distinct: bool) -> pa.Array:
    """The first row's value in each group (for columns functionally dependent on the keys)."""
    _, first = np.unique(gids, return_index=True)
    out = args[0].take(pa.array(first, type=pa.int64()))
    if len(first) < ngroups:  # groups without rows (no GROUP BY over no rows): NULL
        out = pa.concat_arrays([out, pa.nulls(ngroups - len(first), out.type)])
    return out


_UNSET = object()


def _split_and(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _split_and(node.this) + _split_and(node.expression)
    return [node]


def _references(cond: exp.Expression, items: list) -> set[int] | None:
    """Which FROM items a condition reads (None: something else — a subquery, an outer or
    unknown column — so it stays in WHERE)."""
    if any(isinstance(x, (exp.Subquery, exp.Select, exp.Exists)) for x in cond.walk()):
        return None
    out: set[int] = set()
    for col in cond.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            return None
        hits = [k for k, it in enumerate(items)
                if any(c.name == col.name and (not col.table or c.table == col.table) and not c.qualified_only
                       for c in it.scope)]
        if len(hits) != 1:
            return None
        out.add(hits[0])
    return out or None


def _rename(names: list[str], aliases: list[str] | None, alias: str) -> list[str]:
    if aliases is None:
        return names
    if len(aliases) > len(names):
        raise errors.InvalidColumnReference(
            f'table "{alias}" has {len(names)} columns available but {len(aliases)} columns specified'
        )
    return aliases + names[len(aliases):]


def _unique_visible(cols: list[ScopeColumn], name: str, side: str) -> ScopeColumn:
    hits = [c for c in cols if c.name == name and not c.qualified_only]
    if not hits:
        raise errors.UndefinedColumn(f'column "{name}" specified in USING clause does not exist in {side} table')
    if len(hits) > 1:
        raise errors.AmbiguousColumn(f'common column name "{name}" appears more than once in {side} table')
    return hits[0]


def _split_join_condition(join: Join, conds: list[E.Expr], nl: int, b: Binder) -> None:
    """Equality conjuncts between the two sides become hash-join keys; the rest is residual."""
    conj: list[E.Expr] = []
    for c in conds:
        conj.extend(_conjuncts(c))
    residual = []
    for c in conj:
        if isinstance(c, E.Call) and c.name == "=" and len(c.args) == 2:
            a, bb = c.args
            ra, rb = E.referenced_columns([a]), E.referenced_columns([bb])
            if ra and rb and not _has_outer(c):
                if max(ra) < nl <= min(rb):
                    join.left_keys.append(a)
                    join.right_keys.append(_shift(bb, -nl))
                    continue
                if max(rb) < nl <= min(ra):
                    join.left_keys.append(bb)
                    join.right_keys.append(_shift(a, -nl))
                    continue
        residual.append(c)
    if residual:
        join.residual = residual[0] if len(residual) == 1 else E.BoolOp("and", residual)


def _conjuncts(e: E.Expr) -> list[E.Expr]:
    if isinstance(e, E.BoolOp) and e.op == "and":
        out = []
        for a in e.args:
            out.extend(_conjuncts(a))
        return out
    return [e]


def _has_outer(e: E.Expr) -> bool:
    return any(type(x).__name__ == "OuterRef" for x in E.walk(e))


def _shift(e: E.Expr, delta: int) -> E.Expr:
    """A copy of e with every column reference moved by delta (right-side keys -> right input)."""
    import copy

    out = copy.copy(e)
    if isinstance(out, E.ColRef):
        out.index += delta
        return out
    for name in ("args", "arg", "whens", "default"):
        v = getattr(out, name, None)
        if isinstance(v, E.Expr):
            setattr(out, name, _shift(v, delta))
        elif isinstance(v, list):
            setattr(out, name, [_shift(x, delta) if isinstance(x, E.Expr) else tuple(_shift(y, delta) for y in x) for x in v])
    return out


def _read_all_columns(node: RelNode) -> None:
    """Under a join every input column may be read: scans fetch them all (projection pushdown
    through joins comes with the cost-based planner)."""
    if isinstance(node, TableScan):
        node.needed = set(range(len(node.table.columns)))
    elif isinstance(node, Join):
        _read_all_columns(node.left)
        _read_all_columns(node.right)
    elif isinstance(getattr(node, "left", None), RelNode):  # function and LATERAL joins
        _read_all_columns(node.left)


def _result_column(item: exp.Expression, e: E.Expr) -> ResultColumn:
    name = output_name(item)
    if isinstance(e, E.ColRef) and e.table_oid:
        return ResultColumn(name, e.type, e.table_oid, e.attnum)
    return ResultColumn(name, e.type)


def _aggregate_node(n: exp.Expression) -> exp.Expression | None:
    inner = n.this if isinstance(n, exp.Filter) else n
    if isinstance(inner, exp.WithinGroup) and ordered_set_name(inner) is not None:
        return inner  # percentile_cont(0.5) WITHIN GROUP (ORDER BY x): plan/ordered_set.py
    if isinstance(inner, exp.AggFunc) or (isinstance(inner, exp.Func) and is_aggregate(function_signature(inner)[0])):
        return inner
    return None


def _walk_same_level(n: exp.Expression):
    """Nodes of an expression, not descending into subqueries (their aggregates are theirs)
    nor into window calls (an aggregate OVER (...) is a window function)."""
    return stages.walk_same_level(n)


def _has_aggregate(n: exp.Expression) -> bool:
    return any(_aggregate_node(x) is not None for x in _walk_same_level(n))


def _no_aggregates(n: exp.Expression, clause: str) -> None:
    if _has_aggregate(n):
        raise errors.GroupingError(f"aggregate functions are not allowed in {clause}")
