"""Statements the grammar does not parse yet: cursors (DECLARE, FETCH, MOVE, CLOSE) and
LISTEN / NOTIFY / UNLISTEN.

:func:`parse` is ``sqlvec.grammar.parse`` with a fallback: when the grammar rejects a string,
the pieces that start with one of these keywords are parsed here and the others by the
grammar (which then reports its own syntax error, if any). Ordinary statements never reach
the fallback, so it costs nothing on the common path.

    >>> parse("FETCH FORWARD 5 FROM c")[0].ast
    FetchStmt(name='c', direction='forward', count=5, move=False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlvec import errors
from sqlvec.grammar import ParsedStatement, split_statements
from sqlvec.grammar import parse as grammar_parse

_FIRST_WORDS = {"declare", "fetch", "move", "close", "listen", "unlisten", "notify"}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<qid>"(?:[^"]|"")*")
      | (?P<str>[eE]?'(?:[^']|'')*')
      | (?P<num>[+-]?\d+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<punct>[,*;])
    )""",
    re.VERBOSE,
)
_HUGE = 2**63 - 1  # FETCH ALL


@dataclass(frozen=True)
class DeclareStmt:
    name: str
    query: ParsedStatement  #: the cursor's query, parsed by the grammar
    binary: bool = False
    scroll: bool | None = None  #: None: not said (PostgreSQL then decides)
    hold: bool = False


@dataclass(frozen=True)
class FetchStmt:
    name: str
    direction: str  #: forward, backward, absolute, relative
    count: int  #: rows (forward/backward) or position (absolute/relative)
    move: bool = False  #: MOVE: position only, no rows


@dataclass(frozen=True)
class CloseStmt:
    name: str | None  #: None: CLOSE ALL


@dataclass(frozen=True)
class ListenStmt:
    channel: str | None  #: None: UNLISTEN *
    listen: bool = True  #: False for UNLISTEN


@dataclass(frozen=True)
class NotifyStmt:
    channel: str
    payload: str = ""


def parse(sql: str) -> list[ParsedStatement]:
    """``sqlvec.grammar.parse``, plus the statements of this module."""
    try:
        return grammar_parse(sql)
    except errors.SyntaxError:
        if not _mentions_extra(sql):
            raise
        return list(_parse_mixed(sql))


def _mentions_extra(sql: str) -> bool:
    low = sql.lower()
    return any(w in low for w in _FIRST_WORDS) or "partition" in low  # ATTACH/DETACH PARTITION


@lru_cache(maxsize=256)
def _parse_mixed(sql: str) -> tuple[ParsedStatement, ...]:
    out = []
    for text, offset in split_statements(sql):
        word = text.lstrip()[:10].split(None, 1)[0].lower() if text.strip() else ""
        if word == "alter":  # ALTER TABLE ... ATTACH | DETACH PARTITION (sqlvec.exec.partition_ddl)
            from sqlvec.exec.partition_ddl import parse_alter

            alter = parse_alter(text)
            if alter is not None:
                out.append(ParsedStatement(text, offset, alter, 0))
                continue
        if word in _FIRST_WORDS:
            ast, count = _parse_one(text, offset)
            out.append(ParsedStatement(text, offset, ast, count))
            continue
        for st in grammar_parse(text):
            out.append(ParsedStatement(st.text, offset + st.offset, st.ast, st.param_count))
    return tuple(out)


class _Tokens:
    """Tokens of one statement, read lazily (DECLARE stops at FOR: the query after it is
    the grammar's)."""

    def __init__(self, text: str, offset: int) -> None:
        self.text, self.offset = text, offset
        self.items: list[tuple[str, str, int]] = []
        self.scanned = 0  # text position up to which items are read
        self.i = 0

    def _more(self) -> bool:
        """Read one more token; False at the end of the text."""
        rest = self.text[self.scanned :]
        if not rest.strip():
            return False
        m = _TOKEN.match(self.text, self.scanned)
        if m is None:
            at = len(self.text) - len(rest.lstrip())
            raise errors.SyntaxError(
                f'syntax error at or near "{self.text[at]}"', position=self.offset + at + 1
            )
        group = m.lastgroup or ""
        self.items.append((group, m.group(group), m.start(group)))
        self.scanned = m.end()
        return True

    def _ready(self) -> bool:
        while self.i >= len(self.items):
            if not self._more():
                return False
        return True

    def fail(self) -> None:
        ready = self._ready()
        at = self.items[self.i][2] if ready else len(self.text)
        near = self.items[self.i][1] if ready else None
        msg = f'syntax error at or near "{near}"' if near else "syntax error at end of input"
        raise errors.SyntaxError(msg, position=self.offset + at + 1)

    def peek(self) -> str:
        """The next token, lower-cased words, '' at the end."""
        if not self._ready():
            return ""
        kind, val, _ = self.items[self.i]
        return val.lower() if kind == "word" else val

    def take(self, *words: str) -> bool:
        if self.peek() in words:
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.take(*words):
            self.fail()

    def name(self) -> str:
        if not self._ready():
            self.fail()
        kind, val, _ = self.items[self.i]
        if kind == "qid":
            self.i += 1
            return val[1:-1].replace('""', '"')
        if kind == "word":
            self.i += 1
            return val.lower()
        self.fail()
        raise AssertionError

    def string(self) -> str:
        kind, val, _ = self.items[self.i] if self._ready() else ("", "", 0)
        if kind != "str":
            self.fail()
        self.i += 1
        body = val[2:-1] if val[0] in "eE" else val[1:-1]
        return body.replace("''", "'")

    def number(self) -> int | None:
        if self._ready() and self.items[self.i][0] == "num":
            self.i += 1
            return int(self.items[self.i - 1][1])
        return None

    def end(self) -> None:
        self.take(";")
        if self._ready():
            self.fail()

    def position(self) -> int:
        return self.items[self.i][2] if self._ready() else len(self.text)


def _parse_one(text: str, offset: int) -> tuple[Any, int]:
    tok = _Tokens(text, offset)
    word = tok.peek()
    tok.i += 1
    return _PARSERS[word](tok, text, offset)


def _declare(tok: _Tokens, text: str, offset: int) -> tuple[Any, int]:
    name = tok.name()
    binary, scroll, hold = False, None, False
    while True:
        if tok.take("binary"):
            binary = True
        elif tok.take("insensitive", "asensitive"):
            pass
        elif tok.take("no"):
            tok.expect("scroll")
            scroll = False
        elif tok.take("scroll"):
            scroll = True
        else:
            break
    tok.expect("cursor")
    if tok.take("with"):
        tok.expect("hold")
        hold = True
    elif tok.take("without"):
        tok.expect("hold")
    if tok.peek() != "for":
        tok.fail()
    start = tok.position() + 3
    body = text[start:]
    try:
        inner = grammar_parse(body)
    except errors.SyntaxError as exc:
        if exc.position is not None:
            exc.position += offset + start
        raise
    if len(inner) != 1:
        tok.i += 1
        tok.fail()
    st = inner[0]
    query = ParsedStatement(st.text, offset + start + st.offset, st.ast, st.param_count)
    return DeclareStmt(name, query, binary, scroll, hold), st.param_count


def _fetch(tok: _Tokens, text: str, offset: int, move: bool = False) -> tuple[Any, int]:
    direction, count = "forward", 1
    n = tok.number()
    if n is not None:
        count = n
    elif tok.take("next"):
        pass
    elif tok.take("prior"):
        direction = "backward"
    elif tok.take("first"):
        direction, count = "absolute", 1
    elif tok.take("last"):
        direction, count = "absolute", -1
    elif tok.take("absolute", "relative"):
        direction = tok.items[tok.i - 1][1].lower()
        n = tok.number()
        if n is None:
            tok.fail()
        count = n
    elif tok.take("all"):
        count = _HUGE
    elif tok.take("forward", "backward"):
        direction = tok.items[tok.i - 1][1].lower()
        n = tok.number()
        if n is not None:
            count = n
        elif tok.take("all"):
            count = _HUGE
    if direction in ("forward", "backward") and count < 0:  # FETCH -3 = BACKWARD 3
        direction = "backward" if direction == "forward" else "forward"
        count = -count
    tok.take("from", "in")
    name = tok.name()
    tok.end()
    return FetchStmt(name, direction, count, move), 0


def _close(tok: _Tokens, text: str, offset: int) -> tuple[Any, int]:
    name = None if tok.take("all") else tok.name()
    tok.end()
    return CloseStmt(name), 0


def _listen(tok: _Tokens, text: str, offset: int, listen: bool = True) -> tuple[Any, int]:
    if not listen and tok.take("*"):
        channel = None
    else:
        channel = tok.name()
    tok.end()
    return ListenStmt(channel, listen), 0


def _notify(tok: _Tokens, text: str, offset: int) -> tuple[Any, int]:
    channel = tok.name()
    payload = ""
    if tok.take(","):
        payload = tok.string()
    tok.end()
    return NotifyStmt(channel, payload), 0


_PARSERS = {
    "declare": _declare,
    "fetch": _fetch,
    "move": lambda tok, text, off: _fetch(tok, text, off, move=True),
    "close": _close,
    "listen": _listen,
    "unlisten": lambda tok, text, off: _listen(tok, text, off, listen=False),
    "notify": _notify,
}
