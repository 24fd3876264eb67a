"""Temporary tables and views: one ``pg_temp_<n>`` schema per session.

Design: a temporary table is an ordinary catalog table (``Table.temporary = True``) in the
session's own schema ``pg_temp_<n>``, and its rows live in the storage engine like any
table's. Only the creating session has that schema on its search path (right after
pg_catalog, so a temp table hides a permanent one of the same name, as in PostgreSQL); the
schema name ``pg_temp`` means "my temp schema". The catalog JSON never contains temporary
objects or ``pg_temp_*`` schemas (serde.py), so after a crash they are gone from the catalog
and :func:`drop_orphans`, run when a database opens, drops their rows from storage. A normal
session close drops them in one committed transaction (:func:`drop_all`).

ON COMMIT DELETE ROWS truncates the table before each commit of the owning session
(:func:`before_commit`); PRESERVE ROWS is the default. ON COMMIT DROP is accepted by the
model (``options["on_commit"] == "drop"``) and drops the table at commit.
"""

from __future__ import annotations

import itertools
import threading

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import DatabaseDef, Table

_COUNTER = itertools.count(3)  # PostgreSQL's first backend gets pg_temp_3 too, often
_LOCK = threading.Lock()


def temp_schema_name(session) -> str:
    name = session.__dict__.get("_temp_schema")
    if name is None:
        with _LOCK:
            name = f"pg_temp_{next(_COUNTER)}"
        session._temp_schema = name
    return name


def temp_schema(session, db: DatabaseDef, create: bool = False) -> str:
    """The session's temp schema name, created in ``db`` (the mutable catalog) if asked."""
    name = temp_schema_name(session)
    if create and name not in db.schemas:
        db.schemas[name] = session.mutable_catalog().new_oid()
    return name


def register(session, oid: int) -> None:
    session.__dict__.setdefault("_temp_oids", set()).add(oid)


def is_temp_create(node: exp.Create) -> bool:
    props = node.args.get("properties")
    temp = props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)
    target = node.this.this if isinstance(node.this, exp.Schema) else node.this
    return temp or (isinstance(target, exp.Table) and target.db == "pg_temp")


def create_temp_table(session, node: exp.Create, notices: list) -> Table | None:
    """CREATE TEMP TABLE: the ordinary CREATE TABLE in the session's temp schema."""
    from sqlvec.exec import ddl

    node = node.copy()
    target = node.this.this
    if target.db and target.db != "pg_temp":
        raise errors.InvalidTableDefinition("cannot create temporary relation in non-temporary schema")
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    schema = temp_schema(session, db, create=True)
    target.set("db", exp.to_identifier(schema))
    on_commit = None
    props = node.args.get("properties")
    if props is not None:
        keep = []
        for p in props.expressions:
            if isinstance(p, exp.TemporaryProperty):
                continue
            if isinstance(p, exp.OnCommitProperty):
                on_commit = "delete" if p.args.get("delete") else "preserve"
                continue
            keep.append(p)
        props.set("expressions", keep)
    table = ddl.create_table(cat, db, node, session.search_path(), notices)
    if table is None:
        return None
    table.temporary = True
    if on_commit is not None:
        table.options["on_commit"] = on_commit
    register(session, table.oid)
    return table


def before_commit(session) -> None:
    """ON COMMIT actions of the session's temporary tables, inside the committing txn."""
    oids = session.__dict__.get("_temp_oids")
    if not oids or session.txn is None:
        return
    db = session.catalog().database(session.database)
    for oid in sorted(oids):
        t = db.tables.get(oid)
        if t is None:
            continue
        action = t.options.get("on_commit")
        if action == "delete":
            session.txn.truncate(oid)
        elif action == "drop":
            mdb = session.mutable_catalog().database(session.database)
            _drop_objects(session.txn, mdb, {oid})


def _drop_objects(txn, db: DatabaseDef, oids: set[int]) -> None:
    from sqlvec.exec import ddl

    for oid in oids:
        t = db.tables.get(oid)
        if t is not None:
            for ix in db.table_indexes(oid):
                del db.indexes[ix.oid]
            ddl.drop_table(db, t)
            txn.drop_table(oid)
        db.views.pop(oid, None)
        for key in [k for k in db.comments if k[1] == oid]:
            del db.comments[key]


def drop_all(session) -> None:
    """Drop every temporary object of a closing session, in one committed transaction."""
    from sqlvec.catalog.serde import to_json

    name = session.__dict__.get("_temp_schema")
    if name is None:
        return
    base = session.db.catalog
    db0 = base.databases.get(session.database)
    if db0 is None or name not in db0.schemas:
        return
    cat = base.copy()
    db = cat.database(session.database)
    txn = session.db.engine.begin()
    _drop_objects(txn, db, {t.oid for t in db.tables.values() if t.schema == name}
                  | {v.oid for v in db.views.values() if v.schema == name})
    del db.schemas[name]
    cat.version = base.version + 1
    txn.set_catalog(to_json(cat))
    txn.commit()
    session.db.publish(cat)


def drop_orphans(engine, catalog) -> None:
    """Drop the stored rows of tables the catalog does not know: temporary tables of a
    process that stopped without closing its sessions."""
    known = {oid for db in catalog.databases.values() for oid in db.tables}
    stored = set(getattr(engine, "_tables", {}))  # the engine has no public table list yet
    orphans = stored - known
    if not orphans:
        return
    txn = engine.begin()
    for oid in sorted(orphans):
        txn.drop_table(oid)
    txn.commit()
