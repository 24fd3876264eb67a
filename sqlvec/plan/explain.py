"""EXPLAIN [ANALYZE]: the plan as PostgreSQL-style text (or JSON), one ``QUERY PLAN`` column.

The plan objects are the executor's own (SelectPlan, RelNodes, set operations, DML plans);
this module reads them, and for vector searches asks each segment what it would do: the
rows passing the filter, whether the index or the exact kernel answers and why, ef/probes.
ANALYZE runs a freshly planned copy (never the session's cached plan) whose ``run`` methods
are wrapped per instance to count rows, loops and time; vector nodes also report the path
each segment actually took (:class:`sqlvec.exec.knn.VectorTrace`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec import knn, partitions
from sqlvec.exec.nodes import Join, MaterializedScan, SubqueryScan, TableScan
from sqlvec.exec.range import RangeScan
from sqlvec.exec.relation import ExecContext, limit_value
from sqlvec.index.policy import overfetch, plan_search
from sqlvec.plan import expr as E
from sqlvec.result import Result, ResultColumn
from sqlvec.types import registry as T


@dataclass
class Stat:
    """What ANALYZE measured for one plan object."""

    ms: float = 0.0
    rows: int = 0
    loops: int = 0
    trace: knn.VectorTrace = field(default_factory=knn.VectorTrace)


@dataclass
class Node:
    title: str
    rows: int | None = None  # the estimate
    details: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    stat: Stat | None = None
    actual_rows: int | None = None  # when the node's own Stat is another object's (Limit)


# ------------------------------------------------------------------------------ the handler


def run_explain(session, st, values, many: bool, types=None) -> Result:
    """EXPLAIN of a SELECT, VALUES, set operation or INSERT/UPDATE/DELETE."""
    from sqlvec.statements import PLANNABLE, _context

    node = st.ast
    inner = node.statement
    spec = PLANNABLE.get(type(inner))
    if spec is None:
        raise errors.FeatureNotSupported("EXPLAIN supports SELECT, VALUES, INSERT, UPDATE and DELETE")
    fmt = str(node.options.get("format", "text")).lower()
    if fmt not in ("text", "json"):
        raise errors.FeatureNotSupported(f'EXPLAIN format "{fmt}" is not supported')
    analyze = bool(node.analyze or _truthy(node.options.get("analyze")))
    ptypes = types if types is not None else session.param_types_for(values, many)
    binder = session.new_binder(ptypes)
    plan = spec[1](session, binder, inner)  # fresh: instrumenting must not touch cached plans
    final = [t if t.defn is not T.UNKNOWN.defn else T.TEXT for t in binder.params]
    params = session.bind_param_values(final, values, many)
    ctx = _context(session, params)
    stats: dict[int, Stat] = {}
    total_ms = None
    if analyze:
        if spec[0] != "select":
            session.check_writable(spec[0].upper())
        _instrument(plan, stats)
        t0 = time.perf_counter()
        plan.run(ctx) if spec[0] != "insert" else plan.run(ctx, 0)
        total_ms = (time.perf_counter() - t0) * 1000
    tree = describe(plan, ctx, stats, session)
    if fmt == "json":
        doc = [{"Plan": _json(tree, analyze)} | ({"Execution Time": round(total_ms, 3)} if analyze else {})]
        lines = [json.dumps(doc, indent=2)]
    else:
        lines = _text(tree, analyze)
        if analyze:
            lines.append(f"Execution Time: {total_ms:.3f} ms")
    col = ResultColumn("QUERY PLAN", T.JSON if fmt == "json" else T.TEXT)
    table = pa.table([pa.array(lines, pa.string())], names=["c0"])
    return Result("EXPLAIN", [col], table, len(lines))


def result_columns(node) -> list[ResultColumn]:
    """The Describe answer for an EXPLAIN statement (the wire's extended protocol)."""
    fmt = str(node.options.get("format", "text")).lower()
    return [ResultColumn("QUERY PLAN", T.JSON if fmt == "json" else T.TEXT)]


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() in ("true", "on", "1", "yes")


# --------------------------------------------------------------------------- instrumenting


def _kids(obj) -> list:
    """Plan objects an object runs (for instrumentation)."""
    names = ("source", "left", "right", "plan", "seed", "step", "select")
    return [getattr(obj, n) for n in names if hasattr(getattr(obj, n, None), "run")]


def _instrument(obj, stats: dict[int, Stat]) -> None:
    if id(obj) in stats:
        return
    stat = stats[id(obj)] = Stat()
    orig = obj.run

    def run(ctx: ExecContext, *args, _orig=orig, _stat=stat):
        prev = ctx.stmt.get(knn.TRACE_KEY)
        ctx.stmt[knn.TRACE_KEY] = _stat.trace  # vector searches under this node report here
        t0 = time.perf_counter()
        try:
            out = _orig(ctx, *args)
        finally:
            _stat.ms += (time.perf_counter() - t0) * 1000
            _stat.loops += 1
            ctx.stmt[knn.TRACE_KEY] = prev
        _stat.rows += _row_count(out)
        return out

    obj.run = run  # an instance attribute: this plan copy only
    for k in _kids(obj):
        _instrument(k, stats)


def _row_count(out) -> int:
    for attr in ("n", "num_rows", "count"):
        v = getattr(out, attr, None)
        if isinstance(v, int):
            return v
    return 0


# ----------------------------------------------------------------------------- describing


def describe(plan, ctx: ExecContext, stats: dict[int, Stat], session) -> Node:
    """The plan tree as Nodes (estimates computed against the current snapshot)."""
    return _Describer(ctx, stats, session).plan(plan)


class _Describer:
    def __init__(self, ctx: ExecContext, stats: dict[int, Stat], session) -> None:
        self.ctx, self.stats, self.session = ctx, stats, session

    def plan(self, p) -> Node:
        fn = getattr(self, "_" + type(p).__name__, None)
        node = fn(p) if fn is not None else Node(type(p).__name__)
        if node.stat is None:
            node.stat = self.stats.get(id(p))
        return node

    # -- query blocks ---------------------------------------------------------------------
    def _SelectPlan(self, p) -> Node:
        stat = self.stats.get(id(p))
        single_knn = p.knn is not None and p.knn.scan is None
        search = getattr(p, "fts", None)  # BM25 / sparse top-k (sqlvec/exec/fulltext.py)
        if search is not None:
            title, details = search.explain(p.source, self.ctx)  # ctx: partition pruning
            src = Node(title, self._limit_estimate(p), details)
            single_knn = True  # already sorted and limited
        else:
            src = self._vector_topk(p, p.source, p.knn) if single_knn else self.rel(p.source, p)
        if p.where is not None and p.source is not None:
            src.details.append(f"Filter: {expr_sql(p.where)}")
        top = src
        if p.group_keys is not None:
            keys = [expr_sql(k) for k in p.group_keys]
            top = Node("HashAggregate" if keys else "Aggregate", None,
                       [f"Group Key: {', '.join(keys)}"] if keys else [], [top])
            if p.having is not None:
                top.details.append(f"Filter: {expr_sql(p.having)}")
        if p.windows:
            top = Node("WindowAgg", None, [], [top])
        if p.srfs:
            top = Node("ProjectSet", None, [], [top])
        if p.distinct or p.distinct_on is not None:
            top = Node("Unique", None, [], [top])
        if p.sort and not single_knn:
            keys = [expr_sql(p.outputs[k.index]) + (" DESC" if k.desc else "") for k in p.sort]
            top = Node("Sort", None, [f"Sort Key: {', '.join(keys)}"], [top])
        if p.limit is not None or p.offset is not None:
            top = Node("Limit", self._limit_estimate(p), [], [top])
        if top is src and stat is not None and src.stat is None:
            src.stat = stat
        elif stat is not None:
            top.stat = stat
        return top

    def _limit_estimate(self, p) -> int | None:
        try:
            lim = limit_value(p._const(self.ctx, p.limit), "LIMIT")
        except Exception:  # a parameter not bound yet: no estimate
            return None
        return lim

    def _SetOpPlan(self, p) -> Node:
        title = "Append" if p.op == "union" and p.all else f"HashSetOp {p.op.capitalize()}" + (" All" if p.all else "")
        node = Node(title, None, [], [self.plan(p.left), self.plan(p.right)])
        if p.op == "union" and not p.all:
            node = Node("HashAggregate", None, [], [node])
        return node

    def _RecursivePlan(self, p) -> Node:
        return Node("Recursive Union", None, [], [self.plan(p.seed), self.plan(p.step)])

    def _ValuesPlan(self, p) -> Node:
        return Node("Values Scan on \"*VALUES*\"", len(p.rows))

    def _InsertPlan(self, p) -> Node:
        kids = [self.plan(p.select)] if p.select is not None else [Node("Result", len(p.rows))]
        return Node(f"Insert on {p.table.name}", 0, [], kids)

    def _UpdatePlan(self, p) -> Node:
        return Node(f"Update on {p.table.name}", 0, [], [self._seq_scan(p.table, p.table.name, p.where)])

    def _DeletePlan(self, p) -> Node:
        return Node(f"Delete on {p.table.name}", 0, [], [self._seq_scan(p.table, p.table.name, p.where)])

    # -- FROM items -----------------------------------------------------------------------
    def rel(self, r, owner=None) -> Node:
        if r is None:
            return Node("Result", 1)
        if owner is not None and owner.knn is not None and r is owner.knn.scan:
            node = self._vector_topk(owner, r, owner.knn)
        elif isinstance(r, RangeScan):
            node = self._range(r)
        elif isinstance(r, TableScan):
            node = self._seq_scan(r.table, r.alias, r.filter)
        elif isinstance(r, Join):
            node = self._join(r, owner)
        elif isinstance(r, SubqueryScan):
            title = "CTE Scan" if r.cache_key is not None else "Subquery Scan"
            node = Node(title, None, [], [self.plan(r.plan)])
        elif isinstance(r, MaterializedScan):
            node = Node("Function Scan (catalog relation)")
        else:
            call = getattr(r, "call", None)
            name = getattr(call, "name", type(r).__name__)
            node = Node(f"Function Scan on {name}", None, [],
                        [self.rel(r.left, owner)] if getattr(r, "left", None) is not None else [])
        node.stat = node.stat or self.stats.get(id(r))
        if node.stat is not None and node.stat.loops == 0 and owner is not None \
                and owner.knn is not None and owner.knn.scan is not None:
            node.stat = None  # the top-k path ran a copy of this join over the top-k rows
        return node

    def _join(self, j: Join, owner) -> Node:
        kind = "" if j.kind == "inner" else f" {j.kind.capitalize()}"
        if j.left_keys:
            conds = [f"({expr_sql(a)} = {expr_sql(b)})" for a, b in zip(j.left_keys, j.right_keys)]
            node = Node(f"Hash{kind} Join", None, [f"Hash Cond: {' AND '.join(conds)}"])
        else:
            node = Node(f"Nested Loop{kind} Join" if kind else "Nested Loop")
        if j.residual is not None:
            node.details.append(f"Join Filter: {expr_sql(j.residual)}")
        node.children = [self.rel(j.left, owner), self.rel(j.right, owner)]
        return node

    def _seq_scan(self, table, alias: str, where) -> Node:
        name = table.name if alias in (None, table.name) else f"{table.name} {alias}"
        node = Node(f"Seq Scan on {name}", self._table_rows(table, where))
        if where is not None:
            node.details.append(f"Filter: {expr_sql(where)}")
        node.details.extend(partitions.explain_lines(self.ctx, table, where))
        return node

    def _table_rows(self, table, where=None) -> int:
        if "partition_by" in table.options:  # the partitions the scan reads after pruning
            return sum(self._table_rows(p) for p in partitions.pruned(self.ctx, table, where).parts)
        return sum(v.num_rows for v in self.ctx.txn.scan(table.oid, {}))

    # -- vector searches ------------------------------------------------------------------
    def _index_words(self, table, col, metric: str) -> tuple[str, Any, int, int]:
        ix, ef, probes = knn.index_for(self.ctx, table, col, metric)
        if ix is None:
            return "(no index: exact)", None, 40, 1
        opt = f"ef_search={ef}" if ix.method == "hnsw" else f"probes={probes}"
        return f"using {ix.name} ({ix.method}, {opt})", ix, ef, probes

    def _vector_topk(self, p, scan, spec) -> Node:
        table = scan.table
        col = table.columns[spec.column]
        words, ix, ef, probes = self._index_words(table, col, spec.metric)
        k = self._limit_estimate(p)
        try:
            off = limit_value(p._const(self.ctx, p.offset), "OFFSET") or 0
        except Exception:
            off = 0
        want = None if k is None else k + off
        node = Node(f"Vector Top-K on {table.name} {words}", want)
        op = knn_op(spec.metric)
        node.details.append(f"Order By: ({col.name} {op} {expr_sql(spec.query)})")
        if scan.filter is not None:
            node.details.append(f"Filter: {expr_sql(scan.filter)}")
        node.details.extend(partitions.explain_lines(self.ctx, table, scan.filter, topk=True))
        if spec.scan is not None:
            node.details.append("Through joins: top-k on this table first, widened 4x until the "
                                "join and WHERE leave k rows")
        segs = self._segments(table, scan.needed, scan.filter, ix, want or 10, ef, probes)
        node.details.extend(segs)
        stat = self.stats.get(id(p))
        if stat is not None and stat.trace:
            node.stat = Stat(stat.trace.ms, stat.trace.rows, 1, stat.trace)
            node.details.extend(_trace_lines(stat.trace))
        return node

    def _range(self, r: RangeScan) -> Node:
        s = r.spec
        col = r.table.columns[s.column]
        words, ix, ef, probes = self._index_words(r.table, col, s.metric)
        node = Node(f"Vector Range Scan on {r.table.name} {words}")
        node.details.append(f"Range Cond: {expr_sql(s.conjunct)}")
        if s.residual is not None:
            node.details.append(f"Filter: {expr_sql(s.residual)}")
        node.details.extend(self._segments(r.table, r.needed, s.residual, ix, 64, ef, probes, rng=True))
        stat = self.stats.get(id(r))
        if stat is not None:
            node.details.extend(_trace_lines(stat.trace))
        return node

    def _segments(self, table, needed, where, ix, k: int, ef: int, probes: int, rng: bool = False) -> list[str]:
        """Per segment: rows, rows passing the filter (evaluated now, on the columns), and
        the path the search will take by the same policy the index applies."""
        colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in needed}
        lines, paths = [], {}
        for view in self.ctx.txn.scan(table.oid, colspec):
            n = view.num_rows
            if n == 0:
                continue
            mask = view.visible
            if where is not None:
                mask = knn._filter_mask(self.ctx, table, needed, view, where, mask)
            passing = n if mask is None else int(np.count_nonzero(mask))
            vix = view.vector_index(ix.oid) if ix is not None else None
            if passing == 0:
                path, why = "skipped", "no row passes the filter"
            elif vix is None:
                path = "exact: " + ("no index" if knn.is_sealed(view) else "growing")
                why = "growing segments have no index" if path.endswith("growing") \
                    else "no index built on this segment"
            else:
                path, why = _predict(vix.kind, n, passing, k, ef, probes, rng)
                if hasattr(vix, "predict"):  # tenant sub-indexes (sqlvec.index.isolated)
                    path, why = vix.predict(mask, k, ef)
            paths[path] = paths.get(path, 0) + 1
            lines.append(f"  segment {view.segment_id}: rows={n} passing filter={passing} -> {path} ({why})")
        summary = ", ".join(f"{c} {p}" for p, c in paths.items())
        return [f"Segments: {len(lines)}" + (f" ({summary})" if summary else "")] + lines


def _predict(kind: str, n: int, passing: int, k: int, ef: int, probes: int, rng: bool) -> tuple[str, str]:
    if kind == "hnsw":
        how = plan_search(n, passing, 64 if rng else k, ef=64 if rng else ef)
        if how == "exact":
            return "exact", f"{passing} rows pass: scanning them beats a graph walk"
        if how == "index":
            return "hnsw", ("graph walk, widened until the radius is covered" if rng
                            else f"graph walk, ef={max(ef, k)}")
        fetch = overfetch(n, passing, k, ef)
        return "hnsw filtered", f"walk over-fetching ~{fetch} candidates, filter inside, widened 4x until k pass"
    if kind == "ivfflat":
        return "ivfflat", f"probes={probes}, widened until k rows pass"
    return kind, "exact index"


def knn_op(metric: str) -> str:
    from sqlvec.exec.indexes import METRIC_OPERATORS

    return METRIC_OPERATORS.get(metric, "?")


def _trace_lines(trace: knn.VectorTrace) -> list[str]:
    out = []
    for s in trace:
        where = "join input" if s.segment < 0 else f"segment {s.segment}"
        out.append(f"  actual {where}: passing={s.passing} path={s.path} returned={s.returned}")
    return out


# ------------------------------------------------------------------------------ rendering


def _text(node: Node, analyze: bool) -> list[str]:
    lines: list[str] = []

    def emit(n: Node, col: int, arrow: bool) -> None:
        head = n.title
        if n.rows is not None:
            head += f"  (rows={n.rows})"
        if analyze:
            head += _actual(n)
        lines.append((" " * (col - 4) + "->  " if arrow else "") + head)
        for d in n.details:
            lines.append(" " * (col + 2) + d)
        for c in n.children:
            emit(c, col + 6, True)

    emit(node, 0, False)
    return lines


def _actual(n: Node) -> str:
    if n.stat is None or n.stat.loops == 0:
        return " (never executed)" if n.stat is not None else ""
    return f" (actual time={n.stat.ms:.3f} ms rows={n.stat.rows} loops={n.stat.loops})"


def _json(n: Node, analyze: bool) -> dict:
    d: dict[str, Any] = {"Node Type": n.title}
    if n.rows is not None:
        d["Plan Rows"] = n.rows
    if analyze and n.stat is not None:
        d |= {"Actual Total Time": round(n.stat.ms, 3), "Actual Rows": n.stat.rows,
              "Actual Loops": n.stat.loops}
    if n.details:
        d["Details"] = [x.strip() for x in n.details]
    if n.children:
        d["Plans"] = [_json(c, analyze) for c in n.children]
    return d


# ---------------------------------------------------------------------------- expressions


def expr_sql(e) -> str:
    """An expression as EXPLAIN prints it: column names, $n, literals, (a op b), f(x)."""
    if isinstance(e, E.ColRef):
        return e.name
    if isinstance(e, E.ParamRef):
        return f"${e.index + 1}"
    if isinstance(e, E.Const):
        return _literal(e)
    if isinstance(e, E.Call):
        args = [expr_sql(a) for a in e.args]
        if not e.name[:1].isalpha() and e.name[:1] != "_":
            if len(args) == 2:
                return f"({args[0]} {e.name} {args[1]})"
            if len(args) == 1:
                return f"({e.name} {args[0]})"
        return f"{e.name}({', '.join(args)})"
    if isinstance(e, E.Cast):
        return f"({expr_sql(e.arg)})::{e.type}"
    if isinstance(e, E.BoolOp):
        return "(" + f" {e.op.upper()} ".join(expr_sql(a) for a in e.args) + ")"
    if isinstance(e, E.Not):
        return f"(NOT {expr_sql(e.arg)})"
    if isinstance(e, E.IsNull):
        return f"({expr_sql(e.arg)} IS {'NOT ' if e.negate else ''}NULL)"
    kids = e.children() if hasattr(e, "children") else []
    name = type(e).__name__.lower()
    return f"{name}({', '.join(expr_sql(k) for k in kids)})" if kids else name


def _literal(c) -> str:
    v = c.value.as_py() if c.value.is_valid else None
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and not isinstance(v, str):
        items = list(v)
        body = ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in items[:4])
        more = ",..." if len(items) > 4 else ""
        return f"'[{body}{more}]'::{c.type}"
    return "'" + str(v).replace("'", "''") + "'" + (f"::{c.type}" if str(c.type) != "text" else "")
