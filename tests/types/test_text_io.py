"""Text input/output against PostgreSQL 16 / pgvector 0.8 output strings (psql, regression)."""

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import pytest

from sqlvec import errors
from sqlvec.types import registry as R
from sqlvec.types.values import BitString, Interval, SparseVector


def roundtrip(t, text):
    return t.defn.text_out(t.defn.text_in(text, t.typmod))


@pytest.mark.parametrize(
    "t,text,out",
    [
        (R.BOOL, " YES ", "t"), (R.BOOL, "of", "f"), (R.BOOL, "1", "t"), (R.BOOL, "false", "f"),
        (R.INT4, "  12 ", "12"), (R.INT4, "-2147483648", "-2147483648"), (R.INT2, "0x1F", "31"),
        (R.INT8, "1_000", "1000"),
        (R.FLOAT8, "1e3", "1000"), (R.FLOAT8, "1.1", "1.1"), (R.FLOAT8, "1e-5", "1e-05"),
        (R.FLOAT8, "1e15", "1e+15"), (R.FLOAT8, "123456789012345", "123456789012345"),
        (R.FLOAT8, "0.0001", "0.0001"), (R.FLOAT8, "nan", "NaN"), (R.FLOAT8, "-inf", "-Infinity"),
        (R.FLOAT8, "-0", "-0"), (R.FLOAT4, "1e6", "1e+06"), (R.FLOAT4, "123456", "123456"),
        (R.FLOAT4, "123456789", "1.2345679e+08"), (R.FLOAT4, "1.1", "1.1"),
        (R.FLOAT4, "Infinity", "Infinity"), (R.FLOAT8, "1000000", "1000000"),
        (R.NUMERIC, "1.50", "1.50"), (R.NUMERIC, "1e3", "1000"), (R.NUMERIC, "-0.00", "0.00"),
        (R.NUMERIC, " NaN ", "NaN"), (R.numeric(5, 2), "1.005", "1.01"),
        (R.numeric(5, 2), "-1.005", "-1.01"), (R.NUMERIC, "1.5e-3", "0.0015"),
        (R.TEXT, " a b ", " a b "), (R.varchar(3), "ab   ", "ab "), (R.bpchar(4), "ab", "ab  "),
        (R.BYTEA, "\\xDEADbeef", "\\xdeadbeef"), (R.BYTEA, "abc", "\\x616263"),
        (R.BYTEA, "a\\\\b\\001", "\\x615c6201"),
        (R.UUID, "{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (R.UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (R.DATE, "2024-01-02", "2024-01-02"), (R.DATE, "infinity", "infinity"),
        (R.TIME, "01:02", "01:02:00"), (R.TIME, "01:02:03.5", "01:02:03.5"),
        (R.TIMESTAMP, "2024-01-02T03:04:05.120", "2024-01-02 03:04:05.12"),
        (R.TIMESTAMP, "2024-01-02", "2024-01-02 00:00:00"),
        (R.TIMESTAMPTZ, "2024-01-02 03:04:05", "2024-01-02 03:04:05+00"),
        (R.TIMESTAMPTZ, "2024-01-02 05:04:05+02", "2024-01-02 03:04:05+00"),
        (R.TIMESTAMPTZ, "2024-01-01 22:34:05-04:30", "2024-01-02 03:04:05+00"),
        (R.TIMESTAMPTZ, "-infinity", "-infinity"),
        (R.INTERVAL, "1 year 2 months 3 days 4 hours 5 minutes 6 seconds",
         "1 year 2 mons 3 days 04:05:06"),
        (R.INTERVAL, "1 day 2 hours", "1 day 02:00:00"), (R.INTERVAL, "P1D", "1 day"),
        (R.INTERVAL, "P1Y2M3DT4H5M6S", "1 year 2 mons 3 days 04:05:06"),
        (R.INTERVAL, "01:02:03", "01:02:03"), (R.INTERVAL, "2 mons", "2 mons"),
        (R.INTERVAL, "0", "00:00:00"), (R.INTERVAL, "-1 days 2 hours", "-1 days +02:00:00"),
        (R.INTERVAL, "1.5 months", "1 mon 15 days"), (R.INTERVAL, "1 day ago", "-1 days"),
        (R.INTERVAL, "1.5 seconds", "00:00:01.5"), (R.INTERVAL, "1 week", "7 days"),
        (R.JSON, '{"b": 1,  "a":2}', '{"b": 1,  "a":2}'),
        (R.JSONB, '{"b": [1,2], "a": 1, "aa": 1.50, "a": 3}', '{"a": 3, "b": [1, 2], "aa": 1.50}'),
        (R.JSONB, '"a\\u0001\\n"', '"a\\u0001\\n"'), (R.JSONB, "1e2", "100"),
        (R.array_of(R.INT4), "{1,2,NULL}", "{1,2,NULL}"),
        (R.array_of(R.INT4), " { 1 , 2 } ", "{1,2}"), (R.array_of(R.INT4), "{}", "{}"),
        (R.array_of(R.TEXT), '{a,"b c","",NULL,"null","x\\"y","{}"}',
         '{a,"b c","",NULL,"null","x\\"y","{}"}'),
        (R.array_of(R.VECTOR), '{"[1,2,3]", "[4,5,6]"}', '{"[1,2,3]","[4,5,6]"}'),
        (R.VECTOR, " [ 1,  2 ,    3  ] ", "[1,2,3]"), (R.VECTOR, "[1.,2.,3.]", "[1,2,3]"),
        (R.VECTOR, "[1.23456]", "[1.23456]"), (R.VECTOR, "[1.5e38,-1.5e38]", "[1.5e+38,-1.5e+38]"),
        (R.VECTOR, "[1.5e-38,-1.5e-38]", "[1.5e-38,-1.5e-38]"), (R.vector(3), "[1,2,3]", "[1,2,3]"),
        (R.HALFVEC, "[1,2,3]", "[1,2,3]"), (R.HALFVEC, "[1.23456]", "[1.234375]"),
        (R.SPARSEVEC, " { 1 : 1.5 ,  3  :  3.5  } / 5 ", "{1:1.5,3:3.5}/5"),
        (R.SPARSEVEC, "{1:0,2:1,3:0}/3", "{2:1}/3"), (R.SPARSEVEC, "{}/5", "{}/5"),
        (R.SPARSEVEC, "{3:1,1:2}/3", "{1:2,3:1}/3"),
        (R.bit(4), "0101", "0101"), (R.VARBIT, "X1F", "00011111"), (R.VARBIT, "", ""),
    ],
)
def test_text_roundtrip(t, text, out):
    assert roundtrip(t, text) == out


@pytest.mark.parametrize(
    "t,text,cls,message",
    [
        (R.INT4, "abc", errors.InvalidTextRepresentation, 'invalid input syntax for type integer: "abc"'),
        (R.INT4, "99999999999", errors.NumericValueOutOfRange,
         'value "99999999999" is out of range for type integer'),
        (R.INT2, "1.5", errors.InvalidTextRepresentation, 'invalid input syntax for type smallint: "1.5"'),
        (R.INT8, "1e3", errors.InvalidTextRepresentation, 'invalid input syntax for type bigint: "1e3"'),
        (R.FLOAT8, "1e400", errors.NumericValueOutOfRange,
         '"1e400" is out of range for type double precision'),
        (R.FLOAT4, "1e39", errors.NumericValueOutOfRange, '"1e39" is out of range for type real'),
        (R.FLOAT8, "1_0", errors.InvalidTextRepresentation,
         'invalid input syntax for type double precision: "1_0"'),
        (R.NUMERIC, "x", errors.InvalidTextRepresentation, 'invalid input syntax for type numeric: "x"'),
        (R.numeric(3, 1), "100", errors.NumericValueOutOfRange, "numeric field overflow"),
        (R.BOOL, "x", errors.InvalidTextRepresentation, 'invalid input syntax for type boolean: "x"'),
        (R.BOOL, "o", errors.InvalidTextRepresentation, 'invalid input syntax for type boolean: "o"'),
        (R.UUID, "x", errors.InvalidTextRepresentation, 'invalid input syntax for type uuid: "x"'),
        (R.varchar(3), "abcd", errors.StringDataRightTruncation,
         "value too long for type character varying(3)"),
        (R.bpchar(2), "abc", errors.StringDataRightTruncation, "value too long for type character(2)"),
        (R.BYTEA, "\\xabc", errors.InvalidParameterValue, "invalid hexadecimal data: odd number of digits"),
        (R.BYTEA, "\\xzz", errors.InvalidParameterValue, 'invalid hexadecimal digit: "z"'),
        (R.JSON, '{"a":', errors.InvalidTextRepresentation, "invalid input syntax for type json"),
        (R.JSONB, "[1,x]", errors.InvalidTextRepresentation, "invalid input syntax for type json"),
        (R.DATE, "2024-13-01", errors.DatetimeFieldOverflow,
         'date/time field value out of range: "2024-13-01"'),
        (R.DATE, "soon", errors.InvalidDatetimeFormat, 'invalid input syntax for type date: "soon"'),
        (R.TIMESTAMP, "2024-01-02 25:00", errors.DatetimeFieldOverflow,
         'date/time field value out of range: "2024-01-02 25:00"'),
        (R.INTERVAL, "1 fortnight", errors.InvalidDatetimeFormat,
         'invalid input syntax for type interval: "1 fortnight"'),
        (R.VECTOR, "[1,2", errors.InvalidTextRepresentation, 'invalid input syntax for type vector: "[1,2"'),
        (R.VECTOR, "[hello,1]", errors.InvalidTextRepresentation,
         'invalid input syntax for type vector: "[hello,1]"'),
        (R.VECTOR, "[1,]", errors.InvalidTextRepresentation, 'invalid input syntax for type vector: "[1,]"'),
        (R.VECTOR, "[1,2,3]9", errors.InvalidTextRepresentation,
         'invalid input syntax for type vector: "[1,2,3]9"'),
        (R.VECTOR, "1,2,3", errors.InvalidTextRepresentation,
         'invalid input syntax for type vector: "1,2,3"'),
        (R.VECTOR, "[NaN,1]", errors.DataException, "NaN not allowed in vector"),
        (R.VECTOR, "[Infinity,1]", errors.DataException, "infinite value not allowed in vector"),
        (R.VECTOR, "[4e38,1]", errors.NumericValueOutOfRange, '"4e38" is out of range for type vector'),
        (R.VECTOR, "[]", errors.DataException, "vector must have at least 1 dimension"),
        (R.vector(3), "[1,2]", errors.DataException, "expected 3 dimensions, not 2"),
        (R.HALFVEC, "[70000]", errors.NumericValueOutOfRange, '"70000" is out of range for type halfvec'),
        (R.SPARSEVEC, "{1:1}/0", errors.DataException, "sparsevec must have at least 1 dimension"),
        (R.SPARSEVEC, "{2:1}/1", errors.DataException, "sparsevec index out of bounds (> dimensions)"),
        (R.SPARSEVEC, "{0:1}/1", errors.DataException, "sparsevec index out of bounds (< 1)"),
        (R.SPARSEVEC, "{1:1,1:2}/2", errors.DataException, "sparsevec indices must not contain duplicates"),
        (R.SPARSEVEC, "{1:1}", errors.InvalidTextRepresentation,
         'invalid input syntax for type sparsevec: "{1:1}"'),
        (R.sparsevec(2), "{}/1", errors.DataException, "expected 2 dimensions, not 1"),
        (R.bit(3), "0101", errors.DataException, "bit string length 4 does not match type bit(3)"),
        (R.VARBIT, "012", errors.InvalidTextRepresentation, '"2" is not a valid binary digit'),
        (R.array_of(R.INT4), "1,2", errors.InvalidTextRepresentation, 'malformed array literal: "1,2"'),
        (R.array_of(R.INT4), "{1,x}", errors.InvalidTextRepresentation,
         'invalid input syntax for type integer: "x"'),
    ],
)
def test_text_errors(t, text, cls, message):
    with pytest.raises(cls) as info:
        t.defn.text_in(text, t.typmod)
    assert info.value.message == message


def test_error_details_and_sqlstates():
    with pytest.raises(errors.InvalidTextRepresentation) as info:
        R.JSON.defn.text_in('{"a":', -1)
    assert info.value.sqlstate == "22P02"
    assert info.value.detail == "The input string ended unexpectedly."
    with pytest.raises(errors.Error) as info:
        R.VECTOR.defn.text_in("[NaN]", -1)
    assert info.value.sqlstate == "22000"
    with pytest.raises(errors.Error) as info:
        R.VECTOR.defn.text_in("[1,2,3]9", -1)
    assert info.value.detail == "Junk after closing right brace."
    with pytest.raises(errors.Error) as info:
        R.bit(3).defn.text_in("0", 3)
    assert info.value.sqlstate == "22026"
    with pytest.raises(errors.NumericValueOutOfRange) as info:
        R.numeric(3, 1).defn.text_in("100", R.numeric(3, 1).typmod)
    assert info.value.detail == (
        "A field with precision 3, scale 1 must round to an absolute value less than 10^2."
    )


def test_python_values():
    assert R.NUMERIC.defn.text_in("1.50", -1) == Decimal("1.50")
    assert R.UUID.defn.text_in("a0eebc999c0b4ef8bb6d6bb9bd380a11", -1) == uuid.UUID(
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    ts = R.TIMESTAMPTZ.defn.text_in("2024-01-02 03:04:05+01", -1)
    assert ts == dt.datetime(2024, 1, 2, 2, 4, 5, tzinfo=dt.UTC)
    v = R.VECTOR.defn.text_in("[1,2.5]", -1)
    assert v.dtype == np.float32 and v.tolist() == [1.0, 2.5]
    assert R.HALFVEC.defn.text_in("[1]", -1).dtype == np.float16
    sv = R.SPARSEVEC.defn.text_in("{1:1.5,3:2}/5", -1)
    assert sv == SparseVector(5, [0, 2], [1.5, 2])
    assert sv.to_dense().tolist() == [1.5, 0, 2, 0, 0]
    assert R.VARBIT.defn.text_in("0101", -1) == BitString.from_bools([0, 1, 0, 1])
    assert R.INTERVAL.defn.text_in("1 day 00:00:01", -1) == Interval(0, 1, 1_000_000)
    assert R.TIMESTAMP.defn.text_in("2024-01-02 03:04:05.1234567", 2) == dt.datetime(
        2024, 1, 2, 3, 4, 5, 120000)


def test_values_helpers():
    assert Interval(0, 1, 5).to_timedelta() == dt.timedelta(days=1, microseconds=5)
    assert Interval.from_timedelta(dt.timedelta(days=-1, seconds=5)) == Interval(0, -1, 5_000_000)
    with pytest.raises(ValueError):
        Interval(1, 0, 0).to_timedelta()
    assert Interval(1, 0, 0) > Interval(0, 40, 0)  # field order, not 30-day normalisation
    assert Interval(1, 0, 0).sort_key() < Interval(0, 40, 0).sort_key()
    assert len({Interval(1, 2, 3), Interval(1, 2, 3)}) == 1
    b = BitString.from_str("101")
    assert b.to_bools().tolist() == [True, False, True] and b.data == b"\xa0"
    assert BitString(3, b"\xff") == BitString(3, b"\xe0")  # pad bits are ignored
    sv = SparseVector.from_dense(np.array([0, 0, 3], dtype=np.float32))
    assert str(sv) == "{3:3}/3" and sv != SparseVector(3, [2], [4])
