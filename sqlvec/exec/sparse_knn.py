"""``ORDER BY <sparsevec column> <#> <constant or $n> LIMIT k``: exact top-k by inner product
through a per-segment inverted index (sqlvec/index/sparse.py), built on first use and cached
on the segment (sealed segments never change; a growing one is re-indexed when it grew).

Each segment's WHERE clause runs first on its columns (as the dense top-k does); the k best of
every segment are merged. Rows with a NULL vector sort last: when fewer than k rows have a
vector the general sort path answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec.functions import vecdata as V
from sqlvec.exec.relation import Rel, view_columns
from sqlvec.index.sparse import SparseInvertedIndex, topk_ip
from sqlvec.plan import expr as E


@dataclass
class SparseTopK:
    column: int
    query: E.Expr

    def run(self, ctx, source, offset: int, limit: int | None) -> Rel | None:
        return run(ctx, source.table, source.needed, source.filter, self, offset, limit)

    def explain(self, source, ctx=None) -> tuple[str, list[str]]:
        from sqlvec.plan.explain import expr_sql

        col = source.table.columns[self.column].name
        details = [f"Order By: ({col} <#> {expr_sql(self.query)})"]
        if source.filter is not None:
            details.append(f"Filter: {expr_sql(source.filter)}")
        return f"Sparse Top-K on {source.table.name} (inverted index, exact)", details


def match(plan, source) -> SparseTopK | None:
    if len(plan.sort) != 1 or plan.limit is None or plan.sort[0].desc:
        return None
    e = plan.outputs[plan.sort[0].index]
    if not isinstance(e, E.Call) or e.name != "<#>" or len(e.args) != 2:
        return None
    a, b = e.args
    if isinstance(b, E.ColRef) and not isinstance(a, E.ColRef):
        a, b = b, a
    if not isinstance(a, E.ColRef) or not isinstance(b, (E.Const, E.ParamRef)):
        return None
    if source.table.columns[a.index].type.name != "sparsevec":
        return None
    return SparseTopK(a.index, b)


def _index(view, col_id: str) -> SparseInvertedIndex:
    def build():
        arr = view.columns[col_id]
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return SparseInvertedIndex.build(*V.sparse_parts(arr, len(arr)))
    return view.derived("sparse_inv:" + col_id, build)


def run(ctx, table, needed: set[int], where, spec: SparseTopK, offset: int, limit: int | None
        ) -> Rel | None:
    from sqlvec.exec.knn import _filter_mask

    col = table.columns[spec.column]
    k = offset + (limit or 0)
    qv = spec.query.eval(ctx.eval_ctx([], 1))
    qv = qv if isinstance(qv, pa.Scalar) else qv[0]
    if not qv.is_valid:
        return None
    qdims, _, q_idx, q_val = V.sparse_parts(qv, 1)
    colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns)
               if i in needed or i == spec.column}
    found: list[tuple[np.ndarray, np.ndarray, object]] = []
    nonnull = 0
    for view in ctx.txn.scan(table.oid, colspec) if k > 0 else ():
        ctx.check()
        if view.num_rows == 0:
            continue
        mask = view.visible
        if where is not None:
            mask = _filter_mask(ctx, table, needed, view, where, mask)
            if mask is not None and not mask.any():
                continue
        ix = _index(view, col.id)
        dims = ix.dims[mask] if mask is not None else ix.dims
        dims = dims[dims >= 0]
        if len(dims) and (dims != qdims[0]).any():
            raise errors.DataException(f"different sparsevec dimensions {int(dims[dims != qdims[0]][0])} "
                                       f"and {int(qdims[0])}")
        nonnull += len(dims)
        rows, dist = topk_ip(ix, q_idx, q_val, k, mask)
        if len(rows):
            found.append((rows, dist, view))
    total = sum(len(r) for r, _, _ in found)
    if total < k and _has_null_rows(ctx, table, colspec, col.id, where, needed):
        return None  # NULL vectors belong in the answer, last: the general path sorts
    if not found:
        return Rel([pa.array([], type=c.type.arrow_type()) if i in needed else None
                    for i, c in enumerate(table.columns)], 0)
    d = np.concatenate([x[1] for x in found])
    seg = np.concatenate([np.full(len(x[0]), i) for i, x in enumerate(found)])
    rows = np.concatenate([x[0] for x in found])
    order = np.lexsort((rows, seg, d))[offset:k]
    seg, rows = seg[order], rows[order]
    pos = np.concatenate([np.flatnonzero(seg == s) for s in range(len(found))])
    inv = np.empty(len(order), np.int64)
    inv[pos] = np.arange(len(order))
    cols = []
    for i in range(len(table.columns)):
        if i not in needed:
            cols.append(None)
            continue
        taken = [view_columns(v, table, {i})[i].take(pa.array(rows[seg == s]))
                 for s, (_, _, v) in enumerate(found)]
        cols.append(pa.concat_arrays(taken).take(pa.array(inv)))
    return Rel(cols, len(order))


def _has_null_rows(ctx, table, colspec, col_id, where, needed) -> bool:
    from sqlvec.exec.knn import _filter_mask

    for view in ctx.txn.scan(table.oid, colspec):
        arr = view.columns[col_id]
        if arr.null_count == 0:
            continue
        mask = view.visible
        if where is not None:
            mask = _filter_mask(ctx, table, needed, view, where, mask)
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
        if ((~valid) if mask is None else (mask & ~valid)).any():
            return True
    return False
