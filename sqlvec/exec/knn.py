"""Exact k-nearest-neighbour search: per-segment top-k over the columnar vectors, then a merge.

``ORDER BY <vector column> <distance op> <constant or $n> LIMIT k`` over one table, with any
WHERE clause, never sorts the table: each segment's filter is evaluated on its columns first,
then the vector kernel (BLAS over a zero-copy (rows x dim) view) picks that segment's k
nearest rows among those that pass, and a k-way merge picks the global k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec import kernels
from sqlvec.exec.relation import ExecContext, Rel, view_columns
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


@dataclass
class KnnSpec:
    column: int  # position in table.columns
    metric: str
    query: E.Expr  # Const or ParamRef


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
    ctx: ExecContext, table: Table, needed: set[int], where: E.Expr | None, spec: KnnSpec, offset: int, limit: int | None
) -> Rel | None:
    """The k nearest rows in order, or None when the general sort path must answer."""
    col = table.columns[spec.column]
    k = offset + (limit if limit is not None else 0)
    colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in needed}
    qv = spec.query.eval(ctx.eval_ctx([], 1))
    if not qv.is_valid:
        return Rel([None] * len(table.columns), 0)  # distance to NULL is NULL: sorts last, but k rows of NULL
    q = np.asarray(qv.as_py(), dtype=np.float32)
    dim = col.type.typmod
    if q.shape[0] != dim:
        raise errors.DataException(f"different vector dimensions {dim} and {q.shape[0]}")
    views, cand_idx, cand_d, cand_seg = [], [], [], []
    null_rows = 0
    index_oid, ef, probes = _index_for(ctx, table, col, spec.metric)
    if k > 0:
        for view in ctx.txn.scan(table.oid, colspec):
            ctx.check()
            n = view.num_rows
            if n == 0:
                continue
            mask = view.visible
            if where is not None:
                mask = _filter_mask(ctx, table, needed, view, where, mask)
                if mask is not None and not mask.any():
                    continue
            mat = view.numpy_fixed(col.id)
            mask, nulls = _drop_null_vectors(view.columns[col.id], mask)
            null_rows += nulls
            vix = view.vector_index(index_oid) if index_oid is not None else None
            if vix is not None:
                # the segment's graph/lists, with the filter (and visibility) applied inside
                idx, dist, _exact = vix.search(q, k, allowed=mask, ef=ef, probes=probes)
            else:
                norms = None
                if spec.metric in ("l2", "cosine"):
                    norms = view.derived("sqnorms:" + col.id, lambda m=mat: kernels.row_sqnorms(m))
                idx, dist = kernels.topk(mat, q, k, spec.metric, mask=mask, sqnorms=norms)
            if len(idx):
                cand_seg.append(np.full(len(idx), len(views), np.int64))
                views.append(view)
                cand_idx.append(idx)
                cand_d.append(dist)
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
    out_cols: list[pa.Array | None] = []
    for i, c in enumerate(table.columns):
        if i not in needed:
            out_cols.append(None)
            continue
        parts, pos = [], []
        for s, view in enumerate(views):
            sel = np.flatnonzero(seg == s)
            if len(sel):
                parts.append(view.columns[c.id].take(pa.array(idx[sel], type=pa.int64())))
                pos.append(sel)
        arr = pa.chunked_array(parts, type=c.type.arrow_type()).combine_chunks()
        inv = np.empty(len(order), np.int64)
        inv[np.concatenate(pos)] = np.arange(len(order))
        out_cols.append(arr.take(pa.array(inv)))
    return Rel(out_cols, len(order))


def _index_for(ctx: ExecContext, table: Table, col, metric: str):
    """(index oid, ef_search, probes) of the vector index serving this search, or Nones."""
    from sqlvec.exec.indexes import vector_index_for

    session = ctx.stmt.get("session")
    if session is None:
        return None, None, None
    db = session.catalog().database(session.database)
    ix = vector_index_for(db, table.oid, col.id, metric)
    if ix is None:
        return None, None, None
    s = session.settings
    return ix.oid, int(s.get("hnsw.ef_search")), int(s.get("ivfflat.probes"))


def _filter_mask(ctx, table, needed, view, where, mask):
    n = view.num_rows
    cols = view_columns(view, table, needed)
    if mask is None:
        return E.as_mask(where.eval(ctx.eval_ctx(cols, n)), n)
    keep = np.flatnonzero(mask)
    ia = pa.array(keep, type=pa.int64())
    sub = [None if c is None else c.take(ia) for c in cols]
    m = E.as_mask(where.eval(ctx.eval_ctx(sub, len(keep))), len(keep))
    out = np.zeros(n, dtype=bool)
    out[keep[m]] = True
    return out


def _drop_null_vectors(arr, mask) -> tuple[np.ndarray | None, int]:
    """Exclude NULL vectors (their distance is NULL and sorts after every real one); also say
    how many passing rows had one, so the caller knows when they belong in the answer."""
    if arr.null_count == 0:
        return mask, 0
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    nulls = int((~valid).sum() if mask is None else (mask & ~valid).sum())
    return (valid if mask is None else (mask & valid)), nulls
