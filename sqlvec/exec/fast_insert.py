"""The short path of the prepared one-row INSERT.

``INSERT INTO t [(cols)] VALUES ($1, ..., $n)`` run again and again with new values is what
an ingesting client sends (psycopg's ``execute`` in a loop). Its plan is fixed, so once it
has run through the general pipeline the session keeps a :class:`FastInsert` for its text:
the next executions convert each parameter straight to its column's Arrow type (the same
adapter the general path binds it with, no Arrow scalar, no expression evaluation for a
parameter that is the column value or an integer widened to it), reuse the columns that are
constants or constant defaults, build the one-row RecordBatch against a cached schema, check
NOT NULL / CHECK / foreign keys with the general path's functions and write it through the
same storage call (which enforces unique keys). The row, the command tag and every error are
the general path's (tests/exec/test_fast_insert.py compares them).

A value the planned parameter type would not take as it is (a Python type other than the one
the plan was made for, an integer out of range, a string the column's input function
rejects) makes :meth:`FastInsert.run` return None *before* anything is written or any
sequence advanced: the general path then runs and raises its own error, or plans again for
the new type. Shapes outside the plain VALUES row (several rows, INSERT ... SELECT,
ON CONFLICT, partitioned tables, RETURNING of anything but columns) have no short path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec.exec import foreign_keys as FK
from sqlvec.exec.dml import InsertPlan
from sqlvec.exec.relation import ExecContext
from sqlvec.exec.writer import check_rows, unique_specs
from sqlvec.plan import expr as E
from sqlvec.result import Result
from sqlvec.types import registry as T
from sqlvec.types.adapt import adapt_param, infer_param_type
from sqlvec.types.arrow import to_arrow
from sqlvec.types.numbers import INT_RANGES

_INT_RANGE = {T.INT2.oid: INT_RANGES["smallint"], T.INT4.oid: INT_RANGES["integer"],
              T.INT8.oid: INT_RANGES["bigint"]}
_FLOATS = frozenset((T.FLOAT4.oid, T.FLOAT8.oid))
_STRINGS = frozenset((T.TEXT.oid, T.VARCHAR.oid, T.BPCHAR.oid))
_VECTORS = frozenset((T.VECTOR.oid, T.HALFVEC.oid))
# parameter types whose values pa.array converts as the general path's pa.scalar does
_PLAIN_ARROW = frozenset((T.INT2.oid, T.INT4.oid, T.INT8.oid, T.FLOAT4.oid, T.FLOAT8.oid,
                          T.TEXT.oid, T.VARCHAR.oid, T.BOOL.oid))
_GROWING = "sqlvec.growing_segment_max_bytes"


class _Decline(Exception):
    """A value the short path does not convert itself: the general path runs instead."""


def _accepts(key: tuple) -> Callable[[Any], bool]:
    """Whether a Python value is one the plan made for parameter type ``key`` binds as the
    general path would bind it *with this same plan*. The embedded API plans by the types
    its values bring (sqlvec.session._param_type), so a value bringing another type must go
    to the general path (another plan); the wire's values were decoded for the declared
    type, and pass these tests by construction."""
    oid = key[0]
    if key[2] is not None:
        return lambda v: False  # arrays: the general path
    if oid in _INT_RANGE:
        lo, hi = _INT_RANGE[oid]
        # any width of Python int: the planned type's range is what its adapter enforces
        return lambda v: type(v) is int and lo <= v <= hi
    if oid == T.UNKNOWN.oid:
        # what the embedded API leaves untyped (context decides) and the wire sends untyped
        return lambda v: type(v) in (str, list, tuple) or isinstance(v, np.ndarray)
    if oid in _FLOATS:
        return lambda v: type(v) is float
    if oid in _STRINGS:
        return lambda v: type(v) is str
    if oid in _VECTORS:
        return lambda v: isinstance(v, np.ndarray)
    return lambda v: infer_param_type(v).key == key


def _fixed(fmt: str, at: pa.DataType) -> Callable[[Any], pa.Array]:
    packer = struct.Struct(fmt).pack
    return lambda x: pa.Array.from_buffers(at, 1, [None, pa.py_buffer(packer(x))], null_count=0)


def _string(x: str) -> pa.Array:
    data = x.encode()  # a lone surrogate raises: the short path declines, the general path errs
    return pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(_OFFSETS(0, len(data))),
                                                  pa.py_buffer(data)], null_count=0)


def _bool(x: bool) -> pa.Array:
    return pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(b"\x01" if x else b"\x00")],
                                 null_count=0)


_OFFSETS = struct.Struct("<ii").pack
# one-row arrays straight from their buffers: pa.array costs three times as much for one
# value (it reads environment variables on every call); the values are already the adapted
# Python values (a float4 is a float32 value, so packing it is exact)
_MAKERS: dict[pa.DataType, Callable[[Any], pa.Array]] = {
    pa.int16(): _fixed("<h", pa.int16()),
    pa.int32(): _fixed("<i", pa.int32()),
    pa.int64(): _fixed("<q", pa.int64()),
    pa.float32(): _fixed("<f", pa.float32()),
    pa.float64(): _fixed("<d", pa.float64()),
    pa.string(): _string,
    pa.bool_(): _bool,
}


def _maker(t) -> Callable[[Any], pa.Array]:
    """The one-row array of an adapted value of SQL type ``t``, as the general path binds it."""
    at = t.arrow_type()
    if t.oid in _PLAIN_ARROW:
        return _MAKERS.get(at) or (lambda x: pa.array([x], at))
    return lambda x: to_arrow([x], t)


@dataclass(eq=False)
class _Param:
    """One column fed by a parameter: how its value becomes the column's one-row array."""

    index: int  # parameter position
    accepts: Callable[[Any], bool]
    type: Any  # the parameter's final type (what the general path binds it as)
    arrow: pa.DataType  # the column's Arrow type
    make: Callable[[Any], pa.Array]  # adapted value -> one-row array (of the column's type
    # unless cast)
    cast: Callable | None  # the plan's cast to the column type (None: none, or int widening)
    is_int: bool  # an integer parameter: its accepted values need no adapter

    def array(self, v: Any) -> pa.Array:
        if v is None:
            return pa.nulls(1, self.arrow)
        if not self.accepts(v):
            raise _Decline
        try:
            out = self.make(v if self.is_int else adapt_param(v, self.type))
            if self.cast is not None:
                out = self.cast(out)
        except Exception:
            raise _Decline from None  # the general path raises the error, with its context
        return out if out.type == self.arrow else out.cast(self.arrow)


@dataclass(eq=False, repr=False)
class FastInsert:
    key: tuple  # the plan-cache key of the plan this was made from
    prepared: object  # that plan (sqlvec.session._Prepared): still cached = still valid
    st: object  # the parsed statement
    plan: InsertPlan
    n_params: int
    params: list  # _Param per table column fed by a parameter, with its column position
    fixed: list  # column position -> one-row array (constants, constant defaults), or None
    defaults: list  # (column position, default Expr) evaluated per execution
    schema: pa.Schema  # of the storage batch (columns by storage id)
    specs: list  # unique keys (sqlvec.exec.writer.unique_specs)
    not_null: list  # positions of NOT NULL columns
    needs_ctx: bool  # CHECK constraints, foreign keys or volatile defaults: an ExecContext
    has_fks: bool
    returning: list | None  # column positions RETURNING lists, or None
    settings: tuple = (None, None)  # (settings version, (timeout set, growing limit or None))
    valid_at: tuple = ()  # (catalog version, settings version) the plan was last checked at
    hits: int = 0  # executions this path answered (evidence for tests)

    def run(self, session, values) -> Result | None:
        """The answer, or None when the general path must run this execution."""
        if len(values) != self.n_params:
            return None
        timeout, growing = self._settings(session)
        if timeout:
            return None  # statement_timeout needs the general path's timer
        cols = list(self.fixed)
        try:
            for pos, p in self.params:
                cols[pos] = p.array(values[p.index])
        except _Decline:
            return None
        res = session.run_fast_write(self.st, self._write, session, cols, growing)
        if res is not None:
            self.hits += 1
        return res

    def _settings(self, session) -> tuple:
        s = session.settings
        ver = s.version
        if self.settings[0] != ver:
            grow = int(s.get(_GROWING)) if _GROWING in s.values or _GROWING in s.local else None
            self.settings = (ver, (s.timeout_ms() > 0, grow))
        return self.settings[1]

    def _write(self, txn, session, cols: list, growing: int | None) -> Result:
        session.check_writable("INSERT")
        plan = self.plan
        table = plan.table
        ctx = None
        if self.needs_ctx:
            ctx = ExecContext(txn, [], {"engine": session.db.engine, "session": session},
                              session.check_interrupt)
            for pos, e in self.defaults:  # after every parameter converted, as in _build
                arr = E.broadcast(e.eval(ctx.eval_ctx([], 1)), 1)
                at = self.schema.field(pos).type
                cols[pos] = arr if arr.type == at else arr.cast(at)
        if plan.checks or any(cols[i].null_count for i in self.not_null):
            check_rows(table, cols, 1, plan.checks, ctx)  # raises the general path's error
        if growing is not None:
            txn.growing_max_bytes = growing
        txn.insert(table.oid, pa.RecordBatch.from_arrays(cols, schema=self.schema), unique=self.specs)
        if self.has_fks:
            FK.check_new_rows(ctx, table, cols, 1)
        if self.returning is None:
            return Result("INSERT 0 1", None, None, 1)
        out = pa.table([cols[i] for i in self.returning],
                       names=[f"c{i}" for i in range(len(self.returning))])
        return Result("INSERT 0 1", plan.returning.columns, out, 1)


def build(session, prepared, key: tuple, st) -> FastInsert | None:
    """The short path of a planned one-row INSERT ... VALUES, or None for other shapes."""
    plan = prepared.plan
    if (type(plan) is not InsertPlan or plan.select is not None or len(plan.rows) != 1
            or plan.conflict is not None or plan.bulk or plan.update_set or plan.update_where is not None):
        return None
    table = plan.table
    if "partition_by" in table.options:
        return None  # rows are routed to partitions: the general path
    ptypes = prepared.params
    keys = key[2] if len(key) > 2 else ()
    if len(keys) != len(ptypes):
        return None
    arrow_types = [c.type.arrow_type() for c in table.columns]
    fixed: list = [None] * len(table.columns)
    params: list = []
    defaults: list = []
    for pos, (c, e) in enumerate(zip(table.columns, plan.rows[0])):
        at = arrow_types[pos]
        if e is None:
            e = plan.defaults[pos]
            if type(e) is E.Const:
                fixed[pos] = _const_array(e, at)
            else:
                defaults.append((pos, e))  # nextval(), now() ...: evaluated per execution
            continue
        if type(e) is E.Const:
            fixed[pos] = _const_array(e, at)
            continue
        cast = None
        if type(e) is E.Cast and type(e.arg) is E.ParamRef:
            cast, e = e, e.arg
            if e.type.oid in _INT_RANGE and c.type.oid in _INT_RANGE and \
                    _INT_RANGE[e.type.oid][1] <= _INT_RANGE[c.type.oid][1]:
                cast = None  # a wider integer holds every value of the narrower: no check
            elif cast.type.arrow_type() != at:
                return None
            else:
                cast = cast.fn
        if type(e) is not E.ParamRef or e.index >= len(ptypes):
            return None
        ptype = ptypes[e.index]
        if cast is None and ptype.arrow_type() != at and not (
                ptype.oid in _INT_RANGE and c.type.oid in _INT_RANGE):
            return None
        key_type = keys[e.index]
        if cast is None and ptype.oid in _INT_RANGE:
            make = _maker(c.type)  # the column's integer type: the value fits (see above)
        else:
            make = _maker(ptype)
        # an integer planned as an integer: _accepts checked its range, the adapter's only check
        is_int = ptype.oid in _INT_RANGE and key_type[0] == ptype.oid
        params.append((pos, _Param(e.index, _accepts(key_type), ptype, at, make, cast, is_int)))
    returning = None
    if plan.returning is not None:
        returning = []
        for e in plan.returning.exprs:
            if type(e) is not E.ColRef or e.index >= len(table.columns):
                return None
            returning.append(e.index)
    has_fks = any(k.kind == "f" for k in table.constraints)
    return FastInsert(
        key, prepared, st, plan, len(ptypes), params, fixed, defaults,
        pa.schema([pa.field(c.id, t) for c, t in zip(table.columns, arrow_types)]),
        unique_specs(table), [i for i, c in enumerate(table.columns) if c.not_null],
        bool(plan.checks or has_fks or defaults), has_fks, returning)


def _const_array(e: E.Const, at: pa.DataType) -> pa.Array:
    """A constant's one-row column, as InsertPlan._build makes it (arrays are immutable:
    every execution shares it)."""
    arr = E.broadcast(e.value, 1)
    return arr if arr.type == at else arr.cast(at)
