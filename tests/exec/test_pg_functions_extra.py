"""Functions added to close the SQL-suite gaps; expected values come from PostgreSQL 16.2
(pgvector 0.6.2 for vector distances) run by hand, or from the PostgreSQL documentation."""

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from sqlvec import errors
from sqlvec.exec.functions import pgvmath
from sqlvec.types import registry as T
from sqlvec.types.arrow import to_arrow
from sqlvec.types.values import Interval

VL = pa.list_(pa.float32())
IV = T.type_by_name("interval")
INT_ARR = T.array_of(T.INT4)
JB = T.JSONB


def test_distances_are_float4_sums(fn, op):
    a, b = pa.scalar([0.1, 0.2], VL), pa.scalar([0.3, 0.5], VL)
    assert fn("l2_distance", [T.VECTOR, T.VECTOR], a, b) == 0.36055514159804963
    assert fn("inner_product", [T.VECTOR, T.VECTOR], a, b) == 0.12999999523162842
    assert fn("cosine_distance", [T.VECTOR, T.VECTOR], a, b) == 0.0029455637425352954
    assert op("<+>", T.VECTOR, T.VECTOR, a, b) == 0.5
    big, neg = pa.scalar([3e38], VL), pa.scalar([-3e38], VL)
    assert fn("l2_distance", [T.VECTOR, T.VECTOR], big, neg) == math.inf
    assert fn("l1_distance", [T.VECTOR, T.VECTOR], big, neg) == math.inf
    assert fn("inner_product", [T.VECTOR, T.VECTOR], big, big) == math.inf
    assert math.isnan(fn("cosine_distance", [T.VECTOR, T.VECTOR], big, big))
    # sqlglot's CosineDistance class resolves under its key
    assert fn("cosinedistance", [T.VECTOR, T.VECTOR], a, b) == 0.0029455637425352954


def test_sparse_sums_follow_index_order():
    # one row: a = {1:0.1, 3:0.2}, b = {2:0.3, 3:0.5}
    rows = np.zeros(2, np.int64)
    res = pgvmath.sparse(rows, np.array([0, 2]), np.array([0.1, 0.2]),
                         rows, np.array([1, 2]), np.array([0.3, 0.5]), 1, "l2")
    want = np.float32(0)
    for term in (np.float32(0.1) ** 2, np.float32(0.3) ** 2,
                 (np.float32(0.2) - np.float32(0.5)) ** 2):
        want = np.float32(np.float64(want) + np.float64(term))
    assert res[0] == pytest.approx(math.sqrt(want), rel=1e-7)


def test_float_min_max_treat_nan_as_largest(agg):
    vals, _ = agg("max", [T.FLOAT8], [pa.array([1.0, math.nan, -1.0, 2.0])], [0, 0, 0, 1], 2)
    assert math.isnan(vals[0]) and vals[1] == 2.0
    vals, _ = agg("min", [T.FLOAT8], [pa.array([1.0, math.nan, math.nan])], [0, 0, 1], 2)
    assert vals[0] == 1.0 and math.isnan(vals[1])


def test_count_distinct_vectors(agg):
    col = pa.array([[1, 2], [1, 2], [2, 1], None], VL)
    assert agg("count", [T.VECTOR], [col], [0, 0, 0, 0], 1, distinct=True)[0] == [2]


def test_arrays(fn, op):
    arr = to_arrow([[1, 2, 1], [], None], INT_ARR)
    assert fn("array_length", [INT_ARR, T.INT4], arr, pa.scalar(1, pa.int32())) == [3, None,
                                                                                   None]
    assert fn("cardinality", [INT_ARR], arr) == [3, 0, None]
    assert fn("array_positions", [INT_ARR, T.INT4], arr, pa.scalar(1, pa.int32())) == [
        [1, 3], [], None]
    assert fn("array_replace", [INT_ARR, T.INT4, T.INT4], arr, pa.scalar(1, pa.int32()),
              pa.scalar(9, pa.int32())) == [[9, 2, 9], [], None]
    assert fn("__array_subscript", [INT_ARR, T.INT4], arr, pa.scalar(2, pa.int32())) == [
        2, None, None]
    assert fn("__array_slice", [INT_ARR, T.INT4, T.INT4], arr, pa.scalar(2, pa.int32()),
              pa.scalar(None, pa.int32())) == [[2, 1], [], None]
    assert fn("array_fill", [T.INT4, INT_ARR], pa.scalar(7, pa.int32()),
              to_arrow([[3]], INT_ARR)[0]) == [7, 7, 7]
    one_null, one_two = to_arrow([[1, None]], INT_ARR)[0], to_arrow([[1, 2]], INT_ARR)[0]
    assert op("<", INT_ARR, INT_ARR, one_null, one_two) is False  # NULL sorts last
    assert op("@>", INT_ARR, INT_ARR, one_two, to_arrow([[2]], INT_ARR)[0]) is True
    assert op("&&", INT_ARR, INT_ARR, one_null, to_arrow([[None]], INT_ARR)[0]) is False


def test_json_functions(fn, op):
    doc = pa.scalar('{"a": [1, 2.50, "x"], "b": 2}')
    assert op("->", JB, T.TEXT, doc, pa.scalar("a")) == '[1, 2.50, "x"]'
    assert op("->>", JB, T.TEXT, doc, pa.scalar("b")) == "2"
    assert op("#>>", JB, T.array_of(T.TEXT), doc, pa.scalar(["a", "2"])) == "x"
    assert op("->", JB, T.INT4, pa.scalar("[1, 2]"), pa.scalar(5, pa.int32())) is None
    assert op("?", JB, T.TEXT, pa.scalar('{"a": 1}'), pa.scalar("a")) is True
    assert op("-", JB, T.INT4, pa.scalar("[1, 2, 3]"), pa.scalar(1, pa.int32())) == "[1, 3]"
    assert op("#-", JB, T.array_of(T.TEXT), pa.scalar('{"a": {"b": 1}}'),
              pa.scalar(["a", "b"])) == '{"a": {}}'
    assert fn("jsonb_set", [JB, T.array_of(T.TEXT), JB], pa.scalar('{"a": [1, 2]}'),
              pa.scalar(["a", "1"]), pa.scalar("9")) == '{"a": [1, 9]}'
    assert fn("jsonb_insert", [JB, T.array_of(T.TEXT), JB], pa.scalar('{"a": [1, 2]}'),
              pa.scalar(["a", "0"]), pa.scalar("0")) == '{"a": [0, 1, 2]}'
    assert fn("jsonb_build_object", [T.TEXT, T.INT4, T.TEXT, T.TEXT], pa.scalar("k"),
              pa.scalar(1, pa.int32()), pa.scalar("l"), pa.scalar(None, pa.string())) == \
        '{"k": 1, "l": null}'
    assert fn("to_json", [INT_ARR], to_arrow([[1, 2]], INT_ARR)[0]) == "[1,2]"
    assert fn("jsonb_typeof", [JB], pa.scalar("1.5")) == "number"
    with pytest.raises(errors.InvalidParameterValue, match="cannot get array length of a "
                       "scalar"):
        fn("jsonb_array_length", [JB], pa.scalar("1"))


def test_intervals(fn, agg):
    def iv(*a):
        return to_arrow([Interval(*a)], IV)[0]

    us_h = 3_600_000_000
    assert fn("justify_hours", [IV], iv(0, 0, 36 * us_h)) == \
        to_arrow([Interval(0, 1, 12 * us_h)], IV)[0].as_py()
    assert fn("justify_days", [IV], iv(0, 45, 0)) == to_arrow([Interval(1, 15, 0)], IV)[0].as_py()
    assert fn("justify_interval", [IV], iv(1, 0, -us_h)) == \
        to_arrow([Interval(0, 29, 23 * us_h)], IV)[0].as_py()
    col = to_arrow([Interval(0, 1, 0), Interval(0, 2, us_h), Interval(1, 0, 0)], IV)
    avg, ret = agg("avg", [IV], [col], [0, 0, 0], 1)
    assert str(ret) == "interval"
    assert avg == to_arrow([Interval(0, 11, 20 * 60_000_000)], IV).to_pylist()


def test_formatting(fn):
    ts = pa.scalar(dt.datetime(2024, 2, 29, 13, 45, 10, 500000), pa.timestamp("us"))
    assert fn("to_char", [T.type_by_name("timestamp"), T.TEXT], ts,
              pa.scalar("FMMonth DD, YYYY HH12:MI:SS.MS AM Dy")) == \
        "February 29, 2024 01:45:10.500 PM Thu"
    cases = [(12.5, "999.99", "  12.50"), (-5, "S999", "  -5"), (1485, "9,999", " 1,485"),
             (12345, "999", " ###"), (0.5, "9.99", "  .50"), (3.14159, "FM999.999", "3.142")]
    for value, pattern, want in cases:
        assert fn("to_char", [T.FLOAT8, T.TEXT], pa.scalar(float(value)),
                  pa.scalar(pattern)) == want


def test_bytea_and_misc(fn):
    raw = pa.scalar(b"\x00\xab\\", pa.binary())
    assert fn("encode", [T.BYTEA, T.TEXT], raw, pa.scalar("escape")) == "\\000\\253\\\\"
    assert fn("encode", [T.BYTEA, T.TEXT], pa.scalar(b"hello"), pa.scalar("base64")) == \
        "aGVsbG8="
    assert fn("decode", [T.TEXT, T.TEXT], pa.scalar("68656c6c6f"), pa.scalar("hex")) == b"hello"
    assert fn("get_byte", [T.BYTEA, T.INT4], pa.scalar(b"\x01\x02"), pa.scalar(1, pa.int32())) == 2
    with pytest.raises(errors.Error, match=r"index 2 out of valid range, 0\.\.1"):
        fn("get_byte", [T.BYTEA, T.INT4], pa.scalar(b"\x01\x02"), pa.scalar(2, pa.int32()))
    n = T.NUMERIC
    assert fn("width_bucket", [n, n, n, T.INT4], pa.scalar("5.35"), pa.scalar("0.024"),
              pa.scalar("10.06"), pa.scalar(5, pa.int32())) == 3
    assert fn("width_bucket", [T.FLOAT8, T.FLOAT8, T.FLOAT8, T.INT4], pa.scalar(-1.0),
              pa.scalar(0.0), pa.scalar(10.0), pa.scalar(5, pa.int32())) == 0
