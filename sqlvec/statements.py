"""One function per kind of statement: plan (cached by text and parameter types), then run.

The session owns transactions; everything here runs inside the session's current storage
transaction (``session.txn``) and changes the catalog through ``session.mutable_catalog()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from sqlvec import errors, privileges
from sqlvec.exec import ddl, set_role
from sqlvec.exec.ddl_privileges import check_statement
from sqlvec.exec.dml import DmlPlanner, WriteResult
from sqlvec.exec.relation import ExecContext
from sqlvec.exec.role_grants import apply_role_options, before_drop_role, rename_role
from sqlvec.grammar import grants_builder as G
from sqlvec.grammar import utility as U
from sqlvec.plan.explain import result_columns as explain_columns
from sqlvec.plan.explain import run_explain
from sqlvec.plan.query import QueryPlanner
from sqlvec.result import Notice, Result, ResultColumn
from sqlvec.types import registry as T


def _context(session, params) -> ExecContext:
    return ExecContext(session.txn, params, {"engine": session.db.engine, "session": session}, session.check_interrupt)


def run(session, st, values, many: bool, types=None) -> Result:
    """Run one parsed statement. ``types`` (the wire's Parse types) overrides the types
    inferred from Python parameter values."""
    node = st.ast
    if isinstance(node, exp.Select) and node.args.get("into") is not None:
        from sqlvec.exec.table_as import select_into

        session.check_writable("SELECT INTO")
        return select_into(session, node)  # CREATE TABLE ... AS, in its older spelling
    handler = _HANDLERS.get(type(node))
    if handler is None:
        for cls, h in _HANDLERS.items():
            if isinstance(node, cls):
                handler = h
                break
    if handler is None:
        raise errors.FeatureNotSupported(f"statement not supported yet: {st.text.strip()[:80]}")
    word = _WRITES.get(type(node))
    if word is not None:
        session.check_writable(word)
    check_statement(session, node)  # DDL privileges (queries are checked when planned)
    mark = privileges.oid_mark(session)
    if handler in _PLANNED:
        result = handler(session, st, values, many, types)
    else:
        result = handler(session, st, values, many)
    privileges.after_statement(session, mark)  # the creating role owns what it created
    return result


# -- planned statements (SELECT, INSERT, UPDATE, DELETE) ----------------------------------------


def _prepared(session, st, values, many: bool, kind: str, build: Callable, types=None):
    p = plan_for(session, st, kind, build, types if types is not None else session.param_types_for(values, many))
    params = session.bind_param_values(p.params, values, many)
    return p, params


def plan_for(session, st, kind: str, build: Callable, types: list):
    """The cached plan of a statement for these parameter types (planning it if needed)."""
    key = (kind, st.text, tuple(t.key for t in types))
    p = session.cached_plan(key)
    if p is None:
        from sqlvec.session import _Prepared

        binder = session.new_binder(types)
        plan = build(session, binder, st.ast)
        final = [t if t.defn is not T.UNKNOWN.defn else T.TEXT for t in binder.params]
        p = _Prepared(kind, plan, final)
        p.statement = st
        session.store_plan(key, p)
    return p


def query_planner(session, binder) -> QueryPlanner:
    return QueryPlanner(binder, privileges.resolver(session), session.virtual_relation)


def _build_select(session, binder, node):
    return query_planner(session, binder).plan_query(node)


def _dml_planner(session, binder, node=None) -> DmlPlanner:
    return DmlPlanner(
        binder,
        privileges.resolver(session, privileges.dml_privileges(node)) if node is not None else session.resolve_table,
        lambda t: session.default_exprs(t, binder),
        lambda t: session.check_exprs(t, binder),
        lambda n: query_planner(session, binder).plan_query(n),
    )


def run_select(session, st, values, many, types=None) -> Result:
    p, params = _prepared(session, st, values, False, "select", _build_select, types)
    session.last_prepared = p  # the session may keep its short path (sqlvec.exec.fast_topk)
    table = p.const_table
    if table is None:
        table = p.plan.run(_context(session, params))
        if p.constant is None:
            p.constant = _constant_plan(p.plan)
        if p.constant:
            # only literals (constant folding has run): the same rows every time, as a
            # connection pool's `SELECT 1` ping; the wire layer also reuses their encoding
            p.const_table = table
    return Result(f"SELECT {table.num_rows}", p.plan.columns, table, table.num_rows)


def _constant_plan(plan) -> bool:
    from sqlvec.plan import expr as E
    from sqlvec.plan.select import SelectPlan

    return (
        type(plan) is SelectPlan and plan.source is None and plan.where is None
        and plan.group_keys is None and not plan.windows and not plan.srfs
        and plan.knn is None and plan.fts is None and plan.limit is None and plan.offset is None
        and not plan.sort and all(type(e) is E.Const for e in plan.outputs)
    )


def _write(session, st, values, many, kind: str, build, types=None) -> Result:
    p, params = _prepared(session, st, values, many, kind, build, types)
    if kind == "insert" and not many:
        session.last_prepared = p  # the session may keep its short path (sqlvec.exec.fast_insert)
    ctx = _context(session, params)
    if kind == "insert":
        res: WriteResult = p.plan.run(ctx, len(values) if many else 0)
        tag = f"INSERT 0 {res.count}"
    else:
        res = p.plan.run(ctx)
        tag = f"{kind.upper()} {res.count}"
    if p.plan.returning is not None:
        return Result(tag, p.plan.returning.columns, res.returning, res.count)
    return Result(tag, None, None, res.count)


def _build_insert(s, b, n):
    return _dml_planner(s, b, n).insert(n)


def _build_update(s, b, n):
    return _dml_planner(s, b, n).update(n)


def _build_delete(s, b, n):
    return _dml_planner(s, b, n).delete(n)


def run_insert(session, st, values, many, types=None) -> Result:
    return _write(session, st, values, many, "insert", _build_insert, types)


def run_update(session, st, values, many, types=None) -> Result:
    return _write(session, st, values, many, "update", _build_update, types)


def run_delete(session, st, values, many, types=None) -> Result:
    return _write(session, st, values, many, "delete", _build_delete, types)


# kind and planner of the statements that take parameters and are planned once per text
PLANNABLE = {
    exp.Select: ("select", _build_select),
    exp.Union: ("select", _build_select),
    exp.Intersect: ("select", _build_select),
    exp.Except: ("select", _build_select),
    exp.Values: ("select", _build_select),
    exp.Subquery: ("select", _build_select),
    exp.Insert: ("insert", _build_insert),
    exp.Update: ("update", _build_update),
    exp.Delete: ("delete", _build_delete),
}


def describe(session, st, types: list) -> tuple[list, list[ResultColumn] | None]:
    """Parameter types and result columns of a statement, without running it (for the wire
    protocol's Describe)."""
    if isinstance(st.ast, exp.Select) and st.ast.args.get("into") is not None:
        return [], None  # SELECT INTO returns no rows
    spec = PLANNABLE.get(type(st.ast))
    if spec is not None:
        p = plan_for(session, st, spec[0], spec[1], types)
        plan = p.plan
        cols = plan.columns if spec[0] == "select" else (plan.returning.columns if plan.returning else None)
        return p.params, cols
    if isinstance(st.ast, U.ExplainStmt):
        inner = PLANNABLE.get(type(st.ast.statement))
        if inner is not None and st.param_count:
            binder = session.new_binder(types)
            inner[1](session, binder, st.ast.statement)
            types = [t if t.defn is not T.UNKNOWN.defn else T.TEXT for t in binder.params]
        return types, explain_columns(st.ast)
    extra = _DESCRIBERS.get(type(st.ast))
    if extra is not None:
        return extra(session, st, types)
    if st.param_count:
        raise errors.Error("could not determine data type of parameter $1", sqlstate="42P18")
    if isinstance(st.ast, U.ShowStmt):
        if st.ast.name == "all":
            return [], [ResultColumn("name", T.TEXT), ResultColumn("setting", T.TEXT), ResultColumn("description", T.TEXT)]
        return [], [ResultColumn(session.settings.display_name(st.ast.name), T.TEXT)]
    return [], None


# -- DDL ----------------------------------------------------------------------------------------


def run_create(session, st, values, many) -> Result:
    node: exp.Create = st.ast
    kind = (node.args.get("kind") or "").upper()
    notices: list[Notice] = []
    if kind == "VIEW":
        from sqlvec.exec.views import create_view

        return create_view(session, node)
    if kind == "TABLE":
        if isinstance(node.expression, exp.Select) or node.args.get("expression") is not None:
            return _create_table_as(session, st, node)
        cat = session.mutable_catalog()
        db = cat.database(session.database)
        from sqlvec.exec import partition_ddl, temp_tables

        if partition_ddl.partition_of(node) is not None:
            table = partition_ddl.create_partition(session, cat, db, node)
        elif temp_tables.is_temp_create(node):
            table = temp_tables.create_temp_table(session, node, notices)
        else:
            table = ddl.create_table(cat, db, node, session.search_path(), notices)
            if table is not None:
                partition_ddl.declare(cat, db, table, node)  # PARTITION BY / WITH (partition_key)
        if table is not None:
            from sqlvec import consistency
            from sqlvec.plan import ttl

            ttl.check_options(table)
            consistency.check_table_option(table)  # WITH (consistency = '...')
            # defaults and CHECK expressions must bind now, not at the first INSERT
            binder = session.new_binder([])
            session.default_exprs(table, binder)
            session.check_exprs(table, binder)
        return Result("CREATE TABLE", notices=notices)
    if kind == "INDEX":
        from sqlvec.exec.indexes import build_vector_index, create_index

        cat = session.mutable_catalog()
        db = cat.database(session.database)
        ix = create_index(cat, db, node, session.search_path(), lambda t: session.resolve_table(t, cat), notices)
        if ix is not None:
            table = db.tables[ix.table]
            if ix.unique:
                _validate_unique_index(session, table, ix)
            concurrently = bool(node.args.get("concurrently"))
            engine = session.db.engine
            # the per-segment build starts once the catalog change is committed
            session.after_commit(lambda: build_vector_index(engine, table, ix, wait=not concurrently))
            from sqlvec.exec.partition_ddl import index_partitions

            for part, pix in index_partitions(cat, db, ix):  # one index per partition
                session.after_commit(lambda p=part, i=pix: build_vector_index(engine, p, i, wait=not concurrently))
        return Result("CREATE INDEX", notices=notices)
    if kind == "SEQUENCE":
        cat = session.mutable_catalog()
        ddl.create_sequence(cat, cat.database(session.database), node, session.search_path(), notices)
        return Result("CREATE SEQUENCE", notices=notices)
    if kind == "SCHEMA":
        cat = session.mutable_catalog()
        db = cat.database(session.database)
        name = node.this.name if not isinstance(node.this, exp.Table) else (node.this.db or node.this.name)
        if name in db.schemas:
            if node.args.get("exists"):
                return Result("CREATE SCHEMA", notices=[Notice("NOTICE", f'schema "{name}" already exists, skipping', "42P06")])
            raise errors.DuplicateSchema(f'schema "{name}" already exists')
        if name.startswith("pg_"):
            raise errors.Error(f'unacceptable schema name "{name}"', sqlstate="42939", detail='The prefix "pg_" is reserved for system schemas.')
        db.schemas[name] = cat.new_oid()
        return Result("CREATE SCHEMA")
    raise errors.FeatureNotSupported(f"CREATE {kind} is not supported yet")


def _create_table_as(session, st, node) -> Result:
    from sqlvec.exec.table_as import create_table_as

    return create_table_as(session, node)


def run_drop(session, st, values, many) -> Result:
    node: exp.Drop = st.ast
    kind = (node.args.get("kind") or "").upper()
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    notices: list[Notice] = []
    if kind == "VIEW":
        from sqlvec.exec.views import drop_view

        return drop_view(session, node)
    if kind == "TABLE":
        from sqlvec.exec import foreign_keys, partition_ddl, views

        for t in node.args.get("tables") or []:
            name, schema = t.name, (t.db or None)
            if schema is not None and schema not in db.schemas:
                if node.args.get("exists"):
                    notices.append(Notice("NOTICE", f'schema "{schema}" does not exist, skipping'))
                    continue
                raise errors.InvalidSchemaName(f'schema "{schema}" does not exist')
            table = db.find_table(name, schema, session.search_path())
            if table is None:
                if node.args.get("exists"):
                    notices.append(Notice("NOTICE", f'table "{name}" does not exist, skipping', "00000"))
                    continue
                raise errors.UndefinedTable(f'table "{name}" does not exist')
            cascade = bool(node.args.get("cascade"))
            foreign_keys.drop_referencing(db, {table.oid}, cascade, notices)
            views.remove_views(db, views.check_drop(db, {table.oid}, f"table {table.name}", cascade, notices))
            db.comments = {k: v for k, v in db.comments.items() if k[1] != table.oid}
            for part in partition_ddl.cascade(db, table):  # a parent's partitions go with it
                _drop_table_indexes(session, db, part.oid)
                ddl.drop_table(db, part)
                session.txn.drop_table(part.oid)
            _drop_table_indexes(session, db, table.oid)
            ddl.drop_table(db, table)
            session.txn.drop_table(table.oid)
        return Result("DROP TABLE", notices=notices)
    if kind == "INDEX":
        for t in node.args.get("tables") or []:
            ix = next((i for i in db.indexes.values() if i.name == t.name and (not t.db or i.schema == t.db)), None)
            if ix is None:
                if node.args.get("exists"):
                    notices.append(Notice("NOTICE", f'index "{t.name}" does not exist, skipping'))
                    continue
                raise errors.UndefinedObject(f'index "{t.name}" does not exist')
            _drop_index(session, db, ix)
        return Result("DROP INDEX", notices=notices)
    if kind == "SCHEMA":
        for s in node.args.get("tables") or []:
            name = s.db or s.name
            if name not in db.schemas:
                if node.args.get("exists"):
                    notices.append(Notice("NOTICE", f'schema "{name}" does not exist, skipping'))
                    continue
                raise errors.InvalidSchemaName(f'schema "{name}" does not exist')
            tables = [t for t in db.tables.values() if t.schema == name]
            if tables and not node.args.get("cascade"):
                raise errors.DependentObjectsStillExist(
                    f"cannot drop schema {name} because other objects depend on it",
                    detail="\n".join(f"table {name}.{t.name} depends on schema {name}" for t in tables),
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
            for t in tables:
                ddl.drop_table(db, t)
                session.txn.drop_table(t.oid)
            del db.schemas[name]
        return Result("DROP SCHEMA", notices=notices)
    if kind == "SEQUENCE":
        for t in node.args.get("tables") or []:
            seq = db.find_sequence(t.name, t.db or None, session.search_path())
            if seq is None:
                if node.args.get("exists"):
                    notices.append(Notice("NOTICE", f'sequence "{t.name}" does not exist, skipping'))
                    continue
                raise errors.UndefinedTable(f'sequence "{t.name}" does not exist')
            if seq.owned_by and seq.owned_by[0] in db.tables and not node.args.get("cascade"):
                owner = db.tables[seq.owned_by[0]]
                raise errors.DependentObjectsStillExist(
                    f"cannot drop sequence {seq.name} because other objects depend on it",
                    detail=f"default value for column {owner.column_by_id(seq.owned_by[1]).name} of table {owner.name} depends on sequence {seq.name}",
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
            del db.sequences[seq.oid]
        return Result("DROP SEQUENCE", notices=notices)
    raise errors.FeatureNotSupported(f"DROP {kind} is not supported yet")


def _drop_index(session, db, ix) -> None:
    del db.indexes[ix.oid]
    table = db.tables.get(ix.table)
    if table is not None:
        table.unique_indexes = [u for u in table.unique_indexes if u[0] != ix.name]
    if ix.method in ("hnsw", "ivfflat"):
        engine, table_oid, oid = session.db.engine, ix.table, ix.oid
        session.after_commit(lambda: engine.drop_vector_index(table_oid, oid))
    elif ix.method == "bm25":
        from sqlvec.index.bm25_manager import fulltext_manager

        ft = fulltext_manager(session.db.engine)
        session.after_commit(lambda oid=ix.oid: ft.drop(oid))


def _drop_table_indexes(session, db, table_oid: int) -> None:
    for ix in db.table_indexes(table_oid):
        _drop_index(session, db, ix)


def _validate_unique_index(session, table, ix) -> None:
    """Existing rows must already be unique under a new UNIQUE index."""
    from sqlvec.catalog.model import Constraint
    from sqlvec.exec.alter import _validate_existing

    _validate_existing(session, table, [Constraint(ix.name, "u", list(ix.columns))])


def run_alter(session, st, values, many) -> Result:
    node: exp.Alter = st.ast
    if (node.args.get("kind") or "").upper() != "TABLE":
        raise errors.FeatureNotSupported(f"ALTER {node.args.get('kind')} is not supported yet")
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    tnode = node.this
    table = db.find_table(tnode.name, tnode.db or None, session.search_path())
    notices: list[Notice] = []
    if table is None:
        if node.args.get("exists"):
            return Result("ALTER TABLE", notices=[Notice("NOTICE", f'relation "{tnode.name}" does not exist, skipping')])
        raise errors.UndefinedTable(f'relation "{tnode.name}" does not exist')
    from sqlvec.exec import alter

    actions = list(node.args.get("actions") or [])
    opts = node.args.get("options") or []
    if len(actions) == 1 and isinstance(actions[0], exp.AlterRename) and opts and isinstance(opts[0], exp.ToTableProperty):
        # sqlglot reads ALTER TABLE t RENAME a TO b (COLUMN omitted) as a table rename
        actions = [exp.RenameColumn(this=exp.column(actions[0].this.name), to=exp.column(opts[0].this.name))]
    from sqlvec.exec.partition_ddl import cascade_alter

    for action in actions:
        parts = cascade_alter(db, table, action)  # column changes reach every partition
        alter.apply(session, cat, db, table, action, notices)
        for part in parts:
            alter.apply(session, cat, db, part, action, [])
    return Result("ALTER TABLE", notices=notices)


def run_truncate(session, st, values, many) -> Result:
    node = st.ast
    cat = session.catalog()
    from sqlvec.exec.foreign_keys import check_truncate

    check_truncate(cat.database(session.database), {session.resolve_table(t, cat).oid for t in node.expressions})
    from sqlvec.exec.partition_ddl import cascade

    for t in node.expressions:
        table = session.resolve_table(t, cat)
        session.txn.truncate(table.oid)
        for part in cascade(cat.database(session.database), table):  # a parent's rows live in its partitions
            session.txn.truncate(part.oid)
    if node.args.get("identity") and str(node.args.get("identity")).upper().startswith("RESTART"):
        db = session.mutable_catalog().database(session.database)
        for t in node.expressions:
            table = session.resolve_table(t)
            for seq in db.sequences.values():
                if seq.owned_by and seq.owned_by[0] == table.oid:
                    session.db.engine.seq_set(seq.oid, 1)
                    session.seq_last.pop(seq.oid, None)
    return Result("TRUNCATE TABLE")


def run_create_extension(session, st, values, many) -> Result:
    node: U.CreateExtensionStmt = st.ast
    version = ddl.KNOWN_EXTENSIONS.get(node.name)
    if version is None:
        raise errors.FeatureNotSupported(
            f'extension "{node.name}" is not available',
            hint="The extension must first be installed on the system where PostgreSQL is running.",
        )
    cat = session.catalog()
    db = cat.database(session.database)
    if node.name in db.extensions:
        if node.if_not_exists:
            return Result("CREATE EXTENSION", notices=[Notice("NOTICE", f'extension "{node.name}" already exists, skipping', "42710")])
        raise errors.DuplicateObject(f'extension "{node.name}" already exists')
    session.mutable_catalog().database(session.database).extensions[node.name] = version
    return Result("CREATE EXTENSION")


def run_drop_extension(session, st, values, many) -> Result:
    node: U.DropExtensionStmt = st.ast
    db = session.mutable_catalog().database(session.database)
    notices = []
    for name in node.names:
        if name not in db.extensions:
            if node.if_exists:
                notices.append(Notice("NOTICE", f'extension "{name}" does not exist, skipping'))
                continue
            raise errors.UndefinedObject(f'extension "{name}" does not exist')
        del db.extensions[name]
    return Result("DROP EXTENSION", notices=notices)


def run_create_database(session, st, values, many) -> Result:
    node: U.CreateDatabaseStmt = st.ast
    cat = session.mutable_catalog()
    if node.name in cat.databases:
        raise errors.DuplicateDatabase(f'database "{node.name}" already exists')
    template = node.options.get("template")
    tmpl = cat.database(str(template)) if template else cat.database("template1")
    cat.add_database(node.name, tmpl)
    return Result("CREATE DATABASE")


def run_drop_database(session, st, values, many) -> Result:
    node: U.DropDatabaseStmt = st.ast
    cat = session.mutable_catalog()
    if node.name not in cat.databases:
        if node.if_exists:
            return Result("DROP DATABASE", notices=[Notice("NOTICE", f'database "{node.name}" does not exist, skipping')])
        raise errors.InvalidCatalogName(f'database "{node.name}" does not exist')
    if node.name == session.database:
        raise errors.ObjectInUse("cannot drop the currently open database")
    if node.name == "template0" or node.name == "template1":
        raise errors.Error('cannot drop a template database', sqlstate="55006")
    db = cat.databases.pop(node.name)
    for t in db.tables.values():
        session.txn.drop_table(t.oid)
    return Result("DROP DATABASE")


_ROLE_FLAGS = ("superuser", "login", "createdb", "createrole", "inherit", "replication", "bypassrls")


def run_role(session, st, values, many) -> Result:
    from sqlvec.catalog.roles import Role, password_verifier

    node: U.RoleStmt = st.ast
    word = "ROLE"
    cat = session.mutable_catalog()
    me = cat.roles.get(privileges.current_user(session))
    if me is None or not (me.superuser or me.createrole):
        raise errors.InsufficientPrivilege(f"permission denied to {node.action} role")
    if node.action == "drop":
        notices = []
        for name in node.names:
            if name not in cat.roles:
                if node.if_exists:
                    notices.append(Notice("NOTICE", f'role "{name}" does not exist, skipping'))
                    continue
                raise errors.UndefinedObject(f'role "{name}" does not exist')
            if name == session.user:
                raise errors.ObjectInUse("current user cannot be dropped")
            if name == "postgres":
                raise errors.ObjectInUse(f'cannot drop role {name} because it is required by the database system', sqlstate="2BP01")
            before_drop_role(cat, name)  # refused while it owns objects or holds privileges
            del cat.roles[name]
        return Result(f"DROP {word}", notices=notices)
    name = node.names[0]
    opts = dict(node.options)
    if node.action == "create":
        if name in cat.roles:
            raise errors.DuplicateObject(f'role "{name}" already exists')
        if name.startswith("pg_"):
            raise errors.Error(f'role name "{name}" is reserved', sqlstate="42939", detail='Role names starting with "pg_" are reserved.')
        role = Role(cat.new_oid(), name)
        cat.roles[name] = role
        apply_role_options(session, cat, name, opts)  # IN ROLE / ROLE / ADMIN
    else:
        role = cat.roles.get(name)
        if role is None:
            raise errors.UndefinedObject(f'role "{name}" does not exist')
        if node.new_name:
            if node.new_name in cat.roles:
                raise errors.DuplicateObject(f'role "{node.new_name}" already exists')
            del cat.roles[name]
            role.name = node.new_name
            role.password = None  # PostgreSQL clears an MD5 password on rename; we clear any
            cat.roles[role.name] = role
            rename_role(cat, name, role.name)  # owners, ACLs and memberships follow
            return Result(f"ALTER {word}", notices=[Notice("NOTICE", "MD5 password cleared because of role rename")])
    for flag in _ROLE_FLAGS:
        if flag in opts:
            setattr(role, flag, bool(opts[flag]))
    if "password" in opts:
        role.password = password_verifier(opts["password"], role.name)
    if "connection_limit" in opts:
        role.connection_limit = int(opts["connection_limit"])
    if "valid_until" in opts:
        role.valid_until = opts["valid_until"]
    return Result(f"{node.action.upper()} {word}")


def _comment_on(session, st, values, many) -> Result:
    from sqlvec.exec.comments import comment_on

    return comment_on(session, st, values, many)


def run_checkpoint(session, st, values, many) -> Result:
    session.db.engine.checkpoint()
    return Result("CHECKPOINT")


def run_vacuum(session, st, values, many) -> Result:
    """VACUUM [FULL] [table, ...]: compaction now (see sqlvec.storage.compaction)."""
    from sqlvec.storage.compaction import Policy, compact_table

    node = st.ast
    if session.in_block and not session.implicit:
        raise errors.ActiveSqlTransaction("VACUUM cannot run inside a transaction block")
    policy = Policy(min_rows=int(session.settings.get("sqlvec.compaction_min_rows")),
                    deleted_fraction=float(session.settings.get(
                        "sqlvec.compaction_deleted_fraction")), full=node.full,
                    target_bytes=int(session.settings.get("sqlvec.compaction_target_bytes")))
    engine = session.db.engine
    for oid in _vacuum_targets(session, node.tables):
        # until nothing is left to do: each pass rewrites one group of segments (a lone
        # segment rewritten without dropping a row made no progress: a snapshot pins them)
        for _ in range(1 + len(getattr(engine._tables.get(oid), "segments", ()))):
            session.check_interrupt()
            done = compact_table(engine, oid, policy)
            if done["segments_in"] <= 1 and done["rows_out"] == done["rows_in"]:
                break
    return Result("VACUUM")


def run_analyze(session, st, values, many) -> Result:
    """ANALYZE [table, ...]: statistics are kept per segment (stats.json) at seal and
    compaction time; ANALYZE seals growing rows so they get theirs (a checkpoint)."""
    _vacuum_targets(session, st.ast.tables)  # names must exist, as in PostgreSQL
    session.db.engine.checkpoint()
    return Result("ANALYZE")


def _vacuum_targets(session, names) -> list[int]:
    cat = session.catalog()
    db = cat.database(session.database)
    if not names:
        return [t.oid for t in db.tables.values()]
    out = []
    for q in names:
        t = db.find_table(q.name, q.schema, session.search_path())
        if t is None:
            raise errors.UndefinedTable(f'relation "{q}" does not exist')
        out.append(t.oid)
    return out


_PLANNED = {run_select, run_insert, run_update, run_delete, run_explain}

# statements refused in a READ ONLY transaction, with the word PostgreSQL's message uses
_WRITES = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.TruncateTable: "TRUNCATE TABLE",
    exp.Comment: "COMMENT",
    U.RefreshMatViewStmt: "REFRESH MATERIALIZED VIEW",
    U.AlterMatViewStmt: "ALTER MATERIALIZED VIEW",
}

def _lazy(module: str, name: str) -> Callable:
    """A handler in a module that imports this one: imported at its first use."""
    def run(*args):
        return getattr(importlib.import_module(module), name)(*args)

    run.__name__ = name
    return run


_HANDLERS = {
    exp.Select: run_select,
    exp.Union: run_select,
    exp.Intersect: run_select,
    exp.Except: run_select,
    exp.Values: run_select,
    exp.Subquery: run_select,
    exp.Insert: run_insert,
    exp.Update: run_update,
    exp.Delete: run_delete,
    exp.Create: run_create,
    exp.Drop: _lazy("sqlvec.exec.matviews", "run_drop"),  # DROP MATERIALIZED VIEW, then run_drop
    exp.Alter: run_alter,
    exp.TruncateTable: _lazy("sqlvec.exec.matviews", "run_truncate"),  # refuses matviews
    exp.Comment: _lazy("sqlvec.exec.matviews", "run_comment"),  # MATERIALIZED VIEW, else _comment_on
    U.CreateExtensionStmt: run_create_extension,
    U.DropExtensionStmt: run_drop_extension,
    U.CreateDatabaseStmt: run_create_database,
    U.DropDatabaseStmt: run_drop_database,
    U.CheckpointStmt: run_checkpoint,
    U.VacuumStmt: run_vacuum,
    U.AnalyzeStmt: run_analyze,
    U.RoleStmt: run_role,
    G.GrantStmt: _lazy("sqlvec.exec.grants", "run_grant"),
    G.AlterDefaultPrivilegesStmt: _lazy("sqlvec.exec.grants", "run_alter_default_privileges"),
    G.AlterOwnerStmt: _lazy("sqlvec.exec.ownership", "run_alter_owner"),
    G.ReassignOwnedStmt: _lazy("sqlvec.exec.ownership", "run_reassign_owned"),
    G.DropOwnedStmt: _lazy("sqlvec.exec.ownership", "run_drop_owned"),
    U.ExplainStmt: run_explain,
    U.ReindexStmt: _lazy("sqlvec.exec.reindex", "run_reindex"),
    U.RefreshMatViewStmt: _lazy("sqlvec.exec.matviews", "run_refresh"),
    U.AlterMatViewStmt: _lazy("sqlvec.exec.matviews", "run_alter"),
}


# -- utility statements that need no transaction (SET, SHOW, RESET) -------------------------------


def utility(session, node) -> Result:
    if getattr(node, "name", None) in set_role.NAMES:
        return set_role.utility(session, node)  # SET ROLE / SESSION AUTHORIZATION
    s = session.settings
    if isinstance(node, U.SetStmt):
        if node.is_default or node.values is None:
            s.set(node.name, None, local=node.local)
        else:
            text = ", ".join(str(v) for v in node.values)
            if node.local and not session.in_block:
                notice = Notice("WARNING", "SET LOCAL can only be used in transaction blocks", "25P01")
                return Result("SET", notices=[notice])
            s.set(node.name, text, local=node.local)
        return Result("SET")
    if isinstance(node, U.ResetStmt):
        if node.name == "all":
            s.reset_all()
        else:
            s.set(node.name, None)
        return Result("RESET")
    if isinstance(node, U.ShowStmt):
        if node.name == "all":
            rows = s.all()
            cols = [ResultColumn("name", T.TEXT), ResultColumn("setting", T.TEXT), ResultColumn("description", T.TEXT)]
            table = pa.table([pa.array([r[i] for r in rows], pa.string()) for i in range(3)], names=["c0", "c1", "c2"])
            return Result("SHOW", cols, table, len(rows))
        value = s.get(node.name)
        cols = [ResultColumn(s.display_name(node.name), T.TEXT)]
        return Result("SHOW", cols, pa.table([pa.array([value], pa.string())], names=["c0"]), 1)
    if isinstance(node, U.SetTransactionStmt):
        if node.isolation:
            s.set("transaction_isolation" if not node.session else "default_transaction_isolation", node.isolation, local=not node.session)
        if node.read_only is not None:
            if node.session:
                s.set("default_transaction_read_only", "on" if node.read_only else "off")
            elif session.in_block:
                session.read_only = node.read_only
        return Result("SET")
    if isinstance(node, U.DiscardStmt):
        if session.in_block and node.what == "all":
            raise errors.ActiveSqlTransaction("DISCARD ALL cannot run inside a transaction block")
        s.reset_all()
        session._plans.clear()
        return Result("DISCARD ALL" if node.what == "all" else f"DISCARD {node.what.upper()}")
    raise errors.FeatureNotSupported("statement not supported yet")


def _register_extra() -> None:
    """COPY, cursors and LISTEN/NOTIFY live in their own modules (sqlvec.exec.copy,
    sqlvec.cursors, sqlvec.notify); the statements the grammar lacks are parsed by
    sqlvec.extra_sql."""
    from sqlvec import cursors, extra_sql, notify

    _HANDLERS.update({
        U.CopyStmt: _lazy("sqlvec.exec.matviews", "run_copy"),  # then copy.run_copy
        extra_sql.DeclareStmt: cursors.run_declare,
        extra_sql.FetchStmt: cursors.run_fetch,
        extra_sql.CloseStmt: cursors.run_close,
        extra_sql.ListenStmt: notify.run_listen,
        extra_sql.NotifyStmt: notify.run_notify,
    })
    _PLANNED.add(cursors.run_declare)
    from sqlvec.exec import partition_ddl

    _HANDLERS[partition_ddl.AlterPartitionStmt] = partition_ddl.run_alter_partition
    _DESCRIBERS[extra_sql.DeclareStmt] = cursors.describe_declare


_DESCRIBERS: dict[type, Callable] = {}
_register_extra()
