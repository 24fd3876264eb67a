"""Anonymous records (PostgreSQL's ``record``, OID 2249): ``ROW(a, b)``, ``(a, b)``, the
rows of multi-column set-returning functions in a select list, and field selection
``(expr).name``.

A record is an Arrow struct column; its SQL type is a ``SqlType`` whose definition is made
once per field list (name ``record``, OID 2249) and carries the field names and types in
``defn.extra["fields"]``. The Python value of a record is a tuple of its fields' Python values.

    >>> t = record_type([("x", T.INT4), ("n", T.TEXT)])
    >>> t.defn.text_out((5, "a b"))
    '(5,"a b")'
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.plan import expr as E
from sqlvec.types import arrow as A
from sqlvec.types import registry as T
from sqlvec.types.base import SqlType, TypeDef

RECORD_OID = 2249
RECORD_ARRAY_OID = 2287

Fields = tuple[tuple[str, SqlType], ...]
_TYPES: dict[Fields, SqlType] = {}


def record_type(fields: list[tuple[str, SqlType]] | Fields) -> SqlType:
    """The record type with these (name, type) fields (one instance per field list)."""
    key = tuple(fields)
    t = _TYPES.get(key)
    if t is None:
        t = _TYPES[key] = SqlType(_record_def(key))
    return t


def record_fields(t: SqlType) -> Fields | None:
    """The (name, type) fields of a record type, None for other types."""
    return t.defn.extra.get("fields") if t.defn.oid == RECORD_OID and t.elem is None else None


def _no_input(*_: Any) -> Any:
    raise errors.FeatureNotSupported("input of anonymous composite types is not implemented")


def _record_def(fields: Fields) -> TypeDef:
    arrow = pa.struct([pa.field(f"f{i + 1}", ft.arrow_type()) for i, (_, ft) in enumerate(fields)])

    def text_out(value: tuple) -> str:
        return "(" + ",".join("" if v is None else _quote(ft.defn.text_out(v)) for v, (_, ft) in zip(value, fields)) + ")"

    def send(value: tuple) -> bytes:
        # record_send: field count, then per field its type OID and a length-prefixed value
        parts = [struct.pack("!i", len(fields))]
        for v, (_, ft) in zip(value, fields):
            if v is None:
                parts.append(struct.pack("!ii", ft.oid, -1))
            else:
                data = ft.defn.send(v)
                parts.append(struct.pack("!ii", ft.oid, len(data)) + data)
        return b"".join(parts)

    return TypeDef(name="record", oid=RECORD_OID, array_oid=RECORD_ARRAY_OID, category="P",
                   arrow_type=lambda typmod: arrow, text_in=_no_input, text_out=text_out, send=send,
                   recv=_no_input, typname="record", extra={"fields": fields})


_SPECIAL = set('"\\(),')


def _quote(s: str) -> str:
    """record_out's quoting: empty strings and values with delimiters, quotes, backslashes or
    white space are double-quoted, with quotes and backslashes doubled."""
    if s and not any(c in _SPECIAL or c.isspace() for c in s):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '""') + '"'


def _from_arrow(arr: pa.Array, t: SqlType) -> list:
    fields = record_fields(t) or ()
    cols = [A.from_arrow(pc.struct_field(arr, [i]), ft) for i, (_, ft) in enumerate(fields)]
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    rows = list(zip(*cols)) if cols else [()] * len(arr)
    return [r if ok else None for r, ok in zip(rows, valid)]


# results hand records to clients as tuples (embedded) and through text_out / send (wire)
A._FROM_ARROW[RECORD_OID] = _from_arrow


# -- expressions ---------------------------------------------------------------------------------


@dataclass(eq=False)
class RowExpr(E.Expr):
    """ROW(a, b, ...) / (a, b, ...): a record of its arguments (never NULL itself)."""

    args: list[E.Expr]
    type: SqlType

    def eval(self, ctx: E.EvalContext) -> E.Datum:
        vals = [a.eval(ctx) for a in self.args]
        scalar = all(isinstance(v, pa.Scalar) for v in vals)
        n = 1 if scalar else ctx.n
        out = make_struct([E.broadcast(v, n) for v in vals], self.type)
        return out[0] if scalar else out

    def children(self) -> list[E.Expr]:
        return self.args


def make_struct(columns: list[pa.Array], t: SqlType, mask: pa.Array | None = None) -> pa.Array:
    """A struct column of record type t from its field columns."""
    at = t.arrow_type()
    cols = [c if c.type == f.type else c.cast(f.type) for c, f in zip(columns, at)]
    if not cols:
        return pa.array([{}] * 0, at)
    return pa.StructArray.from_arrays(cols, fields=list(at), mask=mask)


@dataclass(eq=False)
class FieldSelect(E.Expr):
    """(record).field: NULL where the record is NULL."""

    arg: E.Expr
    index: int
    type: SqlType

    def eval(self, ctx: E.EvalContext) -> E.Datum:
        v = self.arg.eval(ctx)
        if isinstance(v, pa.Scalar):
            if not v.is_valid:
                return pa.scalar(None, self.type.arrow_type())
            return v[self.index]
        return pc.struct_field(E.broadcast(v, ctx.n), [self.index])

    def children(self) -> list[E.Expr]:
        return [self.arg]


def field_index(t: SqlType, name: str) -> int:
    """Position of a named field; PostgreSQL's errors for a missing field or a non-record."""
    fields = record_fields(t)
    if fields is None:
        raise errors.WrongObjectType(f"column notation .{name} applied to type {t}, which is not a composite type")
    for i, (fname, _) in enumerate(fields):
        if fname == name:
            return i
    raise errors.UndefinedColumn(f'could not identify column "{name}" in record data type')


def select_field(e: E.Expr, name: str) -> E.Expr:
    i = field_index(e.type, name)
    if isinstance(e, RowExpr):
        return e.args[i]
    return E.fold(FieldSelect(e, i, record_fields(e.type)[i][1]))


def row_fields(e: E.Expr) -> list[E.Expr] | None:
    """The field expressions of a record-valued expression, None when it is not a record."""
    if isinstance(e, RowExpr):
        return list(e.args)
    fields = record_fields(e.type)
    if fields is None:
        return None
    return [FieldSelect(e, i, ft) for i, (_, ft) in enumerate(fields)]


# -- set-returning functions ---------------------------------------------------------------------


def as_record_srf(call):
    """A multi-column SRF in a select list yields one record column (its OUT columns)."""
    from sqlvec.exec.srf import SrfCall

    rt = record_type([(n, t) for n, t in call.columns])
    inner = call.impl

    def impl(vals, types, n):
        parent, cols = inner(vals, types, n)
        return parent, [make_struct(list(cols), rt)]

    return SrfCall(call.name, impl, call.args, [(call.name, rt)])


def _expandarray(vals, types, n):
    """information_schema._pg_expandarray(anyarray): (x, n) for every element."""
    arr = vals[0]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)
    counts = np.bincount(parent, minlength=n)
    pos = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return parent, [pc.list_flatten(arr), pa.array(pos, pa.int32())]


def register(srfs: dict, columns: dict) -> None:
    """Join the SRF tables of sqlvec.exec.srf."""
    from sqlvec.exec.functions.registry import Overload

    srfs["_pg_expandarray"] = [Overload("_pg_expandarray", ("anyarray",), lambda ts: ts[0].elem, _expandarray)]
    columns["_pg_expandarray"] = lambda r: [("x", r), ("n", T.INT4)]
