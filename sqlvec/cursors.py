"""SQL cursors: DECLARE, FETCH, MOVE, CLOSE, and the rows of ``pg_cursors``.

A cursor's query runs when it is declared and its rows are kept (as an Arrow table) with a
position, as PostgreSQL does for a WITH HOLD cursor at commit. Positions follow
PostgreSQL: 0 is before the first row, n + 1 after the last; FETCH returns the rows it
steps onto. A cursor belongs to the transaction that declared it and disappears when that
transaction ends, unless it is WITH HOLD and the transaction committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.extra_sql import CloseStmt, DeclareStmt, FetchStmt
from sqlvec.result import Result, ResultColumn


@dataclass
class Cursor:
    name: str
    statement: str  #: the DECLARE text, as pg_cursors shows it
    columns: list[ResultColumn]
    table: pa.Table
    txn: Any  #: the storage transaction that declared it
    hold: bool = False
    binary: bool = False
    scroll: bool = True
    committed: bool = False  #: its transaction committed (a WITH HOLD cursor survives)
    pos: int = 0
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def _all(session) -> dict[str, Cursor]:
    """The session's live cursors (those of ended transactions are dropped here)."""
    cursors: dict[str, Cursor] | None = session.__dict__.get("sql_cursors")
    if cursors is None:
        cursors = session.__dict__["sql_cursors"] = {}
    current = session.txn
    for name in [n for n, c in cursors.items() if c.txn is not current and not (c.hold and c.committed)]:
        del cursors[name]
    return cursors


def get(session, name: str) -> Cursor | None:
    return _all(session).get(name)


def all_cursors(session) -> list[Cursor]:
    return list(_all(session).values())


def run_declare(session, st, values, many: bool, types=None) -> Result:
    from sqlvec import statements

    node: DeclareStmt = st.ast
    if not node.hold and not session.in_block:
        raise errors.NoActiveSqlTransaction("DECLARE CURSOR can only be used in transaction blocks")
    cursors = _all(session)
    if node.name in cursors:
        raise errors.DuplicateCursor(f'cursor "{node.name}" already exists')
    result = statements.run(session, node.query, values, many, types)
    if result.columns is None or result.table is None:
        raise errors.Error("cursor can only scan a query that returns rows", sqlstate="42P11")
    cur = Cursor(node.name, st.text, result.columns, result.table, session.txn, node.hold, node.binary,
                 node.scroll is not False)
    cursors[node.name] = cur
    if node.hold:
        session.after_commit(lambda: setattr(cur, "committed", True))
    return Result("DECLARE CURSOR")


def describe_declare(session, st, types: list) -> tuple[list, list[ResultColumn] | None]:
    """Parse/Describe of a DECLARE: the parameters of its query; DECLARE returns no rows."""
    from sqlvec import statements

    params, _ = statements.describe(session, st.ast.query, types)
    return params, None


def _steps(cur: Cursor, node: FetchStmt) -> np.ndarray:
    """Row indexes (0-based) the FETCH returns, moving ``cur.pos``."""
    n = cur.table.num_rows
    p, k = cur.pos, node.count
    if node.direction == "forward":
        last = min(p + k, n + 1)
        rows = np.arange(p, min(last, n + 1) - 1 if last > n else last)  # positions p+1..last
        cur.pos = last
        return rows[(rows >= 0) & (rows < n)]
    if node.direction == "backward":
        if not cur.scroll:
            raise _no_backward()
        # positions p-1 down to max(p-k, 1): indexes one less
        rows = np.arange(p - 2, max(p - k, 1) - 2, -1)
        cur.pos = max(p - k, 0)
        return rows[(rows >= 0) & (rows < n)]
    target = (k if k >= 0 else n + 1 + k) if node.direction == "absolute" else p + k
    if target < p and not cur.scroll:
        raise _no_backward()
    cur.pos = max(0, min(target, n + 1))
    return np.array([cur.pos - 1]) if 1 <= cur.pos <= n else np.arange(0)


def _no_backward() -> errors.Error:
    return errors.ObjectNotInPrerequisiteState(
        "cursor can only scan forward", hint="Declare it with SCROLL option to enable backward scan."
    )


def run_fetch(session, st, values, many: bool) -> Result:
    node: FetchStmt = st.ast
    cur = get(session, node.name)
    if cur is None:
        raise errors.InvalidCursorName(f'cursor "{node.name}" does not exist')
    rows = _steps(cur, node)
    if node.move:
        return Result(f"MOVE {len(rows)}")
    if len(rows) and rows[0] + len(rows) - 1 == rows[-1]:
        table = cur.table.slice(int(rows[0]), len(rows))  # forward: a zero-copy slice
    else:
        table = cur.table.take(pa.array(rows, pa.int64()))
    return Result(f"FETCH {len(rows)}", cur.columns, table, len(rows))


def run_close(session, st, values, many: bool) -> Result:
    node: CloseStmt = st.ast
    cursors = _all(session)
    if node.name is None:
        cursors.clear()
    elif cursors.pop(node.name, None) is None:
        raise errors.InvalidCursorName(f'cursor "{node.name}" does not exist')
    return Result("CLOSE CURSOR")
