"""The one interface of a per-segment vector index, and the pieces every kind shares.

An index covers the rows of one sealed segment; row ``i`` of the matrix it was built from is
segment offset ``i``. Searches return offsets and distances with pgvector's definitions
(l2 = Euclidean, not squared; ip = negative inner product; cosine = 1 - cos), as computed by
:func:`sqlvec.exec.kernels.distances` from the segment's vectors, so that an index answer
merges with exact answers from other segments. An index whose own float32 distances are
within a known bound of those (hnswlib) returns them converted, without reading the
segment's vectors, and recomputes exactly only rows whose order the bound leaves open
(:func:`settle_ties`): the same rows in the same order as the exact distances would give.

``allowed`` is a bool mask over the segment's rows (the reader's visibility AND its WHERE
clause); it may be shorter than the index (a snapshot that sees a prefix of the segment):
rows past its end are not allowed. NULL vectors (NaN rows) are never indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from sqlvec.exec import kernels

Progress = Callable[[int, int], None]  # (rows done, rows total)
SearchResult = tuple[np.ndarray, np.ndarray, bool]  # offsets int64, distances float64, exact

FLOAT_METRICS = ("l2", "ip", "cosine", "l1")
BIT_METRICS = ("hamming", "jaccard")
KINDS = ("hnsw", "ivfflat", "flat")
MAX_DIMENSIONS = 16000  # pgvector stops at 2000 (hnsw/ivfflat on vector); hnswlib does not


@runtime_checkable
class VectorIndex(Protocol):
    kind: str  # 'hnsw' | 'ivfflat' | 'flat'
    metric: str  # 'l2' | 'ip' | 'cosine' | 'l1' | 'hamming' | 'jaccard'

    @classmethod
    def build(cls, matrix: np.ndarray, metric: str, options: dict, *, threads: int,
              progress: Progress | None = None) -> VectorIndex: ...

    @classmethod
    def load(cls, path: str, matrix: np.ndarray, *, mmap: bool = True) -> VectorIndex: ...

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult: ...

    def range_search(self, q: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     inclusive: bool = False) -> SearchResult: ...

    def mark_deleted(self, offsets: np.ndarray) -> None: ...

    def save(self, path: str) -> None: ...

    @property
    def nbytes(self) -> int: ...


@dataclass(frozen=True)
class IndexSpec:
    """What the storage engine needs to build one index on every sealed segment of a table."""

    index_oid: int
    column_id: str
    kind: str
    metric: str
    options: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"index_oid": self.index_oid, "column_id": self.column_id, "kind": self.kind,
                "metric": self.metric, "options": dict(self.options)}

    @classmethod
    def from_json(cls, d: dict) -> IndexSpec:
        return cls(int(d["index_oid"]), d["column_id"], d["kind"], d["metric"],
                   dict(d.get("options", {})))

    @property
    def suffix(self) -> str:
        return SUFFIX[self.kind]


SUFFIX = {"hnsw": ".hnsw", "ivfflat": ".ivf", "flat": ".flat"}


# ----------------------------------------------------------------------- shared helpers


def present_rows(matrix: np.ndarray, metric: str) -> np.ndarray:
    """Rows an index holds: not NULL (NaN), and for cosine not of zero norm (pgvector does not
    index those either: their distance is NaN and sorts after every real one)."""
    if matrix.dtype == np.uint8:  # packed bits: NULLs are excluded by the caller's mask
        return np.ones(matrix.shape[0], bool)
    ok = np.empty(matrix.shape[0], bool)
    step = 8192
    for s in range(0, matrix.shape[0], step):
        block = matrix[s:s + step]
        good = np.isfinite(block).all(axis=1)
        if metric == "cosine":
            good &= np.any(block != 0, axis=1)
        ok[s:s + step] = good
    return ok


def full_mask(allowed: np.ndarray | None, n: int) -> np.ndarray | None:
    """``allowed`` padded (with False) or cut to ``n`` rows."""
    if allowed is None:
        return None
    allowed = np.asarray(allowed, dtype=bool)
    if allowed.shape[0] == n:
        return allowed
    out = np.zeros(n, bool)
    m = min(n, allowed.shape[0])
    out[:m] = allowed[:m]
    return out


def exact_topk(matrix: np.ndarray, q: np.ndarray, k: int, metric: str,
               mask: np.ndarray | None, sqnorms: np.ndarray | None = None) -> SearchResult:
    """Exact top-k over the rows of ``mask``, by the lead's kernel.

    Few rows: gather them first, so the pass reads only those rows instead of the whole
    segment (measured: 2,000 of 200k x 128 rows, 0.25 ms gathered vs 6 ms masked).
    """
    n = matrix.shape[0]
    if mask is not None:
        idx = np.flatnonzero(mask)
        if idx.shape[0] * 4 < n:
            sub = np.ascontiguousarray(matrix[idx])
            norms = sqnorms[idx] if sqnorms is not None else None
            o, d = kernels.topk(sub, q, k, metric, sqnorms=norms)
            return idx[o], d, True  # idx ascending: ties still break by offset
    o, d = kernels.topk(matrix, q, k, metric, mask=mask, sqnorms=sqnorms)
    return o, d, True


def rerank(matrix: np.ndarray, q: np.ndarray, offsets: np.ndarray, k: int,
           metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances of candidate rows, sorted by (distance, offset), the first ``k``."""
    if offsets.shape[0] == 0:
        return offsets.astype(np.int64), np.empty(0, np.float64)
    d = kernels.distances(matrix[offsets], q, metric)
    order = np.lexsort((offsets, d))[:k]
    return offsets[order].astype(np.int64), d[order]


Refine = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray] | None]  # offsets -> (d, slack)


def settle_ties(matrix: np.ndarray, q: np.ndarray, offsets: np.ndarray, d: np.ndarray,
                slack: np.ndarray, k: int, metric: str,
                refine: tuple[Refine, ...] = ()) -> tuple[np.ndarray, np.ndarray, int]:
    """The first ``k`` candidates by (exact distance, offset), given approximate distances
    ``d`` that lie within ``slack`` of the exact ones (an index's own float32 distances).

    Candidates whose intervals ``d +- slack`` overlap form a cluster whose order ``d`` cannot
    tell; only the inexact rows of clusters of two or more rows that reach into the first
    ``k`` are recomputed: first by each ``refine`` stage in turn (offsets -> (distances,
    slack), or None when it cannot), last exactly from ``matrix``. Every other row keeps
    ``d`` and is never read: for an index that holds its own copy of the vectors (hnswlib),
    the segment's pages stay untouched. Returns (offsets, distances, rows read from
    ``matrix``)."""
    if offsets.shape[0] == 0:
        return offsets.astype(np.int64), np.empty(0, np.float64), 0
    d = np.array(d, np.float64)
    slack = np.array(np.broadcast_to(slack, d.shape), np.float64)
    read = 0
    for stage in (*refine, None):
        rows = _vague(d, slack, k)
        if rows.shape[0] == 0:
            break
        got = None if stage is None else stage(offsets[rows])
        if got is not None:
            d[rows], slack[rows] = got
        elif stage is None:  # the segment's own vectors: exact
            d[rows] = kernels.distances(matrix[offsets[rows]], q, metric)
            slack[rows] = 0.0
            read = int(rows.shape[0])
    order = np.lexsort((offsets, d))[:k]
    return offsets[order].astype(np.int64), d[order], read


def separated(d: np.ndarray, slack: np.ndarray, k: int) -> bool:
    """Whether candidates sorted by ``d`` (an index's approximate distances, each within
    ``slack`` of the exact one) are in exact order through the first ``k``: each of those
    rows' interval lies wholly below every later row's, so no two of them tie and no later
    candidate can overtake one. Then :func:`settle_ties` has nothing to do (and its interval
    sweep is skipped: the common case of a top-k search)."""
    n = d.shape[0]
    if n <= 1:
        return True
    kk = min(k, n - 1)
    lo = d - slack
    later = np.minimum.accumulate(lo[::-1])[::-1]  # the lowest bound of each suffix
    return bool((later[1:kk + 1] > (d[:kk] + slack[:kk])).all()) and bool((np.diff(d[:kk + 1]) >= 0).all())


def _vague(d: np.ndarray, slack: np.ndarray, k: int) -> np.ndarray:
    """Positions of the inexact rows whose order among the first ``k`` is open: members of
    clusters of overlapping intervals ``d +- slack`` (equal ends overlap) of two or more rows,
    with fewer than ``k`` rows in nearer clusters."""
    n = d.shape[0]
    lo, hi = d - slack, d + slack
    by_lo = np.argsort(lo, kind="stable")  # interval merging: sweep by lower bound
    reach = np.maximum.accumulate(hi[by_lo])
    new = np.empty(n, bool)
    new[0] = True
    new[1:] = lo[by_lo[1:]] > reach[:-1]
    cluster = np.empty(n, np.int64)
    cluster[by_lo] = np.cumsum(new) - 1  # clusters numbered in distance order
    sizes = np.bincount(cluster)
    before = np.cumsum(sizes) - sizes  # rows in nearer clusters
    open_ = (sizes > 1) & (before < k)
    return np.flatnonzero(open_[cluster] & (slack > 0))


def exact_range(matrix: np.ndarray, q: np.ndarray, radius: float, metric: str,
                mask: np.ndarray | None, inclusive: bool) -> SearchResult:
    """Every allowed row within ``radius`` (``<`` or, inclusive, ``<=``), nearest first."""
    idx = np.arange(matrix.shape[0]) if mask is None else np.flatnonzero(mask)
    d = kernels.distances(matrix[idx] if mask is not None else matrix, q, metric)
    keep = d <= radius if inclusive else d < radius
    idx, d = idx[keep], d[keep]
    order = np.lexsort((idx, d))
    return idx[order].astype(np.int64), d[order], True


def as_search_matrix(matrix: np.ndarray) -> np.ndarray:
    """halfvec (float16) rows are indexed and searched as float32."""
    if matrix.dtype == np.float16:
        return matrix.astype(np.float32)
    return matrix
