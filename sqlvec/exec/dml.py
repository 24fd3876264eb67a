"""INSERT, UPDATE and DELETE: planned once per statement text, run per execution.

An INSERT plan evaluates its VALUES expressions over all parameter sets at once when the
caller passes parameter *columns* (executemany): a ParamRef then yields an Array of n values
instead of a Scalar, and every cast and function runs vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Column, Table
from sqlvec.exec import foreign_keys as FK
from sqlvec.exec.matviews import check_writable
from sqlvec.exec.relation import ExecContext, Rel, group_ids, scan_table
from sqlvec.exec.writer import BoundCheck, check_rows, to_storage, unique_specs
from sqlvec.plan import expr as E
from sqlvec.plan import ttl
from sqlvec.plan.binder import Binder
from sqlvec.plan.scope import Scope, ScopeColumn
from sqlvec.result import ResultColumn
from sqlvec.types import registry as T
from sqlvec.types.casts import cast_array, find_cast


def table_scope(table: Table, alias: str | None = None, start: int = 0) -> Scope:
    a = alias or table.name
    return Scope([ScopeColumn(c.name, c.type, start + i, a, table.oid, c.attnum) for i, c in enumerate(table.columns)])


@dataclass
class Returning:
    exprs: list[E.Expr]
    columns: list[ResultColumn]

    def run(self, ctx: ExecContext, cols: list[pa.Array], n: int) -> pa.Table:
        ec = ctx.eval_ctx(cols, n)
        outs = [E.broadcast(e.eval(ec), n) for e in self.exprs]
        return pa.table(outs, names=[f"c{i}" for i in range(len(outs))])


@dataclass
class WriteResult:
    count: int
    returning: pa.Table | None = None


@dataclass
class InsertPlan:
    table: Table
    rows: list[list[E.Expr | None]]  # per VALUES row, per table column: expression (None = default)
    select: object | None  # a SelectPlan feeding the insert, with `targets` mapping
    targets: list[int]  # table column positions fed by the VALUES/SELECT columns
    defaults: list[E.Expr]  # per table column
    checks: list[BoundCheck]
    conflict: str | None = None  # None | "nothing" | "update"
    conflict_spec: object | None = None  # UniqueSpec the conflict target names (None = any)
    update_set: list[tuple[int, E.Expr]] = field(default_factory=list)  # over [existing cols] + [excluded cols]
    update_where: E.Expr | None = None
    returning: Returning | None = None
    tag_prefix: str = "INSERT 0"
    bulk: bool = False  # COPY FROM: a bulk load once sqlvec.bulk_load_rows rows come

    def run(self, ctx: ExecContext, n_param_rows: int = 0) -> WriteResult:
        cols = self._build(ctx, n_param_rows)
        n = len(cols[0]) if cols else 0
        return insert_rows(ctx, self, cols, n)

    def _build(self, ctx: ExecContext, n_param_rows: int) -> list[pa.Array]:
        table = self.table
        if self.select is not None:
            data = self.select.run(ctx)
            n = data.num_rows
            given = {}
            for j, t in enumerate(self.targets):
                arr = data.column(j).combine_chunks()
                src, dst = self.select.columns[j].type, table.columns[t].type
                given[t] = arr if src == dst else cast_array(arr, src, dst, False)
            return [given.get(i) if i in given else _default(ctx, self.defaults[i], n, c) for i, c in enumerate(table.columns)]
        if n_param_rows:
            # executemany: one VALUES row evaluated over n parameter sets
            n = n_param_rows
            ec = ctx.eval_ctx([], n)
            row = self.rows[0]
            return [
                E.broadcast(row[i].eval(ec), n) if row[i] is not None else _default(ctx, self.defaults[i], n, c)
                for i, c in enumerate(table.columns)
            ]
        n = len(self.rows)
        ec = ctx.eval_ctx([], 1)
        out = []
        for i, c in enumerate(table.columns):
            exprs = [r[i] for r in self.rows]
            if all(e is None for e in exprs):
                out.append(_default(ctx, self.defaults[i], n, c))
                continue
            vals = []
            for e in exprs:
                d = e.eval(ec) if e is not None else self.defaults[i].eval(ctx.eval_ctx([], 1))
                vals.append(E.broadcast(d, 1))
            at = c.type.arrow_type()
            if len(vals) == 1:  # one VALUES row: no concatenation
                out.append(vals[0] if vals[0].type == at else vals[0].cast(at))
            else:
                out.append(pa.concat_arrays([v.cast(at) if v.type != at else v for v in vals]))
        return out


def _default(ctx: ExecContext, e: E.Expr, n: int, col: Column) -> pa.Array:
    arr = E.broadcast(e.eval(ctx.eval_ctx([], n)), n)
    return arr if arr.type == col.type.arrow_type() else arr.cast(col.type.arrow_type())


def write_rows(ctx: ExecContext, table: Table, cols: list[pa.Array], specs, bulk: bool = False) -> None:
    """Store rows; a partitioned parent routes them to its partitions (each enforces its keys).
    ``bulk``: each table (partition) gets its rows as one sealed segment written now and
    published at COMMIT without WAL copies of the rows (sqlvec.storage.bulk)."""
    _growing_limit(ctx)
    if "partition_by" in table.options:
        from sqlvec.exec import partitions

        partitions.insert(ctx, table, cols, lambda p, c: ctx.txn.insert(p.oid, to_storage(p, c), unique=unique_specs(p), bulk=bulk))
    else:
        ctx.txn.insert(table.oid, to_storage(table, cols), unique=specs, bulk=bulk)


def _growing_limit(ctx: ExecContext) -> None:
    """A session that SET sqlvec.growing_segment_max_bytes has its commits enforce its value
    (the engine's server-wide default otherwise)."""
    session = ctx.stmt.get("session")
    key = "sqlvec.growing_segment_max_bytes"
    if session is not None and (key in session.settings.values or key in session.settings.local):
        ctx.txn.growing_max_bytes = int(session.settings.get(key))


def bulk_load_rows(ctx: ExecContext) -> int:
    """``sqlvec.bulk_load_rows`` of the statement's session (0: never bulk)."""
    session = ctx.stmt.get("session")
    return int(session.settings.get("sqlvec.bulk_load_rows")) if session is not None else 0


def delete_rows(ctx: ExecContext, table: Table, rowids: np.ndarray) -> None:
    if "partition_by" in table.options:
        from sqlvec.exec import partitions

        partitions.delete(ctx, table, rowids)
    else:
        ctx.txn.delete(table.oid, rowids)


def insert_rows(ctx: ExecContext, plan: InsertPlan, cols: list[pa.Array], n: int) -> WriteResult:
    table = plan.table
    specs = unique_specs(table)
    check_rows(table, cols, n, plan.checks, ctx)
    if n == 0:
        return WriteResult(0, plan.returning.run(ctx, cols, 0) if plan.returning else None)
    positions = None
    if plan.conflict is not None:
        cols, n, updated, positions = _on_conflict(ctx, plan, cols, n, specs)
    else:
        updated = None
    if n:
        # COPY FROM and INSERT ... SELECT of many rows: straight to sealed segments
        limit = bulk_load_rows(ctx) if (plan.bulk or plan.select is not None) else 0
        write_rows(ctx, table, cols, specs, bulk=0 < limit <= n)
        FK.check_new_rows(ctx, table, cols, n)
    out_cols, total = cols, n
    if updated is not None:
        ucols, un = updated
        out_cols = [pa.concat_arrays([a, b]) for a, b in zip(cols, ucols)] if n else ucols
        total += un
    if positions is not None and len(positions) == total and total:
        # RETURNING lists rows in the order the VALUES proposed them, inserted or updated
        order = np.argsort(positions, kind="stable")
        out_cols = [c.take(pa.array(order)) for c in out_cols]
    ret = plan.returning.run(ctx, out_cols, total) if plan.returning else None
    return WriteResult(total, ret)


def _on_conflict(ctx: ExecContext, plan: InsertPlan, cols: list[pa.Array], n: int, specs):
    """Split the batch into rows to insert and rows that hit an existing key."""
    table = plan.table
    use = [plan.conflict_spec] if plan.conflict_spec is not None else specs
    if not use:
        return cols, n, None, None
    keep = np.ones(n, dtype=bool)
    hit = np.full(n, -1, dtype=np.int64)
    for spec in use:
        idx = [table.columns.index(table.column_by_id(cid)) for cid in spec.column_ids]
        keys = pa.table({f"k{j}": cols[i] for j, i in enumerate(idx)})
        found = ctx.txn.find_conflicts(table.oid, spec, keys)
        hit = np.where((hit < 0) & (found >= 0), found, hit)
        # rows of the batch that repeat an earlier row's key conflict with that row
        valid = np.ones(n, dtype=bool)
        for i in idx:
            valid &= ~np.asarray(cols[i].is_null().to_numpy(zero_copy_only=False), dtype=bool)
        g, _, first = group_ids([cols[i] for i in idx], n)
        dup = valid & (first[g] != np.arange(n))
        if plan.conflict == "update" and dup.any():
            raise errors.CardinalityViolation(
                "ON CONFLICT DO UPDATE command cannot affect row a second time",
                hint="Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
            )
        keep &= ~dup
    conflicting = hit >= 0
    keep &= ~conflicting
    ins_idx = np.flatnonzero(keep)
    ins = [c.take(pa.array(ins_idx)) for c in cols]
    if plan.conflict == "nothing" or not conflicting.any():
        return ins, len(ins_idx), None, ins_idx
    # DO UPDATE: the existing rows, with SET evaluated over (existing, excluded)
    up_idx = np.flatnonzero(conflicting)
    excluded = [c.take(pa.array(up_idx)) for c in cols]
    targets = hit[up_idx]
    existing = _fetch_rows(ctx, table, targets)
    both = existing.columns + excluded
    m = len(up_idx)
    ec = ctx.eval_ctx(both, m)
    if plan.update_where is not None:
        sel = np.flatnonzero(E.as_mask(plan.update_where.eval(ec), m))
        both = [c.take(pa.array(sel)) for c in both]
        targets = targets[sel]
        up_idx = up_idx[sel]
        m = len(sel)
        ec = ctx.eval_ctx(both, m)
        existing = Rel(both[: len(table.columns)], m)
    new = list(existing.columns)
    for i, e in plan.update_set:
        new[i] = E.broadcast(e.eval(ec), m)
    check_rows(table, new, m, plan.checks, ctx)
    delete_rows(ctx, table, targets)
    if m:
        write_rows(ctx, table, new, specs)
        FK.check_new_rows(ctx, table, new, m)
        FK.check_removed_keys(ctx, table, existing.columns, m, new)
    return ins, len(ins_idx), (new, m), np.concatenate([ins_idx, up_idx])


def _fetch_rows(ctx: ExecContext, table: Table, rowids: np.ndarray) -> Rel:
    """Rows by row id, in the order given."""
    rel = scan_table(ctx, table, set(range(len(table.columns))), None, with_rowids=True)
    pos = {int(r): i for i, r in enumerate(rel.rowids)}
    return rel.take(np.array([pos[int(r)] for r in rowids], dtype=np.int64))


@dataclass
class UpdatePlan:
    table: Table
    where: E.Expr | None
    sets: list[tuple[int, E.Expr]]
    checks: list[BoundCheck]
    returning: Returning | None

    def run(self, ctx: ExecContext) -> WriteResult:
        table = self.table
        rel = scan_table(ctx, table, set(range(len(table.columns))), self.where, with_rowids=True)
        n = rel.n
        if n == 0:
            return WriteResult(0, self.returning.run(ctx, rel.columns, 0) if self.returning else None)
        ec = ctx.eval_ctx(rel.columns, n)
        new = list(rel.columns)
        for i, e in self.sets:
            new[i] = E.broadcast(e.eval(ec), n)
        check_rows(table, new, n, self.checks, ctx)
        delete_rows(ctx, table, rel.rowids)
        write_rows(ctx, table, new, unique_specs(table))
        FK.check_new_rows(ctx, table, new, n)
        FK.check_removed_keys(ctx, table, rel.columns, n, new)
        return WriteResult(n, self.returning.run(ctx, new, n) if self.returning else None)


@dataclass
class DeletePlan:
    table: Table
    where: E.Expr | None
    returning: Returning | None

    def run(self, ctx: ExecContext) -> WriteResult:
        table = self.table
        needed = set(range(len(table.columns))) if self.returning else set()
        if self.where is not None:
            needed |= E.referenced_columns([self.where])
        needed |= FK.referenced_positions(ctx, table)
        rel = scan_table(ctx, table, needed, self.where, with_rowids=True)
        if rel.n:
            delete_rows(ctx, table, rel.rowids)
            FK.check_removed_keys(ctx, table, rel.columns, rel.n)
        return WriteResult(rel.n, self.returning.run(ctx, rel.columns, rel.n) if self.returning else None)


# -- planning ------------------------------------------------------------------------------------


class DmlPlanner:
    def __init__(self, binder: Binder, resolve_table, bind_defaults, bind_checks, plan_select):
        self.b = binder
        self.resolve_table = resolve_table
        self.bind_defaults = bind_defaults  # (Table) -> list[Expr]
        self.bind_checks = bind_checks  # (Table) -> list[BoundCheck]
        self.plan_select = plan_select  # (exp.Select) -> SelectPlan

    def returning(self, node, table: Table, scope: Scope) -> Returning | None:
        r = node.args.get("returning")
        if r is None:
            return None
        from sqlvec.plan.binder import output_name

        exprs, cols = [], []
        for it in r.expressions:
            if isinstance(it, exp.Star) or (isinstance(it, exp.Column) and isinstance(it.this, exp.Star)):
                for c in scope.columns:
                    exprs.append(E.ColRef(c.index, c.type, c.name, c.table_oid, c.attnum))
                    cols.append(ResultColumn(c.name, c.type, c.table_oid, c.attnum))
                continue
            e = self.b.bind(it.this if isinstance(it, exp.Alias) else it, scope)
            if e.type.defn is T.UNKNOWN.defn:
                e = self.b.coerce(e, T.TEXT, "i")
            exprs.append(e)
            if isinstance(e, E.ColRef):
                cols.append(ResultColumn(output_name(it), e.type, table.oid, e.attnum))
            else:
                cols.append(ResultColumn(output_name(it), e.type))
        return Returning(exprs, cols)

    def insert(self, node: exp.Insert) -> InsertPlan:
        target = node.this
        col_names = None
        if isinstance(target, exp.Schema):
            col_names = [i.name for i in target.expressions]
            target = target.this
        table = self.resolve_table(target)
        check_writable(table)  # a materialized view refuses writes (42809)
        alias = target.alias_or_name
        if col_names is None:
            positions = list(range(len(table.columns)))
        else:
            positions = []
            for nm in col_names:
                c = table.column(nm)
                if c is None:
                    raise errors.UndefinedColumn(f'column "{nm}" of relation "{table.name}" does not exist')
                p = table.columns.index(c)
                if p in positions:
                    raise errors.DuplicateColumn(f'column "{nm}" specified more than once')
                positions.append(p)
        defaults = self.bind_defaults(table)
        checks = self.bind_checks(table)
        src = node.expression
        rows: list[list[E.Expr | None]] = []
        select = None
        if node.args.get("default"):
            rows = [[None] * len(table.columns)]
        elif isinstance(src, exp.Values):
            widths = {len(t.expressions) if isinstance(t, exp.Tuple) else 1 for t in src.expressions}
            if len(widths) > 1:
                raise errors.SyntaxError("VALUES lists must all be the same length")
            for tup in src.expressions:
                items = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
                if len(items) > len(positions):
                    raise errors.SyntaxError("INSERT has more expressions than target columns")
                if len(items) < len(positions) and col_names is not None:
                    raise errors.SyntaxError("INSERT has more target columns than expressions")
                row: list[E.Expr | None] = [None] * len(table.columns)
                for p, it in zip(positions, items):
                    row[p] = self._value(it, table.columns[p], Scope())
                rows.append(row)
        elif isinstance(src, exp.Select):
            select = self.plan_select(src)
            if len(select.columns) > len(positions):
                raise errors.SyntaxError("INSERT has more expressions than target columns")
            if len(select.columns) < len(positions) and col_names is not None:
                raise errors.SyntaxError("INSERT has more target columns than expressions")
            positions = positions[: len(select.columns)]
            for j, p in enumerate(positions):
                col = table.columns[p]
                if j in getattr(select, "untyped", {}):
                    select.outputs[j] = self.b.coerce(select.untyped[j], col.type, "a", column=col.name)
                    select.columns[j] = ResultColumn(select.columns[j].name, col.type)
                elif select.columns[j].type != col.type:
                    if hasattr(select, "outputs"):
                        select.outputs[j] = self.b.coerce(select.outputs[j], col.type, "a", column=col.name)
                        select.columns[j] = ResultColumn(select.columns[j].name, col.type)
                    elif find_cast(select.columns[j].type, col.type) is None:
                        raise errors.DatatypeMismatch(
                            f'column "{col.name}" is of type {col.type} but expression is of type {select.columns[j].type}',
                            hint="You will need to rewrite or cast the expression.",
                        )
        else:
            raise errors.FeatureNotSupported("this form of INSERT is not supported yet")
        plan = InsertPlan(table, rows, select, positions, defaults, checks)
        scope = table_scope(table, alias)
        conflict = node.args.get("conflict")
        if conflict is not None:
            self._conflict(conflict, plan, table, alias)
        plan.returning = self.returning(node, table, scope)
        return plan

    def _value(self, it: exp.Expression, col: Column, scope: Scope) -> E.Expr | None:
        if isinstance(it, exp.Var) and it.name.upper() == "DEFAULT" or (
            isinstance(it, exp.Column) and it.name.upper() == "DEFAULT" and not it.this.quoted
        ):
            return None
        if col.identity == "a":
            raise errors.Error(
                f'cannot insert a non-DEFAULT value into column "{col.name}"',
                sqlstate="428C9",
                detail=f'Column "{col.name}" is an identity column defined as GENERATED ALWAYS.',
                hint="Use OVERRIDING SYSTEM VALUE to override.",
            )
        e = self.b.bind(it, scope)
        return self.b.coerce(e, col.type, "a", column=col.name)

    def _conflict(self, node: exp.OnConflict, plan: InsertPlan, table: Table, alias: str) -> None:
        action = node.args.get("action")
        text = action.name.upper() if action is not None else ""
        if node.args.get("duplicate"):
            raise errors.FeatureNotSupported("ON DUPLICATE KEY is MySQL syntax")
        keys = node.args.get("conflict_keys") or []
        if keys:
            ids = []
            for k in keys:
                nm = (k.this if isinstance(k, exp.Ordered) else k).name
                c = table.column(nm)
                if c is None:
                    raise errors.UndefinedColumn(f'column "{nm}" does not exist')
                ids.append(c.id)
            spec = next((s for s in unique_specs(table) if sorted(s.column_ids) == sorted(ids)), None)
            if spec is None:
                raise errors.InvalidColumnReference(
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification"
                )
            plan.conflict_spec = spec
        elif node.args.get("constraint") is not None:
            cname = node.args["constraint"].name
            spec = next((s for s in unique_specs(table) if s.name == cname), None)
            if spec is None:
                raise errors.UndefinedObject(f'constraint "{cname}" for table "{table.name}" does not exist')
            plan.conflict_spec = spec
        if "NOTHING" in text:
            plan.conflict = "nothing"
            return
        if not keys and plan.conflict_spec is None:
            raise errors.SyntaxError(
                "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                hint="For example, ON CONFLICT (column_name).",
            )
        plan.conflict = "update"
        n = len(table.columns)
        scope = Scope(table_scope(table, alias).columns + table_scope(table, "excluded", start=n).columns)
        for eq in node.expressions:
            col_node = eq.this
            c = table.column(col_node.name)
            if c is None:
                raise errors.UndefinedColumn(f'column "{col_node.name}" of relation "{table.name}" does not exist')
            e = self.b.coerce(self.b.bind(eq.expression, scope), c.type, "a", column=c.name)
            plan.update_set.append((table.columns.index(c), e))
        w = node.args.get("where")
        if w is not None:
            plan.update_where = self.b.bind_bool(w.this, scope, "WHERE")

    def update(self, node: exp.Update) -> UpdatePlan:
        if node.args.get("from") or node.args.get("from_"):
            raise errors.FeatureNotSupported("UPDATE ... FROM is not supported yet")
        target = node.this
        table = self.resolve_table(target)
        check_writable(table)  # a materialized view refuses writes (42809)
        scope = table_scope(table, target.alias_or_name)
        sets = []
        for eq in node.expressions:
            nm = eq.this.name
            if isinstance(eq.this, exp.Column) and eq.this.table:
                raise errors.UndefinedColumn(f'column "{eq.this.table}" of relation "{table.name}" does not exist')
            c = table.column(nm)
            if c is None:
                raise errors.UndefinedColumn(f'column "{nm}" of relation "{table.name}" does not exist')
            val = eq.expression
            if isinstance(val, exp.Var) and val.name.upper() == "DEFAULT" or (
                isinstance(val, exp.Column) and val.name.upper() == "DEFAULT" and not val.this.quoted
            ):
                e = self.bind_defaults(table)[table.columns.index(c)]
            elif c.identity == "a":
                raise errors.Error(f'column "{c.name}" can only be updated to DEFAULT', sqlstate="428C9",
                                   detail=f'Column "{c.name}" is an identity column defined as GENERATED ALWAYS.')
            else:
                e = self.b.coerce(self.b.bind(val, scope), c.type, "a", column=c.name)
            sets.append((table.columns.index(c), e))
        where = node.args.get("where")
        w = self.b.bind_bool(where.this, scope, "WHERE") if where is not None else None
        w = ttl.combine(ttl.predicate(self.b, table, scope), w)  # expired rows are not there
        return UpdatePlan(table, w, sets, self.bind_checks(table), self.returning(node, table, scope))

    def delete(self, node: exp.Delete) -> DeletePlan:
        if node.args.get("using"):
            raise errors.FeatureNotSupported("DELETE ... USING is not supported yet")
        target = node.this
        if not isinstance(target, exp.Table):
            # sqlglot accepts MySQL's DELETE t (no FROM); PostgreSQL does not
            raise errors.SyntaxError('syntax error at or near "' + (node.args["tables"][0].name if node.args.get("tables") else "DELETE") + '"')
        table = self.resolve_table(target)
        check_writable(table)  # a materialized view refuses writes (42809)
        scope = table_scope(table, target.alias_or_name)
        where = node.args.get("where")
        w = self.b.bind_bool(where.this, scope, "WHERE") if where is not None else None
        w = ttl.combine(ttl.predicate(self.b, table, scope), w)  # expired rows are not there
        return DeletePlan(table, w, self.returning(node, table, scope))
