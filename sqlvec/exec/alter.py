"""ALTER TABLE actions. Catalog-only where the stored data need not change (rename, drop
column, add a column whose default is NULL: segments lacking a column read it as NULL); a
rewrite of the rows inside the transaction where it must (ADD COLUMN ... DEFAULT x)."""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Catalog, DatabaseDef, Table
from sqlvec.exec import ddl, foreign_keys
from sqlvec.exec.relation import ExecContext, scan_table
from sqlvec.exec.writer import check_rows, to_storage, unique_specs
from sqlvec.grammar import to_sql
from sqlvec.result import Notice


def apply(session, cat: Catalog, db: DatabaseDef, table: Table, action: exp.Expression, notices: list) -> None:
    if isinstance(action, exp.ColumnDef):
        _add_column(session, cat, db, table, action, notices)
    elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
        for c in action.args.get("tables") or []:
            _drop_column(table, c.name, bool(action.args.get("exists")), notices)
    elif isinstance(action, exp.RenameColumn):
        old, new = action.this.name, action.args["to"].name
        col = table.column(old)
        if col is None:
            raise errors.UndefinedColumn(f'column "{old}" does not exist')
        if table.column(new) is not None:
            raise errors.DuplicateColumn(f'column "{new}" of relation "{table.name}" already exists')
        col.name = new
    elif isinstance(action, exp.AlterRename):
        new = action.this.name
        if db.relation_exists(new, table.schema):
            raise errors.DuplicateTable(f'relation "{new}" already exists')
        table.name = new
    elif isinstance(action, exp.AlterColumn):
        _alter_column(session, table, action)
    elif isinstance(action, exp.AlterSet) and action.expressions and all(isinstance(e, exp.EQ) for e in action.expressions):
        from sqlvec.exec import isolation

        # partition_key_isolation marks the partitions and rebuilds their indexes: taken out first
        _set_options(table, isolation.alter_set(session, db, table, action.expressions))
    elif isinstance(action, exp.AddConstraint):
        for item in action.expressions:
            before = len(table.constraints)
            fk = foreign_keys.fk_parts(item)
            if fk is not None:
                foreign_keys.add_foreign_key(db, table, fk[0], fk[1], fk[2], session.search_path())
                foreign_keys.validate_existing(session, table, table.constraints[-1])
                continue
            ddl._table_constraint(table, item)
            added = table.constraints[before:]
            _validate_existing(session, table, added)
    else:
        raise errors.FeatureNotSupported(f"ALTER TABLE action not supported yet: {to_sql(action)}")


def _set_options(table: Table, pairs: list[exp.EQ]) -> None:
    """ALTER TABLE ... SET (name = value, ...): storage parameters, checked as at CREATE."""
    from sqlvec import consistency
    from sqlvec.plan import ttl

    for eq in pairs:
        table.options[ddl.check_option_name(eq.this.name)] = eq.expression.name
    ttl.check_options(table)
    consistency.check_table_option(table)


def _add_column(session, cat, db, table: Table, node: exp.ColumnDef, notices: list) -> None:
    if table.column(node.name) is not None:
        if node.args.get("exists"):
            notices.append(Notice("NOTICE", f'column "{node.name}" of relation "{table.name}" already exists, skipping', "42701"))
            return
        raise errors.DuplicateColumn(f'column "{node.name}" of relation "{table.name}" already exists')
    pending: list = []
    col = ddl._add_column(cat, db, table, node, pending)
    for item in pending:
        ddl._table_constraint(table, item)
    if col.default is not None or col.not_null or pending:
        # existing rows need the default (or must be checked): rewrite them in this transaction
        _rewrite(session, table)


def _rewrite(session, table: Table) -> None:
    from sqlvec.exec.dml import _default

    binder = session.new_binder([])
    ctx = ExecContext(session.txn, [], {"engine": session.db.engine})
    old_cols = [c for c in table.columns]
    present = set(range(len(old_cols) - 1))
    rel = scan_table(ctx, _without_last(table), present, None, with_rowids=True)
    if rel.n == 0:
        return
    defaults = session.default_exprs(table, binder)
    cols = list(rel.columns) + [_default(ctx, defaults[-1], rel.n, table.columns[-1])]
    try:
        check_rows(table, cols, rel.n, session.check_exprs(table, binder), ctx)
    except errors.NotNullViolation as exc:
        col = exc.message.split('"')[1]
        raise errors.NotNullViolation(f'column "{col}" of relation "{table.name}" contains null values') from None
    except errors.CheckViolation as exc:
        name = exc.message.split('"')[-2]
        raise errors.CheckViolation(f'check constraint "{name}" of relation "{table.name}" is violated by some row') from None
    session.txn.delete(table.oid, rel.rowids)
    session.txn.insert(table.oid, to_storage(table, cols), unique=unique_specs(table))


def _without_last(table: Table) -> Table:
    return Table(table.oid, table.name, table.schema, table.columns[:-1], [], table.next_col)


def _drop_column(table: Table, name: str, if_exists: bool, notices: list) -> None:
    col = table.column(name)
    if col is None:
        if if_exists:
            notices.append(Notice("NOTICE", f'column "{name}" of relation "{table.name}" does not exist, skipping'))
            return
        raise errors.UndefinedColumn(f'column "{name}" of relation "{table.name}" does not exist')
    if len(table.columns) == 1:
        raise errors.FeatureNotSupported("tables without columns are not supported")
    table.columns.remove(col)
    # constraints over the column go with it, as PostgreSQL drops them
    table.constraints = [
        k for k in table.constraints if col.id not in k.columns and not (k.kind == "c" and _mentions(k.expr, name))
    ]


def _mentions(expr: str | None, name: str) -> bool:
    if expr is None:
        return False
    from sqlvec.grammar import parse_expression

    return any(c.name == name for c in parse_expression(expr).find_all(exp.Column))


def _alter_column(session, table: Table, node: exp.AlterColumn) -> None:
    col = table.column(node.this.name)
    if col is None:
        raise errors.UndefinedColumn(f'column "{node.this.name}" of relation "{table.name}" does not exist')
    if node.args.get("dtype") is not None:
        raise errors.FeatureNotSupported("ALTER COLUMN ... TYPE is not supported yet")
    if node.args.get("default") is not None:
        col.default = to_sql(node.args["default"])
        return
    allow_null = node.args.get("allow_null")
    if allow_null is True:
        if any(k.kind == "p" and col.id in k.columns for k in table.constraints):
            raise errors.InvalidTableDefinition(f'column "{col.name}" is in a primary key')
        col.not_null = False
        return
    if allow_null is False:
        col.not_null = True
        _validate_existing(session, table, [])
        return
    if node.args.get("drop"):
        col.default = None
        return
    raise errors.FeatureNotSupported(f"ALTER COLUMN form not supported yet: {to_sql(node)}")


def _validate_existing(session, table: Table, added) -> None:
    """Existing rows must satisfy new NOT NULL / CHECK / UNIQUE constraints."""
    ctx = ExecContext(session.txn, [], {"engine": session.db.engine})
    rel = scan_table(ctx, table, set(range(len(table.columns))), None, with_rowids=True)
    if rel.n == 0:
        return
    binder = session.new_binder([])
    try:
        check_rows(table, rel.columns, rel.n, session.check_exprs(table, binder), ctx)
    except errors.CheckViolation as exc:
        name = exc.message.split('"')[-2]
        raise errors.CheckViolation(f'check constraint "{name}" of relation "{table.name}" is violated by some row') from None
    except errors.NotNullViolation as exc:
        col = exc.message.split('"')[1]
        raise errors.NotNullViolation(f'column "{col}" of relation "{table.name}" contains null values') from None
    if any(k.kind in "pu" for k in added):
        # re-inserting the rows checks the keys the same way inserts do
        session.txn.delete(table.oid, rel.rowids)
        try:
            session.txn.insert(table.oid, to_storage(table, rel.columns), unique=unique_specs(table))
        except errors.UniqueViolation as exc:
            name = exc.message.split('"')[-2]
            detail = (exc.detail or "").replace("already exists.", "is duplicated.")
            raise errors.UniqueViolation(f'could not create unique index "{name}"', detail=detail) from None

