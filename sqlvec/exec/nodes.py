"""Relational operators of the FROM clause: scans, joins, derived tables, VALUES, CTEs.

Each node produces a :class:`Rel` whose columns are laid out as its ``scope`` says; a join's
layout is its left input's columns followed by its right input's (plus merged USING columns).
Joins find matching row pairs with Arrow's hash join on the equality conjuncts of the ON
clause, filter the pairs with whatever else the clause says, then pad outer rows with NULLs;
without equality conjuncts they fall back to a blocked nested loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.exec.relation import ExecContext, Rel, scan_table
from sqlvec.plan import expr as E
from sqlvec.plan.scope import ScopeColumn
from sqlvec.types.casts import cast_array


class RelNode:
    scope: list[ScopeColumn]

    def run(self, ctx: ExecContext) -> Rel:
        raise NotImplementedError

    def width(self) -> int:
        return len(self.scope)


@dataclass(eq=False)
class TableScan(RelNode):
    table: Table
    alias: str
    scope: list[ScopeColumn]
    needed: set[int] = field(default_factory=set)
    filter: E.Expr | None = None  # over this table's columns (pushed-down WHERE)

    def run(self, ctx: ExecContext) -> Rel:
        return scan_table(ctx, self.table, self.needed, self.filter)


@dataclass(eq=False)
class MaterializedScan(RelNode):
    """Rows produced by something that yields an Arrow table (a virtual catalog relation)."""

    build: Any  # (ctx) -> pa.Table with one column per scope column
    scope: list[ScopeColumn]

    def run(self, ctx: ExecContext) -> Rel:
        t = self.build(ctx)
        return Rel([c.combine_chunks() for c in t.columns], t.num_rows)


@dataclass(eq=False)
class SubqueryScan(RelNode):
    """A derived table, a CTE reference or a VALUES list: any query plan in FROM."""

    plan: Any  # has .run(ctx) -> pa.Table
    scope: list[ScopeColumn]
    cache_key: str | None = None  # CTEs: computed once per statement

    def run(self, ctx: ExecContext) -> Rel:
        if self.cache_key is not None:
            t = ctx.stmt.get(self.cache_key)
            if t is None:
                t = ctx.stmt[self.cache_key] = self.plan.run(ctx)
        else:
            t = self.plan.run(ctx)
        return Rel([c.combine_chunks() for c in t.columns], t.num_rows)


@dataclass(eq=False)
class Join(RelNode):
    left: RelNode
    right: RelNode
    kind: str  # inner | left | right | full | cross
    scope: list[ScopeColumn]
    left_keys: list[E.Expr] = field(default_factory=list)  # over the left input
    right_keys: list[E.Expr] = field(default_factory=list)  # over the right input
    residual: E.Expr | None = None  # over the joined layout (left + right)
    merged: list[tuple[int, int, Any]] = field(default_factory=list)  # USING: (left pos, right pos, type)

    def run(self, ctx: ExecContext) -> Rel:
        lrel, rrel = self.left.run(ctx), self.right.run(ctx)
        ctx.check()
        li, ri = self._pairs(ctx, lrel, rrel)
        _check_size(len(li), len(lrel.columns) + len(rrel.columns))
        if self.residual is not None and len(li):
            cols = _take(lrel, li) + _take(rrel, ri)
            keep = E.as_mask(self.residual.eval(ctx.eval_ctx(cols, len(li))), len(li))
            li, ri = li[keep], ri[keep]
        if self.kind in ("left", "full"):
            missing = np.setdiff1d(np.arange(lrel.n), li, assume_unique=False)
            li = np.concatenate([li, missing])
            ri = np.concatenate([ri, np.full(len(missing), -1, np.int64)])
        if self.kind in ("right", "full"):
            missing = np.setdiff1d(np.arange(rrel.n), ri[ri >= 0])
            li = np.concatenate([li, np.full(len(missing), -1, np.int64)])
            ri = np.concatenate([ri, missing])
        cols = _take(lrel, li) + _take(rrel, ri)
        for lpos, rpos, _ in self.merged:
            a, b = cols[lpos], cols[len(lrel.columns) + rpos]
            if a is None or b is None:
                cols.append(a if a is not None else b)
            else:
                cols.append(pc.coalesce(a, b) if self.kind in ("full", "right") else a)
        return Rel(cols, len(li))

    def _pairs(self, ctx: ExecContext, lrel: Rel, rrel: Rel) -> tuple[np.ndarray, np.ndarray]:
        if self.left_keys:
            lk = [E.broadcast(k.eval(ctx.eval_ctx(lrel.columns, lrel.n)), lrel.n) for k in self.left_keys]
            rk = [E.broadcast(k.eval(ctx.eval_ctx(rrel.columns, rrel.n)), rrel.n) for k in self.right_keys]
            try:
                return _hash_pairs(lk, rk)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                pass  # key types Arrow cannot hash (vectors): compare them below instead
            return _nested_pairs(lrel, rrel, list(zip(lk, rk)))
        return _nested_pairs(lrel, rrel, [])


# a join result is materialised: refuse one whose cells would not fit in memory (the server
# must answer with an error, not be killed by the kernel)
MAX_JOIN_CELLS = 200_000_000


def _check_size(rows: int, width: int) -> None:
    if rows * max(width, 1) > MAX_JOIN_CELLS:
        raise errors.ProgramLimitExceeded(
            f"join result of {rows} rows x {width} columns is too large to materialise",
            hint="Add a join condition (an equality between the tables) or filter the inputs.",
        )


def _take(rel: Rel, idx: np.ndarray) -> list[pa.Array | None]:
    """Columns of rel at idx, where -1 gives NULL (outer-join padding)."""
    if len(idx) and idx.min() < 0:
        ia = pa.array(idx, type=pa.int64(), mask=idx < 0)
    else:
        ia = pa.array(idx, type=pa.int64())
    return [None if c is None else c.take(ia) for c in rel.columns]


def _hash_pairs(lk: list[pa.Array], rk: list[pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    names = [f"k{i}" for i in range(len(lk))]
    lt = pa.table(lk + [pa.array(np.arange(len(lk[0]) if lk else 0, dtype=np.int64))], names=names + ["__l"])
    rt = pa.table(rk + [pa.array(np.arange(len(rk[0]) if rk else 0, dtype=np.int64))], names=names + ["__r"])
    for i in range(len(lk)):
        if lt.schema.field(i).type != rt.schema.field(i).type:
            raise pa.ArrowTypeError("key types differ")
    j = lt.join(rt, keys=names, join_type="inner", use_threads=False)
    li = j.column("__l").to_numpy()
    ri = j.column("__r").to_numpy()
    order = np.lexsort((ri, li))  # deterministic output: left order, then right order
    return li[order].astype(np.int64), ri[order].astype(np.int64)


def _nested_pairs(lrel: Rel, rrel: Rel, keys) -> tuple[np.ndarray, np.ndarray]:
    """All (left, right) pairs, or the pairs whose key values are equal (non-hashable keys)."""
    n, m = lrel.n, rrel.n
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if n * m > 50_000_000:
        raise errors.ProgramLimitExceeded(
            f"join of {n} x {m} rows without an equality condition is too large"
        )
    _check_size(n * m, len(lrel.columns) + len(rrel.columns))
    li = np.repeat(np.arange(n, dtype=np.int64), m)
    ri = np.tile(np.arange(m, dtype=np.int64), n)
    if keys:
        keep = np.ones(len(li), dtype=bool)
        for lk, rk in keys:
            lv, rv = lk.to_pylist(), rk.to_pylist()
            keep &= np.fromiter(
                (lv[a] is not None and rv[b] is not None and lv[a] == rv[b] for a, b in zip(li, ri)),
                dtype=bool, count=len(li),
            )
        li, ri = li[keep], ri[keep]
    return li, ri


def cast_columns(table: pa.Table, src_types: list, dst_types: list) -> list[pa.Array]:
    """Columns of a set-operation branch cast to the types the whole operation resolved to."""
    out = []
    for col, s, d in zip(table.columns, src_types, dst_types):
        arr = col.combine_chunks()
        out.append(arr if s == d else cast_array(arr, s, d, False))
    return out
