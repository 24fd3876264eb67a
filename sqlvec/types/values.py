"""Python values of the SQL types that have no natural Python counterpart.

``Interval`` keeps PostgreSQL's three separate fields (a month is not 30 days, a day is not
24 hours across DST), ``SparseVector`` is pgvector's sparsevec and ``BitString`` is bit/varbit.
Vectors and halfvecs are plain numpy arrays (float32 / float16).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np

_USECS_PER_DAY = 86_400_000_000


@dataclass(frozen=True, order=True)
class Interval:
    """PostgreSQL interval: months, days and microseconds, kept apart as PostgreSQL does.

    Ordering and equality compare fields in that order; PostgreSQL compares intervals after
    normalising 1 month = 30 days, which :meth:`sort_key` provides for the executor.
    """

    months: int = 0
    days: int = 0
    microseconds: int = 0

    def sort_key(self) -> int:
        """Total microseconds with PostgreSQL's 30-day month (interval_cmp_value)."""
        return (self.months * 30 + self.days) * _USECS_PER_DAY + self.microseconds

    def to_timedelta(self) -> datetime.timedelta:
        if self.months:
            raise ValueError("an interval with months has no fixed timedelta")
        return datetime.timedelta(days=self.days, microseconds=self.microseconds)

    @classmethod
    def from_timedelta(cls, td: datetime.timedelta) -> Interval:
        # PostgreSQL keeps a timedelta's days in the day field, the rest in microseconds
        return cls(0, td.days, td.seconds * 1_000_000 + td.microseconds)

    def __str__(self) -> str:
        from sqlvec.types.datetimes import interval_out

        return interval_out(self)


class SparseVector:
    """pgvector sparsevec: ``dim`` dimensions, sorted 0-based ``indices``, non-zero ``values``.

    >>> str(SparseVector.from_dense([1, 0, 2, 0, 0]))
    '{1:1,3:2}/5'
    """

    __slots__ = ("dim", "indices", "values")

    def __init__(self, dim: int, indices: Any, values: Any) -> None:
        self.dim = int(dim)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.values = np.asarray(values, dtype=np.float32)
        if self.indices.shape != self.values.shape:
            raise ValueError("indices and values differ in length")

    @classmethod
    def from_dense(cls, dense: Any) -> SparseVector:
        arr = np.asarray(dense, dtype=np.float32)
        nz = np.flatnonzero(arr).astype(np.int32)
        return cls(arr.shape[0], nz, arr[nz])

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        out[self.indices] = self.values
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseVector):
            return NotImplemented
        return (
            self.dim == other.dim
            and np.array_equal(self.indices, other.indices)
            and np.array_equal(self.values, other.values)
        )

    def __hash__(self) -> int:
        return hash((self.dim, self.indices.tobytes(), self.values.tobytes()))

    def __repr__(self) -> str:
        return f"SparseVector({self})"

    def __str__(self) -> str:
        from sqlvec.types.vectors import sparsevec_out

        return sparsevec_out(self)


class BitString:
    """bit / bit varying: ``nbits`` bits packed MSB-first in ``data`` (as PostgreSQL stores it).

    >>> str(BitString.from_bools([0, 1, 0, 1]))
    '0101'
    """

    __slots__ = ("nbits", "data")

    def __init__(self, nbits: int, data: bytes) -> None:
        if len(data) != (nbits + 7) // 8:
            raise ValueError("bit string data length does not match nbits")
        self.nbits = int(nbits)
        # Pad bits past nbits are always zero so that equality can compare bytes.
        pad = (-nbits) % 8
        if pad and data:
            data = data[:-1] + bytes([data[-1] & (0xFF << pad) & 0xFF])
        self.data = bytes(data)

    @classmethod
    def from_bools(cls, bits: Any) -> BitString:
        arr = np.asarray(bits, dtype=bool)
        return cls(arr.shape[0], np.packbits(arr).tobytes())

    @classmethod
    def from_str(cls, text: str) -> BitString:
        return cls.from_bools(np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1"))

    def to_bools(self) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(self.data, dtype=np.uint8))
        return bits[: self.nbits].astype(bool)

    def __len__(self) -> int:
        return self.nbits

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitString):
            return NotImplemented
        return self.nbits == other.nbits and self.data == other.data

    def __hash__(self) -> int:
        return hash((self.nbits, self.data))

    def __str__(self) -> str:
        return (self.to_bools().view(np.uint8) + ord("0")).tobytes().decode("ascii")

    def __repr__(self) -> str:
        return f"BitString('{self}')"
