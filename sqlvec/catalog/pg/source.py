"""One database's catalog, flattened into the rows the pg_catalog relations are built from.

:class:`CatalogView` lists namespaces, relations (tables, sequences, views, indexes and the
catalog relations themselves), constraints, indexes and comments with their OIDs, once per
catalog version; every virtual relation and catalog function reads it instead of walking the
model on its own.

Objects the model does not have yet are read through documented attributes, so that the
parts adding them only need to use these names (absent attributes mean "none"):

- ``DatabaseDef.indexes: dict[int, Index]``, an index having ``oid, name, schema, table``
  (table oid), ``columns`` (column ids), ``method`` ("btree", "hnsw", ...), ``opclasses``
  (list of names or None), ``options`` (dict of WITH options), ``unique`` (bool).
- ``DatabaseDef.views: dict[int, View]``, a view having ``oid, name, schema, query`` (SQL
  text), ``columns`` (list of model Columns) and ``materialized`` (bool).
- ``DatabaseDef.comments: dict[tuple, str]``, keyed ``(objoid, objsubid)`` for relations and
  columns, or ``(classoid, objoid, objsubid)`` for any object.
- ``Constraint.oid`` / ``Constraint.index_oid`` (else derived, see oids.py) and, for foreign
  keys, ``ref_table`` (oid), ``ref_columns`` (column ids), ``on_update`` / ``on_delete``
  (pg_constraint's action codes: a, r, c, n, d) and ``match`` (f, p, s).
- ``Table.owner`` / ``View.owner`` (role name; the database owner otherwise).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlvec.catalog.model import MATVIEW, Catalog, Constraint, DatabaseDef, Sequence, Table
from sqlvec.catalog.pg import oids as O


@dataclass(frozen=True)
class Rel:
    """A pg_class row's source."""

    oid: int
    schema: str
    name: str
    kind: str  # relkind: r table, S sequence, v view, m matview, i index
    obj: Any
    owner: str = "postgres"
    persistence: str = "p"  # relpersistence: p permanent, t temporary


@dataclass(frozen=True)
class IndexInfo:
    oid: int
    name: str
    schema: str
    table: Table
    attnums: list[int]
    method: str
    opclasses: list[str | None]
    options: dict[str, Any]
    unique: bool
    primary: bool
    constraint_oid: int = 0  # the constraint it implements (0: a plain index)
    predicate: str | None = None  # a partial index's WHERE (SQL text)


@dataclass(frozen=True)
class ConInfo:
    oid: int
    name: str
    kind: str  # contype
    table: Table
    attnums: list[int]
    expr: str | None
    index_oid: int
    ref_table: Table | None = None
    ref_attnums: list[int] = field(default_factory=list)
    on_update: str = "a"
    on_delete: str = "a"
    match: str = "s"


def _attnum(table: Table, column_id: str) -> int:
    c = table.column_by_id(column_id)
    return c.attnum or table.columns.index(c) + 1


def attnum_of(table: Table, column) -> int:
    """pg_attribute.attnum of a model column (1-based position when the model has none)."""
    return column.attnum or table.columns.index(column) + 1


class CatalogView:
    """Rows of one database's catalog, with OIDs (see the module docstring)."""

    def __init__(self, cat: Catalog, db: DatabaseDef) -> None:
        self.cat, self.db = cat, db
        self.namespaces: dict[str, int] = {**O.NAMESPACES, **db.schemas}
        self.ns_name = {v: k for k, v in self.namespaces.items()}
        self.relations: list[Rel] = []
        self.constraints: list[ConInfo] = []
        self.indexes: list[IndexInfo] = []
        self.tables: dict[int, Table] = dict(db.tables)
        for t in db.tables.values():
            kind = "m" if MATVIEW in t.options else "r"  # a materialized view is a Table
            self.relations.append(Rel(t.oid, t.schema, t.name, kind, t, self.owner_of(t),
                                      "t" if t.temporary else "p"))
        for s in db.sequences.values():
            self.relations.append(Rel(s.oid, s.schema, s.name, "S", s, self.owner_of(s)))
        for v in getattr(db, "views", {}).values():
            kind = "m" if getattr(v, "materialized", False) else "v"
            self.relations.append(Rel(v.oid, v.schema, v.name, kind, v, self.owner_of(v)))
        for t in db.tables.values():
            self._constraints_of(t)
        for ix in getattr(db, "indexes", {}).values():
            table = db.tables.get(ix.table)
            if table is None:
                continue
            info = IndexInfo(ix.oid, ix.name, getattr(ix, "schema", table.schema), table,
                             [_attnum(table, c) for c in ix.columns], getattr(ix, "method", "btree"),
                             list(getattr(ix, "opclasses", None) or [None] * len(ix.columns)),
                             dict(getattr(ix, "options", {}) or {}), bool(getattr(ix, "unique", False)),
                             False, predicate=getattr(ix, "predicate", None))
            self.indexes.append(info)
        for ix in self.indexes:
            self.relations.append(Rel(ix.oid, ix.schema, ix.name, "i", ix, self.owner_of(ix.table)))
        from sqlvec.catalog import virtual

        for vt in virtual.all_tables():
            self.relations.append(Rel(vt.oid, vt.schema, vt.name, vt.relkind, vt, "postgres"))
        self.by_oid: dict[int, Rel] = {r.oid: r for r in self.relations}
        self.by_name: dict[tuple[str, str], Rel] = {(r.schema, r.name): r for r in self.relations}
        self.con_by_oid = {c.oid: c for c in self.constraints}
        self.index_by_oid = {i.oid: i for i in self.indexes}

    def owner_of(self, obj: Any) -> str:
        return getattr(obj, "owner", None) or self.db.owner

    def role_oid(self, name: str) -> int:
        r = self.cat.roles.get(name)
        return r.oid if r is not None else O.BOOTSTRAP_SUPERUSER

    def _constraints_of(self, t: Table) -> None:
        for i, k in enumerate(t.constraints):
            coid = getattr(k, "oid", 0) or O.derived_oid(t.oid, O.DERIVED_CONSTRAINT, i)
            index_oid = 0
            if k.kind in "pu":
                index_oid = getattr(k, "index_oid", 0) or O.derived_oid(t.oid, O.DERIVED_INDEX, i)
            attnums = [_attnum(t, c) for c in k.columns]
            ref = self.db.tables.get(getattr(k, "ref_table", 0) or 0) if k.kind == "f" else None
            ref_attnums = [_attnum(ref, c) for c in getattr(k, "ref_columns", [])] if ref else []
            self.constraints.append(ConInfo(
                coid, k.name, k.kind, t, attnums, k.expr, index_oid, ref, ref_attnums,
                getattr(k, "on_update", "a") or "a", getattr(k, "on_delete", "a") or "a",
                getattr(k, "match", "s") or "s"))
            if index_oid:
                self.indexes.append(IndexInfo(index_oid, k.name, t.schema, t, attnums, "btree",
                                              [None] * len(attnums), {}, True, k.kind == "p", coid))

    # -- look-ups -------------------------------------------------------------------------------
    def relation(self, oid: int) -> Rel | None:
        return self.by_oid.get(oid)

    def find_relation(self, name: str, schema: str | None, search_path: list[str]) -> Rel | None:
        for s in [schema] if schema else search_path:
            r = self.by_name.get((s, name))
            if r is not None:
                return r
        return None

    def comment(self, classoid: int, objoid: int, objsubid: int = 0) -> str | None:
        comments = getattr(self.db, "comments", None) or {}
        hit = comments.get((classoid, objoid, objsubid))
        if hit is None and classoid == O.PG_CLASS:
            hit = comments.get((objoid, objsubid))
        return hit

    def comment_rows(self) -> list[tuple[int, int, int, str]]:
        """(objoid, classoid, objsubid, description) of every comment."""
        out = []
        for key, text in (getattr(self.db, "comments", None) or {}).items():
            if len(key) == 2:
                out.append((key[0], O.PG_CLASS, key[1], text))
            else:
                out.append((key[1], key[0], key[2], text))
        return out

    def sequences(self) -> list[Sequence]:
        return list(self.db.sequences.values())

    def constraint(self, oid: int) -> ConInfo | None:
        return self.con_by_oid.get(oid)


_CACHE: dict[tuple, CatalogView] = {}
_LOCK = threading.Lock()


def view_for(session: Any) -> CatalogView:
    """The CatalogView of the session's database, cached per published catalog version (a
    transaction's private catalog changes in place, so it is never cached)."""
    cat: Catalog = session.catalog()
    db = cat.database(session.database)
    if getattr(session, "txn_catalog", None) is not None:
        return CatalogView(cat, db)
    key = (id(cat), cat.version, session.database)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit.cat is cat:
        return hit
    view = CatalogView(cat, db)
    with _LOCK:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = view
    return view


def constraint_of(view: CatalogView, k: Constraint) -> ConInfo | None:
    for c in view.constraints:
        if c.name == k.name:
            return c
    return None
