"""A syntax error located in one statement, before it is placed in the whole query string."""

from __future__ import annotations


class LocatedError(Exception):
    """Raised by the statement parsers; ``grammar.parse`` turns it into
    ``sqlvec.errors.SyntaxError`` with the position in the original string.

    ``offset`` is 0-based in the statement's text.  ``near`` is the offending token as
    written, or None for "end of input".  ``message`` replaces the generic
    ``syntax error at or near ...`` when PostgreSQL has a more specific one.
    """

    def __init__(self, offset: int, near: str | None, message: str | None = None) -> None:
        super().__init__(message or near or "end of input")
        self.offset = offset
        self.near = near
        self.message = message
