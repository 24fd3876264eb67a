"""``SqlvecDialect``: sqlglot's PostgreSQL dialect plus the pgvector and ParadeDB operators.

What changes against stock ``read="postgres"`` (sqlglot 30), and why:

* ``<-> <#> <=> <+> <~> <%> @@@`` tokenize as single operators and parse into the classes
  of ``grammar.expressions`` at PostgreSQL's "any other operator" level: tighter than
  comparisons, ``LIKE``, ``IN`` and ``BETWEEN``, looser than ``+ - * / %``.  sqlglot's
  ``_parse_bitwise`` loop is that level (it already holds ``||``, ``->``, ``#>`` ...), so
  the operators join its table.  TokenType is a closed enum: the new operators borrow
  members that the Postgres dialect never produces.
* ``$n`` parses into ``Param(index=n)`` everywhere; stock sqlglot reads ``$1,$2`` as the
  start of a dollar-quoted string whose tag is ``1,``.
* ``bit varying(n)`` is read as ``varbit(n)``, and ``oid[]`` (``regtype[]`` ...) as an
  array type; stock sqlglot fails on both.
* Any key word is a column label after ``AS`` (``SELECT 1 AS select``), as in PostgreSQL.
* ``SELECT * alias`` is rejected as PostgreSQL does (stock sqlglot takes ``*`` ``FORM`` as
  an alias, which moves the error away from the misspelt keyword).
* A statement sqlglot does not understand raises instead of becoming ``exp.Command``.
* ``WITH [NO] DATA`` after the query of CREATE MATERIALIZED VIEW (and CREATE TABLE AS) is a
  ``WithDataProperty``; stock sqlglot reads it after CREATE TABLE's query only.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp, tokens
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ParseError
from sqlglot.tokenizer_core import Token, TokenizerCore, TokenType

from .expressions import (
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

if tokens.SQLGLOTC_INSTALLED:
    # The compiled build cannot be subclassed ("interpreted classes cannot inherit from
    # compiled"); failing here names the cause instead of a confusing TypeError below.
    raise ImportError(
        "sqlvec needs the pure-Python sqlglot: the compiled build (sqlglotc, sqlglot[c]) is "
        "installed and cannot be subclassed. Run: pip uninstall sqlglotc"
    )

#: Operator class -> token type it is read from.  LR_ARROW (``<->``) and NULLSAFE_EQ
#: (``<=>``) are sqlglot's own tokens for these spellings; the others are borrowed from
#: members that the Postgres tokenizer and parser never produce or read.
OPERATOR_TOKENS: dict[type[VectorOperator], TokenType] = {
    L2Distance: TokenType.LR_ARROW,
    NegInnerProduct: TokenType.DOTCARET,
    CosineDistance: TokenType.NULLSAFE_EQ,
    L1Distance: TokenType.DCOLONDOLLAR,
    HammingDistance: TokenType.DCOLONPERCENT,
    JaccardDistance: TokenType.DCOLONQMARK,
    Bm25Match: TokenType.COLON_GT,
}
assert set(OPERATOR_TOKENS) == set(OPERATORS)


class _Core(TokenizerCore):
    """The tokenizer core with PostgreSQL's rule for ``$``: a dollar-quote tag cannot start
    with a digit, so ``$`` followed by a digit is always a parameter."""

    __slots__ = ()

    def _scan_string(self, start: str) -> bool:
        if start == "$" and self._peek.isdigit():
            self._add(self.heredoc_string_alternative)
            return True
        return super()._scan_string(start)


class SqlvecDialect(Postgres):
    """PostgreSQL as pgvector and ParadeDB extend it."""

    # Keep subscripts as written: sqlglot's Postgres dialect shifts a[1] to its 0-based form,
    # but only where its own type guess says "array" (not for int2vector, not for a[i]), so the
    # binder could not know what it got. Our binder applies PostgreSQL's rules itself.
    INDEX_OFFSET = 0

    class Tokenizer(Postgres.Tokenizer):
        KEYWORDS = {
            **Postgres.Tokenizer.KEYWORDS,
            **{cls.symbol: tok for cls, tok in OPERATOR_TOKENS.items()},
        }

        def _init_core(self) -> TokenizerCore:
            core = super()._init_core()
            # Same settings, our class: re-home the instance rather than copy 30 arguments.
            core.__class__ = _Core
            return core

        def tokenize(self, sql: str) -> list[Token]:
            return _merge_bit_varying(super().tokenize(sql))

    class Parser(Postgres.Parser):
        # sqlglot rewrites these PostgreSQL functions into its own forms (to_char's format
        # into strftime, lpad/rpad into Pad, div into a cast of an integer division, an
        # argument swap for array_prepend): keep them as the plain calls the user wrote.
        FUNCTIONS = {
            **Postgres.Parser.FUNCTIONS,
            **{
                name: (lambda n: lambda args: exp.Anonymous(this=n, expressions=args))(name.lower())
                for name in ("TO_CHAR", "TO_DATE", "TO_NUMBER", "DIV", "LPAD", "RPAD", "ARRAY_PREPEND",
                             "ARRAY_APPEND", "ARRAY_CAT", "ARRAY_TO_STRING", "STRING_TO_ARRAY",
                             "ARRAY_POSITION", "ARRAY_REMOVE", "ARRAY_LENGTH", "CARDINALITY",
                             # now() stays now(): a stored DEFAULT prints back as written
                             "NOW")
            },
        }
        # "ttl" is a plain storage option of ours (WITH (ttl = '30 days')), not ClickHouse's TTL
        PROPERTY_PARSERS = {
            **{k: v for k, v in Postgres.Parser.PROPERTY_PARSERS.items() if k != "TTL"},
            # CREATE LOCAL TEMP[ORARY] TABLE: LOCAL is a noise word in PostgreSQL (Tableau sends it)
            "LOCAL": lambda self: self._match_texts(("TEMP", "TEMPORARY"))
            and self.expression(exp.TemporaryProperty()),
        }
        EQUALITY = {k: v for k, v in Postgres.Parser.EQUALITY.items() if k != TokenType.NULLSAFE_EQ}
        FACTOR = {k: v for k, v in Postgres.Parser.FACTOR.items() if k != TokenType.LR_ARROW}
        BITWISE = {
            **Postgres.Parser.BITWISE,
            **{tok: cls for cls, tok in OPERATOR_TOKENS.items()},
        }

        # A dollar-quoted string is an ordinary string constant in PostgreSQL: make it the
        # same Literal as '...' so that nothing downstream has to know exp.RawString.
        STRING_PARSERS = {
            **Postgres.Parser.STRING_PARSERS,
            TokenType.HEREDOC_STRING: lambda self, token: self.expression(
                exp.Literal(this=token.text, is_string=True), token
            ),
        }
        PRIMARY_PARSERS = {
            **Postgres.Parser.PRIMARY_PARSERS,
            TokenType.HEREDOC_STRING: STRING_PARSERS[TokenType.HEREDOC_STRING],
        }

        def _parse_generated_as_identity(self) -> exp.Expr:
            # PostgreSQL takes an identity's sequence options in any order, WITH and BY
            # optional (SQLAlchemy's Identity() prints INCREMENT BY before START WITH);
            # sqlglot reads them in one fixed order
            index = self._index
            by_default = self._match_text_seq("BY", "DEFAULT")
            if not by_default:
                self._match_text_seq("ALWAYS")
            self._match(TokenType.ALIAS)
            if not (self._match_text_seq("IDENTITY") and self._match(TokenType.L_PAREN)):
                self._retreat(index)
                return super()._parse_generated_as_identity()
            this = self.expression(exp.GeneratedAsIdentityColumnConstraint(this=not by_default))
            while not self._match(TokenType.R_PAREN):
                for words, key in _IDENTITY_OPTIONS:
                    if self._match_text_seq(*words):
                        if key == "cycle":
                            this.set("cycle", words[0] == "CYCLE")
                        elif key is not None:
                            self._match_text_seq("WITH" if key == "start" else "BY")
                            value = self._parse_bitwise()
                            if key != "cache":  # one value at a time: CACHE does not apply
                                this.set(key, value)
                        break
                else:
                    self.raise_error("Expecting )")
                    break
            return this

        def _parse_parameter(self) -> exp.Expr:
            # The tokenizer emits "$" and then the digits as a separate NUMBER token; they
            # must touch ("$ 1" is not a parameter in PostgreSQL).
            dollar = self._prev
            curr = self._curr
            if (
                curr is not None
                and curr.token_type == TokenType.NUMBER
                and curr.start == dollar.end + 1
                and curr.text.isdigit()
            ):
                self._advance()
                return self.expression(Param(index=int(curr.text)))
            self.raise_error("Invalid parameter", dollar)
            return None  # type: ignore[return-value]  # unreachable at ErrorLevel.IMMEDIATE

        def _parse_types(
            self,
            check_func: bool = False,
            schema: bool = False,
            allow_identifiers: bool = True,
            with_collation: bool = False,
        ) -> exp.Expr | None:
            this = super()._parse_types(check_func, schema, allow_identifiers, with_collation)
            # sqlglot returns oid / regtype / regclass ... as a bare ObjectIdentifier and
            # forgets a "[]" after it: asyncpg's introspection sends "$1::oid[]".
            if isinstance(this, exp.ObjectIdentifier):
                while self._match_pair(TokenType.L_BRACKET, TokenType.R_BRACKET):
                    this = exp.DataType(this=exp.DType.ARRAY, expressions=[this], nested=True)
            return this

        def _parse_alias(self, this: exp.Expr | None, explicit: bool = False) -> exp.Expr | None:
            # PostgreSQL cannot alias "*" or "t.*"; sqlglot would read "SELECT * FORM t" as
            # "*" aliased FORM and blame "t".
            if isinstance(this, exp.Star) or (
                isinstance(this, exp.Column) and isinstance(this.this, exp.Star)
            ):
                return this
            # PostgreSQL takes any key word as a column label after AS (ColLabel): Metabase
            # sends "... AS select"; sqlglot refuses the reserved ones (SELECT, NOT).
            nxt = self._next
            if (
                self._curr is not None
                and self._curr.token_type == TokenType.ALIAS
                and nxt is not None
                and nxt.token_type in self.RESERVED_TOKENS
                and nxt.text.isidentifier()
            ):
                self._advance(2)
                label = exp.to_identifier(self._prev.text)
                return self.expression(exp.Alias(this=this, alias=label))
            return super()._parse_alias(this, explicit)

        def _parse_create(self) -> exp.Create | exp.Command:
            # PostgreSQL ends CREATE TABLE AS / CREATE MATERIALIZED VIEW with WITH [NO] DATA;
            # sqlglot reads it after a TABLE's query only, so _parse_ddl_select takes it (for
            # every kind) and it joins the properties here as a WithDataProperty.
            outer = self.__dict__.get("_sqlvec_with_data", _OUTSIDE_CREATE)
            self._sqlvec_with_data = None
            try:
                create = super()._parse_create()
                prop = self._sqlvec_with_data
            finally:
                self._sqlvec_with_data = outer
            if prop is not None and isinstance(create, exp.Create):
                props = create.args.get("properties")
                if props is None:
                    create.set("properties", exp.Properties(expressions=[prop]))
                else:
                    props.append("expressions", prop)
            return create

        def _parse_ddl_select(self) -> exp.Expr | None:
            query = super()._parse_ddl_select()
            # only directly inside CREATE: INSERT ... SELECT also comes here
            if query is not None and self.__dict__.get("_sqlvec_with_data", _OUTSIDE_CREATE) is None:
                if self._match_text_seq("WITH", "NO", "DATA"):
                    self._sqlvec_with_data = exp.WithDataProperty(no=True)
                elif self._match_text_seq("WITH", "DATA"):
                    self._sqlvec_with_data = exp.WithDataProperty(no=False)
            return query

        def _parse_as_command(self, start: Token) -> exp.Command:
            # An exp.Command is sqlglot giving up; for us that is a syntax error at the
            # token where it gave up.
            self.raise_error("Unsupported syntax", self._curr or start)
            raise AssertionError("unreachable")

        def raise_error(self, message: str, token: Token | None = None) -> None:
            # Out of tokens: whatever sqlglot blames, PostgreSQL says "at end of input".
            at_end = not self._curr  # a SENTINEL token (falsy) past the end
            token = token or self._curr or self._prev or Token.string("")
            try:
                super().raise_error(message, token)
            except ParseError as error:
                # Remember where, in characters, so the caller can report PostgreSQL's
                # "at or near" with a position; the sqlglot message has only line/col.
                error.sqlvec_token = None if at_end else token  # type: ignore[attr-defined]
                raise

    class Generator(Postgres.Generator):
        TRANSFORMS = {
            # Without Postgres' ColumnDef rewrite, which prints bigserial as "BIGINT
            # GENERATED BY DEFAULT AS IDENTITY NOT NULL": a round trip keeps the type.
            **{k: v for k, v in Postgres.Generator.TRANSFORMS.items() if k is not exp.ColumnDef},
            **{cls: (lambda self, e, _op=cls.symbol: self.binary(e, _op)) for cls in OPERATORS},
            Param: lambda self, e: f"${e.number}",
            # PostgreSQL deparses boolean constants in lower case (DEFAULT true, CHECK (x = false))
            exp.Boolean: lambda self, e: "true" if e.this else "false",
        }


#: identity sequence options: the words, and the GeneratedAsIdentity argument (None: no value)
_IDENTITY_OPTIONS: t.Final = [
    (("START",), "start"), (("INCREMENT",), "increment"), (("MINVALUE",), "minvalue"),
    (("MAXVALUE",), "maxvalue"), (("CACHE",), "cache"), (("CYCLE",), "cycle"),
    (("NO", "CYCLE"), "cycle"), (("NO", "MINVALUE"), None), (("NO", "MAXVALUE"), None),
]

#: ``_sqlvec_with_data`` while no CREATE is being parsed (None: inside one, nothing read yet)
_OUTSIDE_CREATE: t.Final = object()


def _merge_bit_varying(toks: list[Token]) -> list[Token]:
    """``bit varying`` -> one ``varbit`` token: sqlglot has no multi-word BIT type."""
    for i in range(len(toks) - 1, 0, -1):
        tok = toks[i]
        prev = toks[i - 1]
        if prev.token_type == TokenType.BIT and tok.text.upper() == "VARYING":
            toks[i - 1 : i + 1] = [
                Token(TokenType.VAR, "varbit", prev.line, prev.col, prev.start, tok.end)
            ]
    return toks


DIALECT: t.Final = SqlvecDialect()
