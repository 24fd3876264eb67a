import math

import numpy as np
import pyarrow as pa
import pytest

from sqlvec import errors
from sqlvec.types import registry as T

V3 = pa.list_(pa.float32(), 3)
VL = pa.list_(pa.float32())


def vec(rows, typ=V3):
    return pa.array(rows, typ)


def test_distances_match_pgvector(op, fn):
    col = vec([[1, 2, 3], [0, 0, 0], None])
    q = pa.scalar([1, 1, 1], VL)
    assert op("<->", T.vector(3), T.vector(3), col, q)[:2] == pytest.approx([math.sqrt(5), math.sqrt(3)])
    assert op("<#>", T.vector(3), T.vector(3), col, q) == [-6.0, 0.0, None]
    cos = op("<=>", T.vector(3), T.vector(3), col, q)
    assert cos[0] == pytest.approx(1 - 6 / (math.sqrt(14) * math.sqrt(3))) and math.isnan(cos[1])
    assert op("<+>", T.vector(3), T.vector(3), col, q) == [3.0, 3.0, None]
    assert fn("inner_product", [T.VECTOR, T.VECTOR], col, q) == [6.0, 0.0, None]
    assert fn("vector_dims", [T.VECTOR], col) == [3, 3, None]
    assert fn("vector_norm", [T.VECTOR], col)[0] == pytest.approx(math.sqrt(14))


def test_dimension_errors(op):
    with pytest.raises(errors.DataException, match="^different vector dimensions 3 and 2$") as e:
        op("<->", T.vector(3), T.VECTOR, vec([[1, 2, 3]]), pa.scalar([1, 2], VL))
    assert e.value.sqlstate == "22000"


def test_ragged_list_column_row_wise(op):
    a = vec([[1, 2], [1, 2, 3]], VL)
    b = vec([[1, 3], [1, 2, 5]], VL)
    assert op("<->", T.VECTOR, T.VECTOR, a, b) == [1.0, 2.0]


def test_vector_arithmetic_and_compare(op, fn):
    a = vec([[1, 2, 3]])
    assert op("+", T.vector(3), T.vector(3), a, a) == [[2, 4, 6]]
    assert op("||", T.vector(3), T.vector(3), a, a) == [[1, 2, 3, 1, 2, 3]]
    assert op("<", T.vector(3), T.VECTOR, a, pa.scalar([1, 2, 4], VL)) == [True]
    assert op("<", T.VECTOR, T.VECTOR, pa.scalar([1, 2], VL), pa.scalar([1, 2, 0], VL)) is True
    with pytest.raises(errors.NumericValueOutOfRange, match="overflow"):
        op("*", T.VECTOR, T.VECTOR, pa.scalar([3e38], VL), pa.scalar([10], VL))
    assert fn("l2_normalize", [T.VECTOR], pa.scalar([3, 4], VL)) == pytest.approx([0.6, 0.8])
    assert fn("subvector", [T.VECTOR, T.INT4, T.INT4], a, pa.scalar(2, pa.int32()), pa.scalar(2, pa.int32())) == [[2, 3]]
    bits = fn("binary_quantize", [T.VECTOR], vec([[1, -1, 2]]))
    assert bits == [{"nbits": 3, "data": b"\xa0"}]


def test_bit_distances(op):
    bt = pa.struct([("nbits", pa.int32()), ("data", pa.binary())])
    a = pa.array([{"nbits": 4, "data": b"\xf0"}, {"nbits": 4, "data": b"\x00"}], bt)
    q = pa.scalar({"nbits": 4, "data": b"\xc0"}, bt)
    assert op("<~>", T.BIT, T.BIT, a, q) == [2.0, 2.0]
    assert op("<%>", T.BIT, T.BIT, a, q) == [0.5, 1.0]
    with pytest.raises(errors.DataException, match="different bit lengths 4 and 8"):
        op("<~>", T.BIT, T.BIT, a, pa.scalar({"nbits": 8, "data": b"\xc0"}, bt))


def test_sparse_distances(op):
    st = T.SPARSEVEC.arrow_type()
    a = pa.array([{"dim": 4, "indices": [0, 2], "values": [1.0, 2.0]},
                  {"dim": 4, "indices": [], "values": []}], st)
    q = pa.scalar({"dim": 4, "indices": [2, 3], "values": [1.0, 1.0]}, st)
    dense_a = np.array([[1, 0, 2, 0], [0, 0, 0, 0]], float)
    dense_q = np.array([0, 0, 1, 1], float)
    assert op("<->", T.SPARSEVEC, T.SPARSEVEC, a, q) == pytest.approx(
        list(np.sqrt(((dense_a - dense_q) ** 2).sum(1))))
    assert op("<#>", T.SPARSEVEC, T.SPARSEVEC, a, q) == [-2.0, 0.0]
    assert op("<+>", T.SPARSEVEC, T.SPARSEVEC, a, q) == [3.0, 2.0]


def test_aggregates_groups_nulls_distinct(agg):
    x = pa.array([1, 2, None, 2, 5], pa.int32())
    g = [0, 0, 1, 0, 2]
    assert agg("count", [], [], g, 4) == ([3, 1, 1, 0], agg("count", [], [], g, 4)[1])
    assert agg("count", [T.INT4], [x], g, 3)[0] == [3, 0, 1]
    assert agg("count", [T.INT4], [x], g, 3, distinct=True)[0] == [2, 0, 1]
    vals, ret = agg("sum", [T.INT4], [x], g, 3)
    assert vals == [5, None, 5] and str(ret) == "bigint"
    assert agg("sum", [T.INT4], [x], g, 3, distinct=True)[0] == [3, None, 5]
    vals, ret = agg("avg", [T.INT4], [x], g, 3)
    assert vals == ["1.6666666666666667", None, "5.0000000000000000"] and str(ret) == "numeric"
    vals, ret = agg("sum", [T.INT8], [pa.array([2**62, 2**62], pa.int64())], [0, 0], 1)
    assert vals == [str(2**63)] and str(ret) == "numeric"
    assert agg("max", [T.TEXT], [pa.array(["b", "a", None])], [0, 0, 0], 1)[0] == ["b"]
    assert agg("bool_and", [T.BOOL], [pa.array([True, None, False])], [0, 0, 1], 2)[0] == [True, False]
    assert agg("array_agg", [T.INT4], [pa.array([3, None, 1], pa.int32())], [0, 0, 0], 2)[0] == [[3, None, 1], None]
    assert agg("string_agg", [T.TEXT, T.TEXT], [pa.array(["a", None, "c"]), pa.array([",", ",", ","])],
               [0, 0, 0], 1)[0] == ["a,c"]
    vals, ret = agg("stddev", [T.FLOAT8], [pa.array([1.0, 2.0, 3.0, 4.0])], [0, 0, 0, 1], 2)
    assert vals == [1.0, None] and str(ret) == "double precision"
    assert agg("var_samp", [T.INT4], [pa.array([1, 2, 3, 4], pa.int32())], [0, 0, 0, 0], 1)[0] == ["1.6666666666666667"]
    vals, ret = agg("avg", [T.vector(3)], [vec([[1, 2, 3], [3, 4, 5], None])], [0, 0, 1], 2)
    assert vals == [[2, 3, 4], None] and ret.name == "vector"
    # sum is vector_add (CheckDims), avg is vector_accum (CheckExpectedDim)
    with pytest.raises(errors.DataException, match="different vector dimensions 2 and 3"):
        agg("sum", [T.VECTOR], [vec([[1, 2], [1, 2, 3]], VL)], [0, 0], 1)
    with pytest.raises(errors.DataException, match="expected 2 dimensions, not 3"):
        agg("avg", [T.VECTOR], [vec([[1, 2], [1, 2, 3]], VL)], [0, 0], 1)


def test_empty_values():
    from sqlvec.exec.functions import resolve_aggregate

    assert resolve_aggregate("count", [])[0].empty_value == 0
    assert resolve_aggregate("sum", [T.INT4])[0].empty_value is None
