"""Exact k-nearest-neighbour search: per-segment top-k over the columnar vectors, then a merge.

``ORDER BY <vector column> <distance op> <constant or $n> LIMIT k`` over one table, with any
WHERE clause, never sorts the table: each segment's filter is evaluated on its columns first,
then the vector kernel (BLAS over a zero-copy (rows x dim) view) picks that segment's k
nearest rows among those that pass, and a k-way merge picks the global k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec import filter_cache, isolation, kernels, subset_graph
from sqlvec.exec.nodes import Join, RelNode, TableScan
from sqlvec.exec.relation import ExecContext, Rel, filter_mask, view_columns
from sqlvec.index.policy import subset_exact
from sqlvec.plan import expr as E

# operator or function name -> kernel metric
METRICS = {
    "<->": "l2",
    "l2_distance": "l2",
    "<#>": "ip",
    "<=>": "cosine",
    "cosine_distance": "cosine",
    "<+>": "l1",
    "l1_distance": "l1",
}


TRACE_KEY = "vector_trace"  # ctx.stmt key: the VectorTrace EXPLAIN ANALYZE reads


class VectorTrace(list):
    """SegmentTraces of one plan node's vector searches, plus the search's own time and rows."""

    ms: float = 0.0
    rows: int = 0


@dataclass
class KnnSpec:
    column: int  # position in table.columns
    metric: str
    query: E.Expr  # Const or ParamRef
    scan: object = None  # under a join: the vector table's TableScan (leftmost join input)


@dataclass
class SegmentTrace:
    """What one segment did for one vector search (EXPLAIN ANALYZE prints these)."""

    segment: int
    rows: int
    passing: int  # rows passing visibility and the filter
    path: str  # 'hnsw' | 'ivfflat' | 'exact: growing' | ...
    returned: int


def is_sealed(view) -> bool:
    return bool(getattr(getattr(view, "_segment", None), "sealed", False))


def match(plan, source) -> KnnSpec | None:
    """The top-k spec if the plan orders by a distance from an indexed-able column to a constant."""
    if len(plan.sort) != 1 or plan.limit is None:
        return None
    key = plan.sort[0]
    if key.desc:
        return None
    e = plan.outputs[key.index]
    if not isinstance(e, E.Call) or e.name not in METRICS or len(e.args) != 2:
        return None
    a, b = e.args
    if isinstance(b, E.ColRef) and not isinstance(a, E.ColRef):
        a, b = b, a
    if not isinstance(a, E.ColRef) or not isinstance(b, (E.Const, E.ParamRef)):
        return None
    col = source.table.columns[a.index]
    if col.type.name not in ("vector", "halfvec") or col.type.typmod <= 0:
        return None
    return KnnSpec(a.index, METRICS[e.name], b)


def run(
    ctx: ExecContext, table: Table, needed: set[int], where: E.Expr | None, spec: KnnSpec, offset: int, limit: int | None,
    *, output: set[int] | None = None,
) -> Rel | None:
    """The k nearest rows in order, or None when the general sort path must answer.
    ``output``: the columns the caller reads from the rows (default ``needed``; the filter's
    and the distance's columns are read in place, not copied out)."""
    if "partition_by" in table.options:  # per-partition top-k, merged
        from sqlvec.exec import partitions

        return partitions.knn_run(ctx, table, needed, where, spec, offset, limit)
    col = table.columns[spec.column]
    k = offset + (limit if limit is not None else 0)
    colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in needed}
    qv = spec.query.eval(ctx.eval_ctx([], 1))
    if not qv.is_valid:
        return None  # distance to NULL is NULL for every row: the general sort returns k of them
    q = _query_vector(qv)
    dim = col.type.typmod
    if q.shape[0] != dim:
        raise errors.DataException(f"different vector dimensions {dim} and {q.shape[0]}")
    views, cand_idx, cand_d, cand_seg = [], [], [], []
    null_rows = 0
    ix, ef, probes = index_for(ctx, table, col, spec.metric)
    index_oid = ix.oid if ix is not None else None
    trace = ctx.stmt.get(TRACE_KEY)  # EXPLAIN ANALYZE collects what each segment did
    scope = isolation.tenant_scope(ctx, table, where) if index_oid is not None else None
    def keep(view, idx, dist, passing, path: str) -> None:
        """A segment's candidates (and, for EXPLAIN ANALYZE, what it did: ``passing()``)."""
        if trace is not None:
            trace.append(SegmentTrace(view.segment_id, view.num_rows, passing(), path, len(idx)))
        if len(idx):
            cand_seg.append(np.full(len(idx), len(views), np.int64))
            views.append(view)
            cand_idx.append(idx)
            cand_d.append(dist)

    if k > 0:
        for view in ctx.txn.scan(table.oid, colspec):
            ctx.check()
            n = view.num_rows
            if n == 0:
                continue
            got = None if scope is None else isolation.knn_segment(
                ctx, table, needed, view, view.vector_index(index_oid), scope, col.id, q, k, ef)
            if got is not None:  # tenant isolation: the key value's rows, from its sub-index
                idx, dist, path, passing, nulls = got
                null_rows += nulls
                keep(view, idx, dist, lambda p=passing: p, path)
                continue
            mask = view.visible
            entry = None  # the sealed segment's cached WHERE mask (filter_cache)
            if where is not None:
                entry = filter_cache.segment_filter(ctx, table, needed, view, where)
                if entry is None:
                    mask = _filter_mask(ctx, table, needed, view, where, mask)
                else:
                    mask = entry.mask if mask is None else entry.mask & mask
                if mask is not None and not mask.any():
                    if trace is not None:
                        trace.append(SegmentTrace(view.segment_id, n, 0, "skipped: no row passes", 0))
                    continue
            mask, nulls = _drop_null_vectors(view.columns[col.id], mask)
            null_rows += nulls
            vix = view.vector_index(index_oid) if index_oid is not None else None
            # a tenant sub-index (sqlvec.index.isolated) holds just the passing rows: its walk
            # is unfiltered, as over a segment of ``entry.count`` rows
            graph_rows = entry.count if entry is not None and getattr(vix, "isolated", False) else n
            if entry is not None and subset_exact(entry.count, graph_rows, k, ef or 40, vix is not None):
                # few rows pass: one BLAS pass over just them, gathered once per filter (or,
                # for a filter asked often, a walk of a graph over just them)
                idx, dist, path = _subset_topk(entry, col.id, view.numpy_fixed(col.id), q, k, spec.metric, mask, ef or 40)
            elif vix is not None:
                # the segment's graph/lists, with the filter (and visibility) applied inside
                idx, dist, exact = vix.search(q, k, allowed=mask, ef=ef, probes=probes)
                path = f"exact ({vix.kind} index bypassed)" if exact else vix.kind
                if hasattr(vix, "describe"):  # tenant sub-indexes (sqlvec.index.isolated)
                    path = vix.describe(exact)
            else:
                path = "exact: " + ("no index" if is_sealed(view) else "growing")
                mat = view.numpy_fixed(col.id)  # only the exact paths read the matrix here
                norms = None
                if spec.metric in ("l2", "cosine"):
                    norms = view.derived("sqnorms:" + col.id, lambda m=mat: kernels.row_sqnorms(m))
                idx, dist = kernels.topk(mat, q, k, spec.metric, mask=mask, sqnorms=norms)
            keep(view, idx, dist, lambda m=mask, n=n: n if m is None else int(np.count_nonzero(m)), path)
    if null_rows and sum(len(i) for i in cand_idx) < k:
        return None  # rows with NULL vectors belong in the answer (sorted last): the caller sorts
    if not views:
        return Rel([None if i not in needed else pa.array([], type=c.type.arrow_type()) for i, c in enumerate(table.columns)], 0)
    d = np.concatenate(cand_d)
    seg = np.concatenate(cand_seg)
    idx = np.concatenate(cand_idx)
    # ties broken by segment order, then row order: deterministic, like a stable sort of the scan
    order = np.lexsort((idx, seg, d))[offset:k]
    seg, idx = seg[order], idx[order]
    if len(views) == 1:  # one segment (the common case): take the rows in order, no merge
        out = needed if output is None else output
        rows = [None if i not in out else take_rows(views[0].columns[c.id], idx)
                for i, c in enumerate(table.columns)]
        return Rel(rows, len(order))
    out_cols = [None if i not in needed else gather(views, seg, idx, c.id, c.type.arrow_type())
                for i, c in enumerate(table.columns)]
    return Rel(out_cols, len(order))


def gather(views: list, seg: np.ndarray, idx: np.ndarray, column_id: str, arrow_type) -> pa.Array:
    """One column of merged top-k rows: row ``j`` is row ``idx[j]`` of ``views[seg[j]]``."""
    parts, pos = [], []
    for s, view in enumerate(views):
        sel = np.flatnonzero(seg == s)
        if len(sel):
            parts.append(take_rows(view.columns[column_id], idx[sel]))
            pos.append(sel)
    arr = pa.chunked_array(parts, type=arrow_type).combine_chunks()
    inv = np.empty(len(idx), np.int64)
    inv[np.concatenate(pos)] = np.arange(len(idx))
    return arr.take(pa.array(inv))


def take_rows(col: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``rows`` of a segment column as one Array. A growing segment's columns are chunked:
    take from each chunk, since Arrow's take on a chunked vector column first concatenates
    every chunk (a copy of the whole segment per query), and pa.chunked_array of the
    ChunkedArray it returns is slower still."""
    if isinstance(col, pa.Array):
        t = col.type
        if col.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t)):
            # numbers: a numpy gather (~2.5 us) instead of Arrow's take kernel (~7 us)
            return pa.array(col.to_numpy(zero_copy_only=True)[rows], type=t)
        return col.take(pa.array(rows, type=pa.int64()))
    if col.num_chunks == 1:
        return col.chunk(0).take(pa.array(rows, type=pa.int64()))
    starts = np.cumsum([0] + [len(ch) for ch in col.chunks])
    which = np.searchsorted(starts, rows, side="right") - 1
    if len(rows) <= 64:  # a top-k: one-row slices are far cheaper than a take per chunk
        offs = (rows - starts[which]).tolist()
        return pa.concat_arrays([col.chunk(c).slice(o, 1) for c, o in zip(which.tolist(), offs)])
    order = np.argsort(which, kind="stable")  # rows grouped by chunk
    cuts = np.flatnonzero(np.diff(which[order])) + 1
    pieces = []
    for grp in np.split(order, cuts):
        ci = int(which[grp[0]])
        pieces.append(col.chunk(ci).take(pa.array(rows[grp] - starts[ci], type=pa.int64())))
    arr = pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)
    if len(pieces) > 1:
        arr = arr.take(pa.array(np.argsort(order), type=pa.int64()))  # back to ``rows`` order
    return arr


def index_for(ctx: ExecContext, table: Table, col, metric: str):
    """(catalog Index, ef_search, probes) of the vector index serving this search, or Nones."""
    from sqlvec.exec.indexes import vector_index_for

    session = ctx.stmt.get("session")
    if session is None:
        return None, None, None
    db = session.catalog().database(session.database)
    ix = vector_index_for(db, table.oid, col.id, metric)
    if ix is None:
        return None, None, None
    s = session.settings
    return ix, int(s.get("hnsw.ef_search")), int(s.get("ivfflat.probes"))


def _query_vector(qv: pa.Scalar) -> np.ndarray:
    """The query vector as float32 numpy: straight from a list scalar's values buffer (a
    Python list of floats per query costs ~20 us at 128 dimensions)."""
    values = getattr(qv, "values", None)
    if isinstance(values, pa.Array) and values.null_count == 0 and \
            pa.types.is_floating(values.type):
        return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return np.asarray(qv.as_py(), dtype=np.float32)


def _subset_topk(entry, column_id: str, mat: np.ndarray, q: np.ndarray, k: int, metric: str,
                 mask: np.ndarray | None, ef: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Top-k over the rows a cached filter keeps: exact, or by the filter's own graph once
    one is built (sqlvec.exec.subset_graph); ``mask`` (the filter AND visibility AND non-NULL
    vectors) drops the kept rows this reader may not use. Returns (offsets, distances, path)."""
    sub, norms = entry.subset(column_id, mat, metric)
    g = subset_graph.get(entry, column_id, sub, metric)
    if g is not None:
        got = subset_graph.search(g, entry, mat, q, k, ef, metric, mask)
        if got is not None:
            return got[0], got[1], "hnsw: filtered subset graph"
    sel = None
    if mask is not None and mask is not entry.mask:
        sel = mask[entry.idx]
        if sel.all():
            sel = None
    o, d = kernels.topk(sub, q, k, metric, mask=sel, sqnorms=norms)
    return entry.idx[o], d, "exact: filtered subset"


def _filter_mask(ctx, table, needed, view, where, mask):
    return filter_mask(ctx, view_columns(view, table, needed), view.num_rows, mask, where)


def _drop_null_vectors(arr, mask) -> tuple[np.ndarray | None, int]:
    """Exclude NULL vectors (their distance is NULL and sorts after every real one); also say
    how many passing rows had one, so the caller knows when they belong in the answer."""
    if arr.null_count == 0:
        return mask, 0
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    nulls = int((~valid).sum() if mask is None else (mask & ~valid).sum())
    return (valid if mask is None else (mask & valid)), nulls


# ---------------------------------------------------------------- entry point, joins


def run_source(ctx: ExecContext, plan, offset: int, limit: int | None) -> tuple[Rel, bool] | None:
    """The SELECT's input rows through the top-k path: (rows, already sorted and limited), or
    None when the general scan + sort must answer (NULL vectors among the k, say)."""
    spec: KnnSpec = plan.knn
    t0 = time.perf_counter()
    if spec.scan is None:
        src = plan.source
        rel = run(ctx, src.table, src.needed, src.filter, spec, offset, limit, output=_output_columns(plan, src))
        res = None if rel is None else (rel, True)
    else:
        res = _run_join(ctx, plan, spec, offset + (limit or 0))
    trace = ctx.stmt.get(TRACE_KEY)
    if trace is not None:
        trace.ms += (time.perf_counter() - t0) * 1000
        trace.rows += res[0].n if res is not None else 0
    return res


def _output_columns(plan, src) -> set[int] | None:
    """Columns a presorted top-k's rows are read for: the visible outputs only (the hidden
    sort key, the distance, is not evaluated again; the WHERE ran already). None (all
    ``needed``) when anything else reads the rows: grouping, windows, set-returning
    functions, DISTINCT."""
    if plan.group_keys is not None or plan.windows or plan.srfs or plan.distinct or \
            plan.distinct_on is not None:
        return None
    cols = E.referenced_columns(list(plan.outputs[: len(plan.columns)]))
    return cols & set(src.needed)


def match_join(plan, source) -> KnnSpec | None:
    """Top-k through joins: ORDER BY a distance over the leftmost table of a chain of inner and
    left joins. Every output row comes from exactly one row of that table and carries its
    distance, so the first k output rows come from that table's nearest rows: the top-k runs
    there first, then the join; an inner join or WHERE that drops rows is met by widening
    (see _run_join), never by a wrong answer."""
    node = source
    while isinstance(node, Join):
        if node.kind not in ("inner", "left"):
            return None
        node = node.left
    if not isinstance(node, TableScan):
        return None
    spec = match(plan, node)
    if spec is None or spec.column >= len(node.table.columns):
        return None
    spec.scan = node
    return spec


@dataclass(eq=False)
class _Fixed(RelNode):
    """Rows computed already (the vector table's top-k), standing in for its scan."""

    rel: Rel
    scope: list

    def run(self, ctx: ExecContext) -> Rel:
        return self.rel


def _with_leftmost(node, leaf: RelNode):
    if isinstance(node, Join):
        return replace(node, left=_with_leftmost(node.left, leaf))
    return leaf


def _run_join(ctx: ExecContext, plan, spec: KnnSpec, k: int) -> tuple[Rel, bool] | None:
    """Top-``kk`` of the vector table, joined and filtered; if fewer than ``k`` rows survive
    while the table has more, widen ``kk`` 4x. Rows past the top-``kk`` are no nearer than
    any row inside it, so once ``k`` joined rows exist, the sort picks the right ones."""
    scan = spec.scan
    width = len(scan.table.columns)
    pushed = _left_conjuncts(plan.where, width)
    where = pushed[0] if len(pushed) == 1 else (E.BoolOp("and", pushed) if pushed else None)
    if scan.filter is not None:
        where = scan.filter if where is None else E.BoolOp("and", [scan.filter, where])
    kk = max(k, 1)
    while True:
        ctx.check()
        left = run(ctx, scan.table, scan.needed, where, spec, 0, kk)
        if left is None:
            return None
        rel = _with_leftmost(plan.source, _Fixed(left, scan.scope)).run(ctx)
        if plan.where is not None and rel.n:
            m = E.as_mask(plan.where.eval(ctx.eval_ctx(rel.columns, rel.n)), rel.n)
            if not m.all():
                rel = rel.take(np.flatnonzero(m))
        if rel.n >= k or left.n < kk:
            trace = ctx.stmt.get(TRACE_KEY)
            if trace is not None:
                trace.append(SegmentTrace(-1, left.n, left.n, f"join input top-{kk}", rel.n))
            return rel, False  # the caller sorts the joined rows and applies OFFSET/LIMIT
        kk *= 4


def _left_conjuncts(where: E.Expr | None, width: int) -> list[E.Expr]:
    """Conjuncts of WHERE over the vector table's columns alone (pushed into its top-k; the
    whole WHERE still runs after the join). Volatile ones stay out: they must run once."""
    if where is None:
        return []
    todo, out = [where], []
    while todo:
        e = todo.pop()
        if isinstance(e, E.BoolOp) and e.op == "and":
            todo.extend(e.args)
            continue
        cols = E.referenced_columns([e])
        nodes = list(E.walk(e))
        if cols and max(cols) < width and not any(getattr(x, "volatile", False) for x in nodes) \
                and not any(type(x).__name__ in ("OuterRef", "SubqueryExpr") for x in nodes):
            out.append(e)
    return out
