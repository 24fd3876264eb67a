"""BM25 over a partitioned table: one tantivy index per partition (each partition is an
ordinary table with its own copy of the parent's bm25 index, see partition_ddl).

- ``ORDER BY score(key) DESC LIMIT k`` on the parent runs one exact top-k over the indexes of
  every partition that survives pruning by the WHERE's key predicates (EXPLAIN shows which),
  ordered by score, ties by key (:func:`sqlvec.exec.fulltext_global.topk`).
- ``score(key)`` / ``@@@`` evaluated outside the top-k (a scan, a join) gather the hits of
  every partition.

Scores are the parent table's BM25: statistics summed over every partition's index (pruned
ones too), so ids, order and scores equal those of one unpartitioned table with the same rows
(Elasticsearch's DFS query-then-fetch). tantivy scores each partition with its own statistics;
hits are rescored from their explanations, and only those that can still enter the top-k.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from sqlvec.exec.relation import Rel
from sqlvec.plan import expr as E


def _db(ectx):
    from sqlvec.exec.partitions import _db as db

    return db(ectx)


def child_oids(ectx, table_oid: int) -> list[int] | None:
    """The partitions' oids when ``table_oid`` is a partitioned parent, else None."""
    from sqlvec.plan import partitions as P

    session = ectx.stmt.get("session")
    if session is None:
        return None
    db = session.catalog().database(session.database)
    t = db.tables.get(table_oid)
    if t is None or not P.is_partitioned(t):
        return None
    return [c.oid for c in P.children(db, t)]


def retarget_match(m, oid: int):
    """The match (an FtsMatch) aimed at one partition's index (scored with the statistics
    of the table it was bound to)."""
    out = copy.copy(m)
    if out.stats_oid is None:
        out.stats_oid = m.table_oid
    out.table_oid = oid
    return out


def gather_hits(ectx, m, oids: list[int], hits, scores: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of the visible matches of every partition."""
    parts = [hits(ectx, retarget_match(m, oid), full=True, scores=scores) for oid in oids]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate([k for k, _ in parts]), np.concatenate([s for _, s in parts])


@dataclass
class FtsPartitionTopK:
    """The tantivy top-k of each surviving partition, merged by score."""

    topk: object  # the parent's FtsTopK (its match and the rest of the WHERE)

    def run(self, ctx, source, offset: int, limit: int | None) -> Rel:
        from sqlvec.exec import fulltext, fulltext_global
        from sqlvec.exec import partitions as X

        parent = source.table
        k = offset + (limit or 0)
        spec = self.topk
        needed = set(source.needed) | E.referenced_columns(
            [spec.match.key] + ([spec.rest] if spec.rest else []))
        parts = []
        for child in X.pruned(ctx, parent, source.filter).parts:
            m = retarget_match(spec.match, child.oid)
            parts.append((fulltext_global.Source.of(ctx, m), child, X.retarget(spec.rest, parent, child)))
        if not k or not parts:
            fulltext.remember(ctx, "part", spec.match, (np.zeros(0, np.int64), np.zeros(0)))
            return X.concat(parent, [], needed)
        rels, order, keys, scores = fulltext_global.topk(ctx, parts, needed, k)
        fulltext.remember(ctx, "part", spec.match, (keys, scores))
        # each partition's chosen rows, concatenated; then the answer's order over them
        start = np.cumsum([0] + [r.n for r in rels])
        rel = X.concat(parent, rels, needed)
        return rel.take(np.asarray([start[i] + pos for i, pos in order[offset:]], np.int64))

    def explain(self, source, ctx=None) -> tuple[str, list[str]]:
        title, details = self.topk.explain(source)
        if ctx is not None:
            from sqlvec.exec import partitions as X

            details += X.explain_lines(ctx, source.table, source.filter, topk=True)
        return title.replace(" (tantivy)", " (tantivy per partition)"), details
