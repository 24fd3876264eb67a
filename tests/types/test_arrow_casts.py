"""Arrow round trips, column text output, parameters, casts, registry look-ups."""

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from sqlvec import errors
from sqlvec.types import registry as R
from sqlvec.types.arrow import adapt_param, from_arrow, infer_param_type, text_out_array, to_arrow
from sqlvec.types.casts import cast_array, common_supertype, find_cast
from sqlvec.types.values import BitString, Interval, SparseVector

f32 = np.float32
ARROW_CASES = [
    (R.INT4, [1, None, 3]), (R.FLOAT8, [1.5, None]), (R.BOOL, [True, None]),
    (R.numeric(10, 2), [Decimal("1.50"), None]), (R.NUMERIC, [Decimal("1.500"), None]),
    (R.UUID, [uuid.uuid4(), None]), (R.INTERVAL, [Interval(1, 2, 3), None]),
    (R.TIMESTAMPTZ, [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), None]),
    (R.DATE, [dt.date(2024, 1, 2), dt.date.max, None]), (R.array_of(R.INT4), [[1, None], None, []]),
    (R.SPARSEVEC, [SparseVector(5, [0, 2], [1, 2]), None]),
    (R.VARBIT, [BitString.from_str("0101"), None]), (R.JSONB, ['{"a": 1}', None]),
]


@pytest.mark.parametrize("t,values", ARROW_CASES)
def test_arrow_roundtrip(t, values):
    arr = to_arrow(values, t)
    assert arr.type == t.arrow_type()
    assert from_arrow(pa.chunked_array([arr, arr]), t) == values + values
    expected = [None if v is None else t.defn.text_out(v) for v in values]
    assert text_out_array(arr, t) == expected


@pytest.mark.parametrize("t", [R.vector(3), R.VECTOR, R.halfvec(3)])
def test_vector_columns(t):
    dtype = np.float16 if t.oid == R.HALFVEC.oid else f32
    values = [np.array([1, 2.5, -3], dtype), None, np.array([1e-5, 0, 7], dtype)]
    arr = to_arrow(values, t)
    assert arr.type == t.arrow_type()
    back = from_arrow(arr, t)
    assert back[1] is None and back[0].dtype == dtype
    assert back[2].tolist() == values[2].tolist()
    back[0][0] = 9  # rows are writable
    assert text_out_array(arr, t)[:2] == ["[1,2.5,-3]", None]
    sliced = arr.slice(2)
    assert from_arrow(sliced, t)[0].tolist() == values[2].tolist()


def test_text_out_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000) * 10.0 ** rng.integers(-10, 25, 5000)
    arr = pa.array(x.tolist() + [None, float("nan"), float("inf")])
    scalar = [None if v is None else R.FLOAT8.defn.text_out(v) for v in arr.to_pylist()]
    assert text_out_array(arr, R.FLOAT8) == scalar
    assert text_out_array(pa.array([1e6, 123456.0], pa.float32()), R.FLOAT4) == ["1e+06", "123456"]


def test_adapt_and_infer():
    assert adapt_param([1, 2, 3], R.vector(3)).dtype == f32
    assert adapt_param("[1,2]", R.VECTOR).tolist() == [1, 2]
    assert adapt_param(3, R.FLOAT8) == 3.0
    assert adapt_param("  12 ", R.INT4) == 12
    assert adapt_param(2.5, R.INT4) == 3  # assignment float -> int
    assert adapt_param(dt.timedelta(days=1), R.INTERVAL) == Interval(0, 1, 0)
    assert adapt_param([1, None], R.array_of(R.INT8)) == [1, None]
    assert adapt_param({"b": 1, "a": 2}, R.JSONB) == '{"a": 2, "b": 1}'
    with pytest.raises(errors.DataException, match="expected 3 dimensions, not 2"):
        adapt_param([1, 2], R.vector(3))
    with pytest.raises(errors.DataException, match="NaN not allowed in vector"):
        adapt_param([float("nan")], R.VECTOR)
    with pytest.raises(errors.NumericValueOutOfRange, match="integer out of range"):
        adapt_param(2**31, R.INT4)
    assert infer_param_type(1) == R.INT2 and infer_param_type(40000) == R.INT4
    assert infer_param_type(2**40) == R.INT8 and infer_param_type(2**70) == R.NUMERIC
    assert infer_param_type("x") == R.UNKNOWN and infer_param_type(1.5) == R.FLOAT8
    assert infer_param_type(np.zeros(3, f32)) == R.VECTOR
    assert infer_param_type([1, 40000]) == R.array_of(R.INT4)
    assert infer_param_type(True) == R.BOOL


def test_registry():
    assert R.type_by_name("double precision") == R.FLOAT8 == R.type_by_name("float")
    assert R.type_by_name("Character  Varying") == R.VARCHAR
    assert R.type_by_name("_int4") == R.array_of(R.INT4) == R.type_by_oid(1007)
    assert R.type_by_name("bit varying") == R.VARBIT
    with pytest.raises(errors.UndefinedObject, match='type "nope" does not exist'):
        R.type_by_name("nope")
    assert [str(t) for t in (R.vector(3), R.varchar(10), R.numeric(10, 2), R.array_of(R.INT4),
                             R.TIMESTAMPTZ, R.bit(8), R.bpchar(2), R.BPCHAR)] == [
        "vector(3)", "character varying(10)", "numeric(10,2)", "integer[]",
        "timestamp with time zone", "bit(8)", "character(2)", "bpchar"]
    assert R.numeric(40, 2).arrow_type() == pa.decimal256(40, 2)
    for bad, msg in [(lambda: R.vector(16001), "dimensions for type vector cannot exceed 16000"),
                     (lambda: R.halfvec(0), "dimensions for type halfvec must be at least 1"),
                     (lambda: R.varchar(0), "length for type varchar must be at least 1"),
                     (lambda: R.numeric(0), "NUMERIC precision 0 must be between 1 and 1000")]:
        with pytest.raises(errors.InvalidParameterValue) as info:
            bad()
        assert info.value.message == msg


@pytest.mark.parametrize("sql,expected", [
    ("vector(3)", "vector(3)"), ("halfvec(2)", "halfvec(2)"), ("sparsevec", "sparsevec"),
    ("varbit", "bit varying"), ("int[]", "integer[]"), ("char", "character(1)"),
    ("float(10)", "real"), ("numeric(10,2)", "numeric(10,2)"), ("bytea", "bytea"),
    ("timestamp(3)", "timestamp(3) without time zone"),
])
def test_from_sqlglot(sql, expected):
    dt_ = sqlglot.parse_one(f"select x::{sql}", read="postgres").find(sqlglot.exp.DataType)
    assert str(R.from_sqlglot(dt_)) == expected


def test_find_cast_contexts():
    assert find_cast(R.INT4, R.INT8).context == "i"
    assert find_cast(R.INT8, R.INT4).context == "a"
    assert find_cast(R.TEXT, R.VECTOR).context == "e"
    assert find_cast(R.INT4, R.TEXT).context == "a"
    assert find_cast(R.array_of(R.FLOAT8), R.VECTOR).context == "a"
    assert find_cast(R.VECTOR, R.HALFVEC).context == "i"
    assert find_cast(R.UUID, R.INT4) is None


def test_cast_array():
    assert cast_array(pa.array([1.5, 2.5, -2.5, None]), R.FLOAT8, R.INT4).to_pylist() == [
        2, 2, -2, None]  # rint: half to even
    n = to_arrow([Decimal("2.5"), Decimal("-2.5")], R.NUMERIC)
    assert cast_array(n, R.NUMERIC, R.INT4).to_pylist() == [3, -3]
    with pytest.raises(errors.NumericValueOutOfRange, match="smallint out of range"):
        cast_array(pa.array([40000], pa.int32()), R.INT4, R.INT2)
    with pytest.raises(errors.NumericValueOutOfRange, match="integer out of range"):
        cast_array(pa.array([3e9]), R.FLOAT8, R.INT4)
    assert cast_array(pa.array(["abcd"]), R.TEXT, R.varchar(3), explicit=True).to_pylist() == ["abc"]
    with pytest.raises(errors.StringDataRightTruncation):
        cast_array(pa.array(["abcd"]), R.TEXT, R.varchar(3))
    assert cast_array(pa.array(["ab"]), R.TEXT, R.bpchar(4)).to_pylist() == ["ab  "]
    v = to_arrow([np.array([1, 2], f32)], R.VECTOR)
    with pytest.raises(errors.DataException, match="expected 3 dimensions, not 2"):
        cast_array(v, R.VECTOR, R.vector(3))
    assert cast_array(v, R.VECTOR, R.vector(2)).type == R.vector(2).arrow_type()
    arr = to_arrow([[1, 2, 3]], R.array_of(R.INT4))
    assert from_arrow(cast_array(arr, R.array_of(R.INT4), R.vector(3)), R.vector(3))[0].tolist() == [1, 2, 3]
    assert text_out_array(cast_array(v, R.VECTOR, R.SPARSEVEC), R.SPARSEVEC) == ["{1:1,2:2}/2"]
    assert cast_array(pa.array(["12", " 7 "]), R.TEXT, R.INT4, explicit=True).to_pylist() == [12, 7]
    with pytest.raises(errors.CannotCoerce):
        cast_array(pa.array(["12"]), R.TEXT, R.INT4)
    assert cast_array(pa.array([0.1, 1.23456789012345678]), R.FLOAT8, R.NUMERIC).to_pylist() == [
        "0.1", "1.23456789012346"]  # DBL_DIG digits, stored as canonical text
    with pytest.raises(errors.NumericValueOutOfRange, match="value out of range: overflow"):
        cast_array(pa.array([1e300]), R.FLOAT8, R.FLOAT4)


def test_common_supertype():
    assert common_supertype([R.INT4, R.NUMERIC, R.UNKNOWN]) == R.NUMERIC
    assert common_supertype([R.UNKNOWN, R.UNKNOWN]) == R.TEXT
    assert common_supertype([R.INT4, R.FLOAT4]) == R.FLOAT4
    assert common_supertype([R.INT8, R.FLOAT8, R.INT4]) == R.FLOAT8
    assert common_supertype([R.DATE, R.TIMESTAMPTZ]) == R.TIMESTAMPTZ
    assert common_supertype([R.vector(3), R.vector(3)]) == R.vector(3)
    with pytest.raises(errors.DatatypeMismatch, match="UNION types integer and text cannot be matched"):
        common_supertype([R.INT4, R.TEXT])
