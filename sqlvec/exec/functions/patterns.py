"""LIKE / ILIKE and POSIX regular-expression operators.

A constant pattern (the usual case) runs one pyarrow kernel over the column: match_like for
LIKE (backslash is the default escape in both PostgreSQL and Arrow), match_substring_regex
(RE2) for ``~``. A pattern that varies per row is compiled per row with Python's re. ESCAPE
'c' is rewritten by ``like_escape`` into the backslash form.
"""

from __future__ import annotations

import functools
import re

import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import Datum, all_scalar, map_rows
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.base import SqlType

T = "text"


def like_to_regex(pattern: str) -> str:
    """A LIKE pattern (backslash escape) as an anchored Python regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise errors.InvalidEscapeSequence(
                    "LIKE pattern must not end with escape character")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        # LIKE's % and _ match any character, newlines included
        out.append("(?s:.*)" if ch == "%" else "(?s:.)" if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)


def _check_like(pattern: str) -> None:
    like_to_regex(pattern)  # raises on a trailing escape, as PostgreSQL does


@functools.lru_cache(maxsize=256)
def pg_regex(pattern: str, ignore_case: bool) -> re.Pattern:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise errors.InvalidRegularExpression(
            f"invalid regular expression: {exc}") from None


def _like(ignore_case: bool, negate: bool):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        pat = args[1]
        if isinstance(pat, pa.Scalar) and not all_scalar(args):
            if not pat.is_valid:
                return pa.nulls(len(args[0]), pa.bool_())
            _check_like(pat.as_py())
            res = pc.match_like(args[0], pat.as_py(), ignore_case=ignore_case)
            return pc.invert(res) if negate else res

        def row(s: str, p: str) -> bool:
            rx = pg_regex(like_to_regex(p), ignore_case)
            return (rx.fullmatch(s) is None) if negate else (rx.fullmatch(s) is not None)

        return map_rows(row, args, n, pa.bool_())

    return impl


def _regex(ignore_case: bool, negate: bool):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        pat = args[1]
        if isinstance(pat, pa.Scalar) and not all_scalar(args):
            if not pat.is_valid:
                return pa.nulls(len(args[0]), pa.bool_())
            pg_regex(pat.as_py(), ignore_case)  # PostgreSQL's error for a bad pattern
            try:
                res = pc.match_substring_regex(args[0], pat.as_py(), ignore_case=ignore_case)
            except pa.ArrowInvalid:  # RE2 lacks a feature (backreferences...): use re
                res = map_rows(lambda s: pg_regex(pat.as_py(), ignore_case).search(s)
                               is not None, [args[0]], len(args[0]), pa.bool_())
            return pc.invert(res) if negate else res

        def row(s: str, p: str) -> bool:
            return (pg_regex(p, ignore_case).search(s) is None) == negate

        return map_rows(row, args, n, pa.bool_())

    return impl


def _like_escape(pattern: str, escape: str) -> str:
    """Rewrite a pattern using ``escape`` into the backslash-escaped form."""
    if escape == "\\":
        return pattern
    if len(escape) > 1:
        raise errors.InvalidEscapeSequence("invalid escape string",
                                           hint="Escape string must be empty or one character.")
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape:
            if i + 1 >= len(pattern):
                raise errors.InvalidEscapeSequence(
                    "LIKE pattern must not end with escape character")
            out.append("\\" + pattern[i + 1])
            i += 2
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)


_LIKE = {"~~": (False, False), "~~*": (True, False), "!~~": (False, True), "!~~*": (True, True)}
_RX = {"~": (False, False), "~*": (True, False), "!~": (False, True), "!~*": (True, True)}

OPERATORS: list[Overload] = [
    *(Overload(op, (T, T), "boolean", _like(*flags)) for op, flags in _LIKE.items()),
    *(Overload(op, ("bytea", "bytea"), "boolean", _like(*flags))
      for op, flags in _LIKE.items() if not flags[0]),
    *(Overload(op, (T, T), "boolean", _regex(*flags)) for op, flags in _RX.items()),
]

FUNCTIONS: list[Overload] = [
    Overload("like_escape", (T, T), T, lambda a, t, n: map_rows(_like_escape, a, n,
                                                                  pa.string())),
]
