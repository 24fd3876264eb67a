"""The SQL dialect of sqlvec: text in, one AST per statement out.

    >>> type(parse("SET hnsw.ef_search = 40")[0].ast).__name__
    'SetStmt'

Ordinary SQL is parsed by sqlglot with ``SqlvecDialect`` (PostgreSQL plus pgvector's and
ParadeDB's operators) into ``sqlglot.exp`` trees; the statements sqlglot gets wrong (SET,
SHOW, transactions, COPY, roles ...) by lark grammars into the dataclasses of
``grammar.utility``.  Errors are ``sqlvec.errors.SyntaxError`` with PostgreSQL's wording
and the 1-based character position in the whole string.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from sqlvec import errors

from . import utility
from .dialect import DIALECT, SqlvecDialect
from .expressions import (
    DISTANCE_OPERATORS,
    OPERATORS,
    Bm25Match,
    CosineDistance,
    HammingDistance,
    JaccardDistance,
    L1Distance,
    L2Distance,
    NegInnerProduct,
    Param,
    VectorOperator,
)
from .lark_parser import is_utility, parse_utility
from .located import LocatedError
from .paramstyle import convert_paramstyle
from .split import Piece, split_pieces, split_statements
from .sql_parser import (
    max_param,
    parse_expression_list,
    parse_expression_text,
    parse_statement,
    parse_type_list,
)

__all__ = [
    "DISTANCE_OPERATORS",
    "OPERATORS",
    "Bm25Match",
    "CosineDistance",
    "HammingDistance",
    "JaccardDistance",
    "L1Distance",
    "L2Distance",
    "NegInnerProduct",
    "Param",
    "ParsedStatement",
    "SqlvecDialect",
    "Statement",
    "VectorOperator",
    "clear_cache",
    "convert_paramstyle",
    "parse",
    "parse_expression",
    "split_statements",
    "to_sql",
    "utility",
]

#: Statements longer than this are parsed every time rather than cached: a bulk INSERT of
#: literal vectors is rarely repeated and would pin megabytes.
CACHE_MAX_SQL_LENGTH = 64 * 1024
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    """One statement of a query string.

    ``ast`` is a sqlglot expression or a ``grammar.utility`` dataclass.  Parse results are
    cached and shared between callers: never mutate ``ast``; ``ast.copy()`` it first.
    """

    text: str  #: the statement's text, trimmed, without its ``;``
    offset: int  #: 0-based character offset of ``text`` in the string given to ``parse``
    ast: Any  #: sqlglot ``exp.Expression`` or a ``grammar.utility`` dataclass
    param_count: int  #: the highest ``$n`` used (0 if none)


Statement = ParsedStatement


def parse(sql: str) -> list[ParsedStatement]:
    """Parse a string of one or more statements.

    Empty statements are skipped, so an empty or comment-only string gives ``[]``.  The
    result is cached by text: the statements (and their ASTs) are shared with every other
    caller of the same text and must not be mutated; copy an AST before changing it.
    Raises ``sqlvec.errors.SyntaxError`` (``syntax error at or near "X"`` / ``syntax error
    at end of input``) with ``position`` = the 1-based character position in ``sql``.
    """
    if len(sql) > CACHE_MAX_SQL_LENGTH:
        return list(_parse(sql))
    return list(_parse_cached(sql))


@lru_cache(maxsize=CACHE_SIZE)
def _parse_cached(sql: str) -> tuple[ParsedStatement, ...]:
    return _parse(sql)


def clear_cache() -> None:
    """Forget every cached parse (tests, and memory pressure)."""
    _parse_cached.cache_clear()
    _parse_expression_cached.cache_clear()


def cache_info() -> Any:
    """``functools`` cache statistics of ``parse``."""
    return _parse_cached.cache_info()


def _parse(sql: str) -> tuple[ParsedStatement, ...]:
    return tuple(_parse_piece(sql, piece) for piece in split_pieces(sql))


def _parse_piece(sql: str, piece: Piece) -> ParsedStatement:
    text = piece.text
    try:
        if is_utility(text):
            ast = parse_utility(text, _embedded)
            count = _utility_param_count(ast)
        else:
            ast = _fold_case(parse_statement(text))
            count = max_param(ast)
    except LocatedError as error:
        raise _syntax_error(error, sql, piece) from None
    return ParsedStatement(text, piece.offset, ast, count)


def _embedded(kind: str, text: str, offset: int) -> Any:
    """Callback for SQL inside a utility statement (see ``utility_builder``)."""
    try:
        if kind == "statement":
            tree = parse_statement(text)
            return tree, max_param(tree)
        if kind == "args":
            return parse_expression_list(text)
        return parse_type_list(text)
    except LocatedError as error:
        raise LocatedError(offset + error.offset, error.near, error.message) from None


def _utility_param_count(ast: Any) -> int:
    if isinstance(ast, utility.ExecuteStmt):
        return max((max_param(a) for a in ast.args), default=0)
    if isinstance(ast, utility.ExplainStmt):
        return max_param(ast.statement)
    return 0  # PREPARE's own $n belong to the prepared statement


def _syntax_error(error: LocatedError, sql: str, piece: Piece) -> errors.SyntaxError:
    if error.near is None and error.offset >= len(piece.text):
        # Ran out of statement: PostgreSQL sees the ";" that ends it, or the end of input.
        if piece.terminator is not None:
            position = piece.terminator
            message = error.message or 'syntax error at or near ";"'
        else:
            position = len(sql)
            message = error.message or "syntax error at end of input"
    else:
        position = piece.offset + min(error.offset, len(piece.text))
        near = error.near if error.near is not None else sql[position : position + 1]
        message = error.message or f'syntax error at or near "{near}"'
    return errors.SyntaxError(message, position=position + 1)


def _fold_case(tree: exp.Expr) -> exp.Expr:
    """Unquoted identifiers fold to lower case, as PostgreSQL folds them (``MixedCase`` and
    ``mixedcase`` name the same table; ``"MixedCase"`` does not)."""
    return normalize_identifiers(tree, dialect="postgres")


def parse_expression(sql: str) -> exp.Expr:
    """Parse one scalar expression (a stored column default or CHECK condition).

    Cached like ``parse``: do not mutate the result.  Raises ``sqlvec.errors.SyntaxError``
    with ``position`` relative to ``sql``.
    """
    return _parse_expression_cached(sql)


@lru_cache(maxsize=CACHE_SIZE)
def _parse_expression_cached(sql: str) -> exp.Expr:
    try:
        return _fold_case(parse_expression_text(sql))
    except LocatedError as error:
        raise _syntax_error(error, sql, Piece(sql, 0, None)) from None


def to_sql(ast: exp.Expr) -> str:
    """Print a sqlglot AST back as SQL of our dialect (operators and ``$n`` included)."""
    if not isinstance(ast, exp.Expr):
        raise TypeError(f"to_sql prints sqlglot expressions, not {type(ast).__name__}")
    # function names in lower case, as PostgreSQL prints stored expressions (CHECK, DEFAULT)
    return ast.sql(dialect=DIALECT, normalize_functions="lower")
