"""The query phase of one connection: simple and extended query protocol over a Session.

Runs on the connection's own thread (a Session is not thread-safe, and statements may take
seconds). Each frontend message goes to one handler in :data:`QueryProtocol.HANDLERS`;
answers are written to the connection's :class:`~sqlvec.wire.stream.SocketStream`, which
sends them when the thread next waits for input.

Transactions follow PostgreSQL: the statements an extended-protocol batch runs before its
Sync form one implicit transaction, committed at Sync (rolled back after an error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlvec.grammar import utility as U
from sqlvec.grammar.utility import DeallocateStmt
from sqlvec.wire import protocol as P
from sqlvec.wire.copy import WireCopy
from sqlvec.wire.errors import error_message, internal_error
from sqlvec.wire.params import decode_params, result_formats
from sqlvec.wire.rows import data_rows, data_rows_of_values
from sqlvec.wire.startup import Startup, reported_settings
from sqlvec.wire.stream import SocketStream

from sqlvec import cursors, errors
from sqlvec.extra_sql import parse
from sqlvec.result import Notice, Result, ResultColumn
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType

log = logging.getLogger("sqlvec.wire")

# client_min_messages: a notice is sent when its level is at least the setting's
_LEVELS = {"debug5": 0, "debug4": 1, "debug3": 2, "debug2": 3, "debug1": 4, "debug": 4,
           "log": 5, "notice": 6, "warning": 7, "error": 8, "info": 99}


class Terminate(Exception):
    """The client sent Terminate: close without an answer."""


@dataclass
class Prepared:
    """A parsed statement: its text, parameter types, result columns.

    What Describe and Bind derive from these never changes, so it is computed once per
    statement (a prepared statement runs many times: psycopg prepares after 5 executions).
    """

    sql: str
    param_types: list[SqlType]
    columns: list[ResultColumn] | None
    described: bool = True  # False when parsed in a failed transaction (nothing planned)
    empty: bool = field(init=False)  # only blanks and semicolons: EmptyQueryResponse
    maybe_protocol: bool = field(init=False)  # might be DEALLOCATE (see _protocol_statement)
    _row_desc: dict[tuple[int, ...], bytes] = field(default_factory=dict, init=False, repr=False)
    _formats: dict[tuple[int, ...], list[int]] = field(default_factory=dict, init=False, repr=False)
    _param_desc: bytes | None = field(default=None, init=False, repr=False)
    # (table, formats, DataRows) of the last small result: a constant SELECT returns the
    # same table object every time (see statements.run_select), so its rows encode once
    rows_cache: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.empty = not self.sql.strip(" \t\r\n;")
        self.maybe_protocol = _maybe_deallocate(self.sql)

    def row_description(self, formats: list[int]) -> bytes:
        assert self.columns is not None
        key = tuple(formats)
        out = self._row_desc.get(key)
        if out is None:
            out = self._row_desc[key] = row_description(self.columns, formats)
        return out

    def result_formats(self, codes: list[int]) -> list[int]:
        """Format code of each result column for a Bind's codes (errors as result_formats)."""
        assert self.columns is not None
        key = tuple(codes)
        out = self._formats.get(key)
        if out is None:
            out = self._formats[key] = result_formats(codes, len(self.columns))
        return out

    def parameter_description(self) -> bytes:
        if self._param_desc is None:
            self._param_desc = P.parameter_description([wire_type(t).oid for t in self.param_types])
        return self._param_desc


def _maybe_deallocate(sql: str) -> bool:
    return sql.lstrip()[:10].lower().startswith("deallocate")


@dataclass
class Portal:
    """A bound statement. It runs once, at its first Execute; later Executes (after a row
    limit) continue from ``pos`` in the kept result."""

    stmt: Prepared
    values: list
    format_codes: list[int]
    result: Result | None = None
    formats: list[int] = field(default_factory=list)
    pos: int = 0


# command tags after which a reported setting may differ: SET/RESET, and the ends of
# transactions and savepoints (which undo SET LOCAL and SETs of an aborted transaction)
_SETTING_TAGS = {"SET", "RESET", "DISCARD ALL", "COMMIT", "ROLLBACK", "RELEASE"}


# results this small keep their encoded DataRows with their statement (Prepared.rows_cache)
_CACHED_ROWS = 16
_CACHED_BYTES = 4096
# the settings that change how a value is written as text (so part of that cache's key)
_OUTPUT_SETTINGS = ("extra_float_digits", "DateStyle", "IntervalStyle", "TimeZone", "bytea_output")

# statements PostgreSQL refuses inside a transaction block: never in an implicit one
_OUTSIDE_BLOCK = (U.CreateDatabaseStmt, U.DropDatabaseStmt, U.VacuumStmt)
# what Parse accepts in a failed transaction (PostgreSQL's IsTransactionExitStmt)
_EXIT_KINDS = ("commit", "rollback", "rollback_to")


def wire_type(t: SqlType) -> SqlType:
    """The type a client is told: an unresolved literal or parameter is text to PostgreSQL."""
    return R.TEXT if t.oid == R.UNKNOWN.oid else t


def row_description(columns: list[ResultColumn], formats: list[int]) -> bytes:
    fields = []
    for col, fmt in zip(columns, formats):
        t = wire_type(col.type)
        fields.append((col.name, col.table_oid, col.attnum, t.oid, t.defn.typlen, t.typmod, fmt))
    return P.row_description(fields)


class QueryProtocol:
    """Prepared statements, portals and the error state of one connection."""

    def __init__(self, start: Startup, out: SocketStream) -> None:
        self.start = start
        self.session = start.session
        self.out = out
        self.session.copy_channel = WireCopy(out)
        self.before_ready: Callable[[], None] = lambda: None  # queued notifications go out
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.skipping = False  # after an error in extended mode: ignore messages until Sync
        self.HANDLERS: dict[bytes, Callable[[P.Payload], None]] = {
            b"Q": self._query,
            b"P": self._parse,
            b"B": self._bind,
            b"D": self._describe,
            b"E": self._execute,
            b"C": self._close,
            b"S": self._sync,
            b"H": self._flush,
            b"X": self._terminate,
            # CopyData/CopyDone/CopyFail outside COPY are ignored, as PostgreSQL does
            b"d": lambda p: None,
            b"c": lambda p: None,
            b"f": lambda p: None,
        }

    def handle(self, kind: bytes, body: bytes) -> None:
        """One frontend message. ProtocolError and Terminate propagate (the connection ends)."""
        if self.skipping and kind not in (b"S", b"X"):
            return
        try:
            self.HANDLERS[kind](P.Payload(body))
        except (P.ProtocolError, Terminate):
            raise
        except errors.Error as exc:
            self.out.write(error_message(exc))
            self._failed(kind)
        except Exception as exc:  # a bug: the client gets XX000, the log gets the traceback
            self.out.write(internal_error(exc))
            self._failed(kind)

    def _failed(self, kind: bytes) -> None:
        """After an error in extended mode: skip to Sync; any error aborts the transaction."""
        if kind != b"Q":
            self.skipping = True
            if self.session.in_block:
                self.session.failed = True

    # -- results --------------------------------------------------------------------------------
    def _notices(self, notices: list[Notice]) -> None:
        if not notices:
            return
        try:
            floor = _LEVELS.get(self.session.settings.get("client_min_messages"), 6)
        except errors.Error:
            floor = 6
        for n in notices:
            if _LEVELS.get(n.severity.lower(), 6) >= floor:
                self.out.write(P.notice_response(n.severity, n.sqlstate, n.message, n.detail, n.hint))

    def _report_settings(self) -> None:
        """ParameterStatus for every reported setting that the last statement changed."""
        now = reported_settings(self.session)
        if now != self.start.reported:
            for name, value in now.items():
                if self.start.reported.get(name) != value:
                    self.out.write(P.parameter_status(name, value))
            self.start.reported = now

    def _all_rows(self, stmt: Prepared, result: Result, formats: list[int]) -> None:
        """Every row of a small result, reusing the encoding when the table is the same."""
        py_rows = getattr(result, "rows", None)
        if py_rows is not None:  # encoded from the Python values when their types allow
            data = data_rows_of_values(py_rows, result.columns or [], formats)
            if data is not None:
                self.out.write(data)
                return
        key = (formats, self.session.settings.tuple_of(_OUTPUT_SETTINGS))
        cached = stmt.rows_cache
        if cached is not None and cached[0] is result.table and cached[1] == key:
            self.out.write(cached[2])
            return
        data = b"".join(data_rows(result.table, result.columns or [], formats, 0, None))
        stmt.rows_cache = (result.table, key, data) if len(data) <= _CACHED_BYTES else None
        self.out.write(data)

    def _rows(self, result: Result, formats: list[int], start: int, stop: int | None) -> None:
        for chunk in data_rows(result.table, result.columns or [], formats, start, stop):
            self.out.write(chunk)

    # -- simple query ---------------------------------------------------------------------------
    def _query(self, p: P.Payload) -> None:
        sql = p.cstr()
        p.end()
        self.skipping = False
        self.statements.pop("", None)  # a simple Query drops the unnamed statement and portal
        self.portals.pop("", None)
        ran = False
        try:
            own = self._protocol_statement(sql)
            for result in [own] if own is not None else self.session.execute_iter(sql):
                ran = True
                self._notices(result.notices)
                if result.columns is not None:
                    formats = [0] * len(result.columns)
                    self.out.write(row_description(result.columns, formats))
                    self._rows(result, formats, 0, None)
                self.out.write(P.command_complete(result.tag))
                self._after(result)
            if not ran:
                self.out.write(P.EMPTY_QUERY)
        except errors.Error as exc:
            self.out.write(error_message(exc, sql))
            self._report_settings()  # an aborted statement may have changed some first
        except Exception as exc:
            self.out.write(internal_error(exc))
            self._report_settings()
        self._ready()

    def _ready(self) -> None:
        self.before_ready()
        self.out.write(P.ready_for_query(self.session.transaction_status))

    def _protocol_statement(self, sql: str) -> Result | None:
        """DEALLOCATE names a protocol-level prepared statement, which only this layer
        knows: run it here (clients send it alone: psycopg on rollback, pg8000 on close)."""
        if not _maybe_deallocate(sql):
            return None
        stmts = parse(sql)
        if len(stmts) != 1 or not isinstance(stmts[0].ast, DeallocateStmt):
            return None
        name = stmts[0].ast.name
        if name is None:
            self.statements.clear()
            return Result("DEALLOCATE ALL")
        if self.statements.pop(name, None) is None:
            raise errors.InvalidSqlStatementName(f'prepared statement "{name}" does not exist')
        return Result("DEALLOCATE")

    def _after(self, result: Result) -> None:
        if result.tag == "DISCARD ALL":
            self.statements.clear()
            self.portals.clear()
        if result.tag in _SETTING_TAGS:
            self._report_settings()

    # -- extended query -------------------------------------------------------------------------
    def _parse(self, p: P.Payload) -> None:
        name, sql = p.cstr(), p.cstr()
        n = p.int16()
        oids = [p.int32() for _ in range(max(n, 0))]
        p.end()
        if name and name in self.statements:
            raise errors.DuplicatePreparedStatement(f'prepared statement "{name}" already exists')
        declared: list[SqlType | None] = [None if o == 0 else R.type_by_oid(o & 0xFFFFFFFF) for o in oids]
        if self.session.transaction_status == "E":
            # nothing can be planned in a failed transaction: as PostgreSQL's Parse does, refuse
            # all but the statements that end it (a statement described with no parameters
            # would fail later in the client: asyncpg's "the server expects 0 arguments")
            stmts = parse(sql)
            if stmts and not (len(stmts) == 1 and isinstance(stmts[0].ast, U.TransactionStmt)
                              and stmts[0].ast.kind in _EXIT_KINDS):
                raise errors.InFailedSqlTransaction(
                    "current transaction is aborted, commands ignored until end of transaction block")
            params = [t if t is not None else R.UNKNOWN for t in declared]
            stmt = Prepared(sql, params, None, described=False)
        else:
            try:
                params, columns = self.session.describe(sql, declared)
            except errors.Error as exc:
                raise _with_position(exc, sql) from None
            stmt = Prepared(sql, list(params), columns)
        self.statements[name] = stmt
        self.out.write(P.PARSE_COMPLETE)

    def _bind(self, p: P.Payload) -> None:
        portal_name, stmt_name, param_formats, raw, codes = P.parse_bind(p.data)
        stmt = self.statements.get(stmt_name)
        if stmt is None:
            raise errors.InvalidSqlStatementName(f'prepared statement "{stmt_name}" does not exist')
        if portal_name and portal_name in self.portals:
            raise errors.DuplicateCursor(f'cursor "{portal_name}" already exists')
        values: list = []
        if raw or param_formats or stmt.param_types:
            values = decode_params(stmt_name, stmt.param_types, param_formats, raw)
        portal = Portal(stmt, values, codes)
        if stmt.columns is not None:
            portal.formats = stmt.result_formats(codes)
        self.portals[portal_name] = portal
        self.out.write(P.BIND_COMPLETE)

    def _describe(self, p: P.Payload) -> None:
        kind = p.bytes(1)
        name = p.cstr()
        p.end()
        if kind == b"S":
            stmt = self.statements.get(name)
            if stmt is None:
                raise errors.InvalidSqlStatementName(f'prepared statement "{name}" does not exist')
            self.out.write(stmt.parameter_description())
            if stmt.columns is None:
                self.out.write(P.NO_DATA)
            else:
                self.out.write(stmt.row_description([0] * len(stmt.columns)))
        elif kind == b"P":
            portal = self.portals.get(name)
            if portal is None:
                # DECLARE'd cursors share the portal namespace (psycopg describes them)
                cursor = cursors.get(self.session, name)
                if cursor is None:
                    raise errors.InvalidCursorName(f'portal "{name}" does not exist')
                fmt = 1 if cursor.binary else 0
                self.out.write(row_description(cursor.columns, [fmt] * len(cursor.columns)))
                return
            if portal.stmt.columns is None:
                self.out.write(P.NO_DATA)
            else:
                self.out.write(portal.stmt.row_description(portal.formats))
        else:
            raise P.ProtocolError(f"invalid DESCRIBE message subtype {kind[0]}")

    def _execute(self, p: P.Payload) -> None:
        name, limit = P.parse_execute(p.data)
        portal = self.portals.get(name)
        if portal is None:
            raise errors.InvalidCursorName(f'portal "{name}" does not exist')
        stmt = portal.stmt
        if portal.result is None:
            if stmt.empty:
                self.out.write(P.EMPTY_QUERY)
                return
            result = None if stmt.param_types else self.session.constant_result(stmt.sql)
            if result is None:
                result = self._run_portal(stmt, portal)
            portal.result = result
            self._notices(result.notices)
            self._after(result)
            if result.columns is not None and not portal.formats:
                portal.formats = result_formats(portal.format_codes, len(result.columns))
        result = portal.result
        py_rows = getattr(result, "rows", None)  # Python rows (the top-k short path)
        if result.columns is None or (py_rows is None and result.table is None):
            self.out.write(P.command_complete(result.tag))
            return
        total = len(py_rows) if py_rows is not None else result.table.num_rows
        stop = total if limit <= 0 else min(total, portal.pos + limit)
        if portal.pos == 0 and stop == total and total <= _CACHED_ROWS:
            self._all_rows(stmt, result, portal.formats)
        else:
            self._rows(result, portal.formats, portal.pos, stop)
        sent, portal.pos = stop - portal.pos, stop
        if limit > 0 and stop < total:
            self.out.write(P.PORTAL_SUSPENDED)
            return
        tag = result.tag
        if tag.startswith("SELECT ") and sent != total:
            tag = f"SELECT {sent}"  # PostgreSQL counts the rows of the last Execute
        self.out.write(P.command_complete(tag))

    def _run_portal(self, stmt: Prepared, portal: Portal) -> Result:
        self._maybe_begin(stmt.sql)
        try:
            own = self._protocol_statement(stmt.sql) if stmt.maybe_protocol else None
            return own or self.session.execute_prepared(stmt.sql, stmt.param_types, portal.values)
        except errors.Error as exc:
            raise _with_position(exc, stmt.sql) from None

    def _close(self, p: P.Payload) -> None:
        kind = p.bytes(1)
        name = p.cstr()
        p.end()
        if kind == b"S":
            self.statements.pop(name, None)
        elif kind == b"P":
            self.portals.pop(name, None)
        else:
            raise P.ProtocolError(f"invalid CLOSE message subtype {kind[0]}")
        self.out.write(P.CLOSE_COMPLETE)

    def _maybe_begin(self, sql: str) -> None:
        """Open the implicit transaction of this batch, unless the statement runs alone
        (the next buffered message is its Sync: then the session's autocommit path runs
        it, with its retry of serialization failures) or must not run in a transaction
        block (CREATE DATABASE, VACUUM ...)."""
        session = self.session
        if session.in_block or self.out.next_kind() == b"S":
            return
        stmts = parse(sql)
        if len(stmts) == 1 and isinstance(stmts[0].ast, _OUTSIDE_BLOCK):
            return
        session.implicit_begin()

    def _sync(self, p: P.Payload) -> None:
        p.end()
        self.skipping = False
        try:
            self.session.implicit_end()
        except errors.Error as exc:  # the commit failed (a serialization failure ...)
            self.out.write(error_message(exc))
        except Exception as exc:
            self.out.write(internal_error(exc))
        if self.session.transaction_status == "I":
            self.portals.clear()  # portals live until the end of their transaction
        self._ready()

    def _flush(self, p: P.Payload) -> None:
        p.end()
        self.out.flush()

    def _terminate(self, p: P.Payload) -> None:
        raise Terminate()


def _with_position(exc: errors.Error, sql: str) -> errors.Error:
    """Errors raised while planning carry the offset inside the statement
    (``stmt_position``, 0-based); the client wants a 1-based position in its text."""
    pos = getattr(exc, "stmt_position", None)
    if exc.position is None and pos is not None:
        exc.position = len(sql) - len(sql.lstrip()) + pos + 1
    return exc


__all__ = ["QueryProtocol", "Terminate", "log"]
