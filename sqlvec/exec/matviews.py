"""Materialized views: CREATE / REFRESH / DROP / ALTER MATERIALIZED VIEW, COMMENT ON, and the
guards that keep writes out of them and reads off an unpopulated one.

A materialized view is an ordinary catalog :class:`Table` whose ``options["matview"]`` holds
``{"query": <SQL text>, "populated": bool, "depends": [oid, ...]}``: storage, durability,
vector and UNIQUE indexes, pg_attribute and psql's ``\\d`` come with the table. The query is
stored with every table name qualified by the schema it resolved to (as a view's is).

CREATE and REFRESH run the query through the ordinary planner and executor inside the
current transaction: REFRESH is TRUNCATE plus INSERT of the query's rows in one
transaction, so it is atomic and readers keep reading their snapshot meanwhile (MVCC) —
which is what PostgreSQL's REFRESH ... CONCURRENTLY exists to give; here both forms behave
that way, and CONCURRENTLY only adds PostgreSQL's preconditions (a unique index, a
populated view). The catalog changes only when ``populated`` flips, so refreshing an
already populated view is a data-only commit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import MATVIEW, DatabaseDef, Table
from sqlvec.grammar import parse, to_sql
from sqlvec.grammar import utility as U
from sqlvec.grammar.sql_parser import max_param
from sqlvec.result import Notice, Result
from sqlvec.types import registry as T
from sqlvec.types.casts import cast_array

KEY = MATVIEW


def info(table: Table | None) -> dict[str, Any] | None:
    """The ``options["matview"]`` record of a materialized view; None for anything else."""
    return table.options.get(KEY) if table is not None else None


def is_matview(obj: Any) -> bool:
    return isinstance(obj, Table) and KEY in obj.options


def storage_options(table: Table) -> dict[str, Any]:
    """The WITH (...) options of a table or materialized view, without our own record."""
    return {k: v for k, v in table.options.items() if k != KEY}


# -- guards (called by the planners) ------------------------------------------------------------


def check_writable(table: Table) -> None:
    """INSERT / UPDATE / DELETE into a materialized view fail as in PostgreSQL."""
    if KEY in table.options:
        raise errors.WrongObjectType(f'cannot change materialized view "{table.name}"')


def unpopulated_scan(session, node: exp.Table):
    """The FROM item ``node`` as a scan that fails when it runs, if it names a materialized
    view created WITH NO DATA (or refreshed so); None otherwise. The error waits for the
    executor, as in PostgreSQL: EXPLAIN, CREATE VIEW and PREPARE over it work."""
    db = session.catalog().database(session.database)
    if not any(KEY in t.options and not t.options[KEY]["populated"] for t in db.tables.values()):
        return None  # the common case: one pass over the tables, no name resolution
    t = db.find_table(node.name, node.db or None, session.search_path())
    m = info(t)
    if m is None or m["populated"]:
        return None
    from sqlvec.exec.nodes import MaterializedScan
    from sqlvec.plan.scope import ScopeColumn

    alias_node = node.args.get("alias")
    renames = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    alias = node.alias_or_name
    scope = [ScopeColumn(renames[i] if i < len(renames) else c.name, c.type, i, alias, t.oid, c.attnum)
             for i, c in enumerate(t.columns)]

    def fail(ctx, name=t.name):
        raise errors.ObjectNotInPrerequisiteState(f'materialized view "{name}" has not been populated',
                                                  hint="Use the REFRESH MATERIALIZED VIEW command.")

    return MaterializedScan(fail, scope)


# -- CREATE MATERIALIZED VIEW -------------------------------------------------------------------


def create_matview(session, node: exp.Create) -> Result:
    """``CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [(col, ...)] [WITH (opts)] AS query
    [WITH [NO] DATA]``: the tag is ``SELECT n`` when it was populated, as in PostgreSQL."""
    from sqlvec.exec import views
    from sqlvec.exec.ddl import as_target, claim_name

    props = node.args.get("properties")
    props = list(props.expressions) if props is not None else []
    target, aliases, with_data = as_target(node)
    if max_param(node.expression):
        raise errors.UndefinedParameter("there is no parameter $1")
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    path = session.search_path()
    name = target.name
    schema, skipped = claim_name(db, target.db or None, name, path, bool(node.args.get("exists")),
                                 "CREATE MATERIALIZED VIEW")
    if skipped is not None:
        return skipped
    query = node.expression.copy()
    deps = views.qualify_and_collect(db, query, path)
    if any(getattr(db.tables.get(d) or db.views.get(d), "temporary", False) for d in deps):
        raise errors.FeatureNotSupported("materialized views must not use temporary tables or views")
    plan = _plan(session, query)
    columns = views.output_columns(plan.columns, aliases, "too many column names were specified")
    for c in columns:
        if c.type.defn is T.UNKNOWN.defn:
            c.type = T.TEXT  # an untyped literal column is text, as in PostgreSQL
    options = {p.name.lower(): _option_value(p) for p in props if isinstance(p, exp.Property) and p.name}
    options[KEY] = {"query": to_sql(query), "populated": with_data, "depends": deps}
    table = Table(cat.new_oid(), name, schema, columns, next_col=len(columns) + 1, options=options)
    db.tables[table.oid] = table
    if not with_data:
        return Result("CREATE MATERIALIZED VIEW")
    n = _fill(session, table, plan)
    return Result(f"SELECT {n}", rowcount=n)


def _option_value(p: exp.Property) -> str | None:
    v = p.args.get("value")
    # WITH (flag = true) parses as a Boolean, whose .name is empty (as in ddl.create_table)
    return str(v.this).lower() if isinstance(v, exp.Boolean) else (v.name if v is not None else None)


def _plan(session, query: exp.Expression):
    from sqlvec.statements import query_planner

    return query_planner(session, session.new_binder([])).plan_query(query)


def _fill(session, table: Table, plan, concurrently: bool = False) -> int:
    """Run the planned query and store its rows in ``table`` (this transaction)."""
    from sqlvec.exec.dml import bulk_load_rows, write_rows
    from sqlvec.exec.writer import unique_specs
    from sqlvec.statements import _context

    ctx = _context(session, [])
    data = plan.run(ctx)
    n = data.num_rows
    if n == 0:
        return 0
    cols: list[pa.Array] = []
    for j, (src, col) in enumerate(zip(plan.columns, table.columns)):
        arr = data.column(j).combine_chunks()
        if arr.type != col.type.arrow_type():
            arr = cast_array(arr, src.type, col.type, False)
        cols.append(arr)
    if concurrently:
        _refuse_duplicate_rows(table, cols, n)
    limit = bulk_load_rows(ctx)  # a big result goes straight to a sealed segment
    try:
        write_rows(ctx, table, cols, unique_specs(table), bulk=0 < limit <= n)
    except errors.UniqueViolation as exc:
        if concurrently:
            raise
        # PostgreSQL rebuilds the indexes of the new contents: its message says so
        name = getattr(exc, "constraint_name", None) or exc.message.split('"')[1]
        detail = (exc.detail or "").replace(" already exists.", " is duplicated.")
        raise errors.UniqueViolation(f'could not create unique index "{name}"', detail=detail or None).about(
            schema=table.schema, table=table.name, constraint=name) from None
    return n


def _refuse_duplicate_rows(table: Table, cols: list[pa.Array], n: int) -> None:
    """REFRESH ... CONCURRENTLY matches old and new rows, so PostgreSQL refuses new contents
    with two equal rows that have no NULL (21000)."""
    from sqlvec.exec.records import record_type
    from sqlvec.exec.relation import group_ids
    from sqlvec.types.arrow import from_arrow

    complete = np.ones(n, dtype=bool)
    for c in cols:
        complete &= ~np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    g, _, first = group_ids(cols, n)
    dup = complete & (first[g] != np.arange(n))
    if not dup.any():
        return
    i = int(np.argmax(dup))
    row = tuple(from_arrow(c.slice(i, 1), col.type)[0] for c, col in zip(cols, table.columns))
    text = record_type([(col.name, col.type) for col in table.columns]).defn.text_out(row)
    raise errors.CardinalityViolation(
        f'new data for materialized view "{table.name}" contains duplicate rows without any null columns',
        detail=f"Row: {text}")


# -- REFRESH MATERIALIZED VIEW ------------------------------------------------------------------


def run_refresh(session, st, values, many) -> Result:
    node: U.RefreshMatViewStmt = st.ast
    db = session.catalog().database(session.database)
    table = _find(session, db, node.name)
    m = info(table)
    if m is None:
        raise errors.FeatureNotSupported(f'"{table.name}" is not a materialized view')
    if node.concurrently:
        if not node.with_data:
            raise errors.SyntaxError("CONCURRENTLY and WITH NO DATA options cannot be used together")
        if not m["populated"]:
            raise errors.FeatureNotSupported("CONCURRENTLY cannot be used when the materialized view is not populated")
        if not any(ix.unique and ix.table == table.oid for ix in db.indexes.values()):
            raise errors.ObjectNotInPrerequisiteState(
                f'cannot refresh materialized view "{table.schema}.{table.name}" concurrently',
                hint="Create a unique index with no WHERE clause on one or more columns of the materialized view.")
    if m["populated"] != node.with_data:
        # the flag lives in the catalog: only a flip makes this a catalog change
        table = session.mutable_catalog().database(session.database).tables[table.oid]
        table.options[KEY]["populated"] = node.with_data
    plan = _plan(session, parse(m["query"])[0].ast) if node.with_data else None
    session.txn.truncate(table.oid)
    if plan is not None:
        _fill(session, table, plan, node.concurrently)
    return Result("REFRESH MATERIALIZED VIEW")


def _find(session, db: DatabaseDef, name: U.QualifiedName) -> Table:
    if name.schema is not None and name.schema not in db.schemas:
        raise errors.InvalidSchemaName(f'schema "{name.schema}" does not exist')
    t = db.find_table(name.name, name.schema, session.search_path())
    if t is None:
        if db.find_view(name.name, name.schema, session.search_path()) is not None:
            raise errors.FeatureNotSupported(f'"{name.name}" is not a materialized view')
        raise errors.UndefinedTable(f'relation "{name}" does not exist')
    return t


# -- DROP / ALTER / COMMENT ---------------------------------------------------------------------


def run_drop(session, st, values, many) -> Result:
    """Every DROP comes here first: DROP MATERIALIZED VIEW is ours; DROP TABLE / VIEW naming
    a materialized view fail with PostgreSQL's hint; the rest goes to statements.run_drop,
    after which materialized views that a CASCADE took away lose their storage too."""
    from sqlvec import statements

    node: exp.Drop = st.ast
    kind = (node.args.get("kind") or "").upper()
    db = session.catalog().database(session.database)
    if kind == "VIEW" and node.args.get("materialized"):
        return drop_matviews(session, node)
    if kind in ("TABLE", "VIEW"):
        for t in node.args.get("tables") or []:
            _refuse_wrong_kind(session, db, t, kind)
    before = {oid for oid, t in db.tables.items() if KEY in t.options}
    result = statements.run_drop(session, st, values, many)
    _release_dropped(session, before)
    return result


def _refuse_wrong_kind(session, db: DatabaseDef, t: exp.Table, kind: str) -> None:
    path = session.search_path()
    word = kind.lower()
    if kind == "VIEW" and db.find_view(t.name, t.db or None, path) is not None:
        return
    hit = db.find_table(t.name, t.db or None, path)
    if hit is not None and KEY in hit.options:
        raise errors.WrongObjectType(f'"{t.name}" is not a {word}',
                                     hint="Use DROP MATERIALIZED VIEW to remove a materialized view.")


def _release_dropped(session, before: set[int]) -> None:
    """Storage and indexes of the materialized views no longer in the catalog."""
    from sqlvec.statements import _drop_index

    db = session.catalog().database(session.database)
    for oid in before - set(db.tables):
        for ix in [i for i in db.indexes.values() if i.table == oid]:
            _drop_index(session, db, ix)
        session.txn.drop_table(oid)


def drop_matviews(session, node: exp.Drop) -> Result:
    """``DROP MATERIALIZED VIEW [IF EXISTS] name [, ...] [CASCADE | RESTRICT]``."""
    from sqlvec.exec import views

    db = session.mutable_catalog().database(session.database)
    path = session.search_path()
    notices: list[Notice] = []
    targets: list[Table] = []
    for t in node.args.get("tables") or []:
        hit = db.find_table(t.name, t.db or None, path)
        if hit is None or KEY not in hit.options:
            if hit is not None:
                raise errors.WrongObjectType(f'"{t.name}" is not a materialized view',
                                             hint="Use DROP TABLE to remove a table.")
            if db.find_view(t.name, t.db or None, path) is not None:
                raise errors.WrongObjectType(f'"{t.name}" is not a materialized view',
                                             hint="Use DROP VIEW to remove a view.")
            if node.args.get("exists"):
                notices.append(Notice("NOTICE", f'materialized view "{t.name}" does not exist, skipping'))
                continue
            raise errors.UndefinedTable(f'materialized view "{t.name}" does not exist')
        targets.append(hit)
    before = {oid for oid, t in db.tables.items() if KEY in t.options}
    oids = {t.oid for t in targets}
    for t in targets:
        if t.oid in db.tables:
            extra = views.check_drop(db, oids, f"materialized view {t.name}", bool(node.args.get("cascade")), notices)
            views.remove_views(db, [*extra, t])
    _release_dropped(session, before)
    return Result("DROP MATERIALIZED VIEW", notices=notices)


def run_alter(session, st, values, many) -> Result:
    """``ALTER MATERIALIZED VIEW [IF EXISTS] name RENAME [COLUMN a] TO b`` (catalog only)."""
    from sqlvec.exec import alter

    node: U.AlterMatViewStmt = st.ast
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    table = db.find_table(node.name.name, node.name.schema, session.search_path())
    if table is None:
        if node.if_exists:
            return Result("ALTER MATERIALIZED VIEW",
                          notices=[Notice("NOTICE", f'relation "{node.name}" does not exist, skipping')])
        raise errors.UndefinedTable(f'relation "{node.name}" does not exist')
    if KEY not in table.options:
        raise errors.WrongObjectType(f'"{table.name}" is not a materialized view')
    if node.column is None:
        action: exp.Expression = exp.AlterRename(this=exp.to_table(node.new_name))
    else:
        action = exp.RenameColumn(this=exp.column(node.column), to=exp.column(node.new_name))
    alter.apply(session, cat, db, table, action, [])
    return Result("ALTER MATERIALIZED VIEW")


def run_comment(session, st, values, many) -> Result:
    """COMMENT ON: ``MATERIALIZED VIEW`` is resolved here (as a relation comment); the other
    kinds go to sqlvec.exec.comments, after refusing TABLE / VIEW of a materialized view."""
    from sqlvec.exec.comments import comment_on

    node: exp.Comment = st.ast
    kind = (node.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW"):
        return comment_on(session, st, values, many)
    db = session.catalog().database(session.database)
    path = session.search_path()
    target = node.this
    table = db.find_table(target.name, target.db or None, path)
    if node.args.get("materialized"):
        if table is None:
            if db.find_view(target.name, target.db or None, path) is not None:
                raise errors.WrongObjectType(f'"{target.name}" is not a materialized view')
            raise errors.UndefinedTable(f'relation "{target.name}" does not exist')
        if KEY not in table.options:
            raise errors.WrongObjectType(f'"{target.name}" is not a materialized view')
        # a materialized view is a relation like a table: comment on it as on one
        node = node.copy()
        node.set("kind", "TABLE")
        node.set("materialized", False)
        return comment_on(session, dataclasses.replace(st, ast=node), values, many)
    if table is not None and KEY in table.options and (kind == "TABLE" or db.find_view(
            target.name, target.db or None, path) is None):
        raise errors.WrongObjectType(f'"{target.name}" is not a {kind.lower()}')
    return comment_on(session, st, values, many)


def run_truncate(session, st, values, many) -> Result:
    """TRUNCATE of a materialized view fails as in PostgreSQL; the rest is statements'."""
    from sqlvec import statements

    db = session.catalog().database(session.database)
    for t in st.ast.expressions:
        hit = db.find_table(t.name, t.db or None, session.search_path())
        if hit is not None and KEY in hit.options:
            raise errors.WrongObjectType(f'"{t.name}" is not a table')
    return statements.run_truncate(session, st, values, many)


def run_copy(session, st, values, many) -> Result:
    """COPY of a materialized view fails as in PostgreSQL 16 (COPY (SELECT ...) TO works);
    the rest is sqlvec.exec.copy's."""
    from sqlvec.exec.copy import run_copy as copy

    node: U.CopyStmt = st.ast
    if node.table is not None:
        db = session.catalog().database(session.database)
        hit = db.find_table(node.table.name, node.table.schema, session.search_path())
        if hit is not None and KEY in hit.options:
            if node.is_from:
                raise errors.WrongObjectType(f'cannot copy to materialized view "{hit.name}"')
            raise errors.WrongObjectType(f'cannot copy from materialized view "{hit.name}"',
                                         hint="Try the COPY (SELECT ...) TO variant.")
    return copy(session, st, values, many)


def describe_dependent(obj: Any) -> str:
    """How PostgreSQL names a dependent object in DROP's messages."""
    return f"materialized view {obj.name}" if is_matview(obj) else f"view {obj.name}"


def depends_of(obj: Any) -> list[int]:
    """OIDs a view or materialized view reads."""
    m = info(obj) if isinstance(obj, Table) else None
    return list(m.get("depends", [])) if m is not None else list(getattr(obj, "depends", []))
