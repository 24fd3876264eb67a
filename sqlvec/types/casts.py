"""Casts: which exist and in which context (pg_cast plus pgvector's CREATE CAST lines), how
a whole Arrow column is cast, and PostgreSQL's common-type resolution (UNION/CASE/COALESCE).

Contexts as in pg_cast.castcontext: 'i' implicit, 'a' assignment, 'e' explicit only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlvec.errors import DatatypeMismatch
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType

_RANK = {"i": 0, "a": 1, "e": 2}


@dataclass(frozen=True)
class Cast:
    source: int  # oid
    target: int  # oid
    context: str  # 'i', 'a' or 'e'
    method: str = "f"  # 'f' function, 'i' I/O conversion, 'b' binary coercible, 'l' length

    def allowed(self, context: str) -> bool:
        """Usable where ``context`` ('i', 'a' or 'e') applies."""
        return _RANK[self.context] <= _RANK[context]


def _table() -> dict[tuple[int, int], Cast]:
    t: dict[tuple[int, int], Cast] = {}

    def add(src: SqlType, dst: SqlType, ctx: str, method: str = "f") -> None:
        t[(src.oid, dst.oid)] = Cast(src.oid, dst.oid, ctx, method)

    # numeric ladder (pg_cast): widening implicit, narrowing assignment
    ladder = [R.INT2, R.INT4, R.INT8, R.NUMERIC, R.FLOAT4, R.FLOAT8]
    for i, a in enumerate(ladder):
        for j, b in enumerate(ladder):
            if i != j:
                add(a, b, "i" if j > i else "a")
    add(R.INT4, R.BOOL, "e")
    add(R.BOOL, R.INT4, "e")
    # strings: the three string types convert among themselves implicitly
    for a in (R.TEXT, R.VARCHAR, R.BPCHAR):
        for b in (R.TEXT, R.VARCHAR, R.BPCHAR):
            if a is not b:
                add(a, b, "i", "b")
    # date/time
    add(R.DATE, R.TIMESTAMP, "i")
    add(R.DATE, R.TIMESTAMPTZ, "i")
    add(R.TIMESTAMP, R.TIMESTAMPTZ, "i")
    add(R.TIMESTAMPTZ, R.TIMESTAMP, "a")
    add(R.TIMESTAMP, R.DATE, "a")
    add(R.TIMESTAMPTZ, R.DATE, "a")
    add(R.TIMESTAMP, R.TIME, "a")
    add(R.TIMESTAMPTZ, R.TIME, "a")
    add(R.TIME, R.INTERVAL, "i")
    add(R.INTERVAL, R.TIME, "a")
    # json
    add(R.JSON, R.JSONB, "a")
    add(R.JSONB, R.JSON, "a")
    for dst in (R.BOOL, R.NUMERIC, R.INT2, R.INT4, R.INT8, R.FLOAT4, R.FLOAT8):
        add(R.JSONB, dst, "e")
    # bit strings
    add(R.BIT, R.VARBIT, "i", "b")
    add(R.VARBIT, R.BIT, "i", "b")
    add(R.INT4, R.BIT, "e")
    add(R.INT8, R.BIT, "e")
    add(R.BIT, R.INT4, "e")
    add(R.BIT, R.INT8, "e")
    # pgvector 0.8 (sql/vector.sql)
    add(R.VECTOR, R.array_of(R.FLOAT4), "i")
    for elem in (R.INT4, R.FLOAT4, R.FLOAT8, R.NUMERIC):
        add(R.array_of(elem), R.VECTOR, "a")
        add(R.array_of(elem), R.HALFVEC, "a")
    add(R.HALFVEC, R.array_of(R.FLOAT4), "a")
    add(R.VECTOR, R.HALFVEC, "i")
    add(R.HALFVEC, R.VECTOR, "a")
    add(R.VECTOR, R.SPARSEVEC, "a")
    add(R.SPARSEVEC, R.VECTOR, "a")
    add(R.HALFVEC, R.SPARSEVEC, "a")
    add(R.SPARSEVEC, R.HALFVEC, "a")
    return t


CASTS = _table()
_STRINGS = {R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid}


def find_cast(src: SqlType, dst: SqlType) -> Cast | None:
    """The cast from ``src`` to ``dst``, or None if PostgreSQL has none."""
    if src.oid == dst.oid:
        if src.elem is not None and dst.elem is not None:
            return find_cast(src.elem, dst.elem)
        # same type: a length coercion where the typmod matters (vector(3), varchar(n)...)
        return Cast(src.oid, dst.oid, "i", "l" if dst.typmod != src.typmod else "b")
    if src.oid == R.UNKNOWN.oid:
        return Cast(src.oid, dst.oid, "i", "i")
    found = CASTS.get((src.oid, dst.oid))
    if found is not None:
        return found
    if src.elem is not None and dst.elem is not None:
        inner = find_cast(src.elem, dst.elem)
        return None if inner is None else Cast(src.oid, dst.oid, inner.context, inner.method)
    # automatic I/O conversion casts: to a string type by assignment, from one explicitly
    if dst.oid in _STRINGS:
        return Cast(src.oid, dst.oid, "a", "i")
    if src.oid in _STRINGS:
        return Cast(src.oid, dst.oid, "e", "i")
    return None


def can_coerce(src: SqlType, dst: SqlType, context: str = "i") -> bool:
    c = find_cast(src, dst)
    return c is not None and c.allowed(context)


def common_supertype(types: list[SqlType], context: str = "UNION") -> SqlType:
    """PostgreSQL's select_common_type: the type UNION/CASE/COALESCE branches resolve to."""
    known = [t for t in types if t.oid != R.UNKNOWN.oid]
    if not known:
        return R.TEXT
    ptype = known[0]
    for ntype in known[1:]:
        if ntype.oid == ptype.oid:
            continue
        if ntype.defn.category != ptype.defn.category:
            raise DatatypeMismatch(f"{context} types {ptype} and {ntype} cannot be matched")
        if (not ptype.defn.preferred and can_coerce(ptype, ntype)
                and not can_coerce(ntype, ptype)):
            ptype = ntype
    for t in known:
        if not can_coerce(t, ptype):
            raise DatatypeMismatch(f"{context} could not convert type {t} to {ptype}")
    same = [t for t in known if t.oid == ptype.oid]
    # the typmod survives only if every input has the same one (select_common_typmod)
    mods = {t.typmod for t in known}
    typmod = mods.pop() if len(mods) == 1 and len(same) == len(known) else -1
    if ptype.elem is not None:
        return R.array_of(SqlType(ptype.elem.defn, typmod))
    return SqlType(ptype.defn, typmod)


from sqlvec.types.cast_exec import cast_array  # noqa: E402, F401  (uses find_cast)
