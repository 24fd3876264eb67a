"""What the session answers for one statement: columns, Arrow data, command tag."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from sqlvec.types.base import SqlType


@dataclass(frozen=True)
class ResultColumn:
    """One output column, with what RowDescription needs (table OID and attnum, or 0)."""

    name: str
    type: SqlType
    table_oid: int = 0
    attnum: int = 0


@dataclass
class Notice:
    """A NOTICE/WARNING the statement raised (PostgreSQL sends them before the result)."""

    severity: str  # NOTICE, WARNING, INFO, DEBUG
    message: str
    sqlstate: str = "00000"
    detail: str | None = None
    hint: str | None = None


@dataclass
class Result:
    """The answer to one statement.

    ``table`` holds the rows for statements that return rows (SELECT, ... RETURNING, SHOW),
    with one Arrow column per entry of ``columns`` (in order; names may repeat, so address
    columns by position). ``tag`` is PostgreSQL's command tag (``SELECT 3``, ``INSERT 0 3``,
    ``CREATE TABLE``). ``rowcount`` is the PEP 249 rowcount (-1 when not applicable).
    """

    tag: str
    columns: list[ResultColumn] | None = None
    table: pa.Table | None = None
    rowcount: int = -1
    notices: list[Notice] = field(default_factory=list)

    @property
    def returns_rows(self) -> bool:
        return self.columns is not None
