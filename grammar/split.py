"""Split a string of SQL into statements at top-level semicolons.

PostgreSQL's simple query protocol and psql both accept several statements in one string;
each runs on its own.  A ``;`` inside quotes, comments or parentheses does not split.
"""

from __future__ import annotations

from typing import NamedTuple

from .scan import CHAR, COMMENT, scan


class Piece(NamedTuple):
    """One statement: ``text`` starts at ``offset`` in the original string (0-based);
    ``terminator`` is the index of its ``;``, or None for a last statement without one."""

    text: str
    offset: int
    terminator: int | None


def split_pieces(sql: str) -> list[Piece]:
    """``split_statements`` with each statement's terminating ``;`` position."""
    pieces: list[Piece] = []
    depth = 0
    begin = 0  # start of the current statement
    has_code = False  # anything but whitespace and comments since ``begin``
    last = 0  # end of the previous span, to see code between spans
    for kind, start, end in scan(sql, ";()"):
        if not has_code and sql[last:start].strip():
            has_code = True
        last = end
        if kind != CHAR:
            if kind != COMMENT:
                has_code = True
            continue
        ch = sql[start]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth <= 0:  # ";" at top level (an extra ")" is the parser's to report)
            if has_code:
                pieces.append(_piece(sql, begin, start, start))
            begin, has_code, depth = start + 1, False, 0
            continue
        has_code = True
    if has_code or sql[last:].strip():
        pieces.append(_piece(sql, begin, len(sql), None))
    return pieces


def _piece(sql: str, begin: int, end: int, terminator: int | None) -> Piece:
    text = sql[begin:end]
    stripped = text.lstrip()
    offset = begin + len(text) - len(stripped)
    return Piece(stripped.rstrip(), offset, terminator)


def split_statements(sql: str) -> list[tuple[str, int]]:
    """Split ``sql`` into ``(statement text, 0-based offset of that text in sql)``.

    Statements that hold only whitespace and comments are dropped, so a string that is
    empty or only comments gives ``[]`` (PostgreSQL answers it with EmptyQueryResponse).
    Leading and trailing whitespace is trimmed; comments are kept.

    >>> split_statements("SELECT 1; ; SELECT ';'")
    [('SELECT 1', 0), ("SELECT ';'", 12)]
    """
    return [(p.text, p.offset) for p in split_pieces(sql)]
