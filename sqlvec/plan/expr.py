"""Bound expressions: typed trees that evaluate over Arrow columns.

A bound expression evaluates against an :class:`EvalContext` (the input columns, the row
count, the statement's parameters) and returns a *datum*: a ``pa.Array`` of ``ctx.n`` rows,
or a ``pa.Scalar`` when the value is the same for every row (constants, parameters). Keeping
constants scalar matters: a query vector must not be repeated a million times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.types import registry as T
from sqlvec.types.base import SqlType

Datum = pa.Array | pa.ChunkedArray | pa.Scalar


@dataclass
class EvalContext:
    columns: list[Any]  # pa.Array per input column (None for columns the plan never reads)
    n: int
    params: list[pa.Scalar] = field(default_factory=list)
    # values pinned for the statement: now() and friends are stable within one statement
    stmt: dict[str, Any] = field(default_factory=dict)
    outer: tuple = ()  # correlated subqueries: one {column index: Scalar} frame per enclosing query
    exec: Any = None  # the ExecContext, for expressions that run a query (subqueries)

    def subset(self, idx: np.ndarray) -> EvalContext:
        """The same context restricted to some rows (CASE evaluates a branch only where taken)."""
        if len(idx) == self.n:
            return self
        ia = pa.array(idx, type=pa.int64())
        cols = [None if c is None else (c.take(ia) if not isinstance(c, pa.Scalar) else c) for c in self.columns]
        return EvalContext(cols, len(idx), self.params, self.stmt, self.outer, self.exec)


def scatter(pieces: list[tuple[np.ndarray, pa.Array]], n: int, t: pa.DataType) -> pa.Array:
    """One array of n rows from pieces that each fill the given row positions."""
    if not pieces:
        return pa.nulls(n, t)
    pos = np.concatenate([p for p, _ in pieces])
    vals = pa.concat_arrays([a if a.type == t else a.cast(t) for _, a in pieces])
    if len(pos) < n:
        rest = np.setdiff1d(np.arange(n), pos)
        pos = np.concatenate([pos, rest])
        vals = pa.concat_arrays([vals, pa.nulls(len(rest), t)])
    inv = np.empty(n, np.int64)
    inv[pos] = np.arange(n)
    return vals.take(pa.array(inv))


class Expr:
    type: SqlType
    volatile: bool = False  # a new value per evaluation (random(), nextval()): never folded

    def eval(self, ctx: EvalContext) -> Datum:
        raise NotImplementedError

    def children(self) -> list[Expr]:
        return []

    @property
    def is_const(self) -> bool:
        return False


def broadcast(d: Datum, n: int) -> pa.Array:
    """An Array of n rows from a datum (repeating a scalar without a Python loop)."""
    if isinstance(d, pa.ChunkedArray):
        return d.combine_chunks() if d.num_chunks != 1 else d.chunk(0)
    if isinstance(d, pa.Array):
        return d
    return _repeat(d, n)


def scalar_array(s: pa.Scalar) -> pa.Array:
    """A one-row Array holding a scalar."""
    return _repeat(s, 1)


def _repeat(s: pa.Scalar, n: int) -> pa.Array:
    if s.is_valid:
        try:
            return pa.repeat(s, n)  # C++: no Python round trip of the value
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    # NULLs of nested types through pa.array: its children are well-formed (pa.repeat's are NULL)
    return pa.array([s.as_py()], type=s.type).take(pa.array(np.zeros(n, dtype=np.int64)))


def as_mask(d: Datum, n: int) -> np.ndarray:
    """A boolean predicate datum as a numpy mask where NULL counts as false (WHERE semantics)."""
    if isinstance(d, pa.Scalar):
        return np.full(n, bool(d.is_valid and d.as_py()), dtype=bool)
    arr = broadcast(d, n)
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return arr.to_numpy(zero_copy_only=False).astype(bool, copy=False)


@dataclass(eq=False)
class Const(Expr):
    value: pa.Scalar
    type: SqlType

    def eval(self, ctx: EvalContext) -> Datum:
        return self.value

    @property
    def is_const(self) -> bool:
        return True

    def py(self) -> Any:
        return self.value.as_py()


@dataclass(eq=False)
class ColRef(Expr):
    index: int
    type: SqlType
    name: str = "?column?"
    table_oid: int = 0
    attnum: int = 0

    def eval(self, ctx: EvalContext) -> Datum:
        return ctx.columns[self.index]


@dataclass(eq=False)
class ParamRef(Expr):
    index: int  # 0-based
    type: SqlType

    def eval(self, ctx: EvalContext) -> Datum:
        return ctx.params[self.index]


@dataclass(eq=False)
class Call(Expr):
    """A function or operator call resolved to one overload."""

    name: str
    impl: Callable
    args: list[Expr]
    type: SqlType
    volatile: bool = False

    def eval(self, ctx: EvalContext) -> Datum:
        vals = [a.eval(ctx) for a in self.args]
        return self.impl(vals, [a.type for a in self.args], ctx.n)

    def children(self) -> list[Expr]:
        return self.args


@dataclass(eq=False)
class StmtValue(Expr):
    """now(), current_date ...: one value for the whole statement, as PostgreSQL pins them."""

    key: str
    make: Callable[[dict], pa.Scalar]
    type: SqlType

    def eval(self, ctx: EvalContext) -> Datum:
        v = ctx.stmt.get(self.key)
        if v is None:
            v = ctx.stmt[self.key] = self.make(ctx.stmt)
        return v


@dataclass(eq=False)
class Cast(Expr):
    arg: Expr
    type: SqlType
    fn: Callable[[pa.Array], pa.Array]  # the resolved cast over an Arrow array

    def eval(self, ctx: EvalContext) -> Datum:
        v = self.arg.eval(ctx)
        if isinstance(v, pa.Scalar):
            return self.fn(scalar_array(v))[0]
        return self.fn(broadcast(v, ctx.n))

    def children(self) -> list[Expr]:
        return [self.arg]


@dataclass(eq=False)
class BoolOp(Expr):
    op: str  # "and" | "or"
    args: list[Expr]
    type: SqlType = T.BOOL

    def eval(self, ctx: EvalContext) -> Datum:
        fn = pc.and_kleene if self.op == "and" else pc.or_kleene
        out = self.args[0].eval(ctx)
        for a in self.args[1:]:
            out = fn(out, a.eval(ctx))
        return out

    def children(self) -> list[Expr]:
        return self.args


@dataclass(eq=False)
class Not(Expr):
    arg: Expr
    type: SqlType = T.BOOL

    def eval(self, ctx: EvalContext) -> Datum:
        return pc.invert(self.arg.eval(ctx))

    def children(self) -> list[Expr]:
        return [self.arg]


@dataclass(eq=False)
class IsNull(Expr):
    arg: Expr
    negate: bool = False
    type: SqlType = T.BOOL

    def eval(self, ctx: EvalContext) -> Datum:
        v = self.arg.eval(ctx)
        if isinstance(v, pa.Scalar):
            return pa.scalar(v.is_valid if self.negate else not v.is_valid)
        return pc.is_valid(v) if self.negate else pc.is_null(v)

    def children(self) -> list[Expr]:
        return [self.arg]


@dataclass(eq=False)
class IsBool(Expr):
    """x IS [NOT] TRUE / FALSE / UNKNOWN: never NULL."""

    arg: Expr
    value: bool | None  # None = UNKNOWN
    negate: bool = False
    type: SqlType = T.BOOL

    def eval(self, ctx: EvalContext) -> Datum:
        v = broadcast(self.arg.eval(ctx), ctx.n)
        if self.value is None:
            out = pc.is_null(v)
        else:
            eq = pc.equal(v, pa.scalar(self.value))
            out = pc.fill_null(eq, False)
        return pc.invert(out) if self.negate else out

    def children(self) -> list[Expr]:
        return [self.arg]


@dataclass(eq=False)
class Case(Expr):
    whens: list[tuple[Expr, Expr]]
    default: Expr | None
    type: SqlType

    def eval(self, ctx: EvalContext) -> Datum:
        # Each condition is evaluated only on rows no earlier branch took, and each value only
        # on the rows that take it: CASE WHEN x = 0 THEN NULL ELSE 1 / x END never divides by 0.
        n = ctx.n
        at = self.type.arrow_type()
        rem = np.arange(n)
        pieces: list[tuple[np.ndarray, pa.Array]] = []
        for cond, val in self.whens:
            if not len(rem):
                break
            m = as_mask(cond.eval(ctx.subset(rem)), len(rem))
            if m.any():
                hit = rem[m]
                pieces.append((hit, broadcast(val.eval(ctx.subset(hit)), len(hit))))
                rem = rem[~m]
        if len(rem) and self.default is not None:
            pieces.append((rem, broadcast(self.default.eval(ctx.subset(rem)), len(rem))))
        return scatter(pieces, n, at)

    def children(self) -> list[Expr]:
        out = [e for w in self.whens for e in w]
        return out + ([self.default] if self.default else [])


@dataclass(eq=False)
class Coalesce(Expr):
    args: list[Expr]
    type: SqlType

    def eval(self, ctx: EvalContext) -> Datum:
        # later arguments are evaluated only for rows where every earlier one was NULL
        n = ctx.n
        at = self.type.arrow_type()
        rem = np.arange(n)
        pieces: list[tuple[np.ndarray, pa.Array]] = []
        for a in self.args:
            if not len(rem):
                break
            v = a.eval(ctx.subset(rem))
            if isinstance(v, pa.Scalar):
                if v.is_valid:
                    pieces.append((rem, broadcast(v, len(rem))))
                    rem = rem[:0]
                continue
            v = broadcast(v, len(rem))
            ok = np.asarray(v.is_valid().to_numpy(zero_copy_only=False), bool)
            if ok.any():
                pieces.append((rem[ok], v.filter(pa.array(ok))))
                rem = rem[~ok]
        return scatter(pieces, n, at)

    def children(self) -> list[Expr]:
        return self.args


@dataclass(eq=False)
class InList(Expr):
    """x IN (constants): one hash lookup per row; NULL semantics as SQL (NULL if no match and a NULL is involved)."""

    arg: Expr
    values: pa.Array
    negate: bool = False
    type: SqlType = T.BOOL

    def eval(self, ctx: EvalContext) -> Datum:
        v = broadcast(self.arg.eval(ctx), ctx.n)
        has_null = self.values.null_count > 0
        found = pc.is_in(v, value_set=self.values.drop_null())
        if has_null:
            # no match against a list containing NULL is NULL, not false
            found = pc.if_else(found, True, pa.scalar(None, pa.bool_()))
        found = pc.if_else(pc.is_null(v), pa.scalar(None, pa.bool_()), found)
        return pc.invert(found) if self.negate else found

    def children(self) -> list[Expr]:
        return [self.arg]


def walk(e: Expr):
    yield e
    for c in e.children():
        yield from walk(c)


def referenced_columns(exprs: list[Expr]) -> set[int]:
    """Input column positions an expression reads, including those a correlated subquery
    inside it reads from this level (``captured``)."""
    out: set[int] = set()
    for e in exprs:
        for x in walk(e):
            if isinstance(x, ColRef):
                out.add(x.index)
            out.update(getattr(x, "captured", ()) or ())
    return out


def fold(e: Expr) -> Expr:
    """Evaluate an expression made only of constants now (PostgreSQL folds them at plan time)."""
    if e.is_const or isinstance(e, (ColRef, ParamRef, StmtValue)):
        return e
    for x in walk(e):
        if isinstance(x, (ColRef, ParamRef, StmtValue)) or x.volatile:
            return e
    # Errors surface now, at plan time, as PostgreSQL's constant folding raises them (so that
    # INSERT ... VALUES (1/0) fails before any default takes a sequence value). CASE and
    # COALESCE drop branches that constants make unreachable before those are bound.
    v = e.eval(EvalContext([], 1))
    if not isinstance(v, pa.Scalar):
        v = broadcast(v, 1)[0]
    return Const(v, e.type)


def raise_for_arrow(exc: Exception) -> errors.Error:
    """Map an Arrow arithmetic error to PostgreSQL's."""
    msg = str(exc)
    if "overflow" in msg:
        return errors.NumericValueOutOfRange("integer out of range")
    if "divide by zero" in msg.lower():
        return errors.DivisionByZero("division by zero")
    return errors.InternalError_(msg)
