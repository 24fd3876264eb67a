"""pgvector's vector, halfvec and sparsevec, and PostgreSQL's bit/varbit: text I/O and
typmod checks, with pgvector 0.8's exact messages (src/vector.c, halfvec.c, sparsevec.c)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from sqlvec.errors import (
    DataException,
    InvalidParameterValue,
    InvalidTextRepresentation,
    NumericValueOutOfRange,
    ProgramLimitExceeded,
    StringDataRightTruncation,
    error_for,
)
from sqlvec.types.floatfmt import float4_out, format_floats
from sqlvec.types.values import BitString, SparseVector

VECTOR_MAX_DIM = 16000
HALFVEC_MAX_DIM = 16000
SPARSEVEC_MAX_DIM = 1_000_000_000
SPARSEVEC_MAX_NNZ = 16000
_SPACE = " \t\n\r\v\f"
# strtof's syntax as pgvector reads it (decimal, inf/infinity, nan)
_ELEM_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|infinity|inf|nan)", re.I
)
_ELEM_WS = rf"[{_SPACE}]*(?:{_ELEM_RE.pattern})[{_SPACE}]*"
_BODY_RE = re.compile(rf"{_ELEM_WS}(?:,{_ELEM_WS})*", re.I)
_PLAIN_RE = re.compile(rf"[0-9eE.+\-,{_SPACE}]*")
_INT_RE = re.compile(r"[+-]?[0-9]+")


def check_dim_typmod(type_name: str, n: int, max_dim: int) -> int:
    """typmod_in of vector/halfvec/sparsevec: the typmod is the dimension count."""
    if n < 1:
        raise InvalidParameterValue(f"dimensions for type {type_name} must be at least 1")
    if n > max_dim:
        raise InvalidParameterValue(f"dimensions for type {type_name} cannot exceed {max_dim}")
    return n


def check_expected_dim(typmod: int, dim: int) -> None:
    if typmod != -1 and typmod != dim:
        raise DataException(f"expected {typmod} dimensions, not {dim}")


def check_elements(arr: np.ndarray, type_name: str) -> None:
    """NaN / infinity are rejected (CheckElement), checked over the whole array at once."""
    if not np.isfinite(arr).all():
        if np.isnan(arr).any():
            raise DataException(f"NaN not allowed in {type_name}")
        raise DataException(f"infinite value not allowed in {type_name}")


def check_dim(type_name: str, dim: int, max_dim: int) -> None:
    if dim < 1:
        raise DataException(f"{type_name} must have at least 1 dimension")
    if dim > max_dim:
        raise ProgramLimitExceeded(f"{type_name} cannot have more than {max_dim} dimensions")


def _dense_in(text: str, typmod: int, type_name: str, dtype: type, max_dim: int) -> np.ndarray:
    def bad(detail: str | None = None) -> InvalidTextRepresentation:
        return InvalidTextRepresentation(
            f'invalid input syntax for type {type_name}: "{text}"', detail=detail
        )

    s = text.strip(_SPACE)
    if not s.startswith("["):
        raise bad('Vector contents must start with "[".')
    close = s.find("]")
    body = s[1:] if close < 0 else s[1:close]
    if not body.strip(_SPACE) and close >= 0:
        raise DataException(f"{type_name} must have at least 1 dimension")
    items = body.split(",")
    wide = None
    if _PLAIN_RE.fullmatch(body):
        # digits, signs, points, exponents: Python's float() reads exactly strtof's syntax
        # here (no regex per element: a 1,536-dim embedding arrives as text). Arrow's cast
        # reads the same numbers to the same doubles, ~30% faster, but refuses blanks
        # around them: then float() reads them.
        try:
            wide = pa.array(items, pa.string()).cast(pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            try:
                wide = np.array([float(i) for i in items], dtype=np.float64)
            except ValueError:
                raise bad() from None
    elif not _BODY_RE.fullmatch(body):  # inf, nan, infinity
        raise bad()
    if close < 0:
        raise bad()  # ran off the end after an element, as pgvector reports it
    if s[close + 1 :].strip(_SPACE):
        raise bad("Junk after closing right brace.")
    if len(items) > max_dim:
        raise ProgramLimitExceeded(f"{type_name} cannot have more than {max_dim} dimensions")
    with np.errstate(over="ignore"):
        if wide is None:
            wide = np.array([float(i) for i in items], dtype=np.float64)
        arr = wide.astype(dtype)
    if not np.isfinite(arr).all():  # one pass in the common case; the details only then
        overflow = np.isinf(arr) & np.isfinite(wide)
        if overflow.any():
            raise NumericValueOutOfRange(
                f'"{items[int(np.argmax(overflow))].strip(_SPACE)}" is out of range for type '
                f"{type_name}"
            )
        check_elements(arr, type_name)
    check_dim(type_name, arr.shape[0], max_dim)
    check_expected_dim(typmod, arr.shape[0])
    return arr


def vector_in(text: str, typmod: int = -1) -> np.ndarray:
    return _dense_in(text, typmod, "vector", np.float32, VECTOR_MAX_DIM)


def halfvec_in(text: str, typmod: int = -1) -> np.ndarray:
    return _dense_in(text, typmod, "halfvec", np.float16, HALFVEC_MAX_DIM)


def vector_out(value: np.ndarray) -> str:
    # halfvec prints its elements widened to real (HalfToFloat4), like vector
    arr = np.asarray(value, dtype=np.float32)
    if arr.shape[0] <= 16:
        return "[" + ",".join(float4_out(x) for x in arr.tolist()) + "]"
    return "[" + ",".join(format_floats(arr, True).to_pylist()) + "]"


def sparsevec_in(text: str, typmod: int = -1) -> SparseVector:
    def bad(detail: str | None = None) -> InvalidTextRepresentation:
        return InvalidTextRepresentation(
            f'invalid input syntax for type sparsevec: "{text}"', detail=detail
        )

    if text.count(",") + 1 > SPARSEVEC_MAX_NNZ:
        raise ProgramLimitExceeded(
            f"sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"
        )
    s = text.strip(_SPACE)
    if not s.startswith("{"):
        raise bad('Vector contents must start with "{".')
    close = s.find("}")
    if close < 0:
        if not s[1:].strip(_SPACE):
            raise bad("Unexpected end of input.")
        raise bad()
    idx: list[int] = []
    vals: list[float] = []
    body = s[1:close]
    if body.strip(_SPACE):
        for item in body.split(","):
            i_txt, colon, v_txt = item.partition(":")
            i_txt, v_txt = i_txt.strip(_SPACE), v_txt.strip(_SPACE)
            if not colon or not _INT_RE.fullmatch(i_txt) or not _ELEM_RE.fullmatch(v_txt):
                raise bad()
            index = int(i_txt)
            if index < -(2**31) or index > 2**31 - 1:
                raise NumericValueOutOfRange(f'index "{index}" is out of range for type sparsevec')
            if index < 1:  # pgvector 0.8 sparsevec_in's wording
                raise DataException("sparsevec index out of bounds (< 1)")
            with np.errstate(over="ignore"):
                v = np.float32(float(v_txt))
            if np.isinf(v) and "inf" not in v_txt.lower():
                raise NumericValueOutOfRange(f'"{v_txt}" is out of range for type sparsevec')
            if np.isnan(v):
                raise DataException("NaN not allowed in sparsevec")
            if np.isinf(v):
                raise DataException("infinite value not allowed in sparsevec")
            if v != 0:  # zeros are not stored
                idx.append(index)
                vals.append(float(v))
    rest = s[close + 1 :].lstrip(_SPACE)
    if not rest.startswith("/"):
        raise bad("Unexpected end of input.")
    m = _INT_RE.match(rest[1:].lstrip(_SPACE))
    if m is None:
        raise bad()
    if rest[1:].lstrip(_SPACE)[m.end() :].strip(_SPACE):
        raise bad("Junk after closing.")
    dim = int(m.group(0))
    check_dim("sparsevec", dim, SPARSEVEC_MAX_DIM)
    check_expected_dim(typmod, dim)
    order = np.argsort(np.array(idx, dtype=np.int64), kind="stable")
    indices = np.array(idx, dtype=np.int64)[order]
    values = np.array(vals, dtype=np.float32)[order]
    if indices.size and indices[-1] > dim:
        raise DataException("sparsevec index out of bounds (> dimensions)")
    if indices.size and (np.diff(indices) == 0).any():
        raise DataException("sparsevec indices must not contain duplicates")
    check_sparse_indices(indices - 1, dim)
    return SparseVector(dim, indices - 1, values)


def check_sparse_indices(indices0: np.ndarray, dim: int) -> None:
    """CheckIndex over 0-based indices, vectorised."""
    if indices0.size == 0:
        return
    if indices0.min() < 0 or indices0.max() >= dim:
        raise DataException("sparsevec index out of bounds")  # pgvector's CheckIndex
    d = np.diff(indices0)
    if (d < 0).any():
        raise DataException("sparsevec indices must be in ascending order")
    if (d == 0).any():
        raise DataException("sparsevec indices must not contain duplicates")


def sparsevec_out(value: SparseVector) -> str:
    vals = [float4_out(v) for v in value.values.tolist()]
    body = ",".join(f"{i + 1}:{v}" for i, v in zip(value.indices.tolist(), vals))
    return f"{{{body}}}/{value.dim}"


# --- bit / varbit -------------------------------------------------------------------------

BIT_MAX_LEN = 83_886_080  # VARBITMAXLEN


def _bits_in(text: str) -> BitString:
    if text[:1] in ("x", "X"):
        digits = text[1:]
        for c in digits:
            if c not in "0123456789abcdefABCDEF":
                raise InvalidTextRepresentation(f'"{c}" is not a valid hexadecimal digit')
        bits = "".join(f"{int(c, 16):04b}" for c in digits)
    else:
        bits = text[1:] if text[:1] in ("b", "B") else text
        for c in bits:
            if c not in "01":
                raise InvalidTextRepresentation(f'"{c}" is not a valid binary digit')
    return BitString.from_str(bits)


def bit_in(text: str, typmod: int = -1) -> BitString:
    b = _bits_in(text)
    if typmod > 0 and b.nbits != typmod:
        raise error_for(
            "22026", f"bit string length {b.nbits} does not match type bit({typmod})"
        )
    return b


def varbit_in(text: str, typmod: int = -1) -> BitString:
    b = _bits_in(text)
    if typmod > 0 and b.nbits > typmod:
        raise StringDataRightTruncation(f"bit string too long for type bit varying({typmod})")
    return b


def bit_out(value: BitString) -> str:
    return str(value)
