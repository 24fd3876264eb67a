"""Arrow <-> numpy for vector, halfvec, sparsevec and bit columns, without per-row Python.

vector(n) is fixed_size_list<float32>[n] (a zero-copy (rows x n) view of the values buffer);
vector without typmod is list<float32> (gathered through the offsets once every non-NULL row
is known to have the same length); halfvec the same with float16; bit is
struct{nbits:int32, data:binary}; sparsevec struct{dim, indices (0-based), values}.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec.functions.common import Datum

VECTOR_MAX_DIM = 16000


def _value_dtype(t: pa.DataType) -> np.dtype:
    return np.dtype(np.float16) if t.value_type == pa.float16() else np.dtype(np.float32)


def scalar_vec(s: pa.Scalar) -> np.ndarray:
    return s.values.to_numpy(zero_copy_only=False)


def row_dims(d: Datum, m: int) -> np.ndarray:
    """Number of dimensions of each row (-1 for NULL)."""
    if isinstance(d, pa.Scalar):
        return np.full(m, len(d.values) if d.is_valid else -1, dtype=np.int64)
    if pa.types.is_fixed_size_list(d.type):
        dims = np.full(len(d), d.type.list_size, dtype=np.int64)
    else:
        off = d.offsets.to_numpy()
        dims = np.diff(off).astype(np.int64)
    if d.null_count:
        dims[~np.asarray(d.is_valid())] = -1
    return dims


def dense_rows(d: Datum, m: int) -> np.ndarray:
    """(m x dim) values; NULL rows are zeros. Every non-NULL row must have the same length."""
    if isinstance(d, pa.Scalar):
        v = scalar_vec(d) if d.is_valid else np.zeros(0, np.float32)
        return np.broadcast_to(v, (m, v.shape[0]))
    typ = d.type
    dt = _value_dtype(typ)
    if pa.types.is_fixed_size_list(typ):
        dim = typ.list_size
        flat = d.values.to_numpy(zero_copy_only=False).astype(dt, copy=False)
        start = d.offset * dim
        return flat[start : start + len(d) * dim].reshape(len(d), dim)
    dims = row_dims(d, m)
    live = dims[dims >= 0]
    dim = int(live[0]) if live.size else 0
    if live.size and np.any(live != dim):
        raise ValueError("ragged")  # callers check dimensions before asking for a matrix
    off = d.offsets.to_numpy()[:-1].astype(np.int64)
    flat = d.values.to_numpy(zero_copy_only=False).astype(dt, copy=False)
    if dim == 0:
        return np.zeros((len(d), 0), dtype=dt)
    idx = np.where(dims >= 0, off, 0)[:, None] + np.arange(dim)
    return flat[np.minimum(idx, max(flat.shape[0] - 1, 0))] if flat.size else np.zeros(
        (len(d), dim), dtype=dt)


def check_same_dims(a: Datum, b: Datum, m: int, what: str = "vector") -> None:
    """pgvector's CheckDims: 'different vector dimensions 3 and 2' at the first bad row."""
    da, db = row_dims(a, m), row_dims(b, m)
    bad = (da >= 0) & (db >= 0) & (da != db)
    if bad.any():
        i = int(np.argmax(bad))
        raise errors.DataException(f"different {what} dimensions {da[i]} and {db[i]}")


def make_vectors(mat: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    """Arrow vectors of ``typ`` (fixed_size_list or list) from an (m x dim) matrix."""
    m, dim = mat.shape
    values = pa.array(np.ascontiguousarray(mat).reshape(-1), type=typ.value_type)
    mask = None if valid.all() else pa.array(~valid)
    if pa.types.is_fixed_size_list(typ):
        return pa.FixedSizeListArray.from_arrays(values, dim, mask=mask)
    offsets = pa.array(np.arange(m + 1, dtype=np.int32) * dim)
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


def check_dim_limit(dim: int, what: str = "vector") -> None:
    if dim > VECTOR_MAX_DIM:
        raise errors.ProgramLimitExceeded(
            f"{what} cannot have more than {VECTOR_MAX_DIM} dimensions"
        )


# ----------------------------------------------------------------------------------- bit


def bit_rows(d: Datum, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(packed (m x nbytes) uint8, nbits per row (-1 for NULL)); rows must share nbytes."""
    if isinstance(d, pa.Scalar):
        if not d.is_valid:
            return np.zeros((m, 0), np.uint8), np.full(m, -1, np.int64)
        data = np.frombuffer(d["data"].as_py(), dtype=np.uint8)
        return np.broadcast_to(data, (m, data.shape[0])), np.full(m, d["nbits"].as_py(), np.int64)
    nbits_col, data = d.flatten()  # flatten() honours the struct's slice offset
    nbits = nbits_col.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if d.null_count:
        nbits[~np.asarray(d.is_valid())] = -1
    raw_off = np.frombuffer(data.buffers()[1], dtype=np.int32)
    off = raw_off[data.offset : data.offset + len(data) + 1].astype(np.int64)
    buf = data.buffers()[2]
    raw = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    lens = np.diff(off)
    live = lens[nbits >= 0]
    nbytes = int(live[0]) if live.size else 0
    if live.size and np.any(live != nbytes):
        raise ValueError("ragged")
    if nbytes == 0:
        return np.zeros((len(d), 0), np.uint8), nbits
    idx = np.where(nbits >= 0, off[:-1], 0)[:, None] + np.arange(nbytes)
    return raw[np.minimum(idx, raw.shape[0] - 1)], nbits


def check_same_bits(a: np.ndarray, b: np.ndarray) -> None:
    bad = (a >= 0) & (b >= 0) & (a != b)
    if bad.any():
        i = int(np.argmax(bad))
        raise errors.DataException(f"different bit lengths {a[i]} and {b[i]}")


def make_bits(packed: np.ndarray, nbits: np.ndarray, valid: np.ndarray) -> pa.Array:
    m, nbytes = packed.shape
    offsets = pa.array(np.arange(m + 1, dtype=np.int32) * nbytes)
    data = pa.BinaryArray.from_buffers(pa.binary(), m, [None, offsets.buffers()[1],
                                                         pa.py_buffer(packed.tobytes())])
    mask = None if valid.all() else pa.array(~valid)
    return pa.StructArray.from_arrays(
        [pa.array(nbits, pa.int32()), data], names=["nbits", "data"], mask=mask
    )


# ------------------------------------------------------------------------------ sparsevec


def sparse_parts(d: Datum, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(dim per row (-1 NULL), row id of each entry, 0-based index, value) for m rows."""
    if isinstance(d, pa.Scalar):
        if not d.is_valid:
            return np.full(m, -1), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        idx = np.asarray(d["indices"].values.to_numpy(zero_copy_only=False), np.int64)
        val = np.asarray(d["values"].values.to_numpy(zero_copy_only=False), np.float64)
        k = idx.shape[0]
        return (np.full(m, d["dim"].as_py(), np.int64), np.repeat(np.arange(m), k),
                np.tile(idx, m), np.tile(val, m))
    dim_col, ind, vals = d.flatten()  # flatten() honours the struct's slice offset
    dims = dim_col.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    valid = np.asarray(d.is_valid()) if d.null_count else np.ones(len(d), bool)
    dims[~valid] = -1
    off = ind.offsets.to_numpy().astype(np.int64)
    lens = np.where(valid, np.diff(off), 0)
    rows = np.repeat(np.arange(len(d)), lens)
    starts = np.repeat(off[:-1], lens)
    pos = starts + (np.arange(rows.shape[0]) - np.repeat(np.cumsum(lens) - lens, lens))
    allidx = ind.values.to_numpy(zero_copy_only=False).astype(np.int64)
    voff = vals.offsets.to_numpy().astype(np.int64)
    vpos = np.repeat(voff[:-1], lens) + (pos - starts)
    allval = vals.values.to_numpy(zero_copy_only=False).astype(np.float64)
    return dims, rows, allidx[pos], allval[vpos]
