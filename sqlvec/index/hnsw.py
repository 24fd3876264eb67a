"""HNSW over one sealed segment, on hnswlib (spaces l2, ip, cosine).

Labels are segment offsets. hnswlib computes float32 distances over its own copy of the
vectors (squared L2; 1 - x.q; for cosine 1 - x.q of copies it normalised itself): these are
converted to pgvector's (the square root; (1 - x.q) - 1 = -(x.q); clamped to [0, 2]) with
a rigorous bound on their distance from the exact float64 value (:func:`converted`), and only
rows whose order that bound leaves open are recomputed (:func:`settle_ties`): from hnswlib's
own copies first (~9 us a row), from the segment only when those cannot decide (cosine).
So an indexed search answers the same rows in the same order as re-ranking every candidate
would, without reading the memory-mapped segment: its pages stay out of the server's memory
(measured on ext4 with large folios: one row read maps ~1.3 MB of the file).
Re-ranked as before: ip indexes saved before row norms were kept (their bound needs |x|), and
a cosine query of zero norm (every distance is NaN, as on the exact path).

Per-query ``ef`` without a lock: hnswlib's ef is index-wide state (``set_ef``), but its search
uses ``max(ef, k)``; we keep ef at 1 and ask for ``max(ef, k)`` results instead, then keep the
best ``k``. Concurrent readers with different ef never race.

Filters: hnswlib's ``filter=`` callback runs Python per visited node (~20x slower). We use the
measured policy of :mod:`sqlvec.index.policy`: exact over the allowed rows when few pass, else
over-fetch ``ef / selectivity`` candidates and keep those that pass, widening 4x until ``k``
pass (then exact). Deleted rows (``mark_deleted``) are skipped inside the graph walk.
"""

from __future__ import annotations

import os
import threading

import hnswlib
import numpy as np

from sqlvec.exec import kernels
from sqlvec.index.base import (
    Progress,
    SearchResult,
    as_search_matrix,
    exact_range,
    exact_topk,
    full_mask,
    present_rows,
    rerank,
    separated,
    settle_ties,
)
from sqlvec.index.policy import (
    EXACT_FLOOR,
    MAX_FETCH_FRACTION,
    filtered_want,
    overfetch,
    plan_search,
)

SPACES = {"l2": "l2", "ip": "ip", "cosine": "cosine"}
DEFAULT_EF_SEARCH = 40  # pgvector's hnsw.ef_search
_BUILD_BATCH = 8192  # rows per add_items call: progress granularity, no measurable cost
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))
_U32 = 2.0 ** -24  # unit roundoff of float32
_TINY = 1e-300  # keeps equal values of distinct rows in one cluster (see settle_ties)


def converted(metric: str, d32: np.ndarray, dim: int, xnorms: np.ndarray | None,
              qnorm: float) -> tuple[np.ndarray, np.ndarray]:
    """pgvector's distances from hnswlib's float32 ones, and for each a bound on its distance
    from the exact value (:func:`sqlvec.exec.kernels.distances` of the same row).

    The bounds are the classical ones of float32 sums, with a margin: l2 sums ``dim``
    non-negative rounded squares (relative error <= (dim + 2) u, halved by the square root);
    ip's dot product errs by <= (dim + 1) u |x||q| (``xnorms``: |x| of each row) and
    ``1 - dot`` rounds once more; cosine is a dot product of two vectors that hnswlib
    normalised in float32 (each component within (dim/2 + 4) u), so its error is absolute,
    <= (2 dim + 10) u. Measured errors are ~100x smaller (1e-7 relative at 128 dims).
    """
    d = d32.astype(np.float64)
    if metric == "l2":
        np.sqrt(np.maximum(d, 0.0, out=d), out=d)
        return d, d * ((dim + 4) * _U32) + _TINY
    if metric == "ip":
        one_minus = d.copy()
        d -= 1.0  # hnswlib's 1 - x.q  ->  pgvector's -(x.q)
        assert xnorms is not None
        return d, _U32 * (2.0 * np.abs(one_minus) + (dim + 4) * xnorms * qnorm) + _TINY
    np.clip(d, 0.0, 2.0, out=d)
    return d, np.full(d.shape[0], (2 * dim + 16) * _U32)


def _l2_apart(v: list[float], rel: float) -> bool:
    """hnswlib's squared l2 distances ``v`` (ascending) are apart by more than the bounds of
    their converted distances: sqrt(b) (1 - rel) > sqrt(a) (1 + rel) for each neighbouring
    pair, compared squared (the bound ``tiny`` of ``converted`` is absorbed by the slightly
    larger ``rel`` the caller passes)."""
    lo, hi = (1.0 - rel) ** 2, (1.0 + rel) ** 2
    for i in range(len(v) - 1):
        if v[i + 1] * lo <= v[i] * hi:
            return False
    return True


def _cosine_apart(v: list[float], gap: float) -> bool:
    """The same for cosine distances, whose bound is absolute (``gap``: both rows' bounds)."""
    c = [min(max(x, 0.0), 2.0) for x in v]
    for i in range(len(c) - 1):
        if c[i + 1] - c[i] <= gap:
            return False
    return True


def _plain_check(metric: str, dim: int):
    """For HnswIndex._plain: (test that the first rows' converted distances are apart by
    more than their bounds, its margin), for the metrics whose bound never shrinks as the
    distance grows; None for the others (ip)."""
    if metric == "l2":
        return _l2_apart, (dim + 4) * _U32 * (1 + 1e-6) + 1e-12
    if metric == "cosine":
        return _cosine_apart, 2 * (2 * dim + 16) * _U32
    return None


class HnswIndex:
    kind = "hnsw"

    def __init__(self, graph: hnswlib.Index | None, matrix: np.ndarray, metric: str,
                 present: np.ndarray, options: dict, norms: np.ndarray | None = None) -> None:
        self.metric = metric
        self.options = dict(options)
        self._graph = graph  # None when no row is indexable
        self._matrix = matrix  # the segment's vectors (float16 for halfvec): re-ranking, exact
        self._present = present  # rows in the graph
        # rows marked deleted in the graph (None until the first); present and not marked
        # deleted (replaced, never mutated: it starts as ``present`` itself). A tenant
        # sub-index has these at segment length, so they are not allocated before needed.
        self._deleted: np.ndarray | None = None
        self._live = present
        self._n_live = self._n_present = int(present.sum())
        self._mark_lock = threading.Lock()
        # ip: float32 |x| of the graph's rows in offset order, for the bound of ``converted``
        # (a tenant sub-index holds few of the segment's rows: not one slot per segment row)
        self._norms = norms if norms is not None and len(norms) == self._n_present else None
        self._ids: np.ndarray | None = None  # offsets of the graph's rows, for ``_norms``
        self._plain_check = _plain_check(metric, matrix.shape[1]) if graph is not None else None
        self.rows_read = 0  # rows whose vectors searches read from the segment (a statistic)

    # -- building, files ------------------------------------------------------------------
    @classmethod
    def build(cls, matrix: np.ndarray, metric: str, options: dict, *, threads: int,
              progress: Progress | None = None,
              present: np.ndarray | None = None) -> HnswIndex:
        """``present``: the rows to put in the graph (default: every row that is not NULL);
        a tenant sub-index (:mod:`sqlvec.index.isolated`) holds one key value's rows."""
        if metric not in SPACES:
            raise ValueError(f"hnswlib has no {metric!r} space; use a flat index")
        present = present_rows(matrix, metric) if present is None else present
        ids = np.flatnonzero(present)
        graph = None
        norms = np.empty(len(ids), np.float32) if metric == "ip" else None  # by rank in ids
        if len(ids):
            m32 = as_search_matrix(matrix)
            graph = hnswlib.Index(space=SPACES[metric], dim=matrix.shape[1])
            graph.init_index(max_elements=len(ids), M=options.get("m", 16),
                             ef_construction=options.get("ef_construction", 64),
                             random_seed=100)
            graph.set_num_threads(threads)
            for s in range(0, len(ids), _BUILD_BATCH * threads):
                part = ids[s:s + _BUILD_BATCH * threads]
                rows = np.ascontiguousarray(m32[part], dtype=np.float32)
                graph.add_items(rows, part, num_threads=threads)
                if norms is not None:
                    norms[s:s + len(part)] = np.sqrt(np.einsum("ij,ij->i", rows, rows,
                                                               dtype=np.float64))
                if progress is not None:
                    progress(s + len(part), len(ids))
            graph.set_ef(1)
            graph.set_num_threads(1)
        elif progress is not None:
            progress(0, 0)
        return cls(graph, matrix, metric, present, options, norms)

    def save(self, path: str) -> None:
        """``path`` (``<segment>/<index oid>.hnsw``) is a folder: hnswlib's graph file and a
        small header; written under a temporary name and renamed, so it appears whole."""
        tmp = path + ".tmp"
        os.makedirs(tmp, exist_ok=True)
        np.save(os.path.join(tmp, "present.npy"), self._present)
        if self._norms is not None:
            np.save(os.path.join(tmp, "norms.npy"), self._norms)
        with open(os.path.join(tmp, "meta.txt"), "w") as f:
            f.write(f"{self.metric}\n{self.options.get('m', 16)}\n"
                    f"{self.options.get('ef_construction', 64)}\n")
        if self._graph is not None:
            self._graph.save_index(os.path.join(tmp, "graph.bin"))
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, matrix: np.ndarray, *, mmap: bool = True) -> HnswIndex:
        """hnswlib reads the whole graph into memory (it cannot map it): ``mmap`` is moot."""
        del mmap
        with open(os.path.join(path, "meta.txt")) as f:
            metric, m, efc = f.read().split()
        present = np.load(os.path.join(path, "present.npy"))
        npath = os.path.join(path, "norms.npy")
        norms = np.load(npath) if metric == "ip" and os.path.exists(npath) else None
        graph = None
        gpath = os.path.join(path, "graph.bin")
        if os.path.exists(gpath):
            graph = hnswlib.Index(space=SPACES[metric], dim=matrix.shape[1])
            graph.load_index(gpath, max_elements=int(present.sum()))
            graph.set_ef(1)
            graph.set_num_threads(1)
        return cls(graph, matrix, metric, present, {"m": int(m), "ef_construction": int(efc)},
                   norms)

    @property
    def nbytes(self) -> int:
        return 0 if self._graph is None else int(self._graph.index_file_size())

    @property
    def num_rows(self) -> int:
        return len(self._present)

    # -- deletes --------------------------------------------------------------------------
    def mark_deleted(self, offsets: np.ndarray) -> None:
        """Skip these rows inside every later graph walk (they stay as waypoints)."""
        offsets = np.asarray(offsets, np.int64)
        with self._mark_lock:
            if self._deleted is None:
                self._deleted = np.zeros(len(self._present), bool)
            offsets = offsets[offsets < len(self._present)]
            todo = offsets[self._present[offsets] & ~self._deleted[offsets]]
            todo = np.unique(todo)
            for off in todo.tolist():
                self._graph.mark_deleted(off)
            self._deleted[todo] = True
            live = self._live.copy()
            live[todo] = False
            self._live, self._n_live = live, int(live.sum())

    def is_marked_deleted(self, offsets: np.ndarray) -> np.ndarray:
        """Whether each row is marked deleted in the graph (skipped by every walk)."""
        offsets = np.asarray(offsets, np.int64)
        if self._deleted is None:
            return np.zeros(len(offsets), bool)
        return self._deleted[offsets]

    # -- search ---------------------------------------------------------------------------
    def _walk(self, q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Up to ``count`` nearest live labels by the graph and hnswlib's float32 distances;
        None if hnswlib cannot return as many (a graph whose live rows are not all reachable)."""
        count = min(count, self._n_live)
        if count <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        q32 = np.asarray(q, np.float32).reshape(1, -1)
        try:
            labels, d32 = self._graph.knn_query(q32, k=count, num_threads=1)
        except RuntimeError:
            return None
        return labels[0].astype(np.int64), d32[0]

    def _bounds(self, q: np.ndarray, labels: np.ndarray,
                d32: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(distances, slack) of the candidates from hnswlib's own, or None when they must be
        recomputed from the segment (see the module docstring)."""
        if self.metric == "ip" and self._norms is None:
            return None
        qnorm = 0.0  # l2's bound does not need it
        if self.metric != "l2":
            qnorm = float(np.sqrt(np.dot(q.astype(np.float64), q.astype(np.float64))))
            if self.metric == "cosine" and qnorm == 0.0:
                return None
        xnorms = None
        if self._norms is not None:
            if self._ids is None:
                self._ids = np.flatnonzero(self._present)
            xnorms = self._norms[np.searchsorted(self._ids, labels)].astype(np.float64)
        return converted(self.metric, d32, q.shape[0], xnorms, qnorm)

    def _answer(self, q: np.ndarray, labels: np.ndarray, d32: np.ndarray,
                k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` candidates by (exact distance, offset)."""
        bounds = self._bounds(q, labels, d32)
        if bounds is None:
            self.rows_read += len(labels)
            return rerank(self._matrix, q, labels, k, self.metric)
        if separated(bounds[0], bounds[1], k):  # the common case: nothing to settle
            return labels[:k], bounds[0][:k]
        offs, d, read = settle_ties(self._matrix, q, labels, bounds[0], bounds[1], k,
                                    self.metric, (lambda offs: self._from_copies(q, offs),))
        self.rows_read += read
        return offs, d

    def _from_copies(self, q: np.ndarray, offs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Distances of a few rows from hnswlib's copies of their vectors (~9 us a row; its
        heap, not the segment's pages), with their slack: for l2 and ip the copies are the
        segment's float32 values (halfvec widened exactly), so the distances are the exact
        kernel's, bit for bit; for cosine they were normalised in float32, which leaves each
        component within one rounding of the true direction (|error| <= 2u, the norm cancels).
        None if a row was marked deleted meanwhile (hnswlib no longer hands it out)."""
        try:
            rows = np.asarray(self._graph.get_items(offs), np.float32)
        except RuntimeError:
            return None
        d = kernels.distances(rows, q, self.metric)
        return d, np.full(d.shape[0], 4 * _U32 if self.metric == "cosine" else 0.0)

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult:
        del probes
        n = len(self._present)
        k = int(k)
        ef = DEFAULT_EF_SEARCH if ef is None else int(ef)
        if allowed is None and self._n_live == n and self._plain_check is not None and \
                0 < k and max(EXACT_FLOOR, 4 * k) < n:  # plan_search's 'index' case
            got = self._plain(q, k, max(ef, k))
            if got is not None:
                return got
        mask = full_mask(allowed, n)
        if k <= 0:
            return (*_EMPTY, True)
        if mask is None:
            n_allowed, live_allowed = n, self._n_live
            outside = n - self._n_present  # unindexed rows (cosine zero vectors)
        else:
            n_allowed = int(np.count_nonzero(mask))
            if self._n_live == n:  # every row is in the graph and none is marked deleted
                live_allowed = n_allowed
            else:
                live_allowed = int(np.count_nonzero(mask & self._live))
            outside = n_allowed - live_allowed
        if n_allowed == 0:
            return (*_EMPTY, True)
        mask = self._not_deleted(mask)  # rows marked deleted are gone for every reader
        if self._graph is None or (outside and live_allowed < k):
            # the answer needs rows the graph does not hold (NaN distances sort last)
            return exact_topk(self._matrix, q, k, self.metric, mask)
        how = plan_search(self._n_live, live_allowed, k, ef=ef)
        if how == "exact":
            return exact_topk(self._matrix, q, k, self.metric, mask)
        if how == "index" or mask is None:
            got = self._walk(q, max(ef, k))
            if got is None or len(got[0]) < min(k, live_allowed):
                return exact_topk(self._matrix, q, k, self.metric, mask)
            return (*self._answer(q, got[0], got[1], k), False)
        count = overfetch(self._n_live, live_allowed, k, ef)
        while True:
            got = self._walk(q, count)
            if got is None:
                break
            keep = mask[got[0]]
            labels, d32 = got[0][keep], got[1][keep]
            if len(labels) >= min(k, live_allowed) and \
                    len(labels) >= min(filtered_want(ef, k), live_allowed) // 2:
                return (*self._answer(q, labels, d32, k), False)
            if count >= MAX_FETCH_FRACTION * self._n_live:
                break  # a correlated filter: the allowed rows are far away, scan them
            count = min(self._n_live, count * 4)
        return exact_topk(self._matrix, q, k, self.metric, mask)

    def _plain(self, q: np.ndarray, k: int, count: int) -> SearchResult | None:
        """The unfiltered search over a graph that holds every row of the segment, none
        deleted (the common case, kept short): the walk's first ``k`` rows when their
        converted distances are separated by more than their error bounds (then their order
        is exact, and no later candidate, whose bound only grows with its distance, can come
        before one); otherwise the walk's candidates go through :meth:`_answer`, which
        settles the near-ties. None: the walk failed (the general path decides)."""
        try:
            labels, d32 = self._graph.knn_query(q.reshape(1, -1), k=min(count, self._n_live),
                                                num_threads=1)
        except RuntimeError:
            return None
        if labels.shape[1] < k:
            return None
        apart, margin = self._plain_check
        # (the first k + 1 hnswlib distances as Python floats: cheaper than numpy's calls)
        if not apart(d32[0, :k + 1].tolist(), margin):  # near-ties: settle them
            return (*self._answer(q, labels[0].astype(np.int64), d32[0], k), False)
        d = d32[0, :k].astype(np.float64)  # as ``converted`` computes them
        if self.metric == "l2":
            np.sqrt(np.maximum(d, 0.0, out=d), out=d)
        else:
            np.clip(d, 0.0, 2.0, out=d)
        return labels[0, :k].astype(np.int64), d, False

    def _not_deleted(self, mask: np.ndarray | None) -> np.ndarray | None:
        if self._n_live == self._n_present:
            return mask
        return ~self._deleted if mask is None else mask & ~self._deleted

    def range_search(self, q: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     inclusive: bool = False) -> SearchResult:
        """Rows within ``radius``: walk for growing counts until most candidates lie outside
        the radius (then the graph has shown the rows inside it), else exact."""
        n = len(self._present)
        mask = self._not_deleted(full_mask(allowed, n))
        n_allowed = n if mask is None else int(np.count_nonzero(mask))
        outside = (n - self._n_present) if mask is None else \
            n_allowed - int(np.count_nonzero(mask & self._live))
        if self._graph is None or outside or \
                plan_search(self._n_live, n_allowed, 64) == "exact":
            return exact_range(self._matrix, q, radius, self.metric, mask, inclusive)
        count = overfetch(self._n_live, n_allowed, 64, 64)
        while count < self._n_live:
            got = self._walk(q, count)
            if got is None:
                break
            offs, d = self._within(q, got[0], got[1], radius)
            keep = d <= radius if inclusive else d < radius
            # done once at least half the candidates lie outside: the walk's beam then reaches
            # well past the radius (measured recall >= 0.99; ``d[-1] > r`` alone gave 0.98)
            if np.count_nonzero(keep) * 2 <= len(d):
                if mask is not None:
                    keep &= mask[offs]
                return offs[keep], d[keep], False
            count *= 4
        return exact_range(self._matrix, q, radius, self.metric, mask, inclusive)

    def _within(self, q: np.ndarray, labels: np.ndarray, d32: np.ndarray,
                radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Candidates by distance, exact for every row the bound cannot place on one side of
        ``radius`` (the rest keep hnswlib's converted distance)."""
        bounds = self._bounds(q, labels, d32)
        if bounds is None:
            self.rows_read += len(labels)
            return rerank(self._matrix, q, labels, len(labels), self.metric)
        d, slack = bounds
        for stage in (lambda offs: self._from_copies(q, offs), None):
            edge = np.flatnonzero((np.abs(d - radius) <= slack) & (slack > 0))
            if len(edge) == 0:
                break
            got = None if stage is None else stage(labels[edge])
            if got is None and stage is None:
                got = kernels.distances(self._matrix[labels[edge]], q, self.metric), 0.0
                self.rows_read += len(edge)
            if got is not None:
                d[edge], slack[edge] = got
        order = np.lexsort((labels, d))
        return labels[order], d[order]


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
