"""Runs parsed sqllogictest records against a connection adapter and reports mismatches.

The runner only talks to a :class:`SqlConnection`: ``run(sql)`` returns the rows as
PostgreSQL text (or None for a statement without rows) or raises :class:`SqlFailure`.
The embedded adapter drives ``sqlvec.session`` directly; a server adapter (psycopg over
the wire) plugs in by registering another factory in :data:`ADAPTERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from slt_format import Halt, Query, Record, Require, Restart, Statement, parse_file


class SqlFailure(Exception):
    """The database rejected a statement."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{sqlstate}: {message}")
        self.sqlstate = sqlstate
        self.message = message


@dataclass
class Rows:
    ncols: int
    rows: list[list[str | None]]  # PostgreSQL text output, None for NULL


class SqlConnection(Protocol):
    labels: set[str]  # for skipif/onlyif: "embedded", "memory", "disk", "server" ...

    def run(self, sql: str) -> Rows | None: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...


class EmbeddedConnection:
    """A fresh embedded database: in memory (``path`` None) or in a directory."""

    def __init__(self, path: str | None) -> None:
        from sqlvec.session import Database

        self.path = path
        self.labels = {"embedded", "disk" if path else "memory"}
        self._db = Database.open(path)
        self._session = self._new_session()

    def _new_session(self):
        from sqlvec.session import Session

        return Session(self._db)

    def run(self, sql: str) -> Rows | None:
        from sqlvec import errors
        from sqlvec.shell import result_text

        last = None
        try:
            for result in self._session.execute_iter(sql):
                last = result
        except errors.Error as exc:
            raise SqlFailure(exc.sqlstate, exc.message) from exc
        if last is None or not last.returns_rows:
            return None
        from sqlvec.exec.functions.context import current_session

        with current_session(self._session):  # text output follows the session's settings
            return Rows(len(last.columns or []), result_text(last))

    def restart(self) -> None:
        """Close everything and open the database again (in memory: only a new session)."""
        from sqlvec.session import Database

        self._session.close()
        if self.path:
            self._db.close()
            self._db = Database.open(self.path)
        self._session = self._new_session()

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            self._db.close()


class PsycopgConnection:
    """A PostgreSQL-protocol server (sqlvec serve, or real PostgreSQL for reference runs).

    Uses libpq's simple-query protocol through ``psycopg.pq`` so that every value comes back
    as the server's text output, exactly what the .test files hold. ``restart`` calls
    ``on_restart`` (which may restart the server) and reconnects.
    """

    def __init__(
        self, conninfo: str, labels: set[str], on_restart: Callable[[], None] | None = None
    ):
        self.conninfo = conninfo
        self.labels = labels
        self._on_restart = on_restart
        self._conn = self._connect()

    def _connect(self):
        import psycopg

        return psycopg.connect(self.conninfo, autocommit=True)

    def run(self, sql: str) -> Rows | None:
        from psycopg import pq

        res = self._conn.pgconn.exec_(sql.encode())
        if res.status == pq.ExecStatus.FATAL_ERROR:
            state = (res.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
            msg = (res.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode()
            raise SqlFailure(state, msg)
        if res.status != pq.ExecStatus.TUPLES_OK:
            return None
        rows = [
            [None if (v := res.get_value(r, c)) is None else v.decode() for c in range(res.nfields)]
            for r in range(res.ntuples)
        ]
        return Rows(res.nfields, rows)

    def restart(self) -> None:
        self._conn.close()
        if self._on_restart:
            self._on_restart()
        self._conn = self._connect()

    def close(self) -> None:
        self._conn.close()


def postgres_database(uri: str) -> SqlConnection:
    """A fresh database on the real PostgreSQL server at ``uri`` (dropped on close), labelled
    ``postgres``: the reference that the .test files describe."""
    import uuid

    import psycopg

    name = f"slt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    conninfo = psycopg.conninfo.make_conninfo(uri, dbname=name)
    conn = PsycopgConnection(conninfo, {"server", "postgres"})
    close = conn.close

    def close_and_drop() -> None:
        close()
        with psycopg.connect(uri, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")

    conn.close = close_and_drop
    return conn


def _postgres_reference(tmp: Path) -> SqlConnection:
    """The server named by SQLVEC_PG_REFERENCE_URI, to check that the .test files say what
    PostgreSQL does (tests/differential runs the same against pgserver in CI)."""
    return postgres_database(os.environ["SQLVEC_PG_REFERENCE_URI"])


# mode name -> factory(tmp_path) -> connection. The server mode adds itself here.
ADAPTERS: dict[str, Callable[[Path], SqlConnection]] = {
    "memory": lambda tmp: EmbeddedConnection(None),
    "disk": lambda tmp: EmbeddedConnection(str(tmp / "db")),
}
if os.environ.get("SQLVEC_PG_REFERENCE_URI"):
    ADAPTERS["postgres"] = _postgres_reference


class SltFailure(AssertionError):
    """A record did not behave as the file says; the message is the whole report."""


def render(value: str | None) -> str:
    if value is None:
        return "NULL"
    return value if value != "" else "(empty)"


def _sorted(rows: list[list[str]], mode: str, ncols: int) -> list[list[str]]:
    if mode == "rowsort":
        return sorted(rows)
    if mode == "valuesort":
        flat = sorted(v for row in rows for v in row)
        return [flat[k : k + ncols] for k in range(0, len(flat), max(ncols, 1))]
    return rows


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def _table(rows: list[list[str]]) -> str:
    return "\n".join("    " + "\t".join(r) for r in rows) if rows else "    (no rows)"


def labels_of(conn: SqlConnection) -> set[str]:
    """The connection's labels plus ``sqlvec`` for every connection that is not the
    PostgreSQL reference (so that adapters need not all say it)."""
    return conn.labels if "postgres" in conn.labels else conn.labels | {"sqlvec"}


def knownfail_applies(rec: Record, labels: set[str]) -> bool:
    """``knownfail`` marks a gap in sqlvec: PostgreSQL itself must pass the record."""
    return rec.known_fail is not None and "postgres" not in labels


def run_records(records: list[Record], conn: SqlConnection, where: str) -> int:
    """Run records in order; raise SltFailure at the first mismatch. Returns records run."""
    done = 0
    labels = labels_of(conn)
    for rec in records:
        if not rec.applies_to(labels):
            continue
        loc = f"{where}:{rec.line}"
        if isinstance(rec, Halt) or (isinstance(rec, Require) and rec.label not in labels):
            break
        if isinstance(rec, Require):
            continue
        if knownfail_applies(rec, labels):
            _check_known_failure(rec, conn, loc)
        elif isinstance(rec, Restart):
            conn.restart()
        elif isinstance(rec, Statement):
            _check_statement(rec, conn, loc)
        elif isinstance(rec, Query):
            _check_query(rec, conn, loc)
        done += 1
    return done


def _check_known_failure(rec: Record, conn: SqlConnection, loc: str) -> None:
    """A ``knownfail`` record must still fail; when it passes, its marker must go."""
    try:
        if isinstance(rec, Statement):
            _check_statement(rec, conn, loc)
        elif isinstance(rec, Query):
            _check_query(rec, conn, loc)
    except SltFailure:
        return
    raise SltFailure(
        f"{loc}: record marked knownfail ({rec.known_fail}) now passes: remove the marker"
    )


def _check_statement(rec: Statement, conn: SqlConnection, loc: str) -> None:
    try:
        conn.run(rec.sql)
    except SqlFailure as exc:
        if not rec.expect_error:
            raise SltFailure(
                f"{loc}: statement failed\nSQL:\n{_indent(rec.sql)}\n"
                f"error: {exc.sqlstate}: {exc.message}"
            ) from None
        problems = []
        if rec.sqlstate and exc.sqlstate != rec.sqlstate:
            problems.append(f"SQLSTATE {exc.sqlstate}, expected {rec.sqlstate}")
        if rec.message and rec.message not in exc.message:
            problems.append(f"message does not contain {rec.message!r}")
        if problems:
            raise SltFailure(
                f"{loc}: wrong error ({'; '.join(problems)})\nSQL:\n{_indent(rec.sql)}\n"
                f"actual error: {exc.sqlstate}: {exc.message}"
            ) from None
        return
    if rec.expect_error:
        want = " ".join(x for x in (rec.sqlstate, rec.message) if x) or "(any)"
        raise SltFailure(
            f"{loc}: statement succeeded, expected error {want}\nSQL:\n{_indent(rec.sql)}"
        )


def _check_query(rec: Query, conn: SqlConnection, loc: str) -> None:
    try:
        result = conn.run(rec.sql)
    except SqlFailure as exc:
        raise SltFailure(
            f"{loc}: query failed\nSQL:\n{_indent(rec.sql)}\nerror: {exc.sqlstate}: {exc.message}"
        ) from None
    if result is None:
        raise SltFailure(f"{loc}: query returned no result set\nSQL:\n{_indent(rec.sql)}")
    ncols = len(rec.types)
    if result.ncols != ncols:
        raise SltFailure(
            f"{loc}: query returned {result.ncols} columns, the record declares {ncols} "
            f"({rec.types})\nSQL:\n{_indent(rec.sql)}"
        )
    actual = _sorted([[render(v) for v in row] for row in result.rows], rec.sort, ncols)
    expected = _sorted([list(r) for r in rec.expected], rec.sort, ncols)
    if actual != expected:
        raise SltFailure(
            f"{loc}: query result mismatch ({rec.sort})\nSQL:\n{_indent(rec.sql)}\n"
            f"expected:\n{_table(expected)}\nactual:\n{_table(actual)}"
        )


def run_file(path: Path, conn: SqlConnection, name: str | None = None) -> int:
    """Parse and run one .test file; ``name`` is how failures name the file."""
    return run_records(parse_file(path), conn, name or str(path))
