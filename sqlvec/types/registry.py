"""Every SQL type, defined once, and the look-ups the rest of the engine uses.

OIDs of built-in types are PostgreSQL's. Extension types get fixed OIDs above
FirstNormalObjectId (16384), as a fresh ``CREATE EXTENSION vector`` might assign them; clients
must look them up by name (pgvector-python and asyncpg do), never hard-code them:

=============  =====  ===========
type           oid    array oid
=============  =====  ===========
vector         16385  16386
halfvec        16387  16388
sparsevec      16389  16390
=============  =====  ===========
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from sqlvec.errors import FeatureNotSupported, InvalidParameterValue, UndefinedObject
from sqlvec.types import arrays as A
from sqlvec.types import binary as B
from sqlvec.types import datetimes as DT
from sqlvec.types import numbers as N
from sqlvec.types import strings as S
from sqlvec.types import vectors as V
from sqlvec.types.base import SqlType, TypeDef
from sqlvec.types.floatfmt import float4_out, float8_out

VARHDRSZ = 4
_FLOAT32 = pa.float32()
_FLOAT16 = pa.float16()

BIT_ARROW = pa.struct([("nbits", pa.int32()), ("data", pa.binary())])
SPARSEVEC_ARROW = pa.struct(
    [("dim", pa.int32()), ("indices", pa.list_(pa.int32())), ("values", pa.list_(_FLOAT32))]
)


def _const(t: pa.DataType) -> Callable[[int], pa.DataType]:
    return lambda typmod: t


def _numeric_arrow(typmod: int) -> pa.DataType:
    ps = N.numeric_precision_scale(typmod)
    if ps is None:
        return pa.string()  # canonical decimal text; the executor computes with Decimal
    p, s = ps
    return pa.decimal128(p, s) if p <= 38 else pa.decimal256(p, s)


def _dense_arrow(elem: pa.DataType) -> Callable[[int], pa.DataType]:
    return lambda typmod: pa.list_(elem, typmod) if typmod > 0 else pa.list_(elem)


def _str(v: Any) -> str:
    return str(v)


_BY_OID: dict[int, TypeDef] = {}
_BY_NAME: dict[str, TypeDef] = {}
_ARRAY_OF: dict[int, TypeDef] = {}  # element oid -> array type definition


def _define(name: str, typname: str, oid: int, array_oid: int, category: str,
            arrow: Callable[[int], pa.DataType], text_in: Callable, text_out: Callable,
            send: Callable, recv: Callable, aliases: tuple[str, ...] = (), typlen: int = -1,
            preferred: bool = False) -> TypeDef:
    d = TypeDef(name=name, oid=oid, array_oid=array_oid, category=category, arrow_type=arrow,
                text_in=text_in, text_out=text_out, send=send, recv=recv,
                aliases=aliases, typlen=typlen, preferred=preferred, typname=typname)
    _BY_OID[oid] = d
    for n in (name, typname, *aliases):
        _BY_NAME[n] = d
    if array_oid:
        _define_array(d)
    return d


def _define_array(elem: TypeDef) -> None:
    """The array type over ``elem`` (arrays are SqlType(defn=<this>, elem=SqlType(elem)))."""

    def text_in(text: str, typmod: int = -1) -> list:
        return A.array_in(text, elem.text_in, typmod)

    def text_out(values: list) -> str:
        return A.array_out(values, elem.text_out)

    def send(values: list) -> bytes:
        return B.array_send(values, elem.oid, elem.send)

    def recv(data: bytes, typmod: int = -1) -> list:
        return B.array_recv(data, elem.recv, typmod)

    d = TypeDef(name=elem.name + "[]", oid=elem.array_oid, array_oid=0, category="A",
                arrow_type=lambda typmod: pa.list_(elem.arrow_type(typmod)),
                text_in=text_in, text_out=text_out, send=send, recv=recv,
                typname="_" + elem.typname, elem_oid=elem.oid)
    _BY_OID[d.oid] = d
    _ARRAY_OF[elem.oid] = d
    _BY_NAME["_" + elem.typname] = d


BOOL_DEF = _define("boolean", "bool", 16, 1000, "B", _const(pa.bool_()), N.bool_in, N.bool_out,
                   B.bool_send, B.bool_recv, typlen=1, preferred=True)
BYTEA_DEF = _define("bytea", "bytea", 17, 1001, "U", _const(pa.binary()), S.bytea_in,
                    S.bytea_out, B.bytea_send, B.bytea_recv)
INT8_DEF = _define("bigint", "int8", 20, 1016, "N", _const(pa.int64()), N.int8_in, N.int_out,
                   B.int8_send, B.int8_recv, typlen=8)
INT2_DEF = _define("smallint", "int2", 21, 1005, "N", _const(pa.int16()), N.int2_in, N.int_out,
                   B.int2_send, B.int2_recv, typlen=2)
INT4_DEF = _define("integer", "int4", 23, 1007, "N", _const(pa.int32()), N.int4_in, N.int_out,
                   B.int4_send, B.int4_recv, aliases=("int",), typlen=4)
TEXT_DEF = _define("text", "text", 25, 1009, "S", _const(pa.string()), S.text_in, S.text_out,
                   B.text_send, B.text_recv, preferred=True)
JSON_DEF = _define("json", "json", 114, 199, "U", _const(pa.string()), S.json_in, S.json_out,
                   B.text_send, B.text_recv)
FLOAT4_DEF = _define("real", "float4", 700, 1021, "N", _const(pa.float32()), N.float4_in,
                     float4_out, B.float4_send, B.float4_recv, typlen=4)
FLOAT8_DEF = _define("double precision", "float8", 701, 1022, "N", _const(pa.float64()),
                     N.float8_in, float8_out, B.float8_send, B.float8_recv,
                     aliases=("float",), typlen=8, preferred=True)
UNKNOWN_DEF = _define("unknown", "unknown", 705, 0, "X", _const(pa.string()), S.text_in,
                      S.text_out, B.text_send, B.text_recv, typlen=-2)
BPCHAR_DEF = _define("character", "bpchar", 1042, 1014, "S", _const(pa.string()), S.bpchar_in,
                     S.text_out, B.text_send, B.text_recv, aliases=("char",))
VARCHAR_DEF = _define("character varying", "varchar", 1043, 1015, "S", _const(pa.string()),
                      S.varchar_in, S.text_out, B.text_send, B.text_recv)
DATE_DEF = _define("date", "date", 1082, 1182, "D", _const(pa.date32()), DT.date_in,
                   DT.date_out, B.date_send, B.date_recv, typlen=4)
TIME_DEF = _define("time without time zone", "time", 1083, 1183, "D", _const(pa.time64("us")),
                   DT.time_in, DT.time_out, B.time_send, B.time_recv, typlen=8)
TIMESTAMP_DEF = _define("timestamp without time zone", "timestamp", 1114, 1115, "D",
                        _const(pa.timestamp("us")), DT.timestamp_in, DT.timestamp_out,
                        B.timestamp_send, B.timestamp_recv, typlen=8)
TIMESTAMPTZ_DEF = _define("timestamp with time zone", "timestamptz", 1184, 1185, "D",
                          _const(pa.timestamp("us", tz="UTC")), DT.timestamptz_in,
                          DT.timestamptz_out, B.timestamp_send, B.timestamptz_recv,
                          typlen=8, preferred=True)
INTERVAL_DEF = _define("interval", "interval", 1186, 1187, "T",
                       _const(pa.month_day_nano_interval()), DT.interval_in, DT.interval_out,
                       B.interval_send, B.interval_recv, typlen=16, preferred=True)
BIT_DEF = _define("bit", "bit", 1560, 1561, "V", _const(BIT_ARROW), V.bit_in, V.bit_out,
                  B.bit_send, B.bit_recv)
VARBIT_DEF = _define("bit varying", "varbit", 1562, 1563, "V", _const(BIT_ARROW), V.varbit_in,
                     V.bit_out, B.bit_send, B.bit_recv, preferred=True)
NUMERIC_DEF = _define("numeric", "numeric", 1700, 1231, "N", _numeric_arrow, N.numeric_in,
                      N.numeric_out, B.numeric_send, B.numeric_recv, aliases=("decimal",))
UUID_DEF = _define("uuid", "uuid", 2950, 2951, "U", _const(pa.binary(16)), S.uuid_in,
                   S.uuid_out, B.uuid_send, B.uuid_recv, typlen=16)
JSONB_DEF = _define("jsonb", "jsonb", 3802, 3807, "U", _const(pa.string()), S.jsonb_in,
                    S.jsonb_out, B.jsonb_send, B.jsonb_recv)
VECTOR_DEF = _define("vector", "vector", 16385, 16386, "U", _dense_arrow(_FLOAT32),
                     V.vector_in, V.vector_out, B.vector_send, B.vector_recv)
HALFVEC_DEF = _define("halfvec", "halfvec", 16387, 16388, "U", _dense_arrow(_FLOAT16),
                      V.halfvec_in, V.vector_out, B.halfvec_send, B.halfvec_recv)
SPARSEVEC_DEF = _define("sparsevec", "sparsevec", 16389, 16390, "U", _const(SPARSEVEC_ARROW),
                        V.sparsevec_in, V.sparsevec_out, B.sparsevec_send, B.sparsevec_recv)

# SQL spellings that are not a type's name, typname or alias
for _alias, _def in (("integer", INT4_DEF), ("float4", FLOAT4_DEF), ("float8", FLOAT8_DEF),
                     ("bool", BOOL_DEF), ("varchar", VARCHAR_DEF), ("time", TIME_DEF),
                     ("timestamp", TIMESTAMP_DEF), ("timestamptz", TIMESTAMPTZ_DEF),
                     ("character", BPCHAR_DEF), ("bpchar", BPCHAR_DEF),
                     ("bit varying", VARBIT_DEF), ("decimal", NUMERIC_DEF)):
    _BY_NAME[_alias] = _def

BOOL, BYTEA, INT8, INT2, INT4 = (SqlType(d) for d in (BOOL_DEF, BYTEA_DEF, INT8_DEF, INT2_DEF,
                                                       INT4_DEF))
TEXT, JSON, FLOAT4, FLOAT8, UNKNOWN = (SqlType(d) for d in (TEXT_DEF, JSON_DEF, FLOAT4_DEF,
                                                             FLOAT8_DEF, UNKNOWN_DEF))
BPCHAR, VARCHAR, DATE, TIME = (SqlType(d) for d in (BPCHAR_DEF, VARCHAR_DEF, DATE_DEF,
                                                     TIME_DEF))
TIMESTAMP, TIMESTAMPTZ, INTERVAL = (SqlType(d) for d in (TIMESTAMP_DEF, TIMESTAMPTZ_DEF,
                                                          INTERVAL_DEF))
BIT, VARBIT, NUMERIC, UUID, JSONB = (SqlType(d) for d in (BIT_DEF, VARBIT_DEF, NUMERIC_DEF,
                                                           UUID_DEF, JSONB_DEF))
VECTOR, HALFVEC, SPARSEVEC = (SqlType(d) for d in (VECTOR_DEF, HALFVEC_DEF, SPARSEVEC_DEF))


# --- constructors with typmod validation --------------------------------------------------


def vector(n: int) -> SqlType:
    return SqlType(VECTOR_DEF, V.check_dim_typmod("vector", n, V.VECTOR_MAX_DIM))


def halfvec(n: int) -> SqlType:
    return SqlType(HALFVEC_DEF, V.check_dim_typmod("halfvec", n, V.HALFVEC_MAX_DIM))


def sparsevec(n: int) -> SqlType:
    return SqlType(SPARSEVEC_DEF, V.check_dim_typmod("sparsevec", n, V.SPARSEVEC_MAX_DIM))


def _length_typmod(type_name: str, n: int) -> int:
    if n < 1:
        raise InvalidParameterValue(f"length for type {type_name} must be at least 1")
    if n > 10_485_760:
        raise InvalidParameterValue(f"length for type {type_name} cannot exceed 10485760")
    return n + VARHDRSZ


def varchar(n: int) -> SqlType:
    return SqlType(VARCHAR_DEF, _length_typmod("varchar", n))


def bpchar(n: int) -> SqlType:
    return SqlType(BPCHAR_DEF, _length_typmod("char", n))


def numeric(precision: int, scale: int = 0) -> SqlType:
    return SqlType(NUMERIC_DEF, N.numeric_typmod(precision, scale))


def bit(n: int) -> SqlType:
    return SqlType(BIT_DEF, _bit_typmod("bit", n))


def varbit(n: int) -> SqlType:
    return SqlType(VARBIT_DEF, _bit_typmod("bit varying", n))


def _bit_typmod(type_name: str, n: int) -> int:
    if n < 1:
        raise InvalidParameterValue(f"length for type {type_name} must be at least 1")
    if n > V.BIT_MAX_LEN:
        raise InvalidParameterValue(f"length for type {type_name} cannot exceed {V.BIT_MAX_LEN}")
    return n


def _precision_typmod(type_name: str, p: int) -> int:
    if p < 0:
        raise InvalidParameterValue(f"{type_name.upper()}({p}) precision must not be negative")
    return min(p, 6)  # PostgreSQL reduces a larger precision to 6 with a warning


# typmod builders keyed by type definition: SQL "name(args)" -> atttypmod
_TYPMOD: dict[int, Callable[..., int]] = {
    VECTOR_DEF.oid: lambda n: V.check_dim_typmod("vector", n, V.VECTOR_MAX_DIM),
    HALFVEC_DEF.oid: lambda n: V.check_dim_typmod("halfvec", n, V.HALFVEC_MAX_DIM),
    SPARSEVEC_DEF.oid: lambda n: V.check_dim_typmod("sparsevec", n, V.SPARSEVEC_MAX_DIM),
    VARCHAR_DEF.oid: lambda n: _length_typmod("varchar", n),
    BPCHAR_DEF.oid: lambda n: _length_typmod("char", n),
    NUMERIC_DEF.oid: N.numeric_typmod,
    BIT_DEF.oid: lambda n: _bit_typmod("bit", n),
    VARBIT_DEF.oid: lambda n: _bit_typmod("bit varying", n),
    TIMESTAMP_DEF.oid: lambda p: _precision_typmod("timestamp", p),
    TIMESTAMPTZ_DEF.oid: lambda p: _precision_typmod("timestamp", p),
    TIME_DEF.oid: lambda p: _precision_typmod("time", p),
}


def with_typmod(t: SqlType, *args: int) -> SqlType:
    """``t`` with the typmod that SQL ``name(args)`` declares (validated, PostgreSQL's errors)."""
    build = _TYPMOD.get(t.oid)
    if build is None:
        raise InvalidParameterValue(f"type modifier is not allowed for type \"{t.name}\"")
    return SqlType(t.defn, build(*args))


# --- look-ups -----------------------------------------------------------------------------


def type_by_name(name: str) -> SqlType:
    """SqlType (no typmod) for a SQL type name or alias; ``integer[]``/``_int4`` for arrays."""
    key = " ".join(name.lower().split())
    if key.endswith("[]"):
        return array_of(type_by_name(key[:-2]))
    d = _BY_NAME.get(key)
    if d is None:
        raise UndefinedObject(f'type "{name}" does not exist')
    if d.category == "A":
        return SqlType(d, elem=SqlType(_BY_OID[d.elem_oid]))
    return SqlType(d)


def type_by_oid(oid: int, typmod: int = -1) -> SqlType:
    d = _BY_OID.get(oid)
    if d is None:
        raise UndefinedObject(f"type with OID {oid} does not exist")
    if d.category == "A":
        return SqlType(d, typmod, elem=SqlType(_BY_OID[d.elem_oid], typmod))
    return SqlType(d, typmod)


def typedef_by_oid(oid: int) -> TypeDef | None:
    return _BY_OID.get(oid)


def all_typedefs() -> list[TypeDef]:
    """Every definition (for pg_type), scalar and array, ordered by OID."""
    return [_BY_OID[k] for k in sorted(_BY_OID)]


def array_of(t: SqlType) -> SqlType:
    if t.is_array:
        raise FeatureNotSupported("multidimensional arrays are not supported")
    d = _ARRAY_OF.get(t.oid)
    if d is None:
        raise UndefinedObject(f"could not find array type for data type {format_type(t)}")
    return SqlType(d, t.typmod, elem=t)


def format_type(t: SqlType) -> str:
    """PostgreSQL's format_type(oid, typmod)."""
    if t.elem is not None:
        return format_type(t.elem) + "[]"
    d, tm = t.defn, t.typmod
    if d is NUMERIC_DEF and tm >= VARHDRSZ:
        p, s = N.numeric_precision_scale(tm)  # type: ignore[misc]
        return f"numeric({p},{s})"
    if d in (VARCHAR_DEF, BPCHAR_DEF):
        if tm >= VARHDRSZ:
            return f"{d.name}({tm - VARHDRSZ})"
        return d.name if d is VARCHAR_DEF else "bpchar"
    if d in (TIMESTAMP_DEF, TIMESTAMPTZ_DEF, TIME_DEF) and tm >= 0:
        base, _, zone = d.name.partition(" ")
        return f"{base}({tm}) {zone}"
    if tm >= 0 and d.oid in _TYPMOD:
        return f"{d.name}({tm})"
    return d.name


# the system catalogs' types (oid, name, regclass ...) and their casts; imported last too
from sqlvec.types import catalog_types  # noqa: E402, F401

# imported last: it needs the constants above
from sqlvec.types.sqlglot_types import from_sqlglot  # noqa: E402, F401
