"""Binary send/recv: PostgreSQL's and pgvector's wire formats (network byte order).

Each entry is a pair (send(value) -> bytes, recv(data, typmod) -> value); the registry
attaches them to the type definitions.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal

import numpy as np

from sqlvec.errors import DataException, InvalidBinaryRepresentation
from sqlvec.types import datetimes as D
from sqlvec.types.values import BitString, Interval, SparseVector

_PG_EPOCH = dt.datetime(2000, 1, 1)
_PG_EPOCH_DATE = dt.date(2000, 1, 1)
_INT32_MAX, _INT32_MIN = 2**31 - 1, -(2**31)
_INT64_MAX, _INT64_MIN = 2**63 - 1, -(2**63)


def _fixed(fmt: str) -> tuple:
    st = struct.Struct(fmt)

    def send(v: object) -> bytes:
        return st.pack(v)

    def recv(b: bytes, typmod: int = -1) -> object:
        if len(b) != st.size:
            raise InvalidBinaryRepresentation("incorrect binary data format")
        return st.unpack(b)[0]

    return send, recv


bool_send = lambda v: b"\x01" if v else b"\x00"  # noqa: E731
bool_recv = lambda b, typmod=-1: b != b"\x00"  # noqa: E731
int2_send, int2_recv = _fixed("!h")
int4_send, int4_recv = _fixed("!i")
int8_send, int8_recv = _fixed("!q")
float4_send, float4_recv = _fixed("!f")
float8_send, float8_recv = _fixed("!d")


def text_send(v: str) -> bytes:
    return v.encode()


def text_recv(b: bytes, typmod: int = -1) -> str:
    return bytes(b).decode()


def bytea_send(v: bytes) -> bytes:
    return bytes(v)


def bytea_recv(b: bytes, typmod: int = -1) -> bytes:
    return bytes(b)


def uuid_send(v: uuid.UUID) -> bytes:
    return v.bytes


def uuid_recv(b: bytes, typmod: int = -1) -> uuid.UUID:
    return uuid.UUID(bytes=bytes(b))


def jsonb_send(v: str) -> bytes:
    return b"\x01" + v.encode()


def jsonb_recv(b: bytes, typmod: int = -1) -> str:
    if b[:1] != b"\x01":
        raise InvalidBinaryRepresentation(f"unsupported jsonb version number {b[0] if b else 0}")
    from sqlvec.types.strings import jsonb_in

    return jsonb_in(bytes(b[1:]).decode())


# --- numeric: base-10000 digits, weight, sign, dscale -------------------------------------

_NUMERIC_POS, _NUMERIC_NEG, _NUMERIC_NAN = 0x0000, 0x4000, 0xC000
_NUMERIC_PINF, _NUMERIC_NINF = 0xD000, 0xF000


def numeric_send(v: Decimal) -> bytes:
    if v.is_nan():
        return struct.pack("!hhHh", 0, 0, _NUMERIC_NAN, 0)
    if v.is_infinite():
        return struct.pack("!hhHh", 0, 0, _NUMERIC_NINF if v < 0 else _NUMERIC_PINF, 0)
    sign, digits, exp = v.as_tuple()
    assert isinstance(exp, int)
    dscale = max(0, -exp)
    # align the digit string on base-10000 groups around the decimal point
    ds = "".join(map(str, digits)).lstrip("0")
    if not ds:
        return struct.pack("!hhHh", 0, 0, _NUMERIC_POS, dscale)
    int_len = len(ds) + exp  # digits before the decimal point (may be <= 0)
    pad_left = (4 - int_len % 4) % 4
    ds = "0" * pad_left + ds
    weight = (int_len + pad_left) // 4 - 1
    ds += "0" * ((4 - len(ds) % 4) % 4)
    groups = [int(ds[i : i + 4]) for i in range(0, len(ds), 4)]
    while groups and groups[-1] == 0:
        groups.pop()
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    head = struct.pack("!hhHh", len(groups), weight, _NUMERIC_NEG if sign else _NUMERIC_POS,
                       dscale)
    return head + struct.pack(f"!{len(groups)}h", *groups)


def numeric_recv(b: bytes, typmod: int = -1) -> Decimal:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", b)
    if sign == _NUMERIC_NAN:
        return Decimal("NaN")
    if sign in (_NUMERIC_PINF, _NUMERIC_NINF):
        return Decimal("-Infinity" if sign == _NUMERIC_NINF else "Infinity")
    groups = struct.unpack_from(f"!{ndigits}h", b, 8)
    text = "".join(f"{g:04d}" for g in groups) or "0"
    from sqlvec.types.numbers import _BIG

    v = Decimal(text).scaleb((weight + 1 - ndigits) * 4, context=_BIG)
    v = v.quantize(Decimal(1).scaleb(-dscale), context=_BIG)
    v = v.copy_negate() if sign == _NUMERIC_NEG else v  # unary minus would round to 28 digits
    from sqlvec.types.numbers import numeric_apply_typmod

    return numeric_apply_typmod(v, typmod)


# --- date/time ----------------------------------------------------------------------------


def date_send(v: dt.date) -> bytes:
    if v == D.DATE_POS_INF:
        return struct.pack("!i", _INT32_MAX)
    if v == D.DATE_NEG_INF:
        return struct.pack("!i", _INT32_MIN)
    return struct.pack("!i", (v - _PG_EPOCH_DATE).days)


def date_recv(b: bytes, typmod: int = -1) -> dt.date:
    n = struct.unpack("!i", b)[0]
    if n == _INT32_MAX:
        return D.DATE_POS_INF
    if n == _INT32_MIN:
        return D.DATE_NEG_INF
    return _PG_EPOCH_DATE + dt.timedelta(days=n)


def time_send(v: dt.time) -> bytes:
    us = ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
    return struct.pack("!q", us)


def time_recv(b: bytes, typmod: int = -1) -> dt.time:
    s, us = divmod(struct.unpack("!q", b)[0], 1_000_000)
    return dt.time(s // 3600, s // 60 % 60, s % 60, us)


def _ts_us(v: dt.datetime) -> int:
    if v.tzinfo is not None:
        v = v.astimezone(D.UTC).replace(tzinfo=None)
    if v == D.TS_POS_INF:
        return _INT64_MAX
    if v == D.TS_NEG_INF:
        return _INT64_MIN
    delta = v - _PG_EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_send(v: dt.datetime) -> bytes:
    return struct.pack("!q", _ts_us(v))


def _ts_from_us(n: int) -> dt.datetime:
    if n == _INT64_MAX:
        return D.TS_POS_INF
    if n == _INT64_MIN:
        return D.TS_NEG_INF
    return _PG_EPOCH + dt.timedelta(microseconds=n)


def timestamp_recv(b: bytes, typmod: int = -1) -> dt.datetime:
    return _ts_from_us(struct.unpack("!q", b)[0])


def timestamptz_recv(b: bytes, typmod: int = -1) -> dt.datetime:
    return _ts_from_us(struct.unpack("!q", b)[0]).replace(tzinfo=D.UTC)


def interval_send(v: Interval) -> bytes:
    return struct.pack("!qii", v.microseconds, v.days, v.months)


def interval_recv(b: bytes, typmod: int = -1) -> Interval:
    us, days, months = struct.unpack("!qii", b)
    return Interval(months, days, us)


# --- pgvector -----------------------------------------------------------------------------


def _dense_send(dtype: str):
    def send(v: np.ndarray) -> bytes:
        arr = np.asarray(v)
        return struct.pack("!hh", arr.shape[0], 0) + arr.astype(dtype).tobytes()

    return send


def _dense_recv(dtype: str, type_name: str, max_dim: int):
    from sqlvec.types.vectors import check_dim, check_elements, check_expected_dim

    native = np.dtype(dtype).newbyteorder("=")

    def recv(b: bytes, typmod: int = -1) -> np.ndarray:
        dim, unused = struct.unpack_from("!hh", b)
        check_dim(type_name, dim, max_dim)
        check_expected_dim(typmod, dim)
        if unused != 0:
            raise DataException(f"expected unused to be 0, not {unused}")
        arr = np.frombuffer(b, dtype=dtype, count=dim, offset=4).astype(native)
        check_elements(arr, type_name)
        return arr

    return recv


vector_send = _dense_send(">f4")
vector_recv = _dense_recv(">f4", "vector", 16000)
halfvec_send = _dense_send(">f2")
halfvec_recv = _dense_recv(">f2", "halfvec", 16000)


def sparsevec_send(v: SparseVector) -> bytes:
    nnz = v.indices.shape[0]
    return (struct.pack("!iii", v.dim, nnz, 0) + v.indices.astype(">i4").tobytes()
            + v.values.astype(">f4").tobytes())


def sparsevec_recv(b: bytes, typmod: int = -1) -> SparseVector:
    from sqlvec.types.vectors import (
        SPARSEVEC_MAX_DIM,
        SPARSEVEC_MAX_NNZ,
        check_dim,
        check_elements,
        check_expected_dim,
        check_sparse_indices,
    )

    dim, nnz, unused = struct.unpack_from("!iii", b)
    check_dim("sparsevec", dim, SPARSEVEC_MAX_DIM)
    if nnz < 0:
        raise DataException("sparsevec cannot have negative number of elements")
    if nnz > SPARSEVEC_MAX_NNZ:
        from sqlvec.errors import ProgramLimitExceeded

        raise ProgramLimitExceeded(
            f"sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"
        )
    check_expected_dim(typmod, dim)
    if unused != 0:
        raise DataException(f"expected unused to be 0, not {unused}")
    idx = np.frombuffer(b, ">i4", nnz, 12).astype(np.int32)
    vals = np.frombuffer(b, ">f4", nnz, 12 + 4 * nnz).astype(np.float32)
    check_sparse_indices(idx, dim)
    check_elements(vals, "sparsevec")
    if (vals == 0).any():
        raise DataException("binary representation of sparsevec cannot contain zero values")
    return SparseVector(dim, idx, vals)


def bit_send(v: BitString) -> bytes:
    return struct.pack("!i", v.nbits) + v.data


def bit_recv(b: bytes, typmod: int = -1) -> BitString:
    n = struct.unpack_from("!i", b)[0]
    if n < 0:
        raise InvalidBinaryRepresentation("invalid length in external bit string")
    return BitString(n, bytes(b[4 : 4 + (n + 7) // 8]))


# --- arrays -------------------------------------------------------------------------------


def array_send(values: list, elem_oid: int, elem_send) -> bytes:
    if not values:
        return struct.pack("!iii", 0, 0, elem_oid)
    has_null = any(v is None for v in values)
    parts = [struct.pack("!iiiii", 1, int(has_null), elem_oid, len(values), 1)]
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            data = elem_send(v)
            parts.append(struct.pack("!i", len(data)) + data)
    return b"".join(parts)


def array_recv(b: bytes, elem_recv, typmod: int = -1) -> list:
    ndim, _flags, _oid = struct.unpack_from("!iii", b)
    if ndim == 0:
        return []
    if ndim != 1:
        from sqlvec.errors import FeatureNotSupported

        raise FeatureNotSupported("multidimensional arrays are not supported")
    n, _lbound = struct.unpack_from("!ii", b, 12)
    pos, out = 20, []
    for _ in range(n):
        ln = struct.unpack_from("!i", b, pos)[0]
        pos += 4
        if ln < 0:
            out.append(None)
        else:
            out.append(elem_recv(bytes(b[pos : pos + ln]), typmod))
            pos += ln
    return out
