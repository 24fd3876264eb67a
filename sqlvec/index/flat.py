"""The exact "index": what a segment gets for metrics hnswlib lacks (l1, hamming, jaccard).

It holds no structure, only the segment's vectors and the rows marked deleted, and answers
every search exactly (``exact=True``), so EXPLAIN can say the index is exact. Bit columns are
packed rows (n x ceil(nbits / 8) uint8) searched with ``np.bitwise_count``.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from sqlvec.exec import kernels
from sqlvec.index.base import (
    BIT_METRICS,
    Progress,
    SearchResult,
    exact_range,
    exact_topk,
    full_mask,
)


def packed_bits(arr: pa.Array) -> tuple[np.ndarray, int]:
    """(n x nbytes uint8, nbits) of a bit(n) column stored as struct<nbits, data>; NULL rows
    and rows of another length are zero (the caller's mask excludes NULLs)."""
    nbits_field, data = arr.flatten()  # flatten() honours a sliced parent's offset
    nbits_col = nbits_field.to_numpy(zero_copy_only=False)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    nbits = int(nbits_col[valid].max()) if valid.any() else 0
    width = (nbits + 7) // 8
    out = np.zeros((len(arr), width), np.uint8)
    offsets = np.frombuffer(data.buffers()[1], np.int32)[data.offset:data.offset + len(data) + 1]
    good = valid & (np.diff(offsets) == width)
    if good.any() and width:
        flat = np.frombuffer(data.buffers()[2], np.uint8)
        starts = offsets[:-1][good]
        out[good] = flat[starts[:, None] + np.arange(width)]
    return out, nbits


class FlatIndex:
    kind = "flat"

    def __init__(self, matrix: np.ndarray, metric: str, nbits: int = 0) -> None:
        self.metric = metric
        self._matrix = matrix
        self._nbits = nbits or matrix.shape[1] * 8
        self._live: np.ndarray | None = None  # None: nothing marked deleted

    @classmethod
    def build(cls, matrix: np.ndarray, metric: str, options: dict, *, threads: int,
              progress: Progress | None = None) -> FlatIndex:
        del threads
        if progress is not None:
            progress(matrix.shape[0], matrix.shape[0])
        return cls(matrix, metric, int(options.get("nbits", 0)))

    def save(self, path: str) -> None:
        """A marker file: the data is the segment itself."""
        with open(path + ".tmp", "w") as f:
            f.write(f"{self.metric}\n{self._nbits}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)

    @classmethod
    def load(cls, path: str, matrix: np.ndarray, *, mmap: bool = True) -> FlatIndex:
        del mmap
        with open(path) as f:
            metric, nbits = f.read().split()
        return cls(matrix, metric, int(nbits))

    @property
    def nbytes(self) -> int:
        return 0

    @property
    def num_rows(self) -> int:
        return self._matrix.shape[0]

    def mark_deleted(self, offsets: np.ndarray) -> None:
        live = np.ones(self.num_rows, bool) if self._live is None else self._live.copy()
        offsets = np.asarray(offsets, np.int64)
        live[offsets[offsets < len(live)]] = False
        self._live = live

    def _mask(self, allowed: np.ndarray | None) -> np.ndarray | None:
        mask = full_mask(allowed, self.num_rows)
        if self._live is None:
            return mask
        return self._live if mask is None else mask & self._live

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult:
        del ef, probes
        mask = self._mask(allowed)
        if self.metric not in BIT_METRICS:
            return exact_topk(self._matrix, q, k, self.metric, mask)
        idx = np.arange(self.num_rows) if mask is None else np.flatnonzero(mask)
        d = kernels.bit_distances(self._matrix[idx], q, self._nbits, self.metric)
        order = np.lexsort((idx, d))[:max(int(k), 0)]
        return idx[order].astype(np.int64), d[order], True

    def range_search(self, q: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     inclusive: bool = False) -> SearchResult:
        mask = self._mask(allowed)
        if self.metric not in BIT_METRICS:
            return exact_range(self._matrix, q, radius, self.metric, mask, inclusive)
        idx = np.arange(self.num_rows) if mask is None else np.flatnonzero(mask)
        d = kernels.bit_distances(self._matrix[idx], q, self._nbits, self.metric)
        keep = d <= radius if inclusive else d < radius
        idx, d = idx[keep], d[keep]
        order = np.lexsort((idx, d))
        return idx[order].astype(np.int64), d[order], True
