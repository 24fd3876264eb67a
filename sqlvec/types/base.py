"""The shape every SQL type has; the registry that holds them.

A *type definition* (:class:`TypeDef`) exists once per PostgreSQL type (integer, vector, ...).
A *type instance* (:class:`SqlType`) is a definition plus a typmod (``vector(3)``,
``numeric(10,2)``, ``character varying(20)``) or, for arrays, an element type. Expressions,
columns and parameters carry :class:`SqlType` values.

Python values (what the embedded API returns and accepts, and what ``text_in`` produces):

==================  ===========================================================
boolean             bool
smallint/int/bigint int
real/double         float
numeric             decimal.Decimal
text/varchar/char   str
bytea               bytes
uuid                uuid.UUID
date/time           datetime.date / datetime.time
timestamp           datetime.datetime (naive)
timestamptz         datetime.datetime (aware, UTC)
interval            sqlvec.types.Interval(months, days, microseconds)
json / jsonb        str (the JSON text; jsonb normalised as PostgreSQL prints it)
arrays              list (1-D, NULL elements as None)
vector              numpy.ndarray, float32, 1-D
halfvec             numpy.ndarray, float16, 1-D
sparsevec           sqlvec.types.SparseVector(dim, indices, values)
bit / varbit        sqlvec.types.BitString
==================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, eq=False)
class TypeDef:
    """One PostgreSQL type. Functions take the typmod where it matters (-1 = none)."""

    name: str  # canonical name as format_type prints it: "integer", "character varying"
    oid: int
    array_oid: int  # OID of the array type over this one (0 if none)
    category: str  # pg_type.typcategory: B boolean, N numeric, S string, D datetime, U user...
    arrow_type: Callable[[int], pa.DataType]  # typmod -> Arrow storage type
    text_in: Callable[[str, int], Any]  # PostgreSQL input function: text -> Python value
    text_out: Callable[[Any], str]  # PostgreSQL output function: Python value -> text
    send: Callable[[Any], bytes]  # binary send (wire format, as PostgreSQL/pgvector)
    recv: Callable[[bytes, int], Any]  # binary receive
    aliases: tuple[str, ...] = ()  # other names accepted in SQL: "int4", "int", "float8" ...
    typlen: int = -1  # pg_type.typlen (-1 varlena)
    preferred: bool = False  # pg_type.typispreferred
    # Python value from a client parameter (list -> vector, str -> parsed via text_in, ...)
    adapt: Callable[[Any, int], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    typname: str = ""  # pg_type.typname: "int4", "bpchar", "_int4", "vector"
    elem_oid: int = 0  # pg_type.typelem for array types

    def __repr__(self) -> str:
        return f"<TypeDef {self.name}>"


_RECORD_OID = 2249


@dataclass(frozen=True)
class SqlType:
    """A type with its modifier, as columns, expressions and parameters carry it."""

    defn: TypeDef
    typmod: int = -1
    elem: SqlType | None = None  # set for arrays (defn is then the array pseudo-definition)
    # defn.oid, copied at construction: read on every hot path (casts, encoders, binds)
    oid: int = field(init=False, repr=False, compare=False)
    # hashable identity (oid, typmod, element key): plan caches key on it
    key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "oid", self.defn.oid)
        # record types share one oid (2249) and differ by their fields: their definition counts
        sub = id(self.defn) if self.defn.oid == _RECORD_OID else None if self.elem is None else self.elem.key
        object.__setattr__(self, "key", (self.defn.oid, self.typmod, sub))

    @property
    def name(self) -> str:
        return self.defn.name

    @property
    def is_array(self) -> bool:
        return self.elem is not None

    def arrow_type(self) -> pa.DataType:
        return self.defn.arrow_type(self.typmod)

    def __str__(self) -> str:  # format_type(): "vector(3)", "integer[]", "numeric(10,2)"
        from sqlvec.types.registry import format_type

        return format_type(self)
