"""HNSW over one sealed segment, on hnswlib (spaces l2, ip, cosine).

Labels are segment offsets. hnswlib's own distances (squared L2, 1 - ip) are never returned:
candidates are re-ranked with the exact kernel, so answers carry pgvector's distances computed
the same way as on the exact path.

Per-query ``ef`` without a lock: hnswlib's ef is index-wide state (``set_ef``), but its search
uses ``max(ef, k)``; we keep ef at 1 and ask for ``max(ef, k)`` results instead, then keep the
best ``k`` after re-ranking. Concurrent readers with different ef never race.

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

from sqlvec.index.base import (
    Progress,
    SearchResult,
    as_search_matrix,
    exact_range,
    exact_topk,
    full_mask,
    present_rows,
    rerank,
)
from sqlvec.index.policy import MAX_FETCH_FRACTION, filtered_want, overfetch, plan_search

SPACES = {"l2": "l2", "ip": "ip", "cosine": "cosine"}
DEFAULT_EF_SEARCH = 40  # pgvector's hnsw.ef_search
_BUILD_BATCH = 8192  # rows per add_items call: progress granularity, no measurable cost
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))


class HnswIndex:
    kind = "hnsw"

    def __init__(self, graph: hnswlib.Index | None, matrix: np.ndarray, metric: str,
                 present: np.ndarray, options: dict) -> None:
        self.metric = metric
        self.options = dict(options)
        self._graph = graph  # None when no row is indexable
        self._matrix = matrix  # the segment's vectors (float16 for halfvec): re-ranking, exact
        self._present = present  # rows in the graph
        self._deleted = np.zeros(len(present), bool)  # rows marked deleted in the graph
        self._live = present.copy()  # present and not marked deleted (replaced, not mutated)
        self._n_live = self._n_present = int(present.sum())
        self._mark_lock = threading.Lock()

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
        if len(ids):
            m32 = as_search_matrix(matrix)
            graph = hnswlib.Index(space=SPACES[metric], dim=matrix.shape[1])
            graph.init_index(max_elements=len(ids), M=options.get("m", 16),
                             ef_construction=options.get("ef_construction", 64),
                             random_seed=100)
            graph.set_num_threads(threads)
            for s in range(0, len(ids), _BUILD_BATCH * threads):
                part = ids[s:s + _BUILD_BATCH * threads]
                graph.add_items(np.ascontiguousarray(m32[part], dtype=np.float32), part,
                                num_threads=threads)
                if progress is not None:
                    progress(s + len(part), len(ids))
            graph.set_ef(1)
            graph.set_num_threads(1)
        elif progress is not None:
            progress(0, 0)
        return cls(graph, matrix, metric, present, options)

    def save(self, path: str) -> None:
        """``path`` (``<segment>/<index oid>.hnsw``) is a folder: hnswlib's graph file and a
        small header; written under a temporary name and renamed, so it appears whole."""
        tmp = path + ".tmp"
        os.makedirs(tmp, exist_ok=True)
        np.save(os.path.join(tmp, "present.npy"), self._present)
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
        graph = None
        gpath = os.path.join(path, "graph.bin")
        if os.path.exists(gpath):
            graph = hnswlib.Index(space=SPACES[metric], dim=matrix.shape[1])
            graph.load_index(gpath, max_elements=int(present.sum()))
            graph.set_ef(1)
            graph.set_num_threads(1)
        return cls(graph, matrix, metric, present, {"m": int(m), "ef_construction": int(efc)})

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
            offsets = offsets[offsets < len(self._present)]
            todo = offsets[self._present[offsets] & ~self._deleted[offsets]]
            todo = np.unique(todo)
            for off in todo.tolist():
                self._graph.mark_deleted(off)
            self._deleted[todo] = True
            live = self._live.copy()
            live[todo] = False
            self._live, self._n_live = live, int(live.sum())

    # -- search ---------------------------------------------------------------------------
    def _walk(self, q: np.ndarray, count: int) -> np.ndarray | None:
        """Up to ``count`` nearest live labels by the graph; None if hnswlib cannot return as
        many (a graph whose live rows are not all reachable)."""
        count = min(count, self._n_live)
        if count <= 0:
            return np.empty(0, np.int64)
        q32 = np.asarray(q, np.float32).reshape(1, -1)
        try:
            labels, _ = self._graph.knn_query(q32, k=count, num_threads=1)
        except RuntimeError:
            return None
        return labels[0].astype(np.int64)

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult:
        del probes
        n = len(self._present)
        k = int(k)
        ef = DEFAULT_EF_SEARCH if ef is None else int(ef)
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
            labels = self._walk(q, max(ef, k))
            if labels is None or len(labels) < min(k, live_allowed):
                return exact_topk(self._matrix, q, k, self.metric, mask)
            return (*rerank(self._matrix, q, labels, k, self.metric), False)
        count = overfetch(self._n_live, live_allowed, k, ef)
        while True:
            labels = self._walk(q, count)
            if labels is None:
                break
            labels = labels[mask[labels]]
            if len(labels) >= min(k, live_allowed) and \
                    len(labels) >= min(filtered_want(ef, k), live_allowed) // 2:
                return (*rerank(self._matrix, q, labels, k, self.metric), False)
            if count >= MAX_FETCH_FRACTION * self._n_live:
                break  # a correlated filter: the allowed rows are far away, scan them
            count = min(self._n_live, count * 4)
        return exact_topk(self._matrix, q, k, self.metric, mask)

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
            labels = self._walk(q, count)
            if labels is None:
                break
            offs, d = rerank(self._matrix, q, labels, len(labels), self.metric)
            keep = d <= radius if inclusive else d < radius
            # done once at least half the candidates lie outside: the walk's beam then reaches
            # well past the radius (measured recall >= 0.99; ``d[-1] > r`` alone gave 0.98)
            if np.count_nonzero(keep) * 2 <= len(d):
                if mask is not None:
                    keep &= mask[offs]
                return offs[keep], d[keep], False
            count *= 4
        return exact_range(self._matrix, q, radius, self.metric, mask, inclusive)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
