"""Checks that guard every row written to a table: NOT NULL, CHECK, unique keys.

INSERT, UPDATE and upserts build new rows as Arrow columns and hand them here; the checks
are vectorised over the whole batch (one failing row fails the statement, as PostgreSQL does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.plan import expr as E
from sqlvec.storage import UniqueSpec
from sqlvec.types.arrow import text_out_array


@dataclass
class BoundCheck:
    name: str
    expr: E.Expr  # over the table's columns, by position


def unique_specs(table: Table) -> list[UniqueSpec]:
    """Unique keys to enforce: PRIMARY KEY / UNIQUE constraints and UNIQUE indexes."""
    out = []
    keys = [(c.name, c.columns) for c in table.unique_constraints()] + list(table.unique_indexes)
    for name, col_ids in keys:
        cols = [table.column_by_id(cid) for cid in col_ids]
        out.append(UniqueSpec(name, tuple(col_ids), tuple(x.name for x in cols)))
    return out


def failing_row(table: Table, columns: list[pa.Array], i: int) -> str:
    vals = []
    for c, arr in zip(table.columns, columns):
        v = text_out_array(arr.slice(i, 1), c.type)[0]
        vals.append("null" if v is None else v)
    return "Failing row contains (" + ", ".join(vals) + ")."


def check_rows(table: Table, columns: list[pa.Array], n: int, checks: list[BoundCheck], ctx) -> None:
    """Raise the PostgreSQL error for the first NOT NULL or CHECK violation among the rows."""
    for c, arr in zip(table.columns, columns):
        if c.not_null and arr.null_count:
            i = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
            raise errors.NotNullViolation(
                f'null value in column "{c.name}" of relation "{table.name}" violates not-null constraint',
                detail=failing_row(table, columns, i),
            ).about(schema=table.schema, table=table.name, column=c.name)
    for chk in checks:
        v = E.broadcast(chk.expr.eval(ctx.eval_ctx(columns, n)), n)
        bad = pc.fill_null(pc.invert(v), False)  # NULL passes a CHECK
        if pc.any(bad).as_py():
            i = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
            raise errors.CheckViolation(
                f'new row for relation "{table.name}" violates check constraint "{chk.name}"',
                detail=failing_row(table, columns, i),
            ).about(schema=table.schema, table=table.name, constraint=chk.name)


def to_storage(table: Table, columns: list[pa.Array]) -> pa.Table:
    """Rows keyed by the storage column ids."""
    return pa.table({c.id: arr for c, arr in zip(table.columns, columns)})
