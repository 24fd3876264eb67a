"""Columns of client parameters for executemany: one Arrow array per parameter position,
built in bulk for the common types (integers, floats, vectors) instead of value by value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.types import registry as R
from sqlvec.types.adapt import adapt_param
from sqlvec.types.arrow import to_arrow
from sqlvec.types.base import SqlType
from sqlvec.types.vectors import check_elements, check_expected_dim

_INTS = {R.INT2.oid: ("smallint", pa.int16()), R.INT4.oid: ("integer", pa.int32()), R.INT8.oid: ("bigint", pa.int64())}
_DENSE = {R.VECTOR.oid: (np.float32, "vector"), R.HALFVEC.oid: (np.float16, "halfvec")}


def param_column(values: list[Any], t: SqlType) -> pa.Array:
    """The Arrow column of type ``t`` holding one parameter's value from every row."""
    if t.elem is None and t.oid in _INTS and all(type(v) is int or v is None for v in values):
        name, at = _INTS[t.oid]
        try:
            return pa.array(values, type=at)
        except (OverflowError, pa.ArrowInvalid):
            raise errors.NumericValueOutOfRange(f"{name} out of range") from None
    if t.elem is None and t.oid in _DENSE and values and all(isinstance(v, (np.ndarray, list, tuple)) for v in values):
        dtype, name = _DENSE[t.oid]
        try:
            mat = np.asarray(values, dtype=dtype)
        except ValueError:
            mat = None  # ragged: rows differ in length; the per-value path reports which
        if mat is not None and mat.ndim == 2 and mat.shape[1] > 0:
            check_elements(mat, name)
            check_expected_dim(t.typmod, mat.shape[1])
            dim = mat.shape[1]
            flat = pa.array(np.ascontiguousarray(mat).ravel())
            if t.typmod > 0:
                return pa.FixedSizeListArray.from_arrays(flat, dim)
            offsets = pa.array(np.arange(0, (len(values) + 1) * dim, dim, dtype=np.int32))
            return pa.ListArray.from_arrays(offsets, flat)
    return to_arrow([None if v is None else adapt_param(v, t) for v in values], t)
