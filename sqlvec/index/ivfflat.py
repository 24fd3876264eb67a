"""IVFFlat over one sealed segment: k-means lists, probed at search time.

The inverted lists are two arrays: ``perm`` (segment offsets grouped by list) and ``starts``
(list ``i`` is ``perm[starts[i]:starts[i + 1]]``). A search ranks the centres, gathers the rows
of the ``probes`` nearest lists and runs the exact kernel over them; when the reader's filter
leaves fewer than ``k`` rows in those lists it widens (doubling the probes) until ``k`` are found
or every list is probed — pgvector's ``ivfflat.iterative_scan``, always on.

Cosine: centres are trained on normalised rows and ranked by cosine. ip: by inner product.
"""

from __future__ import annotations

import os

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
)
from sqlvec.index.kmeans import kmeans, nearest_centre

METRICS = ("l2", "ip", "cosine")
DEFAULT_PROBES = 1  # pgvector's ivfflat.probes
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


class IvfFlatIndex:
    kind = "ivfflat"

    def __init__(self, matrix: np.ndarray, metric: str, centres: np.ndarray, perm: np.ndarray,
                 starts: np.ndarray, present: np.ndarray, options: dict) -> None:
        self.metric = metric
        self.options = dict(options)
        self._matrix = matrix
        self._centres = centres
        self._perm = perm
        self._starts = starts
        self._present = present
        self._live = present.copy()  # replaced on mark_deleted, never mutated

    @classmethod
    def build(cls, matrix: np.ndarray, metric: str, options: dict, *, threads: int,
              progress: Progress | None = None) -> IvfFlatIndex:
        del threads  # numpy's BLAS already uses every core for the products
        if metric not in METRICS:
            raise ValueError(f"ivfflat has no {metric!r} support; use a flat index")
        present = present_rows(matrix, metric)
        ids = np.flatnonzero(present)
        lists = int(options.get("lists", 100))
        if len(ids) == 0:
            centres = np.zeros((0, matrix.shape[1]), np.float32)
            return cls(matrix, metric, centres, np.empty(0, np.int64), np.zeros(1, np.int64),
                       present, options)
        m32 = as_search_matrix(matrix)
        train = _normalised(m32[ids]) if metric == "cosine" else m32[ids]
        centres = kmeans(train, lists)
        if progress is not None:
            progress(len(ids) // 2, len(ids))
        labels = cls._assign(train, centres, metric)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=len(centres))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if progress is not None:
            progress(len(ids), len(ids))
        return cls(matrix, metric, centres, ids[order].astype(np.int64), starts, present,
                   options)

    @staticmethod
    def _assign(x: np.ndarray, centres: np.ndarray, metric: str) -> np.ndarray:
        if metric == "ip":
            out = np.empty(x.shape[0], np.int64)
            for s in range(0, x.shape[0], 16384):
                out[s:s + 16384] = np.argmax(np.asarray(x[s:s + 16384], np.float32) @ centres.T,
                                             axis=1)
            return out
        return nearest_centre(x, centres)[0]  # l2; cosine on normalised rows and centres

    def _rank_lists(self, q: np.ndarray) -> np.ndarray:
        q32 = np.asarray(q, np.float32)
        if self.metric == "l2":
            d = ((self._centres - q32) ** 2).sum(axis=1)
        elif self.metric == "ip":
            d = -(self._centres @ q32)
        else:
            d = -(_normalised(self._centres) @ _normalised(q32))
        return np.argsort(d, kind="stable")

    # -- files ----------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """``path`` (``<segment>/<index oid>.ivf``) is a folder of .npy files."""
        tmp = path + ".tmp"
        os.makedirs(tmp, exist_ok=True)
        arrays = {"centres": self._centres, "perm": self._perm, "starts": self._starts,
                  "present": self._present}
        for name, arr in arrays.items():
            with open(os.path.join(tmp, name + ".npy"), "wb") as f:
                np.save(f, arr)
                f.flush()
                os.fsync(f.fileno())
        with open(os.path.join(tmp, "meta.txt"), "w") as f:
            f.write(f"{self.metric}\n{self.options.get('lists', 100)}\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, matrix: np.ndarray, *, mmap: bool = True) -> IvfFlatIndex:
        mode = "r" if mmap else None
        with open(os.path.join(path, "meta.txt")) as f:
            metric, lists = f.read().split()
        arrays = {name: np.load(os.path.join(path, name + ".npy"), mmap_mode=mode)
                  for name in ("centres", "perm", "starts", "present")}
        return cls(matrix, metric, np.asarray(arrays["centres"]), arrays["perm"],
                   np.asarray(arrays["starts"]), np.asarray(arrays["present"]),
                   {"lists": int(lists)})

    @property
    def nbytes(self) -> int:
        return int(self._centres.nbytes + self._perm.nbytes + self._starts.nbytes)

    @property
    def num_rows(self) -> int:
        return len(self._present)

    def mark_deleted(self, offsets: np.ndarray) -> None:
        offsets = np.asarray(offsets, np.int64)
        live = self._live.copy()
        live[offsets[offsets < len(live)]] = False
        self._live = live

    # -- search ---------------------------------------------------------------------------
    def _candidates(self, lists: np.ndarray) -> np.ndarray:
        parts = [self._perm[self._starts[i]:self._starts[i + 1]] for i in lists.tolist()]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult:
        del ef
        n = len(self._present)
        mask = full_mask(allowed, n)
        ok = self._live if mask is None else (mask & self._live)
        n_ok = int(np.count_nonzero(ok))
        n_allowed = n_ok if mask is None else int(np.count_nonzero(mask))
        if k <= 0 or n_allowed == 0:
            return (*_EMPTY, True)
        nlists = len(self._centres)
        if n_ok < k or nlists == 0:  # the answer needs rows no list holds (NaN distances)
            gone = self._present & ~self._live  # marked deleted
            return exact_topk(self._matrix, q, k, self.metric,
                              (~gone if mask is None else mask & ~gone) if gone.any() else mask)
        probes = max(1, min(int(probes or DEFAULT_PROBES), nlists))
        order = self._rank_lists(q)
        while True:
            cand = self._candidates(order[:probes])
            cand = cand[ok[cand]]
            if len(cand) >= k or probes >= nlists:
                break
            probes = min(nlists, probes * 2)
        sub = np.ascontiguousarray(self._matrix[cand])
        o, d = kernels.topk(sub, q, k, self.metric)
        return cand[o], d, probes >= nlists

    def range_search(self, q: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     inclusive: bool = False) -> SearchResult:
        """Lists are not bounded regions: a radius search probes them all (exact)."""
        n = len(self._present)
        mask = full_mask(allowed, n)
        gone = self._present & ~self._live
        if gone.any():
            mask = ~gone if mask is None else mask & ~gone
        return exact_range(self._matrix, q, radius, self.metric, mask, inclusive)
