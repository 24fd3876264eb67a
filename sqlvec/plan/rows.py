"""Row constructors and row comparisons in the binder.

``(a, b) = (c, d)``, ``(a, b) < (c, d)`` and ``(a, b) IN ((1, 2), ...)`` compare field by field
as PostgreSQL does: ``=`` is the AND of the field equalities, ``<>`` their OR, and the ordering
operators decide at the first pair of fields that differs, so that NULLs give NULL only where
they matter: ``(1, NULL) < (2, NULL)`` is true.
"""

from __future__ import annotations

from sqlvec import errors
from sqlvec.exec.records import RowExpr, record_type, row_fields
from sqlvec.plan import expr as E

_ORDERING = {"<": "<", "<=": "<", ">": ">", ">=": ">"}


def row_constructor(binder, items: list[E.Expr]) -> E.Expr:
    """ROW(a, b). Untyped literals stay untyped in the fields (a comparison gives them the other
    side's type, as in PostgreSQL); as a value they are text (their Arrow form already is)."""
    from sqlvec.types import registry as T

    t = record_type([(f"f{i + 1}", T.TEXT if x.type.defn is T.UNKNOWN.defn else x.type) for i, x in enumerate(items)])
    return RowExpr(items, t)  # not folded: comparisons read its fields


def is_row(e: E.Expr) -> bool:
    return row_fields(e) is not None


def compare_rows(binder, op: str, left: E.Expr, right: E.Expr) -> E.Expr:
    """A comparison of two records, expanded into comparisons of their fields."""
    lf, rf = row_fields(left), row_fields(right)
    if lf is None or rf is None:
        raise errors.FeatureNotSupported("comparison of a row with a non-row value is not supported")
    if len(lf) != len(rf):
        raise errors.SyntaxError("unequal number of entries in row expressions")
    if not lf:
        raise errors.FeatureNotSupported("cannot compare rows of zero length")
    if op == "=":
        parts = [binder.operator("=", a, b) for a, b in zip(lf, rf)]
        return E.fold(E.BoolOp("and", parts)) if len(parts) > 1 else parts[0]
    if op == "<>":
        parts = [binder.operator("<>", a, b) for a, b in zip(lf, rf)]
        return E.fold(E.BoolOp("or", parts)) if len(parts) > 1 else parts[0]
    strict = _ORDERING.get(op)
    if strict is None:
        binder.operator(op, lf[0], rf[0])  # PostgreSQL looks the operator up field by field first
        raise errors.WrongObjectType(f"could not determine interpretation of row comparison operator {op}",
                                         hint="Row comparison operators must be associated with btree operator families.")
    # a < c OR (a = c AND (b < d OR (b = d AND ...))), the last pair with the operator itself
    acc = binder.operator(op, lf[-1], rf[-1])
    for a, b in zip(reversed(lf[:-1]), reversed(rf[:-1])):
        acc = E.BoolOp("or", [binder.operator(strict, a, b), E.BoolOp("and", [binder.operator("=", a, b), acc])])
    return E.fold(acc)


def row_in(binder, arg: E.Expr, items: list[E.Expr], negate: bool) -> E.Expr:
    """(a, b) [NOT] IN ((1, 2), (3, 4)): the OR of the row equalities."""
    eqs = [compare_rows(binder, "=", arg, i) for i in items]
    out: E.Expr = E.BoolOp("or", eqs) if len(eqs) > 1 else eqs[0]
    return E.fold(E.Not(out) if negate else out)
