"""TTL for compaction: which stored rows of a ``WITH (ttl, ttl_column)`` table have expired
for every reader, so that compaction may drop them like deleted rows.

Queries hide an expired row with the predicate ``ttl_column >= now() - ttl`` (see
sqlvec.plan.ttl), where now() is the time of the reader's statement. A statement never starts
before its transaction or snapshot was taken, so a row whose ttl_column is older than
``(oldest active snapshot's wall clock) - ttl`` is invisible to every present and future
statement; :func:`cutoff_us` is that instant, less a safety margin, and only rows older than it
are dropped. Months count as 31 days and years as 366 (never later than the calendar), so the
cutoff errs towards keeping rows.

This is the one place the storage engine reads its catalog blob: the ``options`` and
``columns`` of each table (see sqlvec.catalog.serde).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from sqlvec.storage.engine import StorageEngine
    from sqlvec.storage.segment import SealedSegment

MARGIN_US = 5_000_000  # clock reads between taking a snapshot and a statement's now()
DAY_US = 86_400_000_000
_TIME_OIDS = {1082, 1114, 1184}  # date, timestamp, timestamptz

Mask = Callable[["SealedSegment"], "np.ndarray | None"]


@dataclass(frozen=True)
class TtlRule:
    column_id: str
    ttl_us: int  # the ttl, rounded up (months as 31 days)


def parse_ttl_us(text: str) -> int:
    from sqlvec.types import registry as T

    iv = T.INTERVAL.defn.text_in(str(text), -1)
    return int(iv.months) * 31 * DAY_US + int(iv.days) * DAY_US + int(iv.microseconds)


def rules(catalog: dict) -> dict[int, TtlRule]:
    """oid -> rule for every table of the catalog blob that has a TTL."""
    out: dict[int, TtlRule] = {}
    for db in (catalog or {}).get("databases", {}).values():
        for t in db.get("tables", []):
            opts = t.get("options") or {}
            ttl, col = opts.get("ttl"), opts.get("ttl_column")
            if ttl is None or col is None:
                continue
            cols = [c for c in t["columns"] if c["name"] == col]
            if not cols or cols[0]["type"][0] not in _TIME_OIDS:
                continue
            try:
                out[int(t["oid"])] = TtlRule(cols[0]["id"], parse_ttl_us(str(ttl)))
            except Exception:  # noqa: BLE001 - checked at CREATE TABLE; never fail compaction
                continue
    return out


def oldest_wall(eng: StorageEngine) -> float:
    """Wall clock (seconds) of the oldest active snapshot or transaction; now if none."""
    with eng._active_lock:
        walls = [getattr(o, "wall", None) if not hasattr(o, "_snapshot") else o._snapshot.wall
                 for o in list(eng._active)]
    return min([w for w in walls if w is not None], default=time.time())


def cutoff_us(eng: StorageEngine) -> int:
    """Rows whose ttl column is before this instant (µs since 1970) may be dropped, once
    their table's ttl is subtracted."""
    now = min(time.time(), oldest_wall(eng))
    return int(now * 1_000_000) - MARGIN_US


def expired_mask(seg: SealedSegment, rule: TtlRule, cutoff: int) -> np.ndarray | None:
    """Rows of ``seg`` expired for every reader; None when the column is absent."""
    batch = seg.batch
    idx = batch.schema.get_field_index(rule.column_id)
    if idx < 0:
        return None  # a segment older than the column: all NULL, which never expires
    col = batch.column(idx)
    if pa.types.is_date(col.type):
        col = col.cast(pa.timestamp("us"))
    elif col.type.unit != "us":
        col = col.cast(pa.timestamp("us", col.type.tz))
    micros = col.view(pa.int64())
    bound = cutoff - rule.ttl_us
    return np.asarray(pc.fill_null(pc.less(micros, pa.scalar(bound, pa.int64())), False))


def mask_function(eng: StorageEngine, oid: int) -> Mask | None:
    """``segment -> expired mask`` for one table at one cutoff, or None (no TTL)."""
    rule = eng.ttl_rules().get(oid)
    if rule is None:
        return None
    cutoff = cutoff_us(eng)
    cache: dict[int, np.ndarray | None] = {}

    def mask(seg: SealedSegment) -> np.ndarray | None:
        if seg.segment_id not in cache:
            cache[seg.segment_id] = expired_mask(seg, rule, cutoff)
        return cache[seg.segment_id]

    return mask
