"""Relational operators for functions in FROM, LATERAL subqueries, and SRFs in select lists.

:class:`FunctionRel` evaluates a (set-returning) function over the rows of the FROM items to
its left — all of them at once: the function's arguments are columns of that relation, and
each output row remembers its parent row — then joins the parents' columns to the output.
:class:`LateralRel` runs a LATERAL subquery once per distinct combination of the left-side
values it references (the correlated-subquery machinery), and pairs every left row with the
rows its combination produced. :func:`project_set` is the select list's SRF stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec.exec.nodes import RelNode, cast_columns
from sqlvec.exec.relation import ExecContext, Rel, group_ids
from sqlvec.exec.srf import SrfCall, lockstep
from sqlvec.plan import expr as E
from sqlvec.plan.scope import ScopeColumn


def _take(rel: Rel, idx: np.ndarray) -> list[pa.Array | None]:
    """Columns of rel at idx, where -1 gives NULL (outer-join padding)."""
    ia = pa.array(idx, pa.int64(), mask=idx < 0) if len(idx) and idx.min() < 0 else pa.array(idx, pa.int64())
    return [None if c is None else c.take(ia) for c in rel.columns]


def _finish_join(ctx: ExecContext, lrel: Rel, li: np.ndarray, right: list[pa.Array], kind: str,
                 residual: E.Expr | None) -> Rel:
    """Left columns at li beside the right columns; the ON condition; NULL-padded LEFT rows."""
    n = len(li)
    cols = _take(lrel, li) + right
    if residual is not None and n:
        keep = np.flatnonzero(E.as_mask(residual.eval(ctx.eval_ctx(cols, n)), n))
        if len(keep) != n:
            ia = pa.array(keep, pa.int64())
            cols = [None if c is None else c.take(ia) for c in cols]
            li, n = li[keep], len(keep)
    if kind == "left":
        missing = np.setdiff1d(np.arange(lrel.n), li)
        if len(missing):
            pad = _take(lrel, missing)
            cols = [None if a is None else pa.concat_arrays([a, b]) for a, b in
                    zip(cols, pad + [pa.nulls(len(missing), c.type) for c in right])]
            order = np.argsort(np.concatenate([li, missing]), kind="stable")
            ia = pa.array(order, pa.int64())
            cols = [None if c is None else c.take(ia) for c in cols]
            n += len(missing)
    return Rel(cols, n)


@dataclass(eq=False)
class FunctionRel(RelNode):
    """left (or one empty row) x function(args over left's columns) [WITH ORDINALITY]."""

    left: RelNode | None
    call: SrfCall
    ordinality: bool
    kind: str  # inner | left
    scope: list[ScopeColumn]
    residual: E.Expr | None = None
    types: list[Any] | None = None  # arrow types of the function's output columns

    def run(self, ctx: ExecContext) -> Rel:
        lrel = self.left.run(ctx) if self.left is not None else Rel([], 1)
        ctx.check()
        parent, cols = self.call.run(ctx.eval_ctx(lrel.columns, lrel.n))
        if self.ordinality:
            counts = np.bincount(parent, minlength=lrel.n)
            k = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
            cols = cols + [pa.array(k + 1, pa.int64())]
        return _finish_join(ctx, lrel, parent, cols, self.kind, self.residual)


@dataclass(eq=False)
class LateralRel(RelNode):
    left: RelNode
    plan: Any  # the subquery's plan: run(ctx) -> pa.Table
    captured: list[int]  # left columns the subquery reads
    kind: str  # inner | left
    scope: list[ScopeColumn]
    residual: E.Expr | None = None

    def run(self, ctx: ExecContext) -> Rel:
        lrel = self.left.run(ctx)
        keys = [E.broadcast(lrel.columns[i], lrel.n) for i in self.captured]
        gids, ngroups, first = group_ids(keys, lrel.n)
        if not self.captured:
            ngroups, first = 1, np.zeros(1, np.int64)
        tables, sizes = [], []
        for g in range(ngroups if lrel.n else 0):
            ctx.check()
            frame = {i: k[int(first[g])] for i, k in zip(self.captured, keys)}
            t = self.plan.run(ctx.with_frame(frame) if self.captured else ctx)
            tables.append(t)
            sizes.append(t.num_rows)
        types = [c.type for c in self.plan.columns]
        if tables:
            right_all = [pa.concat_arrays(list(cs)) for cs in zip(*[cast_columns(t, types, types) for t in tables])]
        else:
            right_all = [pa.array([], c.arrow_type()) for c in types]
        sizes_a = np.array(sizes, np.int64)
        offsets = np.cumsum(sizes_a) - sizes_a
        # every left row meets each row its combination produced
        per_left = sizes_a[gids] if len(sizes_a) else np.zeros(lrel.n, np.int64)
        li = np.repeat(np.arange(lrel.n), per_left)
        k = np.arange(len(li)) - np.repeat(np.cumsum(per_left) - per_left, per_left)
        ridx = pa.array(offsets[gids[li]] + k if len(li) else np.zeros(0, np.int64), pa.int64())
        right = [c.take(ridx) for c in right_all]
        return _finish_join(ctx, lrel, li, right, self.kind, self.residual)


def project_set(ctx: ExecContext, rel: Rel, srfs: list[SrfCall]) -> Rel:
    """The SRFs of a select list, run in lockstep over rel; their columns are appended."""
    ec = ctx.eval_ctx(rel.columns, rel.n)
    outs = [s.run(ec) for s in srfs]
    parent, cols = lockstep(outs, rel.n)
    return Rel(_take(rel, parent) + cols, len(parent))
