"""Binary send/recv: round trips, and byte-for-byte agreement with psycopg's dumpers."""

import datetime as dt
import struct
import uuid
from decimal import Decimal

import numpy as np
import pytest
from psycopg.adapt import PyFormat, Transformer

from sqlvec import errors
from sqlvec.types import registry as R
from sqlvec.types.values import BitString, Interval, SparseVector

UTC = dt.UTC
CASES = [
    (R.BOOL, True), (R.BOOL, False), (R.INT2, -5), (R.INT4, 2**31 - 1), (R.INT8, -(2**63)),
    (R.FLOAT8, 1.5), (R.FLOAT8, -0.1), (R.NUMERIC, Decimal("1.5")),
    (R.NUMERIC, Decimal("-12345678.000912")), (R.NUMERIC, Decimal("0.00")),
    (R.NUMERIC, Decimal("1E+20")), (R.NUMERIC, Decimal("0.0001")), (R.NUMERIC, Decimal("NaN")),
    (R.TEXT, "héllo"), (R.BYTEA, b"\x00\xff"),
    (R.UUID, uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
    (R.DATE, dt.date(2024, 1, 2)), (R.DATE, dt.date(1999, 12, 31)),
    (R.TIME, dt.time(1, 2, 3, 4)), (R.TIMESTAMP, dt.datetime(2024, 1, 2, 3, 4, 5, 6)),
    (R.TIMESTAMP, dt.datetime(1970, 1, 1)),
    (R.TIMESTAMPTZ, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (R.array_of(R.INT4), [1, None, 3]), (R.array_of(R.TEXT), ["a", "b"]),
]


@pytest.mark.parametrize("t,value", CASES)
def test_matches_psycopg(t, value):
    tx = Transformer()
    dumper = tx.get_dumper(value, PyFormat.BINARY)
    try:
        dumper = dumper.upgrade(value, PyFormat.BINARY)  # psycopg's choice by value (int2/4/8)
    except NotImplementedError:
        pass
    if t.is_array and value:
        # psycopg picks the smallest element type; compare against the same element type
        dumper_oid_elem = struct.unpack("!iii", bytes(dumper.dump(value))[:12])[2]
        t = R.array_of(R.type_by_oid(dumper_oid_elem))
    ours = t.defn.send(value)
    assert dumper.oid == t.oid
    assert ours == bytes(dumper.dump(value))
    def same(a, b):
        return a == b or (isinstance(a, Decimal) and a.is_nan() and b.is_nan())

    assert same(t.defn.recv(ours, t.typmod), value)
    if not t.is_array:
        assert same(tx.get_loader(t.oid, 1).load(ours), value)  # psycopg reads ours back


@pytest.mark.parametrize(
    "t,value",
    [(R.FLOAT4, 1.5), (R.BPCHAR, "ab "), (R.INTERVAL, Interval(14, 3, 5_000_001)),
     (R.JSONB, '{"a": 1}'), (R.JSON, '{"a":1}'), (R.DATE, dt.date.max),
     (R.TIMESTAMP, dt.datetime.max), (R.array_of(R.VECTOR), [np.array([1, 2], np.float32), None])],
)
def test_roundtrip(t, value):
    back = t.defn.recv(t.defn.send(value), t.typmod)
    if t.is_array:
        assert back[1] is None and back[0].tolist() == value[0].tolist()
    else:
        assert back == value


def test_layouts():
    # interval: int64 microseconds, int32 days, int32 months
    assert R.INTERVAL.defn.send(Interval(2, 3, 4)) == struct.pack("!qii", 4, 3, 2)
    assert R.JSONB.defn.send("1") == b"\x011"
    assert R.DATE.defn.send(dt.date(2000, 1, 2)) == b"\x00\x00\x00\x01"
    assert R.DATE.defn.send(dt.date.max) == struct.pack("!i", 2**31 - 1)
    assert R.INT4.defn.send(1) == b"\x00\x00\x00\x01"
    # an empty array has ndim 0 and no dimensions
    assert R.array_of(R.INT8).defn.send([]) == struct.pack("!iii", 0, 0, 20)
    assert R.array_of(R.INT8).defn.recv(struct.pack("!iii", 0, 0, 20), -1) == []
    # pgvector: int16 dim, int16 unused, float4 big-endian values
    v = np.array([1, 2.5], np.float32)
    assert R.VECTOR.defn.send(v) == struct.pack("!hhff", 2, 0, 1.0, 2.5)
    assert R.HALFVEC.defn.send(v.astype(np.float16)) == struct.pack("!hhee", 2, 0, 1.0, 2.5)
    sv = SparseVector(5, [0, 2], [1.5, 2])
    assert R.SPARSEVEC.defn.send(sv) == struct.pack("!iiiiiff", 5, 2, 0, 0, 2, 1.5, 2.0)
    assert R.SPARSEVEC.defn.recv(R.SPARSEVEC.defn.send(sv), -1) == sv
    assert R.VARBIT.defn.send(BitString.from_str("101")) == b"\x00\x00\x00\x03\xa0"
    assert R.VARBIT.defn.recv(b"\x00\x00\x00\x03\xa0", -1) == BitString.from_str("101")
    back = R.VECTOR.defn.recv(R.VECTOR.defn.send(v), 2)
    assert back.dtype == np.float32 and back.tolist() == [1.0, 2.5]


def test_recv_errors():
    with pytest.raises(errors.DataException, match="expected 3 dimensions, not 2"):
        R.VECTOR.defn.recv(struct.pack("!hhff", 2, 0, 1, 2), 3)
    with pytest.raises(errors.DataException, match="expected unused to be 0, not 1"):
        R.VECTOR.defn.recv(struct.pack("!hhf", 1, 1, 1), -1)
    with pytest.raises(errors.DataException, match="NaN not allowed in vector"):
        R.VECTOR.defn.recv(struct.pack("!hhf", 1, 0, float("nan")), -1)
    with pytest.raises(errors.DataException, match="cannot contain zero values"):
        R.SPARSEVEC.defn.recv(struct.pack("!iiiif", 3, 1, 0, 0, 0.0), -1)
    with pytest.raises(errors.DataException, match="ascending order"):
        R.SPARSEVEC.defn.recv(struct.pack("!iiiiiff", 3, 2, 0, 2, 1, 1, 1), -1)
    with pytest.raises(errors.NumericValueOutOfRange):
        R.NUMERIC.defn.recv(R.NUMERIC.defn.send(Decimal("123.4")), R.numeric(3, 1).typmod)
