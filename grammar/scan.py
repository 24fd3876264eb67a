"""A lexical scanner that knows only what hides a character from SQL: quotes and comments.

Statement splitting and client-side placeholder conversion both need to find ``;`` or
``%`` in the *code* of a string while skipping string literals (``'..'``, ``E'..'``),
dollar-quoted strings (``$tag$..$tag$``), quoted identifiers and comments.  ``scan`` does
that once, with one regular expression per set of interesting characters, so a long
literal (a 1536-dimension vector) is skipped in one step rather than char by char.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from sqlvec import errors

# Characters that may continue an identifier in PostgreSQL ("$" included: a$b is a name).
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
_BLOCK_COMMENT_PART = re.compile(r"/\*|\*/")
# Bodies after the opening quote, up to and including the closing one; doubled quotes
# (and, in E'' strings, backslash escapes) do not close.  Unrolled loops: no backtracking.
_STD_STRING_BODY = re.compile(r"[^']*(?:''[^']*)*'")
_ESC_STRING_BODY = re.compile(r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*'", re.S)
_IDENT_BODY = re.compile(r'[^"]*(?:""[^"]*)*"')

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

#: Span kinds yielded by ``scan``.
STRING, IDENT, DOLLAR, COMMENT, CHAR = "string", "ident", "dollar", "comment", "char"


@lru_cache(maxsize=8)
def _opener(chars: str) -> re.Pattern[str]:
    return re.compile("--|/\\*|['\"$]" + (f"|[{re.escape(chars)}]" if chars else ""))


def _unterminated(what: str, sql: str, start: int) -> errors.SyntaxError:
    # PostgreSQL quotes the rest of the input from the opening quote.
    return errors.SyntaxError(f'unterminated {what} at or near "{sql[start:]}"', position=start + 1)


def scan(sql: str, chars: str = "") -> Iterator[tuple[str, int, int]]:
    """Yield ``(kind, start, end)`` for each string, quoted identifier, dollar-quoted string
    and comment in ``sql``, and ``("char", i, i + 1)`` for each of ``chars`` found in code.

    Raises ``sqlvec.errors.SyntaxError`` with PostgreSQL's message for an unterminated
    quote or comment.

    >>> [k for k, *_ in scan("SELECT ';' -- x\\n;", ";")]
    ['string', 'comment', 'char']
    """
    opener = _opener(chars)
    pos = 0
    n = len(sql)
    while pos < n:
        m = opener.search(sql, pos)
        if m is None:
            return
        start = m.start()
        tok = m.group()
        if tok == "--":
            nl = sql.find("\n", start)
            end = n if nl < 0 else nl
            yield COMMENT, start, end
        elif tok == "/*":
            end = _block_comment_end(sql, start)
            yield COMMENT, start, end
        elif tok == "'":
            prev = sql[start - 1] if start else ""
            if prev and prev in "eE" and (start < 2 or not _IDENT_CHAR.match(sql[start - 2])):
                body = _ESC_STRING_BODY.match(sql, start + 1)
                start -= 1  # the span includes the E
            else:
                body = _STD_STRING_BODY.match(sql, start + 1)
            if body is None:
                raise _unterminated("quoted string", sql, start)
            end = body.end()
            yield STRING, start, end
        elif tok == '"':
            body = _IDENT_BODY.match(sql, start + 1)
            if body is None:
                raise _unterminated("quoted identifier", sql, start)
            end = body.end()
            yield IDENT, start, end
        elif tok == "$":
            tag = _DOLLAR_TAG.match(sql, start)
            if tag is None or (start and _IDENT_CHAR.match(sql[start - 1])):
                # "$1", or "$" inside a name like a$b: plain code.
                if "$" in chars:
                    yield CHAR, start, start + 1
                end = start + 1
            else:
                close = sql.find(tag.group(), tag.end())
                if close < 0:
                    raise _unterminated("dollar-quoted string", sql, start)
                end = close + len(tag.group())
                yield DOLLAR, start, end
        else:
            yield CHAR, start, start + 1
            end = start + 1
        pos = end


def _block_comment_end(sql: str, start: int) -> int:
    # PostgreSQL block comments nest.
    depth = 0
    for m in _BLOCK_COMMENT_PART.finditer(sql, start):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    raise _unterminated("/* comment", sql, start)


def matching_paren(sql: str, open_at: int) -> int:
    """Index of the ``)`` that closes the ``(`` at ``open_at``, skipping quotes; -1 if none."""
    depth = 0
    for kind, start, _end in scan(sql[open_at:], "()"):
        if kind == CHAR:
            depth += 1 if sql[open_at + start] == "(" else -1
            if depth == 0:
                return open_at + start
    return -1


def fold_identifier(text: str) -> str:
    """PostgreSQL's case folding of an unquoted identifier: ASCII letters only."""
    return text.translate(_ASCII_LOWER)
