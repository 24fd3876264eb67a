"""Name resolution: which columns a FROM clause makes visible, and under which names."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlvec import errors
from sqlvec.types.base import SqlType


@dataclass
class ScopeColumn:
    name: str
    type: SqlType
    index: int  # position in the input relation
    table: str | None = None  # alias or table name it is reachable under
    table_oid: int = 0
    attnum: int = 0
    hidden: bool = False  # not expanded by *
    qualified_only: bool = False  # reachable only as table.column (a JOIN ... USING side column)


@dataclass
class Scope:
    columns: list[ScopeColumn] = field(default_factory=list)
    parent: Scope | None = None  # the enclosing query's scope (correlated subqueries)
    # while a subquery is planned, the columns of this scope it refers to are collected here
    captures: list[set[int]] = field(default_factory=list)

    def resolve_outer(self, name: str, table: str | None) -> tuple[int, ScopeColumn] | None:
        """(depth, column) of a name found in an enclosing scope, recording the reference."""
        depth, s = 1, self.parent
        while s is not None:
            try:
                c = s.resolve(name, table)
            except (errors.UndefinedColumn, errors.UndefinedTable):
                depth, s = depth + 1, s.parent
                continue
            for cap in s.captures:
                cap.add(c.index)
            return depth, c
        return None

    def resolve(self, name: str, table: str | None = None) -> ScopeColumn:
        hits = [
            c for c in self.columns
            if c.name == name and (c.table == table if table is not None else not c.qualified_only)
        ]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise errors.AmbiguousColumn(f'column reference "{name}" is ambiguous')
        if table is not None and not any(c.table == table for c in self.columns):
            raise errors.UndefinedTable(f'missing FROM-clause entry for table "{table}"')
        full = f"{table}.{name}" if table else name
        raise errors.UndefinedColumn(f"column {full} does not exist" if table else f'column "{name}" does not exist')

    def star(self, table: str | None = None) -> list[ScopeColumn]:
        cols = [c for c in self.columns if not c.hidden and (table is None or c.table == table)]
        if table is not None and not cols:
            raise errors.UndefinedTable(f'missing FROM-clause entry for table "{table}"')
        return cols
