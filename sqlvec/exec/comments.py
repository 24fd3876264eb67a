"""COMMENT ON <object> IS 'text' | NULL.

Comments live in ``DatabaseDef.comments`` keyed (classoid, objoid, objsubid) exactly as
pg_description rows, so pg_description, obj_description and col_description read them
without translation. An empty string removes the comment, as in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import DatabaseDef
from sqlvec.catalog.pg import oids as O
from sqlvec.result import Result

PG_NAMESPACE, PG_DATABASE = O.PG_NAMESPACE, O.PG_DATABASE


def _relation(kind: str) -> Callable:
    def find(session, db: DatabaseDef, node: exp.Expression) -> tuple[int, int, int]:
        path = session.search_path()
        name, schema = node.name, (node.db or None)
        if kind == "COLUMN":
            # COLUMN [schema.]table.column arrives as Column(this=col, table=t, db=s)
            col = node
            name, schema = col.table, (col.args.get("db").name if col.args.get("db") else None)
            table = db.find_table(name, schema, path) or db.find_view(name, schema, path)
            if table is None:
                raise errors.UndefinedTable(f'relation "{name}" does not exist')
            for i, c in enumerate(table.columns):
                if c.name == col.name:
                    return O.PG_CLASS, table.oid, c.attnum or i + 1
            raise errors.UndefinedColumn(f'column "{col.name}" of relation "{name}" does not exist')
        if kind == "VIEW":
            obj = db.find_view(name, schema, path)
        elif kind == "INDEX":
            obj = next((i for i in db.indexes.values() if i.name == name and (schema is None or i.schema == schema)), None)
            if obj is None:
                oid = _constraint_index(db, name, schema)
                if oid is not None:
                    return O.PG_CLASS, oid, 0
        elif kind == "SEQUENCE":
            obj = db.find_sequence(name, schema, path)
        else:
            obj = db.find_table(name, schema, path)
        if obj is None:
            raise errors.UndefinedTable(f'relation "{name}" does not exist')
        return O.PG_CLASS, obj.oid, 0

    return find


def _constraint_index(db: DatabaseDef, name: str, schema: str | None) -> int | None:
    """OID of the index behind a PRIMARY KEY / UNIQUE constraint, by the constraint's name."""
    for t in db.tables.values():
        for i, k in enumerate(t.constraints):
            if k.kind in "pu" and k.name == name and (schema is None or t.schema == schema):
                return k.index_oid or O.derived_oid(t.oid, O.DERIVED_INDEX, i)
    return None


def _schema(session, db: DatabaseDef, node: exp.Expression) -> tuple[int, int, int]:
    name = node.db or node.name
    oid = db.schemas.get(name) or O.NAMESPACES.get(name)
    if oid is None:
        raise errors.InvalidSchemaName(f'schema "{name}" does not exist')
    return PG_NAMESPACE, oid, 0


def _database(session, db: DatabaseDef, node: exp.Expression) -> tuple[int, int, int]:
    name = node.name
    target = session.catalog().databases.get(name)
    if target is None:
        raise errors.InvalidCatalogName(f'database "{name}" does not exist')
    return PG_DATABASE, target.oid, 0


# object kind (as sqlglot's Comment.kind) -> resolver of (classoid, objoid, objsubid)
RESOLVERS: dict[str, Callable] = {
    "TABLE": _relation("TABLE"),
    "COLUMN": _relation("COLUMN"),
    "VIEW": _relation("VIEW"),
    "INDEX": _relation("INDEX"),
    "SEQUENCE": _relation("SEQUENCE"),
    "SCHEMA": _schema,
    "DATABASE": _database,
}


def comment_on(session, st, values, many) -> Result:
    node: exp.Comment = st.ast
    kind = (node.args.get("kind") or "").upper()
    resolver = RESOLVERS.get(kind)
    if resolver is None:
        raise errors.FeatureNotSupported(f"COMMENT ON {kind} is not supported yet")
    db = session.mutable_catalog().database(session.database)
    key = resolver(session, db, node.this)
    text = node.expression
    value = None if text is None or isinstance(text, exp.Null) else text.name
    if value:
        db.comments[key] = value
    else:
        db.comments.pop(key, None)
    return Result("COMMENT")


def forget(db: DatabaseDef, oid: int) -> None:
    """Drop the comments of an object (and its columns) that is being dropped."""
    for key in [k for k in db.comments if k[1] == oid]:
        del db.comments[key]
