"""The numpy paths of sum/avg (integers, float8) give the values of the general paths (Arrow's
grouped aggregation, per-row Decimals) and PostgreSQL's types: NULLs, empty groups, empty
input, NaN and infinities, sums past int64 (numeric), DISTINCT."""

from __future__ import annotations

import decimal

import numpy as np
import pyarrow as pa
import pytest

import sqlvec
from sqlvec.exec.functions import aggregates as A


def impl(name: str, arg: str):
    for o in A.AGGREGATES:
        if o.name == name and tuple(o.args) == (arg,):
            return o.impl
    raise LookupError(name)


GENERAL = {
    ("sum", "integer"): A._hash("sum", cast="bigint"),
    ("sum", "smallint"): A._hash("sum", cast="bigint"),
    ("sum", "bigint"): A._numeric_agg(A._dsum),
    ("avg", "integer"): A._numeric_agg(A._davg),
    ("avg", "bigint"): A._numeric_agg(A._davg),
    ("sum", "double precision"): A._hash("sum", out="double precision"),
    ("avg", "double precision"): A._hash("mean", cast="double precision"),
    ("avg", "real"): A._hash("mean", cast="double precision"),
}
ARROW = {"integer": pa.int32(), "smallint": pa.int16(), "bigint": pa.int64(),
         "double precision": pa.float64(), "real": pa.float32()}


def values(arg: str, rng: np.random.Generator, n: int) -> pa.Array:
    if arg in ("double precision", "real"):
        v = rng.normal(0, 1e6, n)
        v[rng.random(n) < 0.01] = np.nan
        v[rng.random(n) < 0.005] = np.inf
    elif arg == "smallint":
        v = rng.integers(-2**15, 2**15, n)
    elif arg == "integer":
        v = rng.integers(-2**31, 2**31, n)
    else:
        v = rng.integers(-2**40, 2**40, n)
    return pa.array(v, ARROW[arg], mask=rng.random(n) < 0.1)


def same(a: pa.Array, b: pa.Array) -> bool:
    if a.type != b.type or len(a) != len(b):
        return False
    for x, y in zip(a.to_pylist(), b.to_pylist()):
        if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
            continue
        if x != y:
            return False
    return True


@pytest.mark.parametrize("key", list(GENERAL), ids=lambda k: f"{k[0]}({k[1]})")
@pytest.mark.parametrize("n,groups", [(0, 1), (1, 1), (5000, 7), (5000, 40)])
def test_equals_general_path(key, n, groups):
    rng = np.random.default_rng(n + groups)
    arr = values(key[1], rng, n)
    gids = rng.integers(0, max(groups - 2, 1), n).astype(np.int64)  # the last groups stay empty
    for distinct in (False, True):
        got = impl(*key)([arr], gids, groups, distinct)
        want = GENERAL[key]([arr], gids, groups, distinct)
        assert same(got, want), key


def test_all_null_group_is_null():
    arr = pa.array([None, 2, None], pa.int32())
    out = impl("sum", "integer")([arr], np.array([0, 1, 0]), 2, False)
    assert out.to_pylist() == [None, 2]
    out = impl("avg", "double precision")([pa.array([None, 1.0, 2.0])], np.array([0, 1, 1]), 2, False)
    assert out.to_pylist() == [None, 1.5]


def test_bigint_sum_past_int64_is_exact_numeric():
    big = 2**62
    arr = pa.array([big, big, big, -5], pa.int64())
    out = impl("sum", "bigint")([arr], np.array([0, 0, 0, 1]), 2, False)
    got = [None if v is None else decimal.Decimal(str(v)) for v in out.to_pylist()]
    assert got == [decimal.Decimal(3 * big), decimal.Decimal(-5)]


def test_float_sum_adds_in_row_order():
    # 1e16 + 1 + 1 ... in row order stays 1e16; another order would not
    arr = pa.array([1e16] + [1.0] * 10 + [-1e16])
    out = impl("sum", "double precision")([arr], np.zeros(12, np.int64), 1, False)
    expected = 0.0
    for v in arr.to_pylist():
        expected += v
    assert out.to_pylist() == [expected]


def test_through_sql():
    c = sqlvec.connect(":memory:", autocommit=True)
    cur = c.cursor()
    cur.execute("CREATE TABLE t (g int, i int, b bigint, f float8)")
    cur.execute("INSERT INTO t VALUES (1, 2147483647, 9223372036854775807, 0.5), "
                "(1, 2147483647, 9223372036854775807, NULL), (2, NULL, NULL, 'NaN'), (3, -1, -1, 1)")
    cur.execute("SELECT g, sum(i), sum(b), avg(i), avg(f), sum(f) FROM t GROUP BY g ORDER BY g")
    assert cur.fetchall() == [
        (1, 4294967294, decimal.Decimal("18446744073709551614"), decimal.Decimal("2147483647.0000000000"), 0.5, 0.5),
        (2, None, None, None, pytest.approx(float("nan"), nan_ok=True), pytest.approx(float("nan"), nan_ok=True)),
        (3, -1, decimal.Decimal("-1"), decimal.Decimal("-1.00000000000000000000"), 1.0, 1.0),
    ]
    cur.execute("SELECT sum(i), avg(f), count(*) FROM t WHERE g > 10")
    assert cur.fetchall() == [(None, None, 0)]
