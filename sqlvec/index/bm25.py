"""One BM25 full-text index of one table, on tantivy, kept in step with the table's commits.

Documents are row *versions*: each carries the row id (``_rowid`` = segment id << 32 | offset,
an i64 fast field — tantivy cannot delete by term on unsigned fields) and the key column
(``_key``, i64 fast field), plus one text field per indexed column. An UPDATE is a delete and
an insert in our storage, so it becomes a new document; the old one stays until no snapshot
can see it. That is what makes snapshots exact: a hit counts for a reader only when its row id
is visible to the reader's snapshot (:func:`sqlvec.exec.fulltext` masks hits by visibility).

Durability without touching the WAL: ``sqlvec-state.json`` beside the tantivy files records,
after each tantivy commit, how many rows of each segment are indexed (rows of a segment are
appended in commit order, so a count is a watermark; sealed segments loaded from disk keep no
insert timestamps) and the commit ts applied. Only durable commits (``visible_ts``) are
indexed, so a commit lost in a crash never reaches the index. At open the index catches up
from the table itself: each segment's rows past its count. A crash between the tantivy
commit and the state write leaves some rows in the index already: the first sync after an
open deletes the row ids it is about to add first. Deleted row versions are removed once no
snapshot can see them (the engine's horizon).

Compaction (sqlvec.storage.compaction) moves rows to a new segment with new row ids. The new
segment is indexed like any other (its count starts at 0; rows already dead to every snapshot
are skipped), and the documents of the segments it replaced stay until no snapshot reads those
segments (the compaction's epoch; the ``on_remap`` hook tells us, after the swap is durable),
then go by row-id range. At open, counts of segments the table no longer has are dropped the
same way: whatever crash interrupted a compaction, the index converges to the table.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import tantivy

from sqlvec.index.bm25_options import analyzer_name, register_analyzers
from sqlvec.index.bm25_stats import IndexStats, length_field, token_analyzer
from sqlvec.storage.mvcc import INF_TS
from sqlvec.storage.txn import Snapshot

WRITER_HEAP = 64 << 20
PARSE_CACHE = 512  # parsed queries kept per index
# the on-disk layout; an index written by another one is rebuilt from the table (2: the
# _len_<field> token counts of global statistics, sqlvec.index.bm25_stats)
FORMAT = 2


@dataclass(frozen=True)
class Bm25Spec:
    index_oid: int
    table_oid: int
    key_id: str  # storage column id of the key column
    fields: dict = field(default_factory=dict)  # field name -> {"column": id, "settings": {...}}

    def to_json(self) -> dict:
        return {"index_oid": self.index_oid, "table_oid": self.table_oid, "key_id": self.key_id,
                "fields": self.fields}


def _schema(spec: Bm25Spec) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("_rowid", stored=False, indexed=True, fast=True)
    sb.add_integer_field("_key", stored=False, indexed=True, fast=True)
    for name, f in spec.fields.items():
        # stored: snippets/highlights need the text
        sb.add_text_field(name, stored=True, tokenizer_name=analyzer_name(name, f["settings"]))
        sb.add_integer_field(length_field(name), stored=False, indexed=False, fast=True)
    return sb.build()  # field ids: Bm25Index.field_by_id


class Bm25Index:
    """A tantivy index plus its watermark. One writer, guarded by ``lock``."""

    def __init__(self, spec: Bm25Spec, path: str | None) -> None:
        self.spec = spec
        self.path = path
        self.schema = _schema(spec)
        if path is not None:
            if os.path.isdir(path) and not self._same_format(path):
                shutil.rmtree(path)  # written by an older layout: rebuilt from the table
            os.makedirs(path, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=path, reuse=True)
        register_analyzers(self.index, {n: f["settings"] for n, f in spec.fields.items()})
        self.writer = self.index.writer(WRITER_HEAP, 1)
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}  # segment id -> rows indexed (a prefix)
        self.applied_ts, self.deleted_ts = self._load_state()
        if not self.counts and self.index.searcher().num_docs:
            self.writer.delete_all_documents()  # leftovers of another definition: rebuild
        self._maybe_duplicated = bool(self.counts)  # first sync after a reopen: dedupe
        self._searcher = None
        self._reopened = True  # the first sync compares counts with the table whatever the ts
        self.epoch = -1  # the engine epoch (compactions) of the segment list last synced
        self.retired: dict[int, int] = {}  # compacted-away segment id -> compaction epoch
        self.field_names = list(spec.fields)
        # tantivy's field ids (schema order), as queries' debug forms name them; None: not text
        self.field_by_id = ["_rowid", "_key"] + [x for n in spec.fields for x in (n, None)]
        self._parsed: dict[tuple, tantivy.Query] = {}
        self._counters = {n: token_analyzer(f["settings"]) for n, f in spec.fields.items()}
        self._stats: IndexStats | None = None
        # deletes make tantivy's statistics differ from live ones until segments merge: a
        # generation per committed delete; a probe that finds none marks its generation clean
        self._delete_gen, self._clean_gen = 1, 0
        self._deleting = False

    @staticmethod
    def _same_format(path: str) -> bool:
        p = os.path.join(path, "sqlvec-state.json")
        if not os.path.exists(p):
            return not os.listdir(path)
        try:
            with open(p) as f:
                return json.load(f).get("format") == FORMAT
        except ValueError:
            return False

    # -- state ------------------------------------------------------------------------------
    def _state_path(self) -> str | None:
        return None if self.path is None else os.path.join(self.path, "sqlvec-state.json")

    def _load_state(self) -> tuple[int, int]:
        p = self._state_path()
        if p is None or not os.path.exists(p):
            return 0, 0
        with open(p) as f:
            d = json.load(f)
        if d.get("spec") != self.spec.to_json():
            return 0, 0  # a different definition under the same oid: rebuild
        self.counts = {int(k): int(v) for k, v in d.get("counts", {}).items()}
        return int(d["applied_ts"]), int(d["deleted_ts"])

    def _save_state(self) -> None:
        p = self._state_path()
        if p is None:
            return
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"applied_ts": self.applied_ts, "deleted_ts": self.deleted_ts,
                       "counts": {str(k): v for k, v in self.counts.items()},
                       "spec": self.spec.to_json(), "format": FORMAT}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)

    # -- keeping up with the table -------------------------------------------------------------
    def retire(self, segment_ids: list[int], epoch: int) -> None:
        """Segments a compaction replaced at ``epoch``: their documents go once unpinned."""
        with self.lock:
            for sid in segment_ids:
                if sid in self.counts:
                    self.retired[sid] = epoch

    def sync(self, tables: dict, upto_ts: int, horizon: int, epoch: int = 0,
             oldest_epoch: int | None = None) -> bool:
        """Index the commits in (applied_ts, upto_ts] and drop row versions deleted at or
        before ``horizon`` (no snapshot can see them); ``epoch``: the engine's compaction
        epoch (a new segment list), ``oldest_epoch``: the oldest one a snapshot still reads.
        Returns whether anything changed."""
        with self.lock:
            if self.writer is None:
                return False  # closed
            retire = [s for s, e in self.retired.items()
                      if oldest_epoch is not None and e <= oldest_epoch]
            if upto_ts <= self.applied_ts and horizon <= self.deleted_ts and not self._reopened \
                    and epoch == self.epoch and not retire:
                return False
            changed = False
            if self._reopened:  # no snapshot is open yet: whatever the table lacks goes
                table = tables.get(self.spec.table_oid)
                have = table.by_id if table is not None else {}
                retire = [s for s in self.counts if s not in have]
            self._reopened = False
            self.epoch = epoch
            changed |= self._drop_segments(retire)
            changed |= self._add_new(tables, upto_ts)
            del_upto = min(horizon, max(upto_ts, self.applied_ts))
            if del_upto > self.deleted_ts:
                changed |= self._drop_deleted(tables, del_upto)
            if changed:
                self.writer.commit()
                self.index.reload()
                self._searcher = None
                if self._deleting:  # after the searcher reset: see stats()
                    self._delete_gen += 1
                    self._deleting = False
            self.applied_ts = max(self.applied_ts, upto_ts)
            self.deleted_ts = max(self.deleted_ts, del_upto)
            self._save_state()
            self._maybe_duplicated = False
            return changed

    def _add_new(self, tables: dict, upto_ts: int) -> bool:
        """Index each segment's rows past its recorded count, up to what ``upto_ts`` sees
        (rows of a segment are appended in commit order, so a count is a watermark; sealed
        segments loaded from disk keep no insert timestamps, so a ts would not do)."""
        spec = self.spec
        table = tables.get(spec.table_oid)
        if table is None:
            return False
        cols = {spec.key_id: pa.int64()}
        for f in spec.fields.values():
            cols[f["column"]] = pa.string()
        wanted = {s.segment_id for s in table.segments
                  if s.mvcc.n > self.counts.get(s.segment_id, 0)}
        if not wanted:
            return False
        added = False
        for view in Snapshot(upto_ts, tables).scan(spec.table_oid, cols):
            start = self.counts.get(view.segment_id, 0)
            if view.segment_id not in wanted or view.num_rows <= start:
                continue
            offs = np.arange(start, view.num_rows, dtype=np.int64)
            seg = table.by_id.get(view.segment_id)
            xmax = getattr(getattr(seg, "mvcc", None), "xmax", None)
            if xmax is not None and len(offs):
                # dead to every snapshot already (e.g. rows a compaction carried with their
                # deletes): _drop_deleted would never revisit them
                x = xmax[offs]
                offs = offs[(x == INF_TS) | (x > self.deleted_ts)]
            rids = view.rowids()[offs]
            if self._maybe_duplicated:
                self.writer.delete_documents_by_query(
                    tantivy.Query.term_set_query(self.schema, "_rowid", rids.tolist()))
                self._deleting = True
            ia = pa.array(offs, type=pa.int64())
            keys = _column(view.columns[spec.key_id]).take(ia).cast(pa.int64()).to_pylist()
            texts = {n: _column(view.columns[f["column"]]).take(ia).to_pylist()
                     for n, f in spec.fields.items()}
            add = self.writer.add_document
            counters = [(n, length_field(n), self._counters[n].analyze, vals) for n, vals in texts.items()]
            for i, rid in enumerate(rids.tolist()):
                doc = tantivy.Document()
                doc.add_integer("_rowid", rid)
                if keys[i] is not None:
                    doc.add_integer("_key", keys[i])
                for n, len_name, analyze, vals in counters:
                    if vals[i] is not None:
                        doc.add_text(n, vals[i])
                        doc.add_integer(len_name, len(analyze(vals[i])))
                add(doc)
            self.counts[view.segment_id] = view.num_rows
            added = True
        return added

    def _drop_segments(self, segment_ids: list[int]) -> bool:
        """Remove every document of the segments (by row-id range) and forget them."""
        for sid in segment_ids:
            lo = int(sid) << 32
            self.writer.delete_documents_by_query(tantivy.Query.range_query(
                self.schema, "_rowid", tantivy.FieldType.Integer, lo, lo | 0xFFFFFFFF))
            self._deleting = True
            self.counts.pop(sid, None)
            self.retired.pop(sid, None)
        return bool(segment_ids)

    def _drop_deleted(self, tables: dict, upto: int) -> bool:
        table = tables.get(self.spec.table_oid)
        gone: list[int] = []
        for seg in table.segments if table is not None else ():
            mvcc = seg.mvcc
            xmax = getattr(mvcc, "xmax", None)
            if xmax is None or mvcc.max_xmax <= self.deleted_ts:
                continue
            x = xmax[: mvcc.n]
            offs = np.flatnonzero((x > self.deleted_ts) & (x <= upto) & (x != INF_TS))
            if len(offs):
                gone.extend(((np.int64(seg.segment_id) << 32) | offs.astype(np.int64)).tolist())
        if gone:
            self.writer.delete_documents_by_query(
                tantivy.Query.term_set_query(self.schema, "_rowid", gone))
            self._deleting = True
        return bool(gone)

    # -- reading ---------------------------------------------------------------------------
    def searcher(self) -> tantivy.Searcher:
        s = self._searcher
        if s is None:
            s = self._searcher = self.index.searcher()
        return s

    def stats(self) -> IndexStats:
        """Live BM25 statistics of the current searcher (computed once per generation)."""
        gen = self._delete_gen  # read before the searcher (sync bumps it after a new one)
        s = self.searcher()
        st = self._stats
        if st is None or st.searcher is not s:
            dirty = gen != self._clean_gen
            st = self._stats = IndexStats(self, s, dirty)
            if dirty and st.exact:  # merged away, or none: no probe until the next delete
                self._clean_gen = gen
        return st

    def parse(self, text: str, default_fields: list[str], cache: bool = True) -> tantivy.Query:
        """tantivy's parse of ``text`` (cached: the same text parses to the same query for
        the life of this index; Query objects are immutable)."""
        if not cache:
            return self.index.parse_query(text, default_fields)
        key = (text, tuple(default_fields))
        q = self._parsed.get(key)
        return q if q is not None else self.cache_query(key, self.index.parse_query(text, default_fields))

    def cached_query(self, key: tuple) -> tantivy.Query | None:
        return self._parsed.get(key)

    def cache_query(self, key: tuple, q: tantivy.Query) -> tantivy.Query:
        if len(self._parsed) >= PARSE_CACHE:
            self._parsed.pop(next(iter(self._parsed)), None)  # oldest first (insertion order)
        self._parsed[key] = q
        return q

    def num_docs(self) -> int:
        return self.searcher().num_docs

    def close(self) -> None:
        with self.lock:
            try:
                self.writer.rollback()
            finally:
                self.writer = None
                self._searcher = None

    def destroy(self) -> None:
        self.close()
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def _column(arr) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


__all__ = ["Bm25Index", "Bm25Spec"]
