"""pgvector 0.8 functions and operators on vector, halfvec, sparsevec and bit.

Distance values are computed as pgvector computes them (float4 sums widened to double, see
pgvmath.py): a column against a constant is one matrix pass, two columns are compared row-wise.
A list-typed column (vector without typmod) whose rows differ in length is split by length
and each part computed as a matrix. Errors use pgvector's words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec import kernels
from sqlvec.exec.functions import pgvmath
from sqlvec.exec.functions import vecdata as V
from sqlvec.exec.functions.common import (
    Datum,
    all_scalar,
    finish,
    from_numpy,
    length,
    numpy_values,
    valid_mask,
)
from sqlvec.exec.functions.registry import Overload, type_named
from sqlvec.types.base import SqlType

DENSE = ("vector", "halfvec")
_METRIC_OPS = {"<->": "l2", "<#>": "ip", "<=>": "cosine", "<+>": "l1"}
_METRIC_FNS = {"l2_distance": "l2", "inner_product": "dot", "cosine_distance": "cosine",
               "l1_distance": "l1"}


def _null_result(args: list[Datum], m: int, typ: pa.DataType) -> Datum | None:
    """All-NULL result when a constant argument is NULL (strict functions)."""
    if any(isinstance(a, pa.Scalar) and not a.is_valid for a in args):
        return pa.scalar(None, typ) if all_scalar(args) else pa.nulls(m, typ)
    return None


def by_dims(fn: Callable[[list[Datum], int], np.ndarray], args: list[Datum], m: int) -> np.ndarray:
    """fn over rows of equal dimension: the whole input, or each length group of a ragged
    list column (gathered with take, results scattered back)."""
    try:
        return fn(args, m)
    except ValueError as exc:
        if str(exc) != "ragged":
            raise
    col = next(a for a in args if not isinstance(a, pa.Scalar))
    dims = V.row_dims(col, m)
    out: np.ndarray | None = None
    for dim in np.unique(dims):
        rows = np.flatnonzero(dims == dim)
        idx = pa.array(rows)
        part = fn([a if isinstance(a, pa.Scalar) else a.take(idx) for a in args], rows.size)
        if out is None:
            out = np.zeros(m, dtype=part.dtype) if part.ndim == 1 else None
        if out is None:
            raise ValueError("ragged")
        out[rows] = part
    return out if out is not None else np.zeros(m)


# ----------------------------------------------------------------------------- distances


def _dense_dist(metric: str, what: str):
    def compute(args: list[Datum], m: int) -> np.ndarray:
        a, b = args
        if isinstance(a, pa.Scalar) and not isinstance(b, pa.Scalar):
            a, b = b, a  # every metric is symmetric
        if isinstance(b, pa.Scalar):
            return pgvmath.dense(V.dense_rows(a, m), V.scalar_vec(b), metric)
        return pgvmath.dense(V.dense_rows(a, m), V.dense_rows(b, m), metric)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        null = _null_result(args, m, pa.float64())
        if null is not None:
            return null
        V.check_same_dims(args[0], args[1], m, what)
        ok = valid_mask(args, m)
        res = by_dims(compute, args, m)
        return finish(from_numpy(res, ok, pa.float64()), args)

    return impl


def _sparse_dist(metric: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        null = _null_result(args, m, pa.float64())
        if null is not None:
            return null
        ok = valid_mask(args, m)
        da, ra, ia, va = V.sparse_parts(args[0], m)
        db, rb, ib, vb = V.sparse_parts(args[1], m)
        bad = (da >= 0) & (db >= 0) & (da != db)
        if bad.any():
            i = int(np.argmax(bad))
            raise errors.DataException(f"different sparsevec dimensions {da[i]} and {db[i]}")
        res = pgvmath.sparse(ra, ia, va, rb, ib, vb, m, metric)
        return finish(from_numpy(res, ok, pa.float64()), args)

    return impl


def _bit_dist(metric: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        null = _null_result(args, m, pa.float64())
        if null is not None:
            return null
        ok = valid_mask(args, m)
        pa_, na = V.bit_rows(args[0], m)
        pb, nb = V.bit_rows(args[1], m)
        V.check_same_bits(na, nb)
        if isinstance(args[1], pa.Scalar) or isinstance(args[0], pa.Scalar):
            col, const = (pa_, pb[0]) if isinstance(args[1], pa.Scalar) else (pb, pa_[0])
            res = kernels.bit_distances(col, const, int(max(na.max(), nb.max())), metric)
        elif metric == "hamming":
            res = np.bitwise_count(pa_ ^ pb).sum(axis=1).astype(np.float64)
        else:
            both = np.bitwise_count(pa_ & pb).sum(axis=1).astype(np.float64)
            either = (np.bitwise_count(pa_).sum(axis=1) + np.bitwise_count(pb).sum(axis=1)
                      - both)
            with np.errstate(invalid="ignore", divide="ignore"):
                res = np.where(both == 0, 1.0, 1.0 - both / np.maximum(either, 1))
        return finish(from_numpy(res, ok, pa.float64()), args)

    return impl


# ------------------------------------------------------------------ element-wise and misc


def _out_type(t: SqlType) -> pa.DataType:
    return t.arrow_type()


def _elementwise(op: Callable[[np.ndarray, np.ndarray], np.ndarray], what: str, kind: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        out_t = _out_type(type_named(what))
        null = _null_result(args, m, out_t)
        if null is not None:
            return null
        V.check_same_dims(args[0], args[1], m, what)
        ok = valid_mask(args, m)
        a, b = V.dense_rows(args[0], m), V.dense_rows(args[1], m)
        with np.errstate(all="ignore"):
            res = op(a, b).astype(a.dtype)
        live = ok[:, None]
        if np.any(np.isinf(res) & live):
            raise errors.NumericValueOutOfRange("value out of range: overflow")
        if kind == "mul" and np.any((res == 0) & (a != 0) & (b != 0) & live):
            raise errors.NumericValueOutOfRange("value out of range: underflow")
        return finish(V.make_vectors(res, ok, out_t), args)

    return impl


def _concat(what: str):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        out_t = _out_type(type_named(what))
        null = _null_result(args, m, out_t)
        if null is not None:
            return null
        ok = valid_mask(args, m)
        a, b = V.dense_rows(args[0], m), V.dense_rows(args[1], m)
        V.check_dim_limit(a.shape[1] + b.shape[1], what)
        return finish(V.make_vectors(np.concatenate([a, b], axis=1), ok, out_t), args)

    return impl


def _dims(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    dims = V.row_dims(args[0], m)
    return finish(from_numpy(np.maximum(dims, 0).astype(np.int32), dims >= 0, pa.int32()), args)


def _norm(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    ok = valid_mask(args, m)
    if types[0].name == "sparsevec":
        _, rows, _, vals = V.sparse_parts(args[0], m)
        res = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=m)[:m])
    else:
        res = by_dims(lambda a, k: np.sqrt(
            np.square(V.dense_rows(a[0], k).astype(np.float64)).sum(axis=1)), args, m)
    return finish(from_numpy(res, ok, pa.float64()), args)


def _normalize(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    ok = valid_mask(args, m)
    t = types[0]
    if t.name == "sparsevec":
        return _sparse_normalize(args, t, m, ok)
    a = V.dense_rows(args[0], m).astype(np.float64)
    norms = np.sqrt(np.square(a).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(norms[:, None] > 0, a / norms[:, None], 0.0)  # zero stays zero
    dt = V.dense_rows(args[0], 0).dtype if m else np.float32
    return finish(V.make_vectors(res.astype(dt), ok, _out_type(t)), args)


def _sparse_normalize(args: list[Datum], t: SqlType, m: int, ok: np.ndarray) -> Datum:
    col = args[0] if not isinstance(args[0], pa.Scalar) else pa.array([args[0]])
    dims, rows, idx, vals = V.sparse_parts(col, len(col))
    norms = np.sqrt(np.bincount(rows, weights=vals * vals, minlength=len(col)))
    with np.errstate(invalid="ignore", divide="ignore"):
        newv = np.where(norms[rows] > 0, vals / norms[rows], 0.0).astype(np.float32)
    counts = np.bincount(rows, minlength=len(col))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    out = pa.StructArray.from_arrays(
        [pa.array(np.maximum(dims, 0), pa.int32()),
         pa.ListArray.from_arrays(offsets, pa.array(idx.astype(np.int32))),
         pa.ListArray.from_arrays(offsets, pa.array(newv))],
        fields=list(t.arrow_type()), mask=None if ok.all() else pa.array(~ok))
    return finish(out, args)


def _binary_quantize(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    ok = valid_mask(args, m)
    a = V.dense_rows(args[0], m)
    packed = np.packbits(a > 0, axis=1)  # bit strings are most significant bit first
    return finish(V.make_bits(packed, np.full(m, a.shape[1]), ok), args)


def _subvector(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    out_t = _out_type(type_named(types[0].name))
    null = _null_result(args, m, out_t)
    if null is not None:
        return null
    if not (isinstance(args[1], pa.Scalar) and isinstance(args[2], pa.Scalar)):
        raise errors.FeatureNotSupported("subvector with non-constant start or count")
    ok = valid_mask(args, m)
    a = V.dense_rows(args[0], m)
    dim, start, count = a.shape[1], int(args[1].as_py()), int(args[2].as_py())
    if count < 1:
        raise errors.DataException(f"{types[0].name} must have at least 1 dimension")
    end = dim + 1 if start > dim - count else start + count
    start = max(start, 1)
    if start > dim or end - start < 1:
        raise errors.DataException(f"{types[0].name} must have at least 1 dimension")
    return finish(V.make_vectors(a[:, start - 1 : end - 1], ok, out_t), args)


def _vector_to_float4(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pc.cast(args[0], pa.list_(pa.float32()))


OPERATORS: list[Overload] = [
    *(Overload(op, (t, t), "double precision", _dense_dist(metric, t))
      for op, metric in _METRIC_OPS.items() for t in DENSE),
    *(Overload(op, ("sparsevec", "sparsevec"), "double precision", _sparse_dist(metric))
      for op, metric in _METRIC_OPS.items()),
    Overload("<~>", ("bit", "bit"), "double precision", _bit_dist("hamming")),
    Overload("<%>", ("bit", "bit"), "double precision", _bit_dist("jaccard")),
    *(Overload(op, (t, t), t, _elementwise(fn, t, kind)) for t in DENSE
      for op, fn, kind in (("+", np.add, "add"), ("-", np.subtract, "sub"),
                           ("*", np.multiply, "mul"))),
    *(Overload("||", (t, t), t, _concat(t)) for t in DENSE),
]

FUNCTIONS: list[Overload] = [
    *(Overload(name, (t, t), "double precision", _dense_dist(metric, t))
      for name, metric in _METRIC_FNS.items() for t in DENSE),
    *(Overload(name, ("sparsevec", "sparsevec"), "double precision", _sparse_dist(metric))
      for name, metric in _METRIC_FNS.items()),
    Overload("hamming_distance", ("bit", "bit"), "double precision", _bit_dist("hamming")),
    Overload("jaccard_distance", ("bit", "bit"), "double precision", _bit_dist("jaccard")),
    *(Overload("vector_dims", (t,), "integer", _dims) for t in DENSE),
    Overload("vector_norm", ("vector",), "double precision", _norm),
    *(Overload("l2_norm", (t,), "double precision", _norm) for t in ("halfvec", "sparsevec")),
    *(Overload("l2_normalize", (t,), t, _normalize) for t in (*DENSE, "sparsevec")),
    *(Overload("binary_quantize", (t,), "bit", _binary_quantize) for t in DENSE),
    *(Overload("subvector", (t, "integer", "integer"), t, _subvector) for t in DENSE),
]

# sqlglot parses cosine_distance(a, b) into its own CosineDistance class (key
# "cosinedistance"); see registry._fill
ALIASES = {"cosinedistance": "cosine_distance"}

__all__ = ["ALIASES", "FUNCTIONS", "OPERATORS", "numpy_values"]
