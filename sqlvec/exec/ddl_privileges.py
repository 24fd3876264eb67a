"""Privilege checks of whole statements, before their handler runs: CREATE needs CREATE on the
schema (or the database), ALTER / DROP / COMMENT / REINDEX / REFRESH need ownership, TRUNCATE
and COPY need their privileges. One checker per statement class, in :data:`CHECKS`; queries
and DML are checked by the planner's relation look-up instead (sqlvec.privileges.resolver).

Names that do not resolve are left to the handler, which reports them (with IF EXISTS
honoured), so a checker only ever refuses objects that exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.catalog.model import Catalog, DatabaseDef
from sqlvec.grammar import utility as U


def check_statement(session, node: Any) -> None:
    """Raise 42501 when the current role may not run ``node`` (superusers always may)."""
    checker = CHECKS.get(type(node))
    if checker is None:
        return
    cat = session.catalog()
    if P.is_superuser(cat, P.current_user(session)):
        return
    checker(session, cat, cat.database(session.database), node)


# -- look-ups -------------------------------------------------------------------------------------


def _relation(session, db: DatabaseDef, name: str, schema: str | None) -> Any:
    path = session.search_path()
    return (db.find_table(name, schema, path) or db.find_view(name, schema, path)
            or db.find_sequence(name, schema, path))


def _creation_schema(session, db: DatabaseDef, schema: str | None) -> str | None:
    """The schema a new object goes to: the named one, else the first existing schema on the
    search path (pg_catalog and the temporary schema aside)."""
    if schema:
        return schema if schema in db.schemas else None
    for s in session.search_path():
        if s != "pg_catalog" and not s.startswith("pg_temp") and s in db.schemas:
            return s
    return None


def _require_create_in(session, cat: Catalog, db: DatabaseDef, schema: str | None, node=None) -> None:
    target = _creation_schema(session, db, schema)
    if target is not None and not P.has_all(cat, P.current_user(session), P.schema_acl(db, target), "C"):
        raise P.denied("schema", target, node)


def _require_owner_or_schema_owner(session, cat: Catalog, db: DatabaseDef, obj: Any, word: str | None = None) -> None:
    """ALTER / DROP: the object's owner, or the owner of its schema (PostgreSQL lets a schema
    owner drop what is in it)."""
    role = P.current_user(session)
    if P.owns(cat, role, P.schema_owner(db, obj.schema)) and word is None:
        return
    P.require_owner(session, word or P._RELATION_WORDS[P.relkind(obj)], obj.name, P.owner_of(db, obj), cat)


# -- CREATE / DROP / ALTER / COMMENT ----------------------------------------------------------------


def _create(session, cat: Catalog, db: DatabaseDef, node: exp.Create) -> None:
    kind = (node.args.get("kind") or "").upper()
    role = P.current_user(session)
    if kind == "SCHEMA":
        if not P.has_all(cat, role, P.database_acl(db), "C"):
            raise P.denied("database", db.name)
        return
    if kind == "INDEX":
        tnode = node.this.args.get("table") if isinstance(node.this, exp.Index) else None
        table = db.find_table(tnode.name, tnode.db or None, session.search_path()) if tnode is not None else None
        if table is not None:
            P.require_relation_owner(session, table, cat)
        return
    if kind not in ("TABLE", "VIEW", "SEQUENCE"):
        return
    target = node.this.this if isinstance(node.this, exp.Schema) else node.this
    if not isinstance(target, exp.Table):
        return
    from sqlvec.exec.temp_tables import is_temp_create

    if kind == "TABLE" and is_temp_create(node):
        if not P.has_all(cat, role, P.database_acl(db), "T"):
            raise errors.InsufficientPrivilege(f'permission denied to create temporary tables in database "{db.name}"')
        return
    if node.args.get("replace"):
        old = db.find_view(target.name, target.db or None, session.search_path())
        if old is not None:
            P.require_owner(session, "view", old.name, P.owner_of(db, old), cat)
            return
    _require_create_in(session, cat, db, target.db or None, target)


_DROP_KINDS = {"TABLE": "table", "VIEW": "view", "SEQUENCE": "sequence", "INDEX": "index"}


def _drop(session, cat: Catalog, db: DatabaseDef, node: exp.Drop) -> None:
    kind = (node.args.get("kind") or "").upper()
    for t in node.args.get("tables") or []:
        if kind == "SCHEMA":
            name = t.db or t.name
            if name in db.schemas:
                P.require_owner(session, "schema", name, P.schema_owner(db, name), cat)
            continue
        if kind == "INDEX":
            ix = next((i for i in db.indexes.values() if i.name == t.name and (not t.db or i.schema == t.db)), None)
            table = db.tables.get(ix.table) if ix is not None else None
            if table is not None and not P.owns(cat, P.current_user(session), P.schema_owner(db, table.schema)):
                P.require_owner(session, "index", ix.name, P.owner_of(db, table), cat)
            continue
        if kind in _DROP_KINDS:
            obj = _relation(session, db, t.name, t.db or None)
            if obj is not None:
                _require_owner_or_schema_owner(session, cat, db, obj)


def _alter(session, cat: Catalog, db: DatabaseDef, node: exp.Alter) -> None:
    t = node.this
    if isinstance(t, exp.Table):
        obj = _relation(session, db, t.name, t.db or None)
        if obj is not None:
            P.require_relation_owner(session, obj, cat)


def _comment(session, cat: Catalog, db: DatabaseDef, node: exp.Comment) -> None:
    kind = (node.args.get("kind") or "").upper()
    target = node.this
    if kind == "SCHEMA":
        name = target.name
        if name in db.schemas:
            P.require_owner(session, "schema", name, P.schema_owner(db, name), cat)
        return
    if kind == "COLUMN" and isinstance(target, exp.Column):
        obj = _relation(session, db, target.table, target.db or None)
    elif isinstance(target, exp.Table):
        obj = _relation(session, db, target.name, target.db or None)
    else:
        return
    if obj is not None:
        P.require_relation_owner(session, obj, cat)


def _truncate(session, cat: Catalog, db: DatabaseDef, node: exp.TruncateTable) -> None:
    for t in node.expressions:
        table = db.find_table(t.name, t.db or None, session.search_path())
        if table is not None:
            P.require_relation(session, table, "D", t, cat)


# -- utility statements -----------------------------------------------------------------------------


def _by_name(session, db: DatabaseDef, name: U.QualifiedName | None) -> Any:
    return _relation(session, db, name.name, name.schema) if name is not None else None


def _copy(session, cat: Catalog, db: DatabaseDef, node: U.CopyStmt) -> None:
    table = _by_name(session, db, node.table)
    if table is not None:
        P.require_relation(session, table, "a" if node.is_from else "r", cat=cat)


def _owned_relation(session, cat: Catalog, db: DatabaseDef, node: Any) -> None:
    obj = _by_name(session, db, getattr(node, "name", None))
    if obj is not None:
        P.require_relation_owner(session, obj, cat)


def _reindex(session, cat: Catalog, db: DatabaseDef, node: U.ReindexStmt) -> None:
    if node.kind == "table":
        _owned_relation(session, cat, db, node)
    elif node.kind == "index" and node.name is not None:
        ix = next((i for i in db.indexes.values() if i.name == node.name.name), None)
        table = db.tables.get(ix.table) if ix is not None else None
        if table is not None:
            P.require_owner(session, "index", ix.name, P.owner_of(db, table), cat)
    elif node.kind == "schema" and node.name is not None and node.name.name in db.schemas:
        P.require_owner(session, "schema", node.name.name, P.schema_owner(db, node.name.name), cat)
    elif node.kind in ("database", "system"):
        P.require_owner(session, "database", db.name, db.owner, cat)


def _create_database(session, cat: Catalog, db: DatabaseDef, node: U.CreateDatabaseStmt) -> None:
    me = cat.roles.get(P.current_user(session))
    if me is None or not me.createdb:
        raise errors.InsufficientPrivilege("permission denied to create database")


def _drop_database(session, cat: Catalog, db: DatabaseDef, node: U.DropDatabaseStmt) -> None:
    target = cat.databases.get(node.name)
    if target is not None:
        P.require_owner(session, "database", target.name, target.owner, cat)


CHECKS: dict[type, Callable] = {
    exp.Create: _create,
    exp.Drop: _drop,
    exp.Alter: _alter,
    exp.Comment: _comment,
    exp.TruncateTable: _truncate,
    U.CopyStmt: _copy,
    U.ReindexStmt: _reindex,
    U.RefreshMatViewStmt: _owned_relation,
    U.AlterMatViewStmt: _owned_relation,
    U.CreateDatabaseStmt: _create_database,
    U.DropDatabaseStmt: _drop_database,
}
