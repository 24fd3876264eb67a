"""Which statements the lark grammars parse, and the parsing itself.

The grammar files ship as package data and are read with importlib.resources; they are
concatenated into one LALR grammar (``common.lark`` holds the start rule and the shared
terminals) and compiled once, on first use.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from .located import LocatedError
from .scan import matching_paren
from .utility_builder import Embedded, UtilityBuilder

GRAMMAR_FILES = ("common.lark", "session.lark", "admin.lark", "copy.lark", "reindex.lark",
                 "matview.lark", "grants.lark")

#: First keyword -> handled by lark.  Everything else goes to sqlglot.
LARK_FIRST_WORDS = frozenset(
    {
        "set",
        "show",
        "reset",
        "begin",
        "start",
        "commit",
        "end",
        "rollback",
        "abort",
        "savepoint",
        "release",
        "copy",
        "discard",
        "prepare",
        "execute",
        "deallocate",
        "checkpoint",
        "vacuum",
        "analyze",
        "analyse",
        "explain",
        "reindex",
        "refresh",
        "grant",
        "revoke",
        "reassign",
    }
)
#: First two keywords -> handled by lark (the rest of CREATE/DROP/ALTER is sqlglot's).
LARK_FIRST_TWO_WORDS = frozenset(
    {
        ("create", "extension"),
        ("drop", "extension"),
        ("create", "database"),
        ("drop", "database"),
        ("create", "role"),
        ("alter", "role"),
        ("drop", "role"),
        ("create", "user"),
        ("alter", "user"),
        ("drop", "user"),
        ("alter", "materialized"),
        ("alter", "default"),
        ("drop", "owned"),
    }
)
# ALTER <object> ... OWNER TO (the rest of ALTER TABLE/VIEW/... is sqlglot's) and SET SESSION
# AUTHORIZATION (grants.lark)
_LARK_PATTERNS = re.compile(
    r"\s*(?:ALTER\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW|SEQUENCE|INDEX|SCHEMA|DATABASE)\b[^;]*?\bOWNER\s+TO\b"
    r")", re.IGNORECASE)

# Leading words, skipping whitespace and comments (nested /* */ is not worth it here).
_SKIP = r"(?:\s+|--[^\n]*|/\*[\s\S]*?\*/)*"
_LEADING = re.compile(rf"{_SKIP}([A-Za-z_]+)(?:{_SKIP}([A-Za-z_]+))?")

# Statements whose parentheses hold SQL for sqlglot rather than for the grammar: the text
# inside is blanked before lark sees it (positions stay the same).
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)'
_EMBEDDED_PARENS = re.compile(rf"\s*(?:(?:PREPARE|EXECUTE)\s+{_NAME}\s*|COPY\s*)\(", re.IGNORECASE)


def leading_words(text: str) -> tuple[str, str]:
    """The first two words of a statement, lower-cased ("" when missing)."""
    m = _LEADING.match(text)
    if m is None:
        return "", ""
    return m.group(1).lower(), (m.group(2) or "").lower()


def is_utility(text: str) -> bool:
    """Whether ``text`` is one of the statements that the lark grammars parse."""
    first, second = leading_words(text)
    return first in LARK_FIRST_WORDS or (first, second) in LARK_FIRST_TWO_WORDS or (
        first == "alter" and _LARK_PATTERNS.match(text) is not None)


@cache
def _parser() -> Lark:
    folder = resources.files(__package__)
    grammar = "\n".join(folder.joinpath(name).read_text("utf-8") for name in GRAMMAR_FILES)
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=False)


def parse_utility(text: str, embedded: Embedded) -> Any:
    """Parse one utility statement into its ``grammar.utility`` dataclass.

    Raises ``LocatedError`` (offsets relative to ``text``) on a syntax error.
    """
    blanked = _blank_embedded(text)
    try:
        tree = _parser().parse(blanked)
    except UnexpectedInput as exc:
        raise _locate(exc, blanked) from None
    try:
        return UtilityBuilder(text, embedded).transform(tree)
    except VisitError as exc:  # lark wraps what the builder raises
        if isinstance(exc.orig_exc, LocatedError):
            raise exc.orig_exc from None
        raise


def _blank_embedded(text: str) -> str:
    m = _EMBEDDED_PARENS.match(text)
    if m is None:
        return text
    open_at = m.end() - 1
    close_at = matching_paren(text, open_at)
    if close_at < 0:
        return text  # unbalanced: let the grammar report it
    inner = text[open_at + 1 : close_at]
    # Keep newlines so that line numbers in lark's own messages stay right.
    return text[: open_at + 1] + re.sub(r"[^\n]", " ", inner) + text[close_at:]


def _locate(exc: UnexpectedInput, text: str) -> LocatedError:
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return LocatedError(len(text), None)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        value = str(tok)
        if tok.type == "REST":  # the rest of the input: name only its first word
            value = re.match(r"\S+", value).group()  # type: ignore[union-attr]
        return LocatedError(tok.start_pos, value)
    if isinstance(exc, UnexpectedCharacters):
        word = re.match(r"[\w$]+|\S", text[exc.pos_in_stream :])
        return LocatedError(exc.pos_in_stream, word.group() if word else None)
    return LocatedError(0, None)  # pragma: no cover - lark has no other kinds
