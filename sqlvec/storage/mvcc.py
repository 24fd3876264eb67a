"""Per-row commit timestamps of one segment: when a row was inserted (xmin) and deleted (xmax).

Visibility for a snapshot at ts S is ``xmin <= S & xmax > S``. Rows are appended in commit
order, so xmin never decreases within a segment: the rows a snapshot can see are a prefix,
found by binary search, and only xmax needs a mask (none at all in the common case).
"""

from __future__ import annotations

import threading

import numpy as np

INF_TS = np.iinfo(np.int64).max


class Mvcc:
    """Shared by a segment's growing and sealed forms, so deletes during sealing are kept.

    Writers (commit, replay) hold the engine's commit lock. Readers take no lock: they read
    ``n`` first, then the arrays, which are only ever replaced by copies at least ``n`` long.
    """

    def __init__(self, n: int = 0, xmin: np.ndarray | None = None, capacity: int = 1024) -> None:
        # xmin None: every row was committed before the last checkpoint (ts 0 for all).
        self.xmin = xmin if xmin is not None or n else np.zeros(capacity, np.int64)
        self.xmax: np.ndarray | None = None  # None until the first delete
        self.n = n
        self.max_xmin = 0 if xmin is None or not n else int(xmin[n - 1])
        self.min_xmax = INF_TS
        self.max_xmax = 0  # latest delete ts, to know when a delete log is stale
        self.logged_ts = 0  # deletes up to this ts are in the segment's current delete log
        self.lock = threading.Lock()  # seals one segment once

    # -- writers -------------------------------------------------------------------------
    def append(self, count: int, ts: int) -> None:
        end = self.n + count
        if self.xmin is None:
            self.xmin = np.zeros(max(end, 1024), np.int64)
        if end > len(self.xmin):
            grown = np.zeros(max(end, 2 * len(self.xmin)), np.int64)
            grown[: self.n] = self.xmin[: self.n]
            self.xmin = grown
        self.xmin[self.n : end] = ts
        if self.xmax is not None and end > len(self.xmax):
            grown = np.full(len(self.xmin), INF_TS, np.int64)
            grown[: self.n] = self.xmax[: self.n]
            self.xmax = grown
        self.max_xmin = ts
        self.n = end  # last: readers see the rows only once their timestamps are written

    def delete(self, offsets: np.ndarray, ts: int) -> None:
        if self.xmax is None:
            cap = len(self.xmin) if self.xmin is not None else self.n
            self.xmax = np.full(max(cap, self.n), INF_TS, np.int64)
        self.xmax[offsets] = ts
        if len(offsets):
            self.min_xmax = min(self.min_xmax, ts)
            self.max_xmax = max(self.max_xmax, ts)

    def load_deletes(self, offsets: np.ndarray, ts: np.ndarray) -> None:
        """Deletes read back from a delete log at open."""
        if len(offsets):
            self.delete(offsets, 0)
            self.xmax[offsets] = ts
            self.min_xmax = int(ts.min())
            self.max_xmax = self.logged_ts = int(ts.max())

    # -- readers -------------------------------------------------------------------------
    def deleted_at(self, offsets: np.ndarray) -> np.ndarray:
        """xmax of the given rows (INF_TS where not deleted)."""
        xmax = self.xmax
        if xmax is None:
            return np.full(len(offsets), INF_TS, np.int64)
        return xmax[offsets]

    def inserted_at(self, offsets: np.ndarray) -> np.ndarray:
        """xmin of the given rows (0 for rows older than the last checkpoint)."""
        xmin = self.xmin
        if xmin is None:
            return np.zeros(len(offsets), np.int64)
        return xmin[offsets]

    def visible_prefix(self, ts: int) -> int:
        """Number of leading rows inserted at or before ``ts``."""
        n = self.n
        if self.max_xmin <= ts or self.xmin is None:
            return n
        return int(np.searchsorted(self.xmin[:n], ts, side="right"))

    def visible(self, ts: int, n: int) -> np.ndarray | None:
        """Mask of rows not deleted by ``ts`` among the first ``n``; None when all are live."""
        if self.min_xmax > ts:
            return None
        return self.xmax[:n] > ts

    def live_latest(self, n: int) -> np.ndarray | None:
        return self.visible(INF_TS - 1, n)

    def all_dead_by(self, ts: int) -> bool:
        xmax = self.xmax
        return self.n > 0 and xmax is not None and bool((xmax[: self.n] <= ts).all())

    def deletes_upto(self, ts: int) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, ts) of the rows deleted at or before ``ts``, for a delete log."""
        xmax = self.xmax
        if xmax is None:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        offsets = np.flatnonzero(xmax[: self.n] <= ts)
        return offsets.astype(np.int64), xmax[offsets]
