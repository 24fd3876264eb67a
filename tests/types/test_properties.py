"""Hypothesis round trips: text and binary for numbers, text and vectors."""

import math
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlvec.types import registry as R
from sqlvec.types.arrow import from_arrow, text_out_array, to_arrow

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def text_rt(t, v):
    return t.defn.text_in(t.defn.text_out(v), t.typmod)


@given(st.floats(allow_nan=False))
def test_float8(v):
    assert text_rt(R.FLOAT8, v) == v
    assert R.FLOAT8.defn.recv(R.FLOAT8.defn.send(v)) == v
    assert text_out_array(to_arrow([v], R.FLOAT8), R.FLOAT8) == [R.FLOAT8.defn.text_out(v)]


@given(finite32)
def test_float4(v):
    assert text_rt(R.FLOAT4, v) == v
    out = R.FLOAT4.defn.text_out(v)
    assert len(out.lstrip("-").replace(".", "").split("e")[0].strip("0")) <= 9


@given(st.integers(-(2**63), 2**63 - 1))
def test_int8(v):
    assert text_rt(R.INT8, v) == v and R.INT8.defn.recv(R.INT8.defn.send(v)) == v


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_numeric(v):
    assert text_rt(R.NUMERIC, v) == v
    assert R.NUMERIC.defn.recv(R.NUMERIC.defn.send(v)) == v


@given(st.text(alphabet=st.characters(blacklist_characters="\x00")))
def test_text_and_arrays(s):
    assert text_rt(R.TEXT, s) == s
    arr = R.array_of(R.TEXT)
    assert text_rt(arr, [s, None, s]) == [s, None, s]


@settings(max_examples=50)
@given(st.lists(finite32, min_size=1, max_size=40))
def test_vector(values):
    v = np.array(values, dtype=np.float32)
    assert np.array_equal(text_rt(R.VECTOR, v), v)
    assert np.array_equal(R.VECTOR.defn.recv(R.VECTOR.defn.send(v), len(v)), v)
    col = to_arrow([v, None], R.vector(len(v)))
    assert np.array_equal(from_arrow(col, R.vector(len(v)))[0], v)
    assert text_out_array(col, R.vector(len(v)))[0] == R.VECTOR.defn.text_out(v)
    with np.errstate(over="ignore"):
        h = v.astype(np.float16)
    if np.isfinite(h).all():
        assert np.array_equal(text_rt(R.HALFVEC, h), h)
    sv = R.SPARSEVEC.defn.text_in(R.SPARSEVEC.defn.text_out(
        R.SPARSEVEC.defn.text_in(f"{{}}/{len(v)}", -1)), -1)
    assert sv.dim == len(v) and math.isfinite(float(Decimal(1)))
