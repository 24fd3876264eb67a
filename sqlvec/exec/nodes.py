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
from sqlvec.exec.hashjoin import equi_pairs
from sqlvec.exec.relation import ExecContext, LazyColumns, Rel, gather, scan_table
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
        return Rel(_arrays(t), t.num_rows)


def _arrays(t: pa.Table) -> list[pa.Array]:
    """A table's columns as contiguous arrays (no copy when a column is one chunk already,
    which is how the cached catalog relations come)."""
    return [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in t.columns]


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
        residual = self.residual
        if self.kind == "inner" and residual is not None:
            lrel, rrel, residual = _prefilter(ctx, lrel, rrel, residual)
        width = len(lrel.columns) + len(rrel.columns)
        li, ri = self._pairs(ctx, lrel, rrel, width)
        _check_size(len(li), width)
        if residual is not None and len(li):
            cols = _take(lrel, li, False) + _take(rrel, ri, False)  # lazy: what the condition reads
            keep = E.as_mask(residual.eval(ctx.eval_ctx(cols, len(li))), len(li))
            li, ri = li[keep], ri[keep]
        if self.kind in ("left", "full"):
            missing = _unmatched(li, lrel.n)
            li = np.concatenate([li, missing])
            ri = np.concatenate([ri, np.full(len(missing), -1, np.int64)])
        if self.kind in ("right", "full"):
            missing = _unmatched(ri, rrel.n)
            li = np.concatenate([li, np.full(len(missing), -1, np.int64)])
            ri = np.concatenate([ri, missing])
        padded = self.kind != "inner"  # only outer joins have -1 (NULL) positions
        cols = _take(lrel, li, padded) + _take(rrel, ri, padded)
        for lpos, rpos, _ in self.merged:
            a, b = cols[lpos], cols[len(lrel.columns) + rpos]
            if a is None or b is None:
                cols.append(a if a is not None else b)
            else:
                cols.append(pc.coalesce(a, b) if self.kind in ("full", "right") else a)
        return Rel(cols, len(li))

    def _pairs(self, ctx: ExecContext, lrel: Rel, rrel: Rel, width: int) -> tuple[np.ndarray, np.ndarray]:
        if self.left_keys:
            lk = [E.broadcast(k.eval(ctx.eval_ctx(lrel.columns, lrel.n)), lrel.n) for k in self.left_keys]
            rk = [E.broadcast(k.eval(ctx.eval_ctx(rrel.columns, rrel.n)), rrel.n) for k in self.right_keys]
            try:
                return equi_pairs(lk, rk, lambda rows: _check_size(rows, width))
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                pass  # key types Arrow cannot hash (vectors): compare them below instead
            return _nested_pairs(lrel, rrel, list(zip(lk, rk)))
        return _nested_pairs(lrel, rrel, [])


def _prefilter(ctx: ExecContext, lrel: Rel, rrel: Rel, residual: E.Expr) -> tuple[Rel, Rel, E.Expr | None]:
    """An inner join's conditions that read one side only filter that side before pairing
    (``fact JOIN dim ON f.k = d.k WHERE d.cat < 5`` pairs 10k dimension rows filtered once,
    not a million pairs); the rest stays the residual. Conditions with subqueries stay."""
    nl, nr = len(lrel.columns), len(rrel.columns)
    rest = []
    for c in _and_args(residual):
        refs = E.referenced_columns([c])
        if not refs or any(type(x).__name__ in ("SubqueryExpr", "OuterRef") for x in E.walk(c)):
            rest.append(c)
        elif max(refs) < nl and lrel.n:
            lrel = _filtered(ctx, lrel, c, _padded(lrel.columns, 0, nr))
        elif nl <= min(refs) and max(refs) < nl + nr and rrel.n:
            rrel = _filtered(ctx, rrel, c, _padded(rrel.columns, nl, 0))
        else:
            rest.append(c)
    return lrel, rrel, (None if not rest else rest[0] if len(rest) == 1 else E.BoolOp("and", rest))


def _and_args(e: E.Expr) -> list[E.Expr]:
    if isinstance(e, E.BoolOp) and e.op == "and":
        return [x for a in e.args for x in _and_args(a)]
    return [e]


def _padded(cols, before: int, after: int):
    """One side's columns laid out as in the joined row (the other side's are None)."""
    if isinstance(cols, LazyColumns):  # stays lazy: only what the condition reads is gathered
        return LazyColumns([None] * before) + cols + LazyColumns([None] * after)
    return [None] * before + list(cols) + [None] * after


def _filtered(ctx: ExecContext, rel: Rel, cond: E.Expr, cols) -> Rel:
    mask = E.as_mask(cond.eval(ctx.eval_ctx(cols, rel.n)), rel.n)
    return rel if mask.all() else rel.take(np.flatnonzero(mask))


def _unmatched(idx: np.ndarray, n: int) -> np.ndarray:
    """Rows 0..n-1 that appear nowhere in idx (-1 entries are padding), in order."""
    seen = np.zeros(n, dtype=bool)
    seen[idx[idx >= 0]] = True
    return np.flatnonzero(~seen).astype(np.int64)


# a join result is materialised: refuse one whose cells would not fit in memory (the server
# must answer with an error, not be killed by the kernel)
MAX_JOIN_CELLS = 200_000_000


def _check_size(rows: int, width: int) -> None:
    if rows * max(width, 1) > MAX_JOIN_CELLS:
        raise errors.ProgramLimitExceeded(
            f"join result of {rows} rows x {width} columns is too large to materialise",
            hint="Add a join condition (an equality between the tables) or filter the inputs.",
        )


def _take(rel: Rel, idx: np.ndarray, padded: bool = True) -> LazyColumns:
    """Columns of rel at idx, where -1 gives NULL (outer-join padding, only when ``padded``),
    gathered lazily."""
    if padded and len(idx) and idx.min() < 0:
        ia = pa.array(idx, type=pa.int64(), mask=idx < 0)
    else:
        ia = pa.array(idx, type=pa.int64())
    return gather(rel.columns, ia)


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
