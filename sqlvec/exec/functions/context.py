"""The session the current statement runs in, for functions and casts that need it.

``'t'::regclass``, ``current_user`` or ``pg_table_is_visible(oid)`` depend on the session's
catalog, database, user and search_path, but function implementations and type input
functions receive only values. The session sets itself here around each statement::

    with current_session(session):
        ... bind and run the statement ...

A :class:`contextvars.ContextVar` keeps concurrent sessions (threads, asyncio tasks) apart.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlvec import errors

_CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("sqlvec_session", default=None)


@contextmanager
def current_session(session: Any) -> Iterator[Any]:
    """Make ``session`` the current one for the duration of the block (nests and restores)."""
    token = _CURRENT.set(session)
    try:
        yield session
    finally:
        _CURRENT.reset(token)


def get_session() -> Any:
    """The current session; raises when called outside :func:`current_session`."""
    s = _CURRENT.get()
    if s is None:
        # a programming error in the engine, but reported as SQL code would see it
        raise errors.InternalError_("this function needs a session (no statement is running)")
    return s


def peek_session() -> Any | None:
    """The current session, or None."""
    return _CURRENT.get()
