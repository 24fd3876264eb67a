"""Reading and writing a partitioned table through its partitions.

The parent has no storage: a scan is the union of its (pruned) partitions' scans, an insert
routes every row at once (hash/list/range over the key column) and writes one batch per
partition, a delete splits its row ids by partition, and an UPDATE — a delete plus an
insert — therefore moves rows whose key changed. A top-k vector search runs the ordinary
per-segment top-k in each surviving partition, then merges the candidates by distance.

Row ids of a parent scan carry the partition's position in bits 52..62 (segment ids stay
far below 2**20), so DELETE/UPDATE find their partition without another lookup.
"""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec import kernels
from sqlvec.exec.relation import ExecContext, Rel
from sqlvec.plan import expr as E
from sqlvec.plan import partitions as P

_SHIFT = np.int64(52)
_LOW = np.int64((1 << 52) - 1)


def _db(ctx: ExecContext):
    session = ctx.stmt.get("session")
    if session is None:
        raise errors.InternalError("partitioned tables need a session to find their partitions")
    return session.catalog().database(session.database)


def pruned(ctx: ExecContext, parent: Table, where: E.Expr | None) -> P.Pruned:
    from sqlvec.exec.isolation import require_key
    from sqlvec.plan.explain import expr_sql

    require_key(parent, where, ctx)  # tenant isolation: every read names one key value
    return P.prune(parent, P.children(_db(ctx), parent), where, ctx, expr_sql)


def scan(ctx: ExecContext, parent: Table, needed: set[int], where: E.Expr | None, with_rowids: bool) -> Rel:
    from sqlvec.exec.relation import scan_table

    parts = P.children(_db(ctx), parent)
    keep = pruned(ctx, parent, where).parts
    rels: list[Rel] = []
    for child in keep:
        pos = parts.index(child)
        # partitions share the parent's column ids and order (created or checked so): the
        # parent's filter reads a partition's columns unchanged
        r = scan_table(ctx, child, needed, retarget(where, parent, child), with_rowids=with_rowids)
        if with_rowids and r.rowids is not None:
            r.rowids = r.rowids | (np.int64(pos) << _SHIFT)
        rels.append(r)
    return concat(parent, rels, needed)


def retarget(where: E.Expr | None, parent: Table, child: Table) -> E.Expr | None:
    """``where`` for one partition: predicates bound to the parent's own indexes (a BM25
    ``@@@`` match names its table) are pointed at the partition's, which hold its rows."""
    if where is None or not any(_names_table(x, parent.oid) for x in E.walk(where)):
        return where
    out = copy.deepcopy(where)
    for x in E.walk(out):
        if _names_table(x, parent.oid):
            x.table_oid = child.oid
    return out


def _names_table(x: E.Expr, oid: int) -> bool:
    return not isinstance(x, E.ColRef) and getattr(x, "table_oid", None) == oid


def concat(parent: Table, rels: list[Rel], needed: set[int]) -> Rel:
    rels = [r for r in rels if r.n] or rels[:1]
    if not rels:
        cols = [pa.array([], type=c.type.arrow_type()) if i in needed else None for i, c in enumerate(parent.columns)]
        return Rel(cols, 0, np.zeros(0, np.int64))
    if len(rels) == 1:
        return rels[0]
    cols: list[pa.Array | None] = []
    for i, c in enumerate(parent.columns):
        parts = [r.columns[i] for r in rels]
        if any(p is None for p in parts):
            cols.append(None)
        else:
            cols.append(pa.chunked_array(parts, type=c.type.arrow_type()).combine_chunks())
    rowids = None if any(r.rowids is None for r in rels) else np.concatenate([r.rowids for r in rels])
    return Rel(cols, sum(r.n for r in rels), rowids)


def insert(ctx: ExecContext, parent: Table, cols: list[pa.Array], write) -> None:
    """Route rows to partitions and call ``write(child, columns)`` once per partition.

    Raises 23514 for a row no partition accepts, with PostgreSQL's message and detail."""
    parts = P.children(_db(ctx), parent)
    kpos = P.key_position(parent)
    key = cols[kpos]
    if isinstance(key, pa.ChunkedArray):
        key = key.combine_chunks()
    dest = P.route(parent, parts, key)
    bad = np.flatnonzero(dest < 0)
    if len(bad):
        v = key[int(bad[0])].as_py()
        name = parent.columns[kpos].name
        raise errors.CheckViolation(
            f'no partition of relation "{parent.name}" found for row',
            detail=f"Partition key of the failing row contains ({name}) = ({'null' if v is None else v}).",
        )
    order = np.argsort(dest, kind="stable")
    sorted_dest = dest[order]
    bounds = np.flatnonzero(np.diff(sorted_dest)) + 1
    for rows in np.split(order, bounds):
        if len(rows) == 0:
            continue
        ia = pa.array(rows, type=pa.int64())
        write(parts[int(dest[rows[0]])], [c.take(ia) for c in cols])


def delete(ctx: ExecContext, parent: Table, rowids: np.ndarray) -> None:
    parts = P.children(_db(ctx), parent)
    pos = rowids >> _SHIFT
    for p in np.unique(pos):
        ctx.txn.delete(parts[int(p)].oid, rowids[pos == p] & _LOW)


def knn_run(ctx: ExecContext, parent: Table, needed: set[int], where, spec, offset: int, limit: int | None) -> Rel | None:
    """Top-k over the surviving partitions: each answers its own k nearest (through its own
    indexes), then the candidates are ranked by their exact distance and cut to offset..k."""
    from sqlvec.exec import knn
    from sqlvec.storage.segment import fixed_to_numpy

    k = offset + (limit if limit is not None else 0)
    keep = pruned(ctx, parent, where).parts
    if len(keep) == 1:  # pruned to one partition (a tenant's query): its top-k is the answer
        child = keep[0]
        return knn.run(ctx, child, needed, retarget(where, parent, child), spec, offset, limit)
    need = set(needed) | {spec.column}
    rels = []
    for child in keep:
        r = knn.run(ctx, child, need, retarget(where, parent, child), spec, 0, k)
        if r is None:
            return None  # NULL vectors among the answer: the general sort path must answer
        rels.append(r)
    rel = concat(parent, rels, need)
    if rel.n == 0 or k == 0:
        return rel.take(np.zeros(0, np.int64))
    q = np.asarray(spec.query.eval(ctx.eval_ctx([], 1)).as_py(), dtype=np.float32)
    vecs = rel.columns[spec.column]
    if isinstance(vecs, pa.ChunkedArray):
        vecs = vecs.combine_chunks()
    # (rows, dim) without a Python list per vector: the values buffer, read in place
    mat = fixed_to_numpy(vecs) if pa.types.is_fixed_size_list(vecs.type) else \
        np.asarray(vecs.to_pylist(), dtype=np.float32).reshape(rel.n, -1)
    idx, _dist = kernels.topk(mat, q, min(k, rel.n), spec.metric)
    return rel.take(np.asarray(idx, np.int64)[offset:k])


def explain_lines(ctx: ExecContext, table: Table, where: E.Expr | None, topk: bool = False) -> list[str]:
    """EXPLAIN's account of pruning: ``Partitions: 1 of 16 (pruned by tenant = 'a')`` and the
    partitions read (each searched with its own indexes for a top-k)."""
    if "partition_by" not in table.options:
        return []
    p = pruned(ctx, table, where)
    if p.reason is None:
        why = " (no predicate on the partition key)"
    else:
        why = f" (pruned by {p.reason})" if len(p.parts) < p.total else f" (none pruned by {p.reason})"
    lines = [f"Partitions: {len(p.parts)} of {p.total}{why}"]
    names = [c.name for c in p.parts]
    shown = ", ".join(names[:8]) + (f", ... ({len(names) - 8} more)" if len(names) > 8 else "")
    if names:
        lines.append(("Top-K per partition, merged: " if topk else "Scans: ") + shown)
    return lines

