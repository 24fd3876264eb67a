"""BM25 over a partitioned table: one tantivy index per partition (each partition is an
ordinary table with its own copy of the parent's bm25 index, see partition_ddl).

- ``ORDER BY score(key) DESC LIMIT k`` on the parent runs the single-table tantivy top-k in
  every partition that survives pruning by the WHERE's key predicates (EXPLAIN shows which),
  asking each for k rows, and merges the candidates by score (ties: key).
- ``score(key)`` / ``@@@`` evaluated outside the top-k (a scan, a join) gather the hits of
  every partition.

Scores are each partition's own BM25: tantivy keeps document counts, frequencies and average
lengths per index, so a row scores as in a table holding only its partition's rows (as in
Elasticsearch's query-then-fetch). With hash partitioning over many rows the statistics are
close; a query pruned to one partition is exactly that partition's ranking.
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
    """The match (an FtsMatch) aimed at one partition's index."""
    out = copy.copy(m)
    out.table_oid = oid
    return out


def gather_hits(ectx, m, oids: list[int], hits) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of the visible matches of every partition."""
    parts = [hits(ectx, retarget_match(m, oid), full=True) for oid in oids]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate([k for k, _ in parts]), np.concatenate([s for _, s in parts])


@dataclass
class FtsPartitionTopK:
    """The tantivy top-k of each surviving partition, merged by score."""

    topk: object  # the parent's FtsTopK (its match and the rest of the WHERE)

    def run(self, ctx, source, offset: int, limit: int | None) -> Rel:
        from sqlvec.exec import fulltext
        from sqlvec.exec import partitions as X

        parent = source.table
        k = offset + (limit or 0)
        spec = self.topk
        rels, keys, scores = [], [], []
        for child in X.pruned(ctx, parent, source.filter).parts:
            sub = fulltext.FtsTopK(retarget_match(spec.match, child.oid),
                                   X.retarget(spec.rest, parent, child))
            rels.append(fulltext.run(ctx, child, source.needed, sub, 0, k))
            kk, ss = fulltext.cached(ctx, "part", sub.match)
            keys.append(kk)
            scores.append(ss)
        needed = set(source.needed) | E.referenced_columns([spec.match.key])
        rel = X.concat(parent, rels, needed)
        kk = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        ss = np.concatenate(scores) if scores else np.zeros(0)
        order = np.lexsort((kk, -ss))[:k]
        fulltext.remember(ctx, "part", spec.match, (kk[order], ss[order]))
        return rel.take(order[offset:])

    def explain(self, source, ctx=None) -> tuple[str, list[str]]:
        title, details = self.topk.explain(source)
        if ctx is not None:
            from sqlvec.exec import partitions as X

            details += X.explain_lines(ctx, source.table, source.filter, topk=True)
        return title.replace(" (tantivy)", " (tantivy per partition)"), details
