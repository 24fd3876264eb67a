"""Engine exceptions as ErrorResponse messages: never a Python traceback to the client."""

from __future__ import annotations

import logging

from sqlvec.wire import protocol as P

from sqlvec import errors

log = logging.getLogger("sqlvec.wire")


def error_message(exc: errors.Error, sql: str | None = None, *, severity: str | None = None) -> bytes:
    """ErrorResponse for an engine error: SQLSTATE, message, detail, hint and the 1-based
    position in the query text (psql draws ``LINE 1:`` and a caret from it)."""
    position = exc.position
    if position is not None and sql is not None and not 0 < position <= len(sql) + 1:
        position = None  # a position outside the text would make psql print garbage
    return P.error_response(
        exc.sqlstate,
        exc.message,
        severity=severity or getattr(exc, "severity", "ERROR") or "ERROR",
        detail=exc.detail,
        hint=exc.hint,
        position=position,
        objects={name: getattr(exc, name) for name in _OBJECT_FIELDS},
    )


_OBJECT_FIELDS = ("schema_name", "table_name", "column_name", "datatype_name", "constraint_name")


def internal_error(exc: BaseException) -> bytes:
    """XX000 for an exception the engine did not mean to raise; the traceback goes to the
    server log."""
    log.error("internal error", exc_info=exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return P.error_response("XX000", f"internal error: {text}")
