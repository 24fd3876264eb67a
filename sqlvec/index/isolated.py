"""Tenant sub-indexes: one vector index per partition-key value inside a sealed segment.

A table with ``partition_key_isolation`` answers every query for exactly one key value (one
tenant), so a graph over the whole segment only gets in the way: a filtered walk has to
over-fetch past the other tenants' rows. Here each key value of the segment gets its own
structure, chosen by the policy that picks exact search for small row sets
(:data:`sqlvec.index.policy.EXACT_FLOOR`):

* a value with at most ``EXACT_FLOOR`` indexable rows is searched exactly over just its rows
  (one shared :class:`FlatIndex` over the segment, asked with a mask of those rows);
* a larger value gets its own HNSW graph holding only its rows (``HnswIndex.build(present=)``),
  labelled by segment offset and re-ranked against the segment's own vectors, so no vector
  is copied besides hnswlib's graph. A search inside the tenant is then an *unfiltered*
  search of that graph: as fast and as accurate as over a table holding that tenant alone.

The index also keeps each group's key value and its rows (offsets sorted by group), so the
top-k path resolves ``tenant = v`` to the rows of v without reading the key column
(:meth:`IsolatedIndex.rows_of`, then :meth:`IsolatedIndex.search_rows`;
:func:`sqlvec.exec.isolation.knn_segment`). Through :meth:`IsolatedIndex.search`, the values a
search needs are read off the reader's mask (visibility AND WHERE) instead. Any mask is
answered correctly (rows of several groups: each searched, merged), never a row outside it.
Kinds other than hnsw (ivfflat, the exact metrics) search every group exactly.

Files: ``<segment>/<index oid>.tenants<suffix>/`` holds ``groups.npy`` (the group of every
row), ``keys.arrow`` (the key value of every group; missing in folders written before it
existed: such an index is searched by mask only), ``meta.json`` and one ``sub-<group>``
folder per graph; written under ``.tmp`` and renamed, listed by the manifest like any index
file.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.exec import kernels
from sqlvec.index import INDEX_CLASSES
from sqlvec.index.base import (
    FLOAT_METRICS,
    IndexSpec,
    Progress,
    SearchResult,
    full_mask,
    present_rows,
)
from sqlvec.index.flat import FlatIndex
from sqlvec.index.hnsw import HnswIndex, _fsync
from sqlvec.index.policy import EXACT_FLOOR

if TYPE_CHECKING:
    from sqlvec.storage.segment import SealedSegment

ISOLATE = "isolate_by"  # IndexSpec option: the key column id whose values get sub-indexes
LABEL = "tenant sub-index"  # how EXPLAIN names the path
_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))


def is_isolated(spec: IndexSpec) -> bool:
    return bool(spec.options.get(ISOLATE))


def file_name(spec: IndexSpec) -> str:
    """The segment's file for ``spec``; ends with the kind's suffix so that unlisted copies
    are collected like any index file."""
    if is_isolated(spec):
        return f"{spec.index_oid}.tenants{spec.suffix}"
    return f"{spec.index_oid}{spec.suffix}"


def index_class(spec: IndexSpec) -> type:
    return IsolatedIndex if is_isolated(spec) else INDEX_CLASSES[spec.kind]


def group_codes(keys: pa.Array | pa.ChunkedArray | None, n: int) -> np.ndarray:
    """A dense group number per row (one per distinct key value, NULL its own value)."""
    return group_keys(keys, n)[0]


def group_keys(keys: pa.Array | pa.ChunkedArray | None,
               n: int) -> tuple[np.ndarray, pa.Array | None]:
    """(group number per row, key value of each group) of a key column."""
    if keys is None:
        return np.zeros(n, np.int32), None
    enc = pc.dictionary_encode(keys, null_encoding="encode")
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks() if enc.num_chunks > 1 else enc.chunk(0)
    return np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int32), enc.dictionary


class IsolatedIndex:
    """A :class:`sqlvec.index.base.VectorIndex` made of one sub-index per key value."""

    isolated = True  # the top-k path plans a search as over the key value's rows alone

    def __init__(self, kind: str, metric: str, options: dict, matrix: np.ndarray,
                 groups: np.ndarray, subs: dict[int, HnswIndex],
                 keys: pa.Array | None = None) -> None:
        self.kind = kind  # the structure the index was declared with ('hnsw', ...)
        self.metric = metric
        self.options = dict(options)
        self._groups = groups  # group of every row
        self._subs = subs  # group -> its own graph (the large groups)
        self._in_sub = np.isin(groups, np.fromiter(subs, np.int32, len(subs)))  # rows in a graph
        self._matrix = matrix
        self._flat = FlatIndex(matrix, metric, int(options.get("nbits", 0)))
        self._keys = keys  # key value of each group (None: unknown, an older folder)
        self._lookup: dict | None = None  # key value -> group, built at the first lookup
        # rows by group, ascending inside each: group g's rows are _order[_starts[g]:_starts[g+1]]
        self._order = np.argsort(groups, kind="stable").astype(np.int32)
        counts = np.bincount(groups, minlength=0 if keys is None else len(keys))
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    # -- building, files ------------------------------------------------------------------
    @classmethod
    def build_segment(cls, seg: SealedSegment, matrix: np.ndarray, spec: IndexSpec, *,
                      threads: int, progress: Progress | None = None) -> IsolatedIndex:
        idx = seg.batch.schema.get_field_index(spec.options[ISOLATE])
        groups, keys = group_keys(seg.batch.column(idx) if idx >= 0 else None, matrix.shape[0])
        return cls.build(matrix, spec.metric, spec.options, threads=threads, progress=progress,
                         groups=groups, kind=spec.kind, keys=keys)

    @classmethod
    def build(cls, matrix: np.ndarray, metric: str, options: dict, *, threads: int,
              progress: Progress | None = None, groups: np.ndarray | None = None,
              kind: str = "hnsw", keys: pa.Array | None = None) -> IsolatedIndex:
        """Sub-indexes of ``matrix`` grouped by ``groups`` (a group number per row); ``keys``:
        the key value of each group, for :meth:`rows_of`."""
        n = matrix.shape[0]
        groups = np.zeros(n, np.int32) if groups is None else np.asarray(groups, np.int32)
        subs: dict[int, HnswIndex] = {}
        if kind == "hnsw" and n > EXACT_FLOOR:
            present = present_rows(matrix, metric)
            counts = np.bincount(groups[present], minlength=int(groups.max(initial=-1)) + 1)
            big = np.flatnonzero(counts > EXACT_FLOOR)
            total, done = int(counts[big].sum()), 0
            for g in big.tolist():
                base = done

                def report(d: int, _t: int, base: int = base) -> None:
                    if progress is not None:
                        progress(base + d, total)
                subs[g] = HnswIndex.build(matrix, metric, options, threads=threads,
                                          progress=report, present=present & (groups == g))
                done += int(counts[g])
        if progress is not None:
            progress(n, n)  # the exact groups need no work (and a stop request is seen here)
        return cls(kind, metric, options, matrix, groups, subs, keys)

    def save(self, path: str) -> None:
        tmp = path + ".tmp"
        os.makedirs(tmp, exist_ok=True)
        np.save(os.path.join(tmp, "groups.npy"), self._groups)
        meta = {"kind": self.kind, "metric": self.metric, "options": self.options,
                "subs": sorted(self._subs)}
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f)
        names = ["groups.npy", "meta.json"]
        if self._keys is not None:
            table = pa.table({"key": self._keys})
            with pa.OSFile(os.path.join(tmp, "keys.arrow"), "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            names.append("keys.arrow")
        for g, sub in self._subs.items():
            sub.save(os.path.join(tmp, f"sub-{g}"))  # fsynced and renamed inside ``tmp``
        for name in names:
            _fsync(os.path.join(tmp, name))
        _fsync(tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, matrix: np.ndarray, *, mmap: bool = True) -> IsolatedIndex:
        with open(os.path.join(path, "meta.json")) as f:
            meta = json.load(f)
        groups = np.load(os.path.join(path, "groups.npy"), mmap_mode="r" if mmap else None)
        subs = {int(g): HnswIndex.load(os.path.join(path, f"sub-{g}"), matrix, mmap=mmap)
                for g in meta["subs"]}
        keys = None
        kpath = os.path.join(path, "keys.arrow")
        if os.path.exists(kpath):
            with pa.OSFile(kpath, "rb") as source:  # read whole: small, and the file may go
                keys = pa.ipc.open_file(source).read_all().column(0).combine_chunks()
        return cls(meta["kind"], meta["metric"], meta["options"], matrix, np.asarray(groups), subs,
                   keys)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._subs.values()) + self._groups.nbytes

    @property
    def num_rows(self) -> int:
        return len(self._groups)

    @property
    def num_groups(self) -> int:
        return int(self._groups.max(initial=-1)) + 1

    @property
    def sub_index_groups(self) -> list[int]:
        return sorted(self._subs)

    # -- deletes --------------------------------------------------------------------------
    def mark_deleted(self, offsets: np.ndarray) -> None:
        offsets = np.asarray(offsets, np.int64)
        self._flat.mark_deleted(offsets)
        for g in np.unique(self._groups[offsets[offsets < len(self._groups)]]).tolist():
            sub = self._subs.get(g)
            if sub is not None:
                sub.mark_deleted(offsets)  # it skips rows it does not hold

    # -- search by key value ----------------------------------------------------------------
    @property
    def has_keys(self) -> bool:
        return self._keys is not None

    def learn_keys(self, column: pa.Array | pa.ChunkedArray) -> bool:
        """Adopt the key values of an index whose folder was written before they were saved:
        the segment's key column, encoded as at build time (groups in order of first
        appearance), must give back exactly this index's groups. Whether keys are known now."""
        if self._keys is not None:
            return True
        groups, keys = group_keys(column, len(column))
        if keys is None or not np.array_equal(groups, self._groups):
            return False  # e.g. a snapshot that sees a prefix of the segment: not now
        self._lookup = None
        self._keys = keys
        return True

    def rows_of(self, value: object) -> np.ndarray | None:
        """Offsets (ascending, int64) of the rows whose key is ``value`` (a Python value of
        the key's type; SQL equality, so NULL matches nothing), or None when this index does
        not know its key values."""
        if self._keys is None:
            return None
        if self._lookup is None:  # racing builders make equal dicts: no lock needed
            self._lookup = {v: g for g, v in enumerate(self._keys.to_pylist()) if v is not None}
        g = None if value is None else self._lookup.get(value)
        if g is None:
            return np.empty(0, np.int64)
        return self._order[self._starts[g]:self._starts[g + 1]].astype(np.int64)

    def search_rows(self, rows: np.ndarray, q: np.ndarray, k: int, *, ef: int | None = None,
                    probes: int | None = None) -> SearchResult:
        """Top-k among ``rows``: ascending offsets of one key value's rows (those the reader
        may use), from :meth:`rows_of`. A group with a graph walks it (with a mask only when
        some of its rows are left out); a small group is scanned exactly over a slice of the
        segment when its rows are contiguous, else over a gathered copy of just its rows."""
        if len(rows) == 0 or k <= 0:
            return (*_EMPTY, True)
        n = len(self._groups)
        g = int(self._groups[rows[0]])
        sub = self._subs.get(g)
        if sub is not None:
            allowed = None  # the graph holds exactly the group's rows
            if len(rows) < self._starts[g + 1] - self._starts[g] or k > sub._n_live:
                allowed = np.zeros(n, bool)
                allowed[rows] = True
            return sub.search(q, k, allowed=allowed, ef=ef, probes=probes)
        if self.metric not in FLOAT_METRICS:
            allowed = np.zeros(n, bool)
            allowed[rows] = True
            return self._flat.search(q, k, allowed=allowed)
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if hi - lo == len(rows):  # contiguous: a view, nothing copied
            o, d = kernels.topk(self._matrix[lo:hi], q, k, self.metric)
            return o + lo, d, True
        o, d = kernels.topk(self._matrix[rows], q, k, self.metric)
        return rows[o], d, True  # rows ascending: ties still break by offset

    # -- search ---------------------------------------------------------------------------
    def _split(self, allowed: np.ndarray | None) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
        """(mask of the allowed rows searched exactly or None if there are none, graph
        group -> mask of its allowed rows). Each mask covers the whole segment."""
        n = len(self._groups)
        mask = full_mask(allowed, n)
        rows = np.arange(n) if mask is None else np.flatnonzero(mask)
        in_sub = self._in_sub[rows]
        flat_rows = rows[~in_sub]
        flat = None
        if len(flat_rows):
            flat = np.zeros(n, bool)
            flat[flat_rows] = True
        graphs: dict[int, np.ndarray] = {}
        if in_sub.any():
            sub_rows = rows[in_sub]
            g_of = self._groups[sub_rows]
            for g in np.unique(g_of).tolist():
                m = np.zeros(n, bool)
                m[sub_rows[g_of == g]] = True
                graphs[g] = m
        return flat, graphs

    def search(self, q: np.ndarray, k: int, *, allowed: np.ndarray | None = None,
               ef: int | None = None, probes: int | None = None) -> SearchResult:
        flat, graphs = self._split(allowed)
        parts = [self._subs[g].search(q, k, allowed=m, ef=ef, probes=probes)
                 for g, m in graphs.items()]
        if flat is not None:
            parts.append(self._flat.search(q, k, allowed=flat))
        return _merge(parts, k)

    def range_search(self, q: np.ndarray, radius: float, *, allowed: np.ndarray | None = None,
                     inclusive: bool = False) -> SearchResult:
        flat, graphs = self._split(allowed)
        parts = [self._subs[g].range_search(q, radius, allowed=m, inclusive=inclusive)
                 for g, m in graphs.items()]
        if flat is not None:
            parts.append(self._flat.range_search(q, radius, allowed=flat, inclusive=inclusive))
        return _merge(parts, None)

    # -- what EXPLAIN shows -----------------------------------------------------------------
    def describe(self, exact: bool) -> str:
        """The path of a finished search, for EXPLAIN ANALYZE."""
        return f"{'exact' if exact else self.kind} ({LABEL})"

    def predict(self, allowed: np.ndarray | None, k: int, ef: int) -> tuple[str, str]:
        """(path, why) a search with this mask will take, for EXPLAIN."""
        flat, graphs = self._split(allowed)
        if graphs:
            rows = sum(int(np.count_nonzero(m)) for m in graphs.values())
            return (f"{self.kind} ({LABEL})",
                    f"graph of the key value ({rows} rows pass), ef={max(ef, k)}")
        n = 0 if flat is None else int(np.count_nonzero(flat))
        return f"exact ({LABEL})", f"{n} rows of the key value: at most {EXACT_FLOOR}, scanned"


def _merge(parts: list[SearchResult], k: int | None) -> SearchResult:
    """One answer from the groups' answers: by (distance, offset), the first ``k``."""
    parts = [p for p in parts if len(p[0])] or parts[:1]
    if not parts:
        return (*_EMPTY, True)
    if len(parts) == 1:
        return parts[0]
    offs = np.concatenate([p[0] for p in parts])
    d = np.concatenate([p[1] for p in parts])
    order = np.lexsort((offs, d))
    if k is not None:
        order = order[:k]
    return offs[order].astype(np.int64), d[order], all(p[2] for p in parts)


__all__ = ["ISOLATE", "IsolatedIndex", "file_name", "group_codes", "group_keys", "index_class",
           "is_isolated"]
