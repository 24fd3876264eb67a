"""Aggregates: (args of length n, group ids, n_groups, distinct) -> one value per group.

Arrow's hash aggregation does the common cases (count, sum, avg, min, max, bool_and/or) in one
vectorised pass; exact numeric results (sum(bigint), avg(int), numeric inputs, variance of
integers) accumulate Python Decimals per group, since numeric has no fixed-width Arrow form.
array_agg and string_agg keep the input order within each group (a stable sort by group).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions import vecdata as V
from sqlvec.exec.functions.arith import decimals, numeric_div
from sqlvec.exec.functions.common import NUMERIC_CTX, numeric_out
from sqlvec.exec.functions.registry import AggOverload, type_named
from sqlvec.types.base import SqlType

INTS = ("smallint", "integer", "bigint")
FLOATS = ("real", "double precision")
ORDERED = ("smallint", "integer", "bigint", "real", "double precision", "text", "date",
           "time without time zone", "timestamp without time zone", "timestamp with time zone",
           "bytea", "character", "uuid", "oid")


def _scatter(groups: pa.Array, values: pa.Array, n_groups: int) -> pa.Array:
    """Values computed for the listed group ids, placed at their ids (missing -> NULL)."""
    pos = np.full(n_groups, -1, dtype=np.int64)
    pos[groups.to_numpy(zero_copy_only=False)] = np.arange(len(groups))
    return values.take(pa.array(pos, mask=pos < 0))


def _hash_key(arr: pa.Array) -> pa.Array:
    """A column Arrow can group by: nested values (vectors, arrays, sparsevec, bit) become the
    text of their Python value, which is equal exactly when the values are."""
    t = arr.type
    if pa.types.is_nested(t) or pa.types.is_dictionary(t):
        return pa.array([None if v is None else repr(v) for v in arr.to_pylist()], pa.string())
    return arr


def _dedupe(arr: pa.Array, gids: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """DISTINCT: one row per (group, value) pair (the first such row)."""
    t = pa.table({"g": gids, "x": _hash_key(arr), "i": np.arange(len(arr), dtype=np.int64)})
    t = t.group_by(["g", "x"], use_threads=False).aggregate([("i", "min")])
    idx = np.sort(t.column("i_min").to_numpy())
    return arr.take(pa.array(idx)), gids[idx]


def _float_minmax(fn: str):
    """min/max of real and double: PostgreSQL orders NaN above every number (float8_cmp), so
    max() is NaN when a group holds one, and min() only when it holds nothing else."""
    base = _hash(fn)

    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool) -> pa.Array:
        arr = args[0]
        vals = arr.to_numpy(zero_copy_only=False).astype(np.float64)
        nan = np.isnan(vals) & (np.asarray(arr.is_valid()) if arr.null_count else True)
        if not nan.any():
            return base(args, gids, n_groups, distinct)
        has_nan = np.bincount(gids[nan], minlength=n_groups) > 0
        rest = arr.filter(pa.array(~nan))
        res = base([rest], gids[~nan], n_groups, distinct)
        num = res.to_numpy(zero_copy_only=False).astype(np.float64)
        valid = np.asarray(res.is_valid())
        if fn == "max":
            num = np.where(has_nan, np.nan, num)
            valid = valid | has_nan
        else:
            num = np.where(valid, num, np.nan)
            valid = valid | has_nan
        return pa.array(num, type=arr.type, mask=~valid)

    return impl


def _hash(fn: str, options: pc.FunctionOptions | None = None, cast: str | None = None,
          out: str | None = None):
    """An aggregate computed by Arrow's hash_<fn>."""

    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool) -> pa.Array:
        arr = args[0]
        if cast is not None:
            arr = pc.cast(arr, type_named(cast).arrow_type())
        if distinct:
            arr, gids = _dedupe(arr, gids)
        t = pa.table({"g": gids, "x": arr}).group_by("g", use_threads=False).aggregate(
            [("x", fn, options)])
        res = _scatter(t.column("g").combine_chunks(), t.column(f"x_{fn}").combine_chunks(),
                       n_groups)
        return pc.cast(res, type_named(out).arrow_type()) if out else res

    return impl


def _count_star(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    return pa.array(np.bincount(gids, minlength=n_groups).astype(np.int64))


def _count(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool) -> pa.Array:
    arr = args[0]
    if distinct:
        arr, gids = _dedupe(arr, gids)
    valid = np.asarray(arr.is_valid()) if arr.null_count else np.ones(len(arr), bool)
    return pa.array(np.bincount(gids[valid], minlength=n_groups).astype(np.int64))


# ------------------------------------------------------- numpy paths for integers and floats
# Grouped sums over group ids in numpy: np.bincount adds each group's weights in row order
# (as PostgreSQL's float8pl accumulates, and bit-identical to Arrow's grouped sum), np.add.at
# adds integers exactly. DISTINCT and other types keep the general paths.


def _non_null(arr: pa.Array, gids: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        keep = np.asarray(arr.is_valid())
        return pc.fill_null(arr, 0).to_numpy(zero_copy_only=False)[keep].astype(dtype, copy=False), gids[keep]
    return arr.to_numpy(zero_copy_only=False).astype(dtype, copy=False), gids


def _float_sum(mean: bool):
    """sum(float8) / avg(float8, float4) in row order per group; NULL for groups without a
    non-NULL value."""
    general = _hash("mean", cast="double precision") if mean else _hash("sum", out="double precision")

    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool) -> pa.Array:
        t = args[0].type
        if distinct or not (t == pa.float64() or (mean and t == pa.float32())):
            return general(args, gids, n_groups, distinct)
        vals, g = _non_null(args[0], gids, np.float64)
        counts = np.bincount(g, minlength=n_groups)
        sums = np.bincount(g, weights=vals, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = sums / counts if mean else sums
        return pa.array(out, pa.float64(), mask=counts == 0)

    return impl


def _int_sums(arr: pa.Array, gids: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(exact int64 sum, count of non-NULL values) per group; None when an int64 sum could
    overflow (then the Decimal path adds without limit, as numeric does)."""
    vals, g = _non_null(arr, gids, np.int64)
    if len(vals) and max(-int(vals.min()), int(vals.max())) * len(vals) >= 2**63:
        return None
    sums = np.zeros(n_groups, np.int64)
    np.add.at(sums, g, vals)
    return sums, np.bincount(g, minlength=n_groups)


def _int_to_bigint_sum(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    """sum(smallint | integer) -> bigint (fewer than 2**32 rows cannot overflow it)."""
    if distinct:
        return _hash("sum", cast="bigint")(args, gids, n_groups, distinct)
    sums, counts = _int_sums(args[0], gids, n_groups)  # type: ignore[misc]
    return pa.array(sums, pa.int64(), mask=counts == 0)


def _int_numeric(avg: bool):
    """sum(bigint) -> numeric and avg(integers) -> numeric from exact int64 sums: one Decimal
    per group instead of one per row (same values: integer sums are exact in numeric)."""
    general = _numeric_agg(_davg if avg else _dsum)

    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        sc = None if distinct else _int_sums(args[0], gids, n_groups)
        if sc is None:
            return general(args, gids, n_groups, distinct)
        res: list[decimal.Decimal | None] = []
        for s, c in zip(sc[0].tolist(), sc[1].tolist()):
            if c == 0:
                res.append(None)
            else:
                res.append(numeric_div(decimal.Decimal(s), decimal.Decimal(c)) if avg else decimal.Decimal(s))
        return numeric_out(res, type_named("numeric"))

    return impl


# ------------------------------------------------------------------ exact (Decimal) paths


def _per_group(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    """Non-NULL Decimal values of each group (input order kept)."""
    arr = args[0]
    if distinct:
        arr, gids = _dedupe(arr, gids)
    vals = decimals(arr, len(arr))
    groups: list[list[decimal.Decimal]] = [[] for _ in range(n_groups)]
    for g, v in zip(gids.tolist(), vals):
        if v is not None:
            groups[g].append(v)
    return groups


def _numeric_agg(fn: Callable[[list[decimal.Decimal]], decimal.Decimal | None]):
    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        groups = _per_group(args, gids, n_groups, distinct)
        res = [fn(vs) if vs else None for vs in groups]
        return numeric_out(res, type_named("numeric"))

    return impl


def _dsum(vs: list[decimal.Decimal]) -> decimal.Decimal:
    total = decimal.Decimal(0)
    for v in vs:
        total = NUMERIC_CTX.add(total, v)
    return total


def _davg(vs: list[decimal.Decimal]) -> decimal.Decimal:
    return numeric_div(_dsum(vs), decimal.Decimal(len(vs)))


def _dvar(sample: bool, root: bool):
    """numeric_stddev_internal: (N*sum(x^2) - sum(x)^2) / (N*(N-1)) at select_div_scale."""

    def fn(vs: list[decimal.Decimal]) -> decimal.Decimal | None:
        n = len(vs)
        if sample and n < 2:
            return None
        s, s2 = _dsum(vs), _dsum([NUMERIC_CTX.multiply(v, v) for v in vs])
        num = NUMERIC_CTX.subtract(NUMERIC_CTX.multiply(decimal.Decimal(n), s2),
                                   NUMERIC_CTX.multiply(s, s))
        if num <= 0:
            return decimal.Decimal(0)
        den = decimal.Decimal(n * (n - 1) if sample else n * n)
        var = numeric_div(num, den)
        if not root:
            return var
        scale = -var.as_tuple().exponent  # type: ignore[operator]
        return var.sqrt(NUMERIC_CTX).quantize(decimal.Decimal(1).scaleb(-scale),
                                              context=NUMERIC_CTX)

    return fn


def _float_var(ddof: int, root: bool):
    fn = "stddev" if root else "variance"
    return _hash(fn, pc.VarianceOptions(ddof=ddof, min_count=ddof + 1), cast="double precision")


# --------------------------------------------------------------------- ordered collections


def _grouped_lists(arr: pa.Array, gids: np.ndarray, n_groups: int) -> pa.Array:
    """ListArray with one list per group (input order within a group); empty group -> NULL."""
    order = np.argsort(gids, kind="stable")
    counts = np.bincount(gids, minlength=n_groups)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = arr.take(pa.array(order))
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(counts == 0))


def _array_agg(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    arr = args[0]
    if distinct:  # DISTINCT sorts its values, as PostgreSQL's sort-based DISTINCT does
        arr, gids = _dedupe(arr, gids)
        order = pa.table({"g": gids, "x": arr}).sort_by([("g", "ascending"),
                                                          ("x", "ascending")])
        arr, gids = order.column("x").combine_chunks(), order.column("g").to_numpy()
    return _grouped_lists(arr, gids, n_groups)


def _string_agg(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
    arr, delim = args[0], args[1]
    if distinct:
        arr, gids = _dedupe(arr, gids)
    keep = np.asarray(arr.is_valid()) if arr.null_count else np.ones(len(arr), bool)
    arr, gids = arr.filter(pa.array(keep)), gids[keep]
    d = delim[0].as_py() if len(delim) else ","
    lists = _grouped_lists(arr, gids, n_groups)
    return pc.binary_join(lists, d if d is not None else "")


# ------------------------------------------------------------------------ vector sum / avg


def _vector_agg(avg: bool):
    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        arr = args[0]
        valid = np.asarray(arr.is_valid()) if arr.null_count else np.ones(len(arr), bool)
        dims = V.row_dims(arr, len(arr))[valid]
        if dims.size and np.any(dims != dims[0]):
            bad = int(dims[np.argmax(dims != dims[0])])
            # sum is vector_add (CheckDims); avg accumulates through vector_accum
            raise errors.DataException(f"expected {dims[0]} dimensions, not {bad}" if avg
                                       else f"different vector dimensions {dims[0]} and {bad}")
        value_t = arr.type.value_type
        # sum adds in float like vector_add; avg accumulates in double like vector_accum
        acc_t = np.float64 if avg else np.float32
        mat = V.dense_rows(arr.filter(pa.array(valid)), int(valid.sum())).astype(acc_t)
        g = gids[valid]
        dim = mat.shape[1] if mat.ndim == 2 else 0
        sums = np.zeros((n_groups, dim), acc_t)
        with np.errstate(over="ignore", invalid="ignore"):
            np.add.at(sums, g, mat)  # unbuffered, in row order
            counts = np.bincount(g, minlength=n_groups)
            out = sums / np.maximum(counts, 1)[:, None] if avg else sums
            narrow = out.astype(np.float32 if value_t == pa.float32() else np.float16)
        if np.any(np.isinf(narrow)):
            raise errors.NumericValueOutOfRange("value out of range: overflow")
        typ = pa.list_(value_t)
        return V.make_vectors(out.astype(value_t.to_pandas_dtype()), counts > 0, typ)

    return impl


def _same(ts: list[SqlType]) -> SqlType:
    return ts[0]


_SUM_RET = {"smallint": "bigint", "integer": "bigint", "bigint": "numeric", "real": "real",
            "double precision": "double precision", "numeric": "numeric",
            "interval": "interval"}
_VAR_FAMILY = {"stddev": (1, True), "stddev_samp": (1, True), "stddev_pop": (0, True),
               "variance": (1, False), "var_samp": (1, False), "var_pop": (0, False)}

AGGREGATES: list[AggOverload] = [
    AggOverload("count", (), "bigint", _count_star, empty_value=0),
    AggOverload("count", ("any",), "bigint", _count, empty_value=0),
    *(AggOverload("sum", (t,), "bigint", _int_to_bigint_sum) for t in INTS[:2]),
    AggOverload("sum", ("bigint",), "numeric", _int_numeric(avg=False)),
    AggOverload("sum", ("real",), "real", _hash("sum", out="real")),
    AggOverload("sum", ("double precision",), "double precision", _float_sum(mean=False)),
    AggOverload("sum", ("numeric",), "numeric", _numeric_agg(_dsum)),
    *(AggOverload("avg", (t,), "numeric", _int_numeric(avg=True)) for t in INTS),
    AggOverload("avg", ("numeric",), "numeric", _numeric_agg(_davg)),
    *(AggOverload("avg", (t,), "double precision", _float_sum(mean=True)) for t in FLOATS),
    *(AggOverload(fn, (t,), t, _float_minmax(fn) if t in FLOATS else _hash(fn))
      for fn in ("min", "max") for t in ORDERED),
    AggOverload("min", ("numeric",), "numeric", _numeric_agg(min)),
    AggOverload("max", ("numeric",), "numeric", _numeric_agg(max)),
    *(AggOverload(name, ("boolean",), "boolean",
                  _hash(fn, pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)))
      for name, fn in (("bool_and", "all"), ("every", "all"), ("bool_or", "any"))),
    AggOverload("array_agg", ("anynonarray",), lambda ts: _array_of(ts[0]), _array_agg),
    AggOverload("string_agg", ("text", "text"), "text", _string_agg),
    AggOverload("string_agg", ("bytea", "bytea"), "bytea", _string_agg),
    *(AggOverload(name, (t,), "double precision", _float_var(ddof, root))
      for name, (ddof, root) in _VAR_FAMILY.items() for t in FLOATS),
    *(AggOverload(name, (t,), "numeric", _numeric_agg(_dvar(ddof == 1, root)))
      for name, (ddof, root) in _VAR_FAMILY.items() for t in (*INTS, "numeric")),
    *(AggOverload(name, (t,), t, _vector_agg(name == "avg")) for name in ("sum", "avg")
      for t in ("vector", "halfvec")),
]


def _array_of(t: SqlType) -> SqlType:
    from sqlvec.types import registry as types

    return types.array_of(t)


__all__ = ["AGGREGATES", "_same"]
