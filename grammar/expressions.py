"""sqlglot expression classes for the pgvector / ParadeDB operators and for query parameters.

Every operator is an ``exp.Binary``, so sqlglot's tree walking, copying, hashing and
equality treat it like ``+`` or ``=``.  ``OPERATORS`` is the one table the dialect reads to
tokenize, parse and print them: a new operator joins by adding a class and one row.

    >>> from sqlvec.grammar import parse_expression
    >>> type(parse_expression("emb <=> '[1,2]'")).__name__
    'CosineDistance'
"""

from __future__ import annotations

import typing as t

from sqlglot import exp


class VectorOperator(exp.Expression, exp.Binary):
    """Base of the operators below; ``symbol`` is the operator as written in SQL."""

    symbol: t.ClassVar[str] = ""


class L2Distance(VectorOperator):
    """``a <-> b``: Euclidean distance (pgvector)."""

    symbol = "<->"


class NegInnerProduct(VectorOperator):
    """``a <#> b``: negative inner product (pgvector), so that smaller is closer."""

    symbol = "<#>"


class CosineDistance(VectorOperator):
    """``a <=> b``: cosine distance (pgvector); not MySQL's null-safe equality."""

    symbol = "<=>"


class L1Distance(VectorOperator):
    """``a <+> b``: taxicab distance (pgvector 0.7+)."""

    symbol = "<+>"


class HammingDistance(VectorOperator):
    """``a <~> b``: Hamming distance between bit strings (pgvector 0.7+)."""

    symbol = "<~>"


class JaccardDistance(VectorOperator):
    """``a <%> b``: Jaccard distance between bit strings (pgvector 0.7+)."""

    symbol = "<%>"


class Bm25Match(VectorOperator):
    """``column @@@ 'query'``: ParadeDB's BM25 full-text match."""

    symbol = "@@@"


#: Every operator class, in the order the tokenizer should know them.
OPERATORS: tuple[type[VectorOperator], ...] = (
    L2Distance,
    NegInnerProduct,
    CosineDistance,
    L1Distance,
    HammingDistance,
    JaccardDistance,
    Bm25Match,
)

#: The distance operators, keyed by symbol (the planner maps them to index opclasses).
DISTANCE_OPERATORS: dict[str, type[VectorOperator]] = {
    cls.symbol: cls for cls in OPERATORS if cls is not Bm25Match
}


class Param(exp.Expression, exp.Condition):
    """A query parameter ``$n``: ``Param(index=2)`` is ``$2``.

    ``args["index"]`` holds the 1-based index as a Python int, read it as ``.number``:
    ``.index`` cannot be used, sqlglot already uses that attribute for a node's position in
    its parent's list.  ``args["name"]`` is an optional pyformat name (``%(name)s``).
    """

    arg_types = {"index": True, "name": False}
    # The index is a raw int, not a child expression: hash it as is.
    _hash_raw_args = True

    @classmethod
    def of(cls, number: int, name: str | None = None) -> Param:
        """``Param.of(2)`` is ``$2``."""
        if number < 1:
            raise ValueError(f"parameter number must be >= 1, got {number}")
        return cls(index=number, name=name)

    @property
    def number(self) -> int:
        """The 1-based parameter number n of ``$n``."""
        return int(self.args["index"])

    @property
    def name(self) -> str:
        # sqlglot expects a str here (it uses .name for output names); "" when unnamed.
        return self.args.get("name") or ""

    @property
    def output_name(self) -> str:
        # PostgreSQL names an unaliased parameter column "?column?".
        return "?column?"
