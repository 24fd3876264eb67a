"""An inverted index over a segment's sparsevec column, for exact inner-product top-k.

Postings are the column's non-zero entries sorted by dimension (CSC form): for dimension d,
``rows[starts[d]:starts[d+1]]`` and ``vals[...]`` hold the rows with a value there. A query
touches only the postings of its own non-zero dimensions, so a SPLADE-style query of ~100
terms over a 30k-term vocabulary reads a few percent of the entries. Scores are accumulated
densely per row (one ``bincount``), so the answer is exact: rows sharing no dimension have
inner product exactly 0, as pgvector computes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SparseInvertedIndex:
    n: int  # rows covered
    dims: np.ndarray  # dimension of each row (-1: NULL)
    keys: np.ndarray  # distinct dimensions with postings, ascending
    starts: np.ndarray  # len(keys) + 1 offsets into rows/vals
    rows: np.ndarray
    vals: np.ndarray

    @classmethod
    def build(cls, dims: np.ndarray, rows: np.ndarray, idx: np.ndarray, vals: np.ndarray
              ) -> SparseInvertedIndex:
        """From pgvector's entry lists: each row's dim, and (row, 0-based index, value) entries."""
        order = np.argsort(idx, kind="stable")
        idx_s = idx[order]
        keys, first = np.unique(idx_s, return_index=True)
        starts = np.append(first, len(idx_s)).astype(np.int64)
        return cls(len(dims), dims, keys, starts, rows[order].astype(np.int64),
                   vals[order].astype(np.float64))

    def inner_products(self, q_idx: np.ndarray, q_val: np.ndarray) -> np.ndarray:
        """Exact inner product of every row with the query (0 where nothing is shared)."""
        pos = np.searchsorted(self.keys, q_idx)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        hit = (pos < len(self.keys)) & (self.keys[pos_c] == q_idx) if len(self.keys) else \
            np.zeros(len(q_idx), bool)
        if not hit.any():
            return np.zeros(self.n)
        lo, hi = self.starts[pos_c[hit]], self.starts[pos_c[hit] + 1]
        lens = hi - lo
        # gather every touched posting with one fancy index
        take = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        weights = self.vals[take] * np.repeat(q_val[hit], lens)
        return np.bincount(self.rows[take], weights=weights, minlength=self.n)[: self.n]

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.vals.nbytes + self.keys.nbytes + self.starts.nbytes)


def topk_ip(ix: SparseInvertedIndex, q_idx: np.ndarray, q_val: np.ndarray, k: int,
            mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, distances) of the k smallest negative inner products among allowed, non-NULL
    rows; ties by row order (a stable sort of the scan)."""
    dist = -ix.inner_products(q_idx, q_val)
    ok = ix.dims >= 0
    if mask is not None:
        ok &= mask[: ix.n] if len(mask) >= ix.n else np.pad(mask, (0, ix.n - len(mask)))
    cand = np.flatnonzero(ok)
    if len(cand) > k:
        d = dist[cand]
        part = np.argpartition(d, k - 1)[:k]
        kth = d[part].max()
        cand = cand[d <= kth]  # keep every tie of the k-th value, then order stably
    order = np.lexsort((cand, dist[cand]))[:k]
    rows = cand[order]
    return rows, dist[rows]
