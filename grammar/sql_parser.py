"""sqlglot's side of ``grammar.parse``: one statement, expression list or type list at a time.

Everything raises ``LocatedError`` with offsets relative to the text it was given; sqlglot's
own errors, its bare-expression "statements" (``SELEC 1`` would be a column aliased 1) and
its ``exp.Command`` fallbacks all become syntax errors at the offending token.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from .dialect import DIALECT
from .expressions import Param
from .located import LocatedError
from .scan import CHAR, scan

#: The first tokens a sqlglot statement may start with.
STATEMENT_START_TOKENS = frozenset(
    {
        TokenType.SELECT,
        TokenType.WITH,
        TokenType.VALUES,
        TokenType.TABLE,
        TokenType.L_PAREN,
        TokenType.INSERT,
        TokenType.UPDATE,
        TokenType.DELETE,
        TokenType.MERGE,
        TokenType.CREATE,
        TokenType.DROP,
        TokenType.ALTER,
        TokenType.TRUNCATE,
        TokenType.GRANT,
        TokenType.REVOKE,
        TokenType.COMMENT,
    }
)

#: What a statement may parse into.
STATEMENT_TYPES: tuple[type[exp.Expr], ...] = (
    exp.Query,
    exp.Values,
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Grant,
    exp.Revoke,
    exp.Comment,
)

_SELECT_PREFIX = "SELECT "


def _near(text: str, token: Token) -> str:
    # The token as the user wrote it (sqlglot upper-cases keywords and strips quotes).
    return text[token.start : token.end + 1]


def _tokenize(text: str) -> list[Token]:
    try:
        return DIALECT.tokenize(text)
    except TokenError:
        # Unterminated quotes and comments were reported by the scanner already; what is
        # left (a bad B'..' digit, say) is blamed on the first word.
        word = text.split(None, 1)[0] if text.strip() else None
        raise LocatedError(0, word) from None


def _parse_tokens(tokens: list[Token], text: str) -> list[exp.Expr | None]:
    try:
        return DIALECT.parser(error_level=ErrorLevel.IMMEDIATE).parse(tokens, text)
    except ParseError as error:
        if not hasattr(error, "sqlvec_token"):  # raised outside Parser.raise_error
            raise LocatedError(tokens[0].start, _near(text, tokens[0])) from None
        token = error.sqlvec_token
        if token is None:
            raise LocatedError(len(text), None) from None
        raise LocatedError(token.start, _near(text, token)) from None


def parse_statement(text: str) -> exp.Expr:
    """Parse one statement (no top-level ``;``) into a sqlglot AST."""
    tokens = _tokenize(text)
    if not tokens:
        raise LocatedError(len(text), None)
    first = tokens[0]
    if first.token_type not in STATEMENT_START_TOKENS:
        raise LocatedError(first.start, _near(text, first))
    for token in tokens:
        # A ";" inside parentheses (the splitter only cuts at top level).
        if token.token_type == TokenType.SEMICOLON:
            raise LocatedError(token.start, ";")
    trees = _parse_tokens(tokens, text)
    tree = trees[0] if len(trees) == 1 else None
    if not isinstance(tree, STATEMENT_TYPES):
        raise LocatedError(first.start, _near(text, first))
    return tree


def parse_expression_text(text: str) -> exp.Expr:
    """Parse one scalar expression, as stored for column defaults and CHECK constraints."""
    shift = len(_SELECT_PREFIX)
    try:
        select = parse_statement(_SELECT_PREFIX + text)
    except LocatedError as error:
        raise LocatedError(max(error.offset - shift, 0), error.near, error.message) from None
    items = select.expressions if isinstance(select, exp.Select) else []
    extra = [k for k, v in select.args.items() if v and k != "expressions"]
    if len(items) != 1 or extra or isinstance(items[0], exp.Alias):
        raise LocatedError(
            0, text.split(None, 1)[0] if text.strip() else None, f"invalid expression: {text!r}"
        )
    return items[0]


def parse_expression_list(text: str) -> list[exp.Expr]:
    """Parse ``a, b, c`` (EXECUTE's arguments) into expressions."""
    shift = len(_SELECT_PREFIX)
    try:
        select = parse_statement(_SELECT_PREFIX + text)
    except LocatedError as error:
        raise LocatedError(max(error.offset - shift, 0), error.near, error.message) from None
    extra = [k for k, v in select.args.items() if v and k != "expressions"]
    if not isinstance(select, exp.Select) or extra:
        raise LocatedError(0, text.split(None, 1)[0])
    return list(select.expressions)


def parse_type_list(text: str) -> list[exp.DataType]:
    """Parse ``int, vector(3), numeric(10,2)`` (PREPARE's parameter types)."""
    types: list[exp.DataType] = []
    depth, start = 0, 0
    cuts = [s for kind, s, _e in scan(text, "(),") if kind == CHAR]
    for at in [*cuts, len(text)]:
        ch = text[at] if at < len(text) else ","
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            part = text[start:at]
            stripped = part.strip()
            offset = start + len(part) - len(part.lstrip())
            if not stripped:
                raise LocatedError(at, ch if at < len(text) else None)
            types.append(_parse_type(stripped, offset))
            start = at + 1
    return types


def _parse_type(text: str, offset: int) -> exp.DataType:
    # Through a CAST, so that a type here is the same tree as in CREATE TABLE or "::"
    # (exp.DataType.build would keep an unknown "halfvec(4)" as one opaque name).
    prefix = "SELECT CAST(NULL AS "
    try:
        cast = parse_statement(f"{prefix}{text})")
    except LocatedError as error:
        at = min(max(error.offset - len(prefix), 0), len(text))
        raise LocatedError(offset + at, error.near if at < len(text) else None) from None
    to = cast.expressions[0].args.get("to") if isinstance(cast, exp.Select) else None
    if not isinstance(to, exp.DataType):
        raise LocatedError(offset, text.split(None, 1)[0])
    return to


def max_param(tree: exp.Expr | None) -> int:
    """The highest ``$n`` in ``tree`` (0 when there is none)."""
    if tree is None:
        return 0
    return max((p.number for p in tree.find_all(Param)), default=0)
