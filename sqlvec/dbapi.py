"""The embedded PEP 249 API: ``sqlvec.connect(path)`` -> Connection -> Cursor.

A thin layer over :class:`sqlvec.session.Session`: it adds what PEP 249 asks for and the
engine does not know about — implicit transactions when autocommit is off (psycopg's
behaviour: the first statement outside a transaction sends ``BEGIN``), cursors with a read
position, ``description`` tuples and conversion of Arrow results to Python rows.

Rows are converted column by column (``from_arrow`` once per column, then ``zip``), in
chunks, so that a large result never pays a per-cell Python call.

    >>> import sqlvec
    >>> with sqlvec.connect(":memory:") as conn:            # doctest: +SKIP
    ...     conn.execute("SELECT 1 AS one").fetchall()
    [(1,)]
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.result import Result, ResultColumn

Params = Sequence[Any] | Mapping[str, Any] | None

# Rows converted to Python per step when a cursor is read one row at a time: big enough to
# amortise the per-column call, small enough not to convert a huge result nobody reads.
_CHUNK_ROWS = 1024


class Column(NamedTuple):
    """One entry of ``Cursor.description`` (a 7-tuple, as PEP 249 asks)."""

    name: str
    type_code: int  # the PostgreSQL type OID
    display_size: int | None
    internal_size: int | None  # pg_type.typlen for fixed-size types
    precision: int | None
    scale: int | None
    null_ok: bool | None


def _precision_scale(col: ResultColumn) -> tuple[int | None, int | None]:
    """Precision/scale from the typmod, as psycopg reports them."""
    name, typmod = col.type.name, col.type.typmod
    if typmod < 0:
        return None, None
    if name == "numeric":
        # numeric's typmod is ((precision << 16) | scale) + VARHDRSZ
        return ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if name in _FRACTIONAL_SECONDS_TYPES:
        return typmod, None
    return None, None


_FRACTIONAL_SECONDS_TYPES = frozenset(
    {
        "time without time zone",
        "time with time zone",
        "timestamp without time zone",
        "timestamp with time zone",
        "interval",
    }
)


def describe(columns: Sequence[ResultColumn]) -> tuple[Column, ...]:
    """``Cursor.description`` for a result's columns."""
    out = []
    for col in columns:
        precision, scale = _precision_scale(col)
        typlen = col.type.defn.typlen
        out.append(
            Column(
                col.name, col.type.oid, None, typlen if typlen > 0 else None, precision, scale, None
            )
        )
    return tuple(out)


def dedupe_names(names: Sequence[str]) -> list[str]:
    """Make column names unique for Arrow/pandas: ``a, a, ?column?`` -> ``a, a_1, ?column?``."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _from_arrow():
    # Imported lazily: sqlvec.types.arrow pulls in every type module.
    from sqlvec.types.arrow import from_arrow

    return from_arrow


def rows_from_table(table: pa.Table, columns: Sequence[ResultColumn]) -> list[tuple]:
    """Python rows for an Arrow table, converted column-wise."""
    if table.num_columns == 0:
        return [()] * table.num_rows
    from_arrow = _from_arrow()
    converted = []
    for i, col in enumerate(columns):
        arr = table.column(i)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        converted.append(from_arrow(arr, col.type))
    return list(zip(*converted))


class Connection:
    """A connection to an embedded database (PEP 249).

    Use as a context manager to commit on success, roll back on an exception, and close
    at the end — psycopg 3's behaviour.
    """

    def __init__(self, session: Any, database: Any, *, autocommit: bool = False) -> None:
        self._session = session
        self._database = database
        self._autocommit = bool(autocommit)
        # threadsafety = 2: threads may share a connection; one statement at a time.
        self._lock = threading.RLock()
        self._closed = False
        self.notices: list[str] = []  # "NOTICE:  ..." lines, as psycopg2 keeps them

    # -- PEP 249 ---------------------------------------------------------------------------
    def cursor(self) -> Cursor:
        self._check_open()
        return Cursor(self)

    def commit(self) -> None:
        with self._lock:
            self._check_open()
            if self._session.transaction_status != "I":
                self._run(lambda: self._session.execute("COMMIT"))

    def rollback(self) -> None:
        with self._lock:
            self._check_open()
            if self._session.transaction_status != "I":
                self._run(lambda: self._session.execute("ROLLBACK"))

    def close(self) -> None:
        """Close the session (an open transaction is rolled back) and release the database."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._session.transaction_status != "I":
                    self._session.execute("ROLLBACK")
            finally:
                try:
                    self._session.close()
                finally:
                    self._database.close()

    # -- extensions (psycopg / sqlite3) ----------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        with self._lock:
            self._check_open()
            status = self._session.transaction_status
            if status != "I":
                raise errors.ProgrammingError(
                    "can't change 'autocommit' now: connection in transaction status "
                    + {"T": "INTRANS", "E": "INERROR"}.get(status, status)
                )
            self._autocommit = bool(value)

    @property
    def transaction_status(self) -> str:
        """'I' idle, 'T' inside a transaction block, 'E' inside a failed one."""
        return self._session.transaction_status

    @property
    def session(self) -> Any:
        """The engine session behind this connection (for tools such as the shell)."""
        return self._session

    def execute(self, sql: str, params: Params = None) -> Cursor:
        """Shortcut: a new cursor that has run ``sql``."""
        return self.cursor().execute(sql, params)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    # -- internals used by Cursor ----------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the connection is closed")

    def _begin_if_needed(self) -> None:
        # PEP 249: without autocommit every statement runs inside a transaction that only
        # commit()/rollback() end. Like psycopg, open it lazily before the first statement.
        if not self._autocommit and self._session.transaction_status == "I":
            self._session.execute("BEGIN")

    def _run(self, call):
        result = call()
        self._collect_notices(result)
        return result

    def _collect_notices(self, result: Result) -> None:
        for n in result.notices:
            self.notices.append(f"{n.severity}:  {n.message}\n")
        del self.notices[:-50]  # psycopg2 keeps the last 50


class Cursor:
    """A PEP 249 cursor: runs statements and reads their rows."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        self._result: Result | None = None
        self._table: pa.Table | None = None  # or _LAZY: built from the result when asked for
        self._nrows = 0
        self._pos = 0  # rows handed out so far
        self._buffer: list[tuple] = []  # converted rows starting at _buffer_start
        self._buffer_start = 0
        self.description: tuple[Column, ...] | None = None
        self.rowcount = -1
        self.statusmessage: str | None = None

    # -- executing -------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> Cursor:
        """Run one statement (or several, without parameters; the last one's result is kept)."""
        conn = self.connection
        with conn._lock:
            self._check_open()
            self._reset()
            conn._begin_if_needed()
            self._set_result(conn._run(lambda: conn._session.execute(sql, params)))
        return self

    def executemany(
        self, sql: str, seq_of_params: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> Cursor:
        """Run one statement for each parameter set (INSERTs are batched by the engine)."""
        conn = self.connection
        with conn._lock:
            self._check_open()
            self._reset()
            conn._begin_if_needed()
            self._set_result(conn._run(lambda: conn._session.executemany(sql, seq_of_params)))
        return self

    def _set_result(self, result: Result) -> None:
        self._result = result
        self.statusmessage = result.tag
        if result.returns_rows:
            self.description = getattr(result, "description", None) or describe(result.columns or [])
            rows = getattr(result, "rows", None)
            if rows is not None:  # Python rows already (the top-k short path): no Arrow round trip
                self._buffer, self._buffer_start, self._nrows = rows, 0, len(rows)
                self._table = _LAZY
            else:
                self._table = result.table if result.table is not None else _empty_table(result)
                self._nrows = self._table.num_rows
        self.rowcount = result.rowcount
        if self.rowcount < 0 and self._table is not None:
            self.rowcount = self._nrows

    # -- fetching --------------------------------------------------------------------------
    def fetchone(self) -> tuple | None:
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        return self._take(self.arraysize if size is None else size)

    def fetchall(self) -> list[tuple]:
        self._check_rows()
        return self._take(self._nrows - self._pos)

    def __iter__(self) -> Iterator[tuple]:
        while True:
            rows = self._take(_CHUNK_ROWS)
            if not rows:
                return
            yield from rows

    def fetch_arrow(self) -> pa.Table:
        """The rows not fetched yet, as a pyarrow Table (column names made unique)."""
        with self.connection._lock:
            table = self._require_rows()
            rest = table.slice(self._pos)
            self._pos = table.num_rows
            self._buffer, self._buffer_start = [], self._pos
            names = dedupe_names([c.name for c in self._result.columns or []])
            return pa.Table.from_arrays(rest.columns, names=names)

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """The rows not fetched yet as ``{column: numpy array}``.

        Vector columns become 2-D float arrays when every row has the same dimension and no
        NULL; any other column that numpy cannot hold natively becomes an object array of the
        same Python values ``fetchall`` returns.
        """
        columns = self._result.columns if self._result else None
        table = self.fetch_arrow()
        out: dict[str, np.ndarray] = {}
        for name, arr, col in zip(table.column_names, table.columns, columns or []):
            out[name] = _column_to_numpy(arr.combine_chunks(), col)
        return out

    def _take(self, n: int) -> list[tuple]:
        with self.connection._lock:
            self._check_rows()
            n = max(0, min(n, self._nrows - self._pos))
            if self._buffer_start == 0 and self._pos + n <= len(self._buffer):
                out = self._buffer[self._pos:self._pos + n]  # converted already
                self._pos += n
                return out
            table = self._require_rows()
            out: list[tuple] = []
            while len(out) < n:
                offset = self._pos - self._buffer_start
                if offset >= len(self._buffer):
                    size = max(n - len(out), _CHUNK_ROWS)
                    self._buffer = rows_from_table(
                        table.slice(self._pos, size), self._result.columns
                    )
                    self._buffer_start, offset = self._pos, 0
                piece = self._buffer[offset : offset + n - len(out)]
                out.extend(piece)
                self._pos += len(piece)
            return out

    def _check_rows(self) -> None:
        self._check_open()
        if self._result is None:
            raise errors.ProgrammingError("no results to fetch: no statement was executed")
        if self._table is None:
            raise errors.ProgrammingError(
                f"the last operation didn't produce a result ({self._result.tag})"
            )

    def _require_rows(self) -> pa.Table:
        self._check_rows()
        if self._table is _LAZY:
            self._table = self._result.table
        return self._table

    # -- the rest of PEP 249 -----------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        self._reset()

    @property
    def closed(self) -> bool:
        return self._closed

    def setinputsizes(self, sizes: Any) -> None:  # PEP 249: may do nothing
        pass

    def setoutputsize(self, size: int, column: int | None = None) -> None:
        pass

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the cursor is closed")
        self.connection._check_open()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


_LAZY = object()  # Cursor._table of a result that carries Python rows: its table when needed


def _empty_table(result: Result) -> pa.Table:
    cols = result.columns or []
    return pa.Table.from_arrays(
        [pa.array([], type=c.type.arrow_type()) for c in cols],
        names=[f"c{i}" for i in range(len(cols))],
    )


def _column_to_numpy(arr: pa.Array, col: ResultColumn) -> np.ndarray:
    t = arr.type
    if pa.types.is_fixed_size_list(t) and arr.null_count == 0:
        flat = arr.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(arr), t.list_size)
    if (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    ) and arr.null_count == 0:
        return arr.to_numpy(zero_copy_only=False)
    values = _from_arrow()(arr, col.type)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def connect(
    path: str | None = ":memory:",
    *,
    autocommit: bool = False,
    database: str = "postgres",
    user: str = "postgres",
) -> Connection:
    """Open the embedded database at ``path`` (a directory, created if missing) or in memory.

    ``path`` None or ``":memory:"`` gives an in-memory database. Several connections to the
    same path in one process share one database, as clients of one server do.
    """
    from sqlvec.session import Database, Session

    db = Database.open(path)
    try:
        session = Session(db, database=database, user=user)
    except BaseException:
        db.close()
        raise
    return Connection(session, db, autocommit=autocommit)


# -- PEP 249 type objects and constructors -----------------------------------------------------
class DBAPITypeObject:
    """Compares equal to every type OID of one PEP 249 group (``desc.type_code == NUMBER``)."""

    def __init__(self, name: str, oids: Iterable[int]) -> None:
        self.name = name
        self.values = frozenset(oids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return other in self.values
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


# Built-in PostgreSQL OIDs (fixed in pg_type.dat): text, varchar, bpchar, name, char, json,
# jsonb, xml, uuid / bytea / int2, int4, int8, float4, float8, numeric, oid, money /
# date, time, timetz, timestamp, timestamptz, interval / oid, tid.
STRING = DBAPITypeObject("STRING", (25, 1043, 1042, 19, 18, 114, 3802, 142, 2950))
BINARY = DBAPITypeObject("BINARY", (17,))
NUMBER = DBAPITypeObject("NUMBER", (21, 23, 20, 700, 701, 1700, 26, 790))
DATETIME = DBAPITypeObject("DATETIME", (1082, 1083, 1266, 1114, 1184, 1186))
ROWID = DBAPITypeObject("ROWID", (26, 27))

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - PEP 249 name
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    return Timestamp(*time.localtime(ticks)[:6])
