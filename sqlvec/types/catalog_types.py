"""The types PostgreSQL's system catalogs use: oid, name, "char", the reg* aliases, int2vector,
oidvector, pg_node_tree, aclitem, xid, cid, tid, pg_lsn, xid8 — with their real OIDs.

Storage: every OID-valued type (oid, regclass, regtype, regproc, regprocedure, regnamespace,
regrole, xid, cid) is an Arrow **int64** holding the unsigned 32-bit value. int64 rather than
uint32 so that comparisons and joins with integer columns need no Arrow cast and never
overflow; the input functions enforce the 0 .. 2^32-1 range. int2vector / oidvector are
Arrow lists (their text form is space-separated, and they subscript from 0 in PostgreSQL).

The reg* types print names, which needs the current session's catalog: their input and
output functions look it up through :mod:`sqlvec.catalog.pg.names` (imported lazily: types
sit below the catalog).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.errors import InvalidTextRepresentation, NumericValueOutOfRange
from sqlvec.types import binary as B
from sqlvec.types import registry as R
from sqlvec.types import strings as S
from sqlvec.types.base import SqlType, TypeDef

NAMEDATALEN = 64
_U32 = 2**32


def _const(t: pa.DataType) -> Callable[[int], pa.DataType]:
    return lambda typmod: t


# --- oid and its aliases ---------------------------------------------------------------


def oid_in(text: str, typmod: int = -1) -> int:
    """oidin: a number in -2^31 .. 2^32-1; negative values wrap as PostgreSQL's do."""
    s = text.strip()
    try:
        v = int(s)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type oid: "{text}"') from None
    if not -(2**31) <= v < _U32:
        raise NumericValueOutOfRange(f'value "{text}" is out of range for type oid')
    return v % _U32


_u32_send, _u32_recv = B._fixed("!I")


def _reg_io(kind: str) -> tuple[Callable, Callable]:
    """Input/output of a reg* type: names through the session, digits as plain OIDs."""

    def text_in(text: str, typmod: int = -1) -> int:
        from sqlvec.catalog.pg import names

        return names.reg_in(kind, text)

    def text_out(v: int) -> str:
        from sqlvec.catalog.pg import names

        return names.reg_out(kind, v)

    return text_in, text_out


# --- name and "char" -------------------------------------------------------------------


def name_in(text: str, typmod: int = -1) -> str:
    """namein: cut to NAMEDATALEN-1 bytes, on a character boundary."""
    data = S.text_in(text).encode()
    if len(data) < NAMEDATALEN:
        return text
    return data[: NAMEDATALEN - 1].decode("utf-8", errors="ignore")


def char_in(text: str, typmod: int = -1) -> str:
    """charin: the first byte ("" stays empty); a \\ooo octal escape is one byte."""
    if len(text) == 4 and text[0] == "\\" and text[1:].isdigit():
        return chr(int(text[1:], 8))
    return text[:1]


def _char_send(v: str) -> bytes:
    # charsend: always one byte, the empty "char" ('' in attgenerated, attidentity) being \0
    return v.encode("latin-1", errors="replace")[:1] or b"\x00"


def _char_recv(b: bytes, typmod: int = -1) -> str:
    return bytes(b[:1]).decode("latin-1").rstrip("\x00")


# --- vectors of small integers ---------------------------------------------------------


def _vector_io(elem_in: Callable[[str], int], name: str) -> tuple[Callable, Callable]:
    def text_in(text: str, typmod: int = -1) -> list[int]:
        try:
            return [elem_in(p) for p in text.split()]
        except (ValueError, InvalidTextRepresentation):
            raise InvalidTextRepresentation(
                f'invalid input syntax for type {name}: "{text}"') from None

    def text_out(v: list[int]) -> str:
        return " ".join(str(x) for x in v)

    return text_in, text_out


def _int2(s: str) -> int:
    v = int(s)
    if not -32768 <= v <= 32767:
        raise ValueError(s)
    return v


def _vec_send(elem_oid: int, elem_send: Callable) -> Callable[[list], bytes]:
    # int2vectorsend/oidvectorsend: the array format with lower bound 0
    def send(v: list) -> bytes:
        if not v:
            return struct.pack("!iii", 0, 0, elem_oid)
        head = struct.pack("!iiiii", 1, 0, elem_oid, len(v), 0)
        return head + b"".join(struct.pack("!i", len(d)) + d for d in map(elem_send, v))

    return send


def _vec_recv(elem_recv: Callable) -> Callable[[bytes, int], list]:
    def recv(b: bytes, typmod: int = -1) -> list:
        return B.array_recv(b, elem_recv, typmod)

    return recv


# --- tid, pg_lsn -----------------------------------------------------------------------


def tid_in(text: str, typmod: int = -1) -> str:
    s = text.strip()
    try:
        block, off = s.strip("()").split(",")
        return f"({int(block)},{int(off)})"
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type tid: "{text}"') from None


def _tid_send(v: str) -> bytes:
    block, off = v.strip("()").split(",")
    return struct.pack("!IH", int(block), int(off))


def _tid_recv(b: bytes, typmod: int = -1) -> str:
    block, off = struct.unpack("!IH", b)
    return f"({block},{off})"


def lsn_in(text: str, typmod: int = -1) -> int:
    try:
        hi, lo = text.strip().split("/")
        return (int(hi, 16) << 32) | int(lo, 16)
    except ValueError:
        raise InvalidTextRepresentation(f'invalid input syntax for type pg_lsn: "{text}"') from None


def lsn_out(v: int) -> str:
    return f"{v >> 32:X}/{v & 0xFFFFFFFF:X}"


def _text_def(name: str, oid: int, array_oid: int, category: str = "S",
              text_in: Callable = S.text_in) -> TypeDef:
    return R._define(name, name, oid, array_oid, category, _const(pa.string()), text_in,
                     S.text_out, B.text_send, B.text_recv)


def _oid_def(name: str, oid: int, array_oid: int, text_in: Callable, text_out: Callable,
             category: str = "N") -> TypeDef:
    return R._define(name, name, oid, array_oid, category, _const(pa.int64()), text_in,
                     text_out, _u32_send, _u32_recv, typlen=4)


OID_DEF = _oid_def("oid", 26, 1028, oid_in, str)
XID_DEF = _oid_def("xid", 28, 1011, oid_in, str, category="U")
CID_DEF = _oid_def("cid", 29, 1012, oid_in, str, category="U")
_REG = {kind: _oid_def(kind, oid, arr, *_reg_io(kind))
        for kind, oid, arr in (("regproc", 24, 1008), ("regprocedure", 2202, 2207),
                               ("regclass", 2205, 2210), ("regtype", 2206, 2211),
                               ("regnamespace", 4089, 4090), ("regrole", 4096, 4097),
                               ("regoper", 2203, 2208), ("regoperator", 2204, 2209))}
REGPROC_DEF, REGCLASS_DEF, REGTYPE_DEF = _REG["regproc"], _REG["regclass"], _REG["regtype"]
NAME_DEF = R._define("name", "name", 19, 1003, "S", _const(pa.string()), name_in, S.text_out,
                     B.text_send, B.text_recv, typlen=64)
# "char" (one byte) shares its typname with the SQL alias char = character(1): define it,
# then give the alias back to bpchar. SQL reaches it only as the quoted "char".
CHAR_DEF = R._define('"char"', "char", 18, 1002, "Z", _const(pa.string()), char_in,
                     S.text_out, _char_send, _char_recv, typlen=1)
R._BY_NAME["char"] = R.BPCHAR_DEF
R._BY_NAME['"char"'] = CHAR_DEF
# category "U" here (not the "A" pg_type shows): the engine treats "A" as a real array type
_i2in, _i2out = _vector_io(_int2, "smallint")
INT2VECTOR_DEF = R._define("int2vector", "int2vector", 22, 1006, "U",
                           _const(pa.list_(pa.int16())), _i2in, _i2out,
                           _vec_send(21, B.int2_send), _vec_recv(B.int2_recv))
_oin, _oout = _vector_io(lambda s: oid_in(s), "oid")
OIDVECTOR_DEF = R._define("oidvector", "oidvector", 30, 1013, "U",
                          _const(pa.list_(pa.int64())), _oin, _oout,
                          _vec_send(26, _u32_send), _vec_recv(_u32_recv))
PG_NODE_TREE_DEF = _text_def("pg_node_tree", 194, 0)
ACLITEM_DEF = R._define("aclitem", "aclitem", 1033, 1034, "U", _const(pa.string()), S.text_in,
                        S.text_out, B.text_send, B.text_recv, typlen=16)
TID_DEF = R._define("tid", "tid", 27, 1010, "U", _const(pa.string()), tid_in, S.text_out,
                    _tid_send, _tid_recv, typlen=6)
PG_LSN_DEF = R._define("pg_lsn", "pg_lsn", 3220, 3221, "U", _const(pa.int64()), lsn_in, lsn_out,
                       B.int8_send, B.int8_recv, typlen=8)
XID8_DEF = R._define("xid8", "xid8", 5069, 271, "U", _const(pa.int64()), oid_in, str,
                     B.int8_send, B.int8_recv, typlen=8)

OID, NAME, CHAR, REGCLASS, REGTYPE = (SqlType(d) for d in (OID_DEF, NAME_DEF, CHAR_DEF,
                                                           REGCLASS_DEF, REGTYPE_DEF))
REGPROC, XID, INT2VECTOR, OIDVECTOR = (SqlType(d) for d in (REGPROC_DEF, XID_DEF,
                                                             INT2VECTOR_DEF, OIDVECTOR_DEF))
PG_NODE_TREE, ACLITEM = SqlType(PG_NODE_TREE_DEF), SqlType(ACLITEM_DEF)
REGNAMESPACE, REGROLE = SqlType(_REG["regnamespace"]), SqlType(_REG["regrole"])
REGPROCEDURE = SqlType(_REG["regprocedure"])
OID_LIKE = frozenset({OID_DEF.oid, XID_DEF.oid, CID_DEF.oid, *(d.oid for d in _REG.values())})


# --- casts (pg_cast rows) ----------------------------------------------------------------


def _to_oid(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """int -> oid-like: range-checked, negative int4 values wrap to unsigned (int4 -1 is
    4294967295), as PostgreSQL's int4 -> oid binary coercion reads the same bits."""
    a = arr.cast(pa.int64())
    if len(a) > a.null_count:
        mm = pc.min_max(a).as_py()
        if mm["min"] < -(2**31) or mm["max"] >= _U32:
            raise NumericValueOutOfRange("OID out of range")
        if mm["min"] < 0:
            a = pc.if_else(pc.less(a, 0), pc.add(a, _U32), a)
    return a


def _from_oid(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    """oid -> int4 reinterprets the bits (4294967295 -> -1); -> int8 keeps the value."""
    a = arr.cast(pa.int64())
    if dst.oid == R.INT4.oid:
        a = pc.if_else(pc.greater_equal(a, 2**31), pc.subtract(a, _U32), a)
    return a.cast(dst.arrow_type())


def _same(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    return arr.cast(dst.arrow_type())


def _to_name(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    s = arr if pa.types.is_string(arr.type) else arr.cast(pa.string())
    return pa.array([None if v is None else name_in(v) for v in s.to_pylist()], pa.string())


def _to_char(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    return pc.utf8_slice_codeunits(arr.cast(pa.string()), 0, 1)


def _int_to_char(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    return pa.array([None if v is None else chr(v % 256) for v in arr.to_pylist()], pa.string())


def _char_to_int(arr: pa.Array, src: SqlType, dst: SqlType) -> pa.Array:
    vals = [None if v is None else (ord(v) if v else 0) for v in arr.to_pylist()]
    return pa.array([None if v is None else (v - 256 if v > 127 else v) for v in vals], pa.int32())


def _install_casts() -> None:
    from sqlvec.types.cast_exec import CAST_FUNCS
    from sqlvec.types.casts import CASTS, Cast

    def add(src: SqlType, dst: SqlType, ctx: str, method: str, fn: Callable) -> None:
        CASTS[(src.oid, dst.oid)] = Cast(src.oid, dst.oid, ctx, method)
        CAST_FUNCS[(src.oid, dst.oid)] = fn

    regs = [SqlType(d) for d in _REG.values()]
    for t in (SqlType(OID_DEF), *regs):
        add(R.INT8, t, "i", "f", _to_oid)
        add(R.INT2, t, "i", "f", _to_oid)
        add(R.INT4, t, "i", "b", _to_oid)
        add(t, R.INT8, "a", "f", _from_oid)
        add(t, R.INT4, "a", "b", _from_oid)
    for t in regs:
        add(OID, t, "i", "b", _same)
        add(t, OID, "i", "b", _same)
    # text -> regclass is implicit (the regclass(text) function); other reg* only by I/O
    CASTS[(R.TEXT.oid, REGCLASS.oid)] = Cast(R.TEXT.oid, REGCLASS.oid, "i", "f")
    CASTS[(R.VARCHAR.oid, REGCLASS.oid)] = Cast(R.VARCHAR.oid, REGCLASS.oid, "i", "f")
    for s in (R.TEXT, R.VARCHAR, R.BPCHAR):
        add(s, NAME, "i", "f", _to_name)
        add(s, CHAR, "a", "f", _to_char)
    CASTS[(NAME.oid, R.TEXT.oid)] = Cast(NAME.oid, R.TEXT.oid, "i", "f")
    CASTS[(CHAR.oid, R.TEXT.oid)] = Cast(CHAR.oid, R.TEXT.oid, "i", "f")
    add(R.INT4, CHAR, "e", "f", _int_to_char)
    add(CHAR, R.INT4, "e", "f", _char_to_int)
    add(XID, OID, "e", "b", _same)  # not in pg_cast; harmless and handy in catalog queries
    add(INT2VECTOR, R.array_of(R.INT2), "i", "b", _same)
    add(OIDVECTOR, R.array_of(OID), "i", "b", _same)
    add(SqlType(XID8_DEF), XID, "i", "f", lambda a, s, d: pc.bit_wise_and(a, _U32 - 1))


_install_casts()
