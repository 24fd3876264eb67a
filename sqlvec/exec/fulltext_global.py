"""BM25 scores with the statistics of the whole logical table, and the exact top-k over them.

A table's BM25 statistics are those of every index that holds its rows: its own, or each
partition's (a partitioned table), summed (:class:`~sqlvec.index.bm25_stats.GlobalStats`). So a
row scores the same whether its table is partitioned or not, and whatever partitions a query
is pruned to. tantivy scores each index with its own statistics, including deleted documents
it has not merged away yet; where those are already the global live ones (one index, nothing
deleted: the common case) its scores are used as they are, otherwise hits are rescored
(:mod:`sqlvec.index.bm25_rescore`).

The top-k (:func:`topk`) asks each index for its best hits by its own scores, and rescores
(in growing batches) only hits whose bound (own score x the index's ratio bound) can still
beat the k-th exact score found so far; an index is asked for more (x4) until its next hit's
bound is below that k-th score. When many hits are within reach (close scores), a linear
query's every hit is scored instead. Ties are broken by the key (ascending), here and in the
partition merge, so the answer does not depend on how rows are spread over indexes and
segments.

Cost: nothing extra for one index without deleted documents. Measured on 5,000 rows in 4
hash partitions, a top-10 takes 2-4 ms for words and phrases, up to ~25 ms for common words
with close scores; a 5,183-document table with 10 % deleted rows 1.5-2.5 ms (0.4 without).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import tantivy

from sqlvec.exec.relation import Rel
from sqlvec.index.bm25_rescore import QueryTerms, rescore, score_all
from sqlvec.index.bm25_stats import GlobalStats, IndexStats
from sqlvec.plan import expr as E

MARGIN = 8  # extra hits asked for past k: the next hit's score proves the k-th is the k-th
# rows rescored in batches before a flat query's every hit is scored instead (close scores:
# many rows within reach of the k-th), and the postings that may cost
SWITCH_AFTER, FORCE_LIMIT = 256, 50_000


# -- the statistics scope of a match ------------------------------------------------------------
def _session(ectx):
    session = ectx.stmt.get("session")
    if session is None:
        from sqlvec.exec.functions.context import get_session

        session = get_session()
    return session


def target_stats(ectx, m, live=None) -> tuple[GlobalStats, int]:
    """(statistics of the match's logical table, how many indexes they sum), per statement;
    ``live``: the match's own index, already synced (a table that is its own scope)."""
    from sqlvec.exec import fulltext_partitions
    from sqlvec.exec.fulltext import _snapshot_ts
    from sqlvec.exec.fulltext_index import live_index

    root = m.stats_oid if m.stats_oid is not None else m.table_oid
    memo = ectx.stmt.setdefault("fts_stats", {})
    got = memo.get(root)
    if got is None:
        oids = [root] if live is not None and root == m.table_oid else \
            fulltext_partitions.child_oids(ectx, root) or [root]
        if oids == [m.table_oid] and live is not None:
            parts = [live.stats()]
        else:
            session, ts = _session(ectx), _snapshot_ts(ectx.txn)
            parts = [live_index(session, o, ts)[0].stats() for o in oids]
        got = memo[root] = (GlobalStats(parts), len(oids))
    return got


@dataclass
class Source:
    """One index searched for a match, pinned to one searcher for the statement."""

    live: object  # Bm25Index
    q: tantivy.Query
    stats: IndexStats
    target: GlobalStats
    exact: bool  # tantivy's scores are the target's
    key_index: int = -1  # the key column's position in the table
    _terms: QueryTerms | None = field(default=None, repr=False)
    _all: object = field(default=False, repr=False)  # score_all's answer (False: not asked)

    @staticmethod
    def of(ectx, m) -> Source:
        from sqlvec.exec.fulltext import _query

        live, q = _query(ectx, m)
        target, n = target_stats(ectx, m, live)
        st = live.stats()
        return Source(live, q, st, target, n == 1 and st.exact, m.key.index)

    @property
    def terms(self) -> QueryTerms:
        if self._terms is None:
            self._terms = QueryTerms.of(self.q, self.live.field_by_id)
        return self._terms

    @property
    def final(self) -> bool:
        """Whether search() gives target scores (tantivy's own, or every hit rescored)."""
        return self.exact or self.scored_all() is not None

    def scored_all(self):
        if self._all is False:
            self._all = None if self.exact else score_all(self.q, self.stats, self.target, self.terms)
        return self._all

    def force_all(self) -> bool:
        """Rescore every hit now (a flat query with up to FORCE_LIMIT postings)."""
        if not self.final and self.terms.flat is not None:
            self._all = score_all(self.q, self.stats, self.target, self.terms, FORCE_LIMIT)
        return self.final

    def ratio(self) -> float:
        return 1.0 if self.final else self.terms.bound_ratio(self.stats, self.target)

    def search(self, limit: int) -> tuple[np.ndarray, list, np.ndarray]:
        """(row ids, addresses, scores) of the best ``limit`` hits, best first: target scores
        when ``final``, else tantivy's own."""
        full = self.scored_all()
        if full is not None:
            rids, addrs, scores = full
            return rids[:limit], addrs[:limit], scores[:limit]
        s = self.stats.searcher
        hits = s.search(self.q, max(1, limit), count=False).hits if limit else []
        if not hits:
            return np.zeros(0, np.int64), [], np.zeros(0)
        scores, addrs = zip(*hits)
        rids = np.fromiter(s.fast_field_values("_rowid", addrs), np.int64, len(addrs))
        return rids, list(addrs), np.fromiter(scores, np.float64, len(scores))

    def rescore(self, addrs: list, rids: np.ndarray) -> np.ndarray:
        return rescore(self.q, self.stats, self.target, self.terms, self.live.field_by_id, addrs, rids)

    def keys(self, addrs: list) -> np.ndarray:
        """Keys of the hits (from the fast field; a NULL key reads as 0, see key_column)."""
        vals = self.stats.searcher.fast_field_values("_key", addrs)
        try:
            return np.fromiter(vals, np.int64, len(vals))
        except TypeError:  # NULL keys
            return np.asarray([k if k is not None else 0 for k in vals], dtype=np.int64)


# -- every hit (score() and @@@ outside the top-k) ----------------------------------------------
def all_hits(ectx, m, scores: bool) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of every visible hit of the match's own index (scores: zeros when not
    asked for)."""
    from sqlvec.exec.fulltext import visible_mask

    src = Source.of(ectx, m)
    rids, addrs, own = src.search(src.stats.docs)
    vis = visible_mask(ectx, m.table_oid, rids)
    sel = np.flatnonzero(vis)
    kept = [addrs[i] for i in sel]
    keys = src.keys(kept) if kept else np.zeros(0, np.int64)
    if not scores:
        return keys, np.zeros(len(keys))
    return keys, (own[sel] if src.final or not kept else src.rescore(kept, rids[sel]))


# -- the top-k -------------------------------------------------------------------------------------
@dataclass
class _Part:
    """What one source has fetched so far."""

    src: Source
    table: object
    rest: E.Expr | None
    fetch: int
    ratio: float = 1.0
    rids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    addrs: list = field(default_factory=list)
    own: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    done: bool = False  # every hit fetched
    exact: dict = field(default_factory=dict)  # row id -> target score

    def tail(self) -> float:
        """A bound of the target score of any hit not fetched yet."""
        if self.done or not len(self.own):
            return -math.inf
        return float(self.own[-1]) * self.ratio


def _load(ctx, part: _Part) -> None:
    """Fetch the part's best hits: which are visible and pass its filter, and their keys
    (rows are read only for the filter here; the answer's rows once chosen)."""
    from sqlvec.exec.fulltext import fetch_rows, visible_mask

    part.rids, part.addrs, part.own = part.src.search(part.fetch)
    part.done = len(part.rids) < part.fetch
    part.keys = part.src.keys(part.addrs) if part.addrs else np.zeros(0, np.int64)
    if part.rest is None:
        part.ok = visible_mask(ctx, part.table.oid, part.rids)
        return
    cols, ok = fetch_rows(ctx, part.table, E.referenced_columns([part.rest]), part.rids)
    if ok.any():
        sel = np.flatnonzero(ok)
        sub = [None if c is None else c.take(pa.array(sel)) for c in cols]
        keep = E.as_mask(part.rest.eval(ctx.eval_ctx(sub, len(sel))), len(sel))
        ok[sel[~keep]] = False
    part.ok = ok


def topk(ctx, parts: list[tuple], needed: set[int], k: int
         ) -> tuple[list[Rel], list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The best ``k`` (k > 0) visible rows passing each part's filter, by target score then key.

    ``parts``: (Source, table, rest filter) per index. Returns each part's chosen rows (a Rel
    per part, in the answer's order), the answer as (part, position in that part's Rel) pairs
    best first, and its keys and scores.
    """
    from sqlvec.exec.fulltext import fetch_rows

    state = [_Part(src, table, rest, max(10, k + MARGIN if rest is None else 2 * k + MARGIN))
             for src, table, rest in parts]
    for p in state:
        p.ratio = p.src.ratio()
    stale = list(range(len(state)))
    while True:
        for i in stale:
            _load(ctx, state[i])
        best = _select(state, k)
        if best is None:  # switched to scoring every hit of some parts: fetch again
            stale = list(range(len(state)))
            continue
        theta = best[-1][0] if len(best) >= k else -math.inf
        # a part whose unfetched hits might still beat (or tie) the k-th: fetch more
        stale = [i for i, p in enumerate(state) if not p.done and p.tail() >= theta]
        if not stale:
            break
        for i in stale:
            state[i].fetch *= 4
    chosen: list[list[int]] = [[] for _ in state]
    order = []
    for _, _, i, pos in best:
        order.append((i, len(chosen[i])))
        chosen[i].append(pos)
    rels = []
    for p, sel in zip(state, chosen):
        sel = np.asarray(sel, np.int64)
        cols = _key_only(p, sel, needed)
        if cols is None:
            cols, _ = fetch_rows(ctx, p.table, needed, p.rids[sel])
        rels.append(Rel(cols, len(sel)))
    keys = np.asarray([k_ for _, k_, _, _ in best], np.int64)
    scores = np.asarray([s for s, _, _, _ in best], np.float64)
    return rels, order, keys, scores


def _key_only(p: _Part, sel: np.ndarray, needed: set[int]) -> list | None:
    """The rows' columns without reading the table when the key is all the query reads
    (``SELECT id ... ORDER BY score(id)``): the index keeps each row version's key."""
    ki = p.src.key_index
    if not needed <= {ki} or ki < 0:
        return None
    keys = p.keys[sel]
    if len(keys) and not keys.all():  # a 0 may stand for a NULL key: read the rows
        return None
    cols: list = [None] * len(p.table.columns)
    if ki in needed:
        t = p.table.columns[ki].type.arrow_type()
        arr = pa.array(keys, type=pa.int64())
        cols[ki] = arr if t == pa.int64() else arr.cast(t)
    return cols


def _select(state: list[_Part], k: int) -> list[tuple[float, int, int, int]] | None:
    """The best k (score, key, part, position) among fetched rows that pass, rescoring only
    rows whose bound can still reach the k-th score; None when it switched parts to scoring
    every hit instead (their rows must be fetched again)."""
    if len(state) == 1 and state[0].src.final:  # the common case: one index, scores known
        p = state[0]
        pos = np.flatnonzero(p.ok)
        sc, ky = p.own[pos], p.keys[pos]
        top = np.lexsort((ky, -sc))[:k]
        return [(s, kk, 0, i) for s, kk, i in zip(sc[top].tolist(), ky[top].tolist(), pos[top].tolist())]
    if all(p.src.final for p in state):  # scores known: sort them
        sc = np.concatenate([p.own[p.ok] for p in state])
        ky = np.concatenate([p.keys[p.ok] for p in state])
        part = np.concatenate([np.full(int(p.ok.sum()), i) for i, p in enumerate(state)])
        pos = np.concatenate([np.flatnonzero(p.ok) for p in state])
        top = np.lexsort((ky, -sc))[:k]
        return list(zip(sc[top].tolist(), ky[top].tolist(), part[top].tolist(), pos[top].tolist()))
    # rows by bound, best first; rescore in batches the ones that can still reach the k-th
    cands = sorted(((float(p.own[pos]) * p.ratio, i, pos)
                    for i, p in enumerate(state) for pos in np.flatnonzero(p.ok).tolist()),
                   key=lambda c: -c[0])
    known: list[tuple[float, int, int, int]] = []
    nxt, size = 0, max(k, 16)
    while nxt < len(cands):
        if len(known) >= k:
            theta = heapq.nlargest(k, (f[:2] for f in known), key=lambda f: (f[0], -f[1]))[-1][0]
            if cands[nxt][0] < theta:
                break  # sorted by bound: no later row can reach the k-th score
        if nxt >= SWITCH_AFTER and any(p.src.force_all() for p in state if not p.src.final):
            return None
        batch = cands[nxt: nxt + size]
        nxt += len(batch)
        size *= 4  # close scores: many rows within reach of the k-th, fewer rounds
        for i in sorted({c[1] for c in batch}):
            p = state[i]
            pos = [c[2] for c in batch if c[1] == i]
            for q, sc in zip(pos, _scores(p, pos)):
                known.append((sc, int(p.keys[q]), i, q))
    known.sort(key=lambda f: (-f[0], f[1]))
    return known[:k]


def _scores(p: _Part, pos: list[int]) -> list[float]:
    """Target scores of the part's rows at ``pos`` (rescored once per row id)."""
    todo = [q for q in pos if int(p.rids[q]) not in p.exact]
    if todo:
        got = p.src.rescore([p.addrs[q] for q in todo], p.rids[np.asarray(todo, np.int64)])
        for q, sc in zip(todo, got.tolist()):
            p.exact[int(p.rids[q])] = sc
    return [p.exact[int(p.rids[q])] for q in pos]


__all__ = ["Source", "all_hits", "target_stats", "topk"]
