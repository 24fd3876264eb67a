"""A tiny stand-in Session for tests of the DB-API's and the shell's own bookkeeping.

It answers a few fixed statements and records what it was sent; it does not parse SQL.
Tests of real SQL behaviour use the real engine (test_dbapi_engine.py, test_cli.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from sqlvec import errors
from sqlvec.result import Result, ResultColumn
from sqlvec.types.base import SqlType, TypeDef


def _typedef(name: str, oid: int, arrow: pa.DataType, typlen: int) -> TypeDef:
    return TypeDef(
        name=name,
        oid=oid,
        array_oid=0,
        category="X",
        arrow_type=lambda typmod: arrow,
        text_in=lambda text, typmod: text,
        text_out=str,
        send=lambda v: b"",
        recv=lambda b, typmod: b,
        typlen=typlen,
    )


INT4 = SqlType(_typedef("integer", 23, pa.int32(), 4))
TEXT = SqlType(_typedef("text", 25, pa.string(), -1))
NUMERIC_10_2 = SqlType(_typedef("numeric", 1700, pa.string(), -1), typmod=((10 << 16) | 2) + 4)


def rows_result(n: int, names: tuple[str, str] = ("id", "name")) -> Result:
    table = pa.table({"a": pa.array(range(n), pa.int32()), "b": [f"r{i}" for i in range(n)]})
    cols = [ResultColumn(names[0], INT4), ResultColumn(names[1], TEXT)]
    return Result(tag=f"SELECT {n}", columns=cols, table=table, rowcount=n)


class FakeSession:
    """Answers: BEGIN/COMMIT/ROLLBACK (tracking transaction_status), ``rows N``, ``fail``
    (raises UndefinedTable; inside a block the block fails), anything else -> tag ``OK``."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.transaction_status = "I"
        self.closed = False
        self.handlers: dict[str, Callable[[str], Result]] = {}

    def execute(self, sql: str, params=None) -> Result:
        self.sent.append(sql)
        word = sql.split()[0].upper() if sql.split() else ""
        if word == "BEGIN":
            self.transaction_status = "T"
            return Result("BEGIN")
        if word in ("COMMIT", "ROLLBACK"):
            tag = "ROLLBACK" if self.transaction_status == "E" else word
            self.transaction_status = "I"
            return Result(tag)
        if self.transaction_status == "E":
            raise errors.InFailedSqlTransaction(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        if word == "ROWS":
            return rows_result(int(sql.split()[1]))
        if word == "FAIL":
            if self.transaction_status == "T":
                self.transaction_status = "E"
            raise errors.UndefinedTable('relation "nope" does not exist', position=15)
        if word in self.handlers:
            return self.handlers[word](sql)
        return Result("OK", rowcount=len(params) if params else 0)

    def execute_iter(self, sql: str, params=None):
        for part in (p.strip() for p in sql.split(";")):
            if part:
                yield self.execute(part, params)

    def executemany(self, sql: str, seq_of_params) -> Result:
        batch = list(seq_of_params)
        self.sent.append(sql)
        return Result(f"INSERT 0 {len(batch)}", rowcount=len(batch))

    def close(self) -> None:
        self.closed = True


class FakeDatabase:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
