"""Time to live: ``CREATE TABLE ... WITH (ttl = '30 days', ttl_column = 'created_at')``.

An expired row (its ttl_column older than now() minus the ttl) is invisible to every query
at once: each scan of the table carries the predicate ``ttl_column IS NULL OR ttl_column >=
now() - ttl`` (a NULL never expires), evaluated on the columns segment by segment like any
filter. Compaction removes expired rows from disk later.
"""

from __future__ import annotations

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.grammar import parse_expression
from sqlvec.plan import expr as E
from sqlvec.plan.scope import Scope
from sqlvec.types import registry as T

_TIME_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")


def check_options(table: Table) -> None:
    """Validate ttl / ttl_column at CREATE TABLE (or ALTER TABLE SET)."""
    ttl, col = table.options.get("ttl"), table.options.get("ttl_column")
    if ttl is None and col is None:
        return
    if ttl is None or col is None:
        raise errors.InvalidParameterValue('"ttl" and "ttl_column" must be given together')
    c = table.column(str(col))
    if c is None:
        raise errors.UndefinedColumn(f'column "{col}" named in "ttl_column" does not exist')
    if c.type.name not in _TIME_TYPES:
        raise errors.DatatypeMismatch(
            f'column "{col}" named in "ttl_column" must be of type date, timestamp or timestamptz, not {c.type}'
        )
    T.INTERVAL.defn.text_in(str(ttl), -1)  # raises PostgreSQL's error for a bad interval


def predicate(binder, table: Table, scope: Scope) -> E.Expr | None:
    """The visibility condition of a TTL table over ``scope`` (its columns), or None."""
    ttl, col = table.options.get("ttl"), table.options.get("ttl_column")
    if ttl is None or col is None:
        return None
    name = '"' + str(col).replace('"', '""') + '"'
    literal = "'" + str(ttl).replace("'", "''") + "'"
    node = parse_expression(f"{name} IS NULL OR {name} >= now() - interval {literal}")
    return binder.bind_bool(node, scope, "TTL")


def combine(a: E.Expr | None, b: E.Expr | None) -> E.Expr | None:
    if a is None:
        return b
    if b is None:
        return a
    return E.BoolOp("and", [a, b])
