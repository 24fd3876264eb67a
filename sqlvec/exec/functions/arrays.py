"""Array functions and operators (one-dimensional arrays, lower bound 1).

Arrays are Arrow list columns; these functions work per row on the Python lists (see
pyrows.py), except the length functions, which are Arrow kernels. Elements compare as
PostgreSQL's array_cmp does: element by element, NULL above every value, then by length.
Subscripts and slices are ``__array_subscript(arr, i)`` / ``__array_slice(arr, lo, hi)`` (the
binder maps ``a[i]`` and ``a[lo:hi]`` to them; a NULL bound of a slice means "open").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import Datum, finish, from_numpy, length
from sqlvec.exec.functions.pyrows import rows_typed
from sqlvec.exec.functions.registry import Overload, type_named
from sqlvec.types.base import SqlType

A, E = "anycompatiblearray", "anycompatible"
MAX_ELEMENTS = 134217727  # MaxArraySize


def _arr(ts: list[SqlType]) -> SqlType:
    return next(t for t in ts if t.is_array)


def _elem(ts: list[SqlType]) -> SqlType:
    t = _arr(ts)
    assert t.elem is not None
    return t.elem


def _of(ts: list[SqlType]) -> SqlType:
    from sqlvec.types import registry as types

    return types.array_of(ts[0])


def _key(v: Any) -> tuple:
    return (1,) if v is None else (0, v)


def _cmp(a: list, b: list) -> int:
    ka, kb = [_key(v) for v in a], [_key(v) for v in b]
    return (ka > kb) - (ka < kb)


def _lengths(args: list[Datum], n: int) -> np.ndarray:
    m = length(args, n)
    a = args[0]
    if isinstance(a, pa.Scalar):
        return np.full(m, len(a.values) if a.is_valid else 0, np.int64)
    return pc.list_value_length(a).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def _dim_fn(kind: str):
    """array_length / array_upper / array_lower / cardinality: NULL for an empty array and
    for any dimension but 1 (cardinality: 0 for an empty array)."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        lens = _lengths(args, m)
        ok = np.ones(m, bool)
        for a in args:
            if isinstance(a, pa.Scalar):
                ok &= a.is_valid
            elif a.null_count:
                ok &= np.asarray(a.is_valid())
        if kind != "cardinality":
            ok &= lens > 0
            if len(args) > 1:
                d = args[1]
                dims = (np.full(m, d.as_py() if d.is_valid else 0) if isinstance(d, pa.Scalar)
                        else d.fill_null(0).to_numpy(zero_copy_only=False))
                ok &= dims == 1
        vals = np.ones(m, np.int64) if kind == "lower" else lens
        return finish(from_numpy(vals.astype(np.int32), ok, pa.int32()), args)

    return impl


def _append(a: list | None, e: Any) -> list:
    return (a or []) + [e]


def _prepend(e: Any, a: list | None) -> list:
    return [e] + (a or [])


def _cat(a: list | None, b: list | None) -> list | None:
    if a is None:
        return b
    return a if b is None else a + b


def _position(a: list | None, e: Any, start: int = 1) -> int | None:
    if a is None:
        return None
    for i in range(max(start, 1) - 1, len(a)):
        if a[i] == e or (a[i] is None and e is None):
            return i + 1
    return None


def _positions(a: list | None, e: Any) -> list | None:
    if a is None:
        return None
    return [i + 1 for i, v in enumerate(a) if v == e or (v is None and e is None)]


def _same(v: Any, e: Any) -> bool:
    return v is None and e is None or v is not None and e is not None and v == e


def _remove(a: list | None, e: Any) -> list | None:
    return None if a is None else [v for v in a if not _same(v, e)]


def _replace(a: list | None, e: Any, r: Any) -> list | None:
    return None if a is None else [r if _same(v, e) else v for v in a]


def _fill(v: Any, dims: list, lbs: list | None = None) -> list:
    if dims is None or any(d is None for d in dims):
        raise errors.NullValueNotAllowed("dimension array or low bound array cannot be null")
    if len(dims) != 1:
        raise errors.FeatureNotSupported("multidimensional arrays are not supported")
    if dims[0] > MAX_ELEMENTS:
        raise errors.ProgramLimitExceeded(
            f"array size exceeds the maximum allowed ({MAX_ELEMENTS})")
    return [v] * max(dims[0], 0)


def _subscript(a: list, i: int) -> Any:
    return a[i - 1] if 1 <= i <= len(a) else None


def _slice(a: list | None, lo: int | None, hi: int | None) -> list | None:
    if a is None:
        return None
    lo = 1 if lo is None else max(lo, 1)
    hi = len(a) if hi is None else min(hi, len(a))
    return a[lo - 1 : hi] if hi >= lo else []


def _dims_text(a: list) -> str | None:
    return f"[1:{len(a)}]" if a else None


def _contains(a: list, b: list) -> bool:
    # NULL elements never match (array_contain_compare)
    have = [v for v in a if v is not None]
    return all(v is not None and v in have for v in b)


def _overlaps(a: list, b: list) -> bool:
    have = [v for v in a if v is not None]
    return any(v is not None and v in have for v in b)


_CMP_OPS = {"=": lambda c: c == 0, "<>": lambda c: c != 0, "<": lambda c: c < 0,
            "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}


def _compare(op: str):
    test = _CMP_OPS[op]
    return rows_typed(lambda a, b: test(_cmp(a, b)), "boolean")


def _build(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    """ARRAY[e1, e2, ...] with non-constant elements: one list per row."""
    from sqlvec.types import registry as types_registry

    return rows_typed(lambda *vs: list(vs), lambda ts: types_registry.array_of(ts[0]),
                      strict=False)(args, types, n)


_BOOL, _INT = "boolean", "integer"

FUNCTIONS: list[Overload] = [
    Overload("array_length", ("anyarray", _INT), _INT, _dim_fn("length")),
    Overload("array_upper", ("anyarray", _INT), _INT, _dim_fn("upper")),
    Overload("array_lower", ("anyarray", _INT), _INT, _dim_fn("lower")),
    Overload("cardinality", ("anyarray",), _INT, _dim_fn("cardinality")),
    Overload("array_ndims", ("anyarray",), _INT,
             rows_typed(lambda a: 1 if a else None, _INT)),
    Overload("array_dims", ("anyarray",), "text", rows_typed(_dims_text, "text")),
    Overload("array_append", (A, E), _arr, rows_typed(_append, _arr, strict=False),
             strict=False),
    Overload("array_prepend", (E, A), _arr, rows_typed(_prepend, _arr, strict=False),
             strict=False),
    Overload("array_cat", (A, A), _arr, rows_typed(_cat, _arr, strict=False), strict=False),
    Overload("array_position", (A, E), _INT, rows_typed(_position, _INT, strict=False),
             strict=False),
    Overload("array_position", (A, E, _INT), _INT, rows_typed(_position, _INT, strict=False),
             strict=False),
    Overload("array_positions", (A, E), "integer[]",
             rows_typed(_positions, "integer[]", strict=False), strict=False),
    Overload("array_remove", (A, E), _arr, rows_typed(_remove, _arr, strict=False),
             strict=False),
    Overload("array_replace", (A, E, E), _arr, rows_typed(_replace, _arr, strict=False),
             strict=False),
    Overload("array_fill", ("anyelement", "integer[]"), _of,
             rows_typed(lambda v, d: _fill(v, d), _of, strict=False), strict=False),
    Overload("array_fill", ("anyelement", "integer[]", "integer[]"), _of,
             rows_typed(_fill, _of, strict=False), strict=False),
    Overload("__array_subscript", ("anyarray", _INT), _elem, rows_typed(_subscript, _elem)),
    Overload("__array_slice", ("anyarray", _INT, _INT), _arr,
             rows_typed(_slice, _arr, strict=False), strict=False),
    Overload("__array_build", ("anyelement",), _of, _build, variadic=True, strict=False),
]

OPERATORS: list[Overload] = [
    *(Overload(op, ("anyarray", "anyarray"), _BOOL, _compare(op)) for op in _CMP_OPS),
    Overload("@>", ("anyarray", "anyarray"), _BOOL, rows_typed(_contains, _BOOL)),
    Overload("<@", ("anyarray", "anyarray"), _BOOL,
             rows_typed(lambda a, b: _contains(b, a), _BOOL)),
    Overload("&&", ("anyarray", "anyarray"), _BOOL, rows_typed(_overlaps, _BOOL)),
]

# sqlglot function classes named by their key (see registry._fill)
ALIASES = {"arraysize": "array_length", "arrayappend": "array_append",
           "arrayprepend": "array_prepend", "arrayconcat": "array_cat",
           "arrayposition": "array_position", "arrayremove": "array_remove",
           "arraytostring": "array_to_string", "stringtoarray": "string_to_array"}

__all__ = ["ALIASES", "FUNCTIONS", "OPERATORS", "type_named"]
