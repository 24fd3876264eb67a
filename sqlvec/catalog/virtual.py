"""pg_catalog and information_schema as virtual relations.

A :class:`VirtualTable` has PostgreSQL 16's schema, name, OID and column names and types, and
builds its rows on demand from the session's catalog as a ``pa.Table``. The modules under
``sqlvec/catalog/pg/`` declare them with :func:`relation`; the planner resolves a table name
with :func:`lookup` and scans ``vt.build(session)`` like any other Arrow table.

Name resolution follows PostgreSQL: pg_catalog is searched first for unqualified names
(unless the search_path names it explicitly later), information_schema only when qualified
or on the search_path.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sqlvec.types.base import SqlType

_MODULES = ("core", "types", "system", "views", "infoschema", "partitions", "progress", "privileges")

# a builder gets the CatalogView and the session and returns column -> values, or a pa.Table
Builder = Callable[[Any, Any], "dict[str, list] | pa.Table"]
# a refresher gets the CatalogView, the session and the cached table, and returns it with the
# columns that change without a catalog change (row counts) brought up to date
Refresher = Callable[[Any, Any, pa.Table], pa.Table]


@dataclass(frozen=True, eq=False)
class VirtualTable:
    schema: str
    name: str
    oid: int
    columns: list[tuple[str, SqlType]]
    producer: Builder
    relkind: str = "r"  # r: a catalog table, v: a system view
    cacheable: bool = True  # False when rows depend on more than the catalog (stats, session)
    refresh: Refresher | None = None  # cached, but some columns are recomputed on every scan

    @property
    def column_names(self) -> list[str]:
        return [n for n, _ in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, t.arrow_type()) for n, t in self.columns])

    def build(self, session: Any) -> pa.Table:
        """All rows, for ``session``'s database, as a table with :meth:`arrow_schema`."""
        from sqlvec.catalog.pg.source import view_for

        view = view_for(session)
        built: dict[str, pa.Table] = view.__dict__.setdefault("_built", {})
        table = built.get(self.qualified) if self.cacheable else None
        if table is None:
            # built once per catalog version: a catalog query scans these for every relation
            # of the database (\d on 200 tables must not rebuild pg_class each time)
            table = to_table(self.columns, self.producer(view, session))
            if self.cacheable:
                built[self.qualified] = table
        return table if self.refresh is None else self.refresh(view, session, table)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def __repr__(self) -> str:
        return f"<VirtualTable {self.qualified}>"


def to_table(columns: list[tuple[str, SqlType]], data: dict[str, list] | pa.Table) -> pa.Table:
    """A pa.Table with exactly ``columns`` from column-wise Python values."""
    if isinstance(data, pa.Table):
        return data
    from sqlvec.types.arrow import to_arrow

    arrays = [to_arrow(list(data[n]), t) for n, t in columns]
    schema = pa.schema([pa.field(n, a.type) for (n, _), a in zip(columns, arrays)])
    return pa.Table.from_arrays(arrays, schema=schema)


_TABLES: dict[tuple[str, str], VirtualTable] = {}
_loaded = False
_lock = threading.Lock()


def relation(schema: str, name: str, oid: int, columns: Iterable[tuple[str, SqlType]], *,
             relkind: str = "r", cacheable: bool = True,
             refresh: Refresher | None = None) -> Callable[[Builder], Builder]:
    """Declare a virtual relation whose rows the decorated function produces."""

    def deco(fn: Builder) -> Builder:
        _TABLES[(schema, name)] = VirtualTable(schema, name, oid, list(columns), fn, relkind,
                                               cacheable, refresh)
        return fn

    return deco


def _load() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for m in _MODULES:
                importlib.import_module(f"sqlvec.catalog.pg.{m}")
            _loaded = True


def all_tables() -> list[VirtualTable]:
    """Every virtual relation, in a stable order (by OID)."""
    _load()
    return sorted(_TABLES.values(), key=lambda v: v.oid)


def get(schema: str, name: str) -> VirtualTable | None:
    _load()
    return _TABLES.get((schema, name))


def lookup(schema: str | None, name: str, search_path: list[str]) -> VirtualTable | None:
    """The virtual relation ``[schema.]name`` resolves to, or None (then it may be a user
    table). ``search_path`` is Session.search_path(); pg_catalog comes first unless listed."""
    _load()
    if schema is not None:
        return _TABLES.get((schema, name))
    path = search_path if "pg_catalog" in search_path else ["pg_catalog", *search_path]
    for s in path:
        vt = _TABLES.get((s, name))
        if vt is not None:
            return vt
    return None


def shadows_user_table(name: str, search_path: list[str], user_schema: str) -> bool:
    """Whether an unqualified ``name`` found both as a virtual relation and as a user table in
    ``user_schema`` resolves to the virtual one (its schema comes first on the path)."""
    vt = lookup(None, name, search_path)
    if vt is None:
        return False
    path = search_path if "pg_catalog" in search_path else ["pg_catalog", *search_path]
    vpos = path.index(vt.schema)
    return user_schema not in path or vpos < path.index(user_schema)
