"""Definitions as text, the way pg_get_expr, pg_get_constraintdef, pg_get_indexdef and
pg_get_viewdef print them.

We keep defaults and CHECK expressions as SQL text, not as PostgreSQL node trees, so the
output is the stored text with PostgreSQL's decorations where they are predictable: a
sequence default prints ``nextval('t_id_seq'::regclass)``, a string literal default carries
its column type (``'x'::text``), a CHECK is wrapped as ``CHECK ((expr))``. Casts PostgreSQL
would add inside expressions (``(0)::numeric``) are not reproduced.
"""

from __future__ import annotations

import re

from sqlvec.catalog.model import Column
from sqlvec.catalog.pg.names import quote_ident
from sqlvec.catalog.pg.source import CatalogView, ConInfo, IndexInfo, attnum_of
from sqlvec.types.base import SqlType
from sqlvec.types.registry import format_type

_NEXTVAL = re.compile(r"^nextval\('((?:[^']|'')+)'\)$", re.IGNORECASE)
_STRING = re.compile(r"^'(?:[^']|'')*'$")
_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def default_text(col: Column) -> str | None:
    """pg_get_expr(adbin, adrelid) of a column default."""
    d = col.default
    # an identity column draws from its sequence through this default internally, but
    # PostgreSQL keeps no pg_attrdef row for it (SQLAlchemy refuses a column with both)
    if d is None or getattr(col, "identity", ""):
        return None
    d = d.strip()
    m = _NEXTVAL.match(d)
    if m:
        return f"nextval('{m.group(1)}'::regclass)"
    if _STRING.match(d):
        # the literal's cast names the type without its modifier, as deparsing prints it
        t = col.type
        return f"{d}::{format_type(SqlType(t.defn, -1, t.elem))}"
    return d


def _cols(view: CatalogView, table, attnums: list[int]) -> str:
    names = {attnum_of(table, c): c.name for c in table.columns}
    return ", ".join(quote_ident(names.get(a, str(a))) for a in attnums)


def constraint_def(view: CatalogView, c: ConInfo) -> str:
    """pg_get_constraintdef(oid)."""
    if c.kind == "p":
        return f"PRIMARY KEY ({_cols(view, c.table, c.attnums)})"
    if c.kind == "u":
        return f"UNIQUE ({_cols(view, c.table, c.attnums)})"
    if c.kind == "c":
        return f"CHECK (({c.expr}))"
    if c.kind == "f" and c.ref_table is not None:
        out = (f"FOREIGN KEY ({_cols(view, c.table, c.attnums)}) REFERENCES "
               f"{_relname(view, c.ref_table)}({_cols(view, c.ref_table, c.ref_attnums)})")
        if c.match == "f":
            out += " MATCH FULL"
        if c.on_update != "a":
            out += f" ON UPDATE {_ACTIONS[c.on_update]}"
        if c.on_delete != "a":
            out += f" ON DELETE {_ACTIONS[c.on_delete]}"
        return out
    return c.expr or ""


def _relname(view: CatalogView, table) -> str:
    return quote_ident(table.name) if table.schema == "public" else (
        f"{quote_ident(table.schema)}.{quote_ident(table.name)}")


def index_def(view: CatalogView, ix: IndexInfo, column: int = 0) -> str:
    """pg_get_indexdef(oid[, column, pretty]): the CREATE INDEX statement, or with
    ``column`` > 0 just that key column."""
    names = {attnum_of(ix.table, c): c.name for c in ix.table.columns}
    keys = []
    for a, opc in zip(ix.attnums, ix.opclasses):
        k = quote_ident(names.get(a, str(a)))
        keys.append(f"{k} {opc}" if opc else k)
    if column > 0:
        return keys[column - 1].split(" ")[0] if column <= len(keys) else ""
    out = (f"CREATE {'UNIQUE ' if ix.unique else ''}INDEX {quote_ident(ix.name)} ON "
           f"{quote_ident(ix.table.schema)}.{quote_ident(ix.table.name)} USING {ix.method} "
           f"({', '.join(keys)})")
    if ix.options:
        out += " WITH (" + ", ".join(f"{k}='{v}'" for k, v in ix.options.items()) + ")"
    if ix.predicate:
        out += f" WHERE ({ix.predicate})"
    return out


def view_def(view_obj) -> str:
    """pg_get_viewdef: the stored query, with PostgreSQL's leading space and semicolon."""
    mv = getattr(view_obj, "matview", None)  # a materialized view keeps its query there
    q = str(mv["query"] if mv else getattr(view_obj, "query", "")).strip().rstrip(";")
    return f" {q};"
