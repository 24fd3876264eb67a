"""Range search: ``WHERE emb <-> $1 < r`` finds the rows within a radius through the index.

A single-table scan whose WHERE has a conjunct ``distance(col, const) < r`` (or ``<=``, or a
similarity threshold ``1 - (emb <=> $1) > s``, ``(emb <#> $1) * -1 > s``) becomes a
:class:`RangeScan`. Per segment: the other conjuncts give a mask; the segment's index (when
there is one; it goes exact by itself when the mask is selective) or the exact kernel finds
the candidate rows within a slightly widened radius; then the whole original WHERE runs on
just those candidates. So the answer is by construction the plain filter's answer (same
operator, same rounding at the boundary), less only what an approximate index misses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec import filter_cache
from sqlvec.exec.knn import METRICS, TRACE_KEY, SegmentTrace, index_for, is_sealed
from sqlvec.exec.nodes import TableScan
from sqlvec.exec.relation import ExecContext, Rel, filter_mask, view_columns
from sqlvec.index.base import exact_range
from sqlvec.plan import expr as E

FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
WIDEN = 1e-6  # relative slack of the candidate radius; the exact predicate decides the edge


@dataclass
class RangeSpec:
    column: int  # position in table.columns
    metric: str
    query: E.Expr  # Const or ParamRef: the query vector
    bound: E.Expr  # Const or ParamRef: the number the SQL compares with
    radius_of: Callable[[float], float]  # bound -> distance radius (similarity thresholds)
    inclusive: bool
    conjunct: E.Expr  # the matched predicate, for EXPLAIN
    residual: E.Expr | None  # the other conjuncts (evaluated first, to mask the search)


def _is_param(e: E.Expr) -> bool:
    return isinstance(e, (E.Const, E.ParamRef))


def _const_value(e: E.Expr) -> float | None:
    return float(e.value.as_py()) if isinstance(e, E.Const) and e.value.is_valid else None


def _unwrap(e: E.Expr, op: str, fn: Callable[[float], float]):
    """Peel ``1 - x`` and ``x * -1`` / ``-x`` off the distance side, turning the comparison."""
    if not isinstance(e, E.Call):
        return None
    if e.name in METRICS and len(e.args) == 2:
        return e, op, fn
    if e.name == "-" and len(e.args) == 2 and _const_value(e.args[0]) is not None:
        c = _const_value(e.args[0])  # c - x OP b  <=>  x FLIP(OP) c - b
        return _unwrap(e.args[1], FLIP[op], lambda b, f=fn, c=c: c - f(b))
    if e.name == "-" and len(e.args) == 1:
        return _unwrap(e.args[0], FLIP[op], lambda b, f=fn: -f(b))
    if e.name == "*" and len(e.args) == 2:
        for x, c in ((e.args[0], e.args[1]), (e.args[1], e.args[0])):
            if _const_value(c) == -1.0:
                return _unwrap(x, FLIP[op], lambda b, f=fn: -f(b))
    return None


def match_conjunct(c: E.Expr, table) -> tuple | None:
    """(column, metric, query, bound, radius_of, inclusive) if ``c`` is a range predicate."""
    if not isinstance(c, E.Call) or c.name not in FLIP or len(c.args) != 2:
        return None
    lhs, rhs, op = c.args[0], c.args[1], c.name
    if _is_param(lhs) and not _is_param(rhs):
        lhs, rhs, op = rhs, lhs, FLIP[op]
    if not _is_param(rhs):
        return None
    got = _unwrap(lhs, op, lambda b: b)
    if got is None:
        return None
    dist, op, fn = got
    if op not in ("<", "<="):
        return None  # "farther than r" is no range search
    a, b = dist.args
    if isinstance(b, E.ColRef) and not isinstance(a, E.ColRef):
        a, b = b, a
    if not isinstance(a, E.ColRef) or not _is_param(b):
        return None
    col = table.columns[a.index]
    if col.type.name not in ("vector", "halfvec") or col.type.typmod <= 0:
        return None
    return a.index, METRICS[dist.name], b, rhs, fn, op == "<="


def rewrite(source: TableScan, plan) -> TableScan:
    """``source`` as a RangeScan when its filter has a range conjunct (the top-k path then
    yields: the range rows are few and sorted afterwards), else ``source`` unchanged."""
    if source.filter is None or "partition_by" in source.table.options:
        return source  # a partitioned parent: its pruned partitions' scans evaluate the range
    conj = _conjuncts(source.filter)
    for i, c in enumerate(conj):
        m = match_conjunct(c, source.table)
        if m is None:
            continue
        rest = conj[:i] + conj[i + 1:]
        residual = None if not rest else rest[0] if len(rest) == 1 else E.BoolOp("and", rest)
        spec = RangeSpec(*m, conjunct=c, residual=residual)
        plan.knn = None
        return RangeScan(**{f.name: getattr(source, f.name) for f in fields(TableScan)}, spec=spec)
    return source


def _conjuncts(e: E.Expr) -> list[E.Expr]:
    if isinstance(e, E.BoolOp) and e.op == "and":
        return [x for a in e.args for x in _conjuncts(a)]
    return [e]


@dataclass(eq=False)
class RangeScan(TableScan):
    spec: RangeSpec | None = None

    def run(self, ctx: ExecContext) -> Rel:
        table, spec = self.table, self.spec
        col = table.columns[spec.column]
        out_empty = Rel([None if i not in self.needed else pa.array([], type=c.type.arrow_type())
                         for i, c in enumerate(table.columns)], 0)
        ec = ctx.eval_ctx([], 1)
        qv, bv = spec.query.eval(ec), spec.bound.eval(ec)
        if not qv.is_valid or not bv.is_valid:
            return out_empty  # distance to NULL, or a NULL bound: the predicate is never true
        q = np.asarray(qv.as_py(), dtype=np.float32)
        if q.shape[0] != col.type.typmod:
            raise errors.DataException(f"different vector dimensions {col.type.typmod} and {q.shape[0]}")
        r = spec.radius_of(float(bv.as_py()))
        if np.isnan(r):
            return out_empty
        r_wide = r + WIDEN * max(1.0, abs(r)) if np.isfinite(r) else r
        ix, _, _ = index_for(ctx, table, col, spec.metric)
        trace = ctx.stmt.get(TRACE_KEY)
        colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in self.needed}
        chunks: list[list[pa.Array]] = [[] for _ in table.columns]
        total = 0
        for view in ctx.txn.scan(table.oid, colspec):
            ctx.check()
            n = view.num_rows
            if n == 0:
                continue
            cols = view_columns(view, table, self.needed)
            entry = None if spec.residual is None else \
                filter_cache.segment_filter(ctx, table, self.needed, view, spec.residual)
            if entry is not None:  # a sealed segment's cached mask of the other conjuncts
                mask = entry.mask if view.visible is None else entry.mask & view.visible
            else:
                mask = _mask(ctx, cols, n, view.visible, spec.residual)
            vec = view.columns[col.id]
            if vec.null_count:
                valid = np.asarray(vec.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
                mask = valid if mask is None else mask & valid
            if mask is not None and not mask.any():
                if trace is not None:
                    trace.append(SegmentTrace(view.segment_id, n, 0, "skipped: no row passes", 0))
                continue
            vix = view.vector_index(ix.oid) if ix is not None else None
            if vix is not None:
                offs, _, exact = vix.range_search(q, r_wide, allowed=mask, inclusive=True)
                path = f"exact ({vix.kind} index bypassed)" if exact else vix.kind
            else:
                offs, _, _ = exact_range(view.numpy_fixed(col.id), q, r_wide, spec.metric, mask, True)
                path = "exact: " + ("no index" if is_sealed(view) else "growing")
            offs = np.sort(offs)  # scan order, as the plain filter returns rows
            ia = pa.array(offs, type=pa.int64())
            sub = [None if c is None else c.take(ia) for c in cols]
            keep = np.flatnonzero(E.as_mask(self.filter.eval(ctx.eval_ctx(sub, len(offs))), len(offs)))
            if trace is not None:
                passing = n if mask is None else int(np.count_nonzero(mask))
                trace.append(SegmentTrace(view.segment_id, n, passing, path, len(keep)))
            if len(keep) == 0:
                continue
            ka = pa.array(keep, type=pa.int64())
            for i, c in enumerate(sub):
                if c is not None:
                    chunks[i].append(c.take(ka))
            total += len(keep)
        if total == 0:
            return out_empty
        out = [None if i not in self.needed else pa.chunked_array(chunks[i], type=c.type.arrow_type()).combine_chunks()
               for i, c in enumerate(table.columns)]
        return Rel(out, total)


def _mask(ctx: ExecContext, cols, n: int, visible: np.ndarray | None, residual: E.Expr | None):
    """Visibility AND the other conjuncts, as a bool mask over the segment (None: all rows)."""
    if residual is None:
        return None if visible is None else np.asarray(visible, dtype=bool)
    return filter_mask(ctx, cols, n, visible, residual)
