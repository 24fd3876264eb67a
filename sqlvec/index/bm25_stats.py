"""BM25 statistics of tantivy indexes, and BM25 itself, so that scores can be global.

tantivy scores with the statistics of one index: document count, per-field token total
(average field length) and per-term document frequency. A partitioned table has one index per
partition, so each partition would rank by its own statistics. :class:`GlobalStats` sums the
statistics of every index of a logical table, and :func:`leaf_score` is tantivy's BM25 of one
term (or phrase) recomputed with them (float32, in tantivy's order of operations, so that a
score equals tantivy's when the statistics are the same).

The statistics are *live* counts: tantivy keeps counting deleted documents until their segment
merges (so a compaction would change scores while rankings stay); ours count only documents
that are not deleted: ``num_docs``, a count query per term, and the sum of the ``_len_<field>``
fast field (each document's token count, written at indexing: tantivy does not expose its
field-norm totals). :class:`IndexStats` also probes what tantivy itself uses (its document count
including deleted ones, a field's average length) for the bound of
:mod:`sqlvec.index.bm25_rescore`.
"""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import tantivy

from sqlvec.index.bm25_options import BUILTIN, build_analyzer

K1 = np.float32(1.2)  # tantivy's BM25 constants (not configurable in tantivy-py)
B = np.float32(0.75)
LEN_PREFIX = "_len_"  # fast field with a document's token count in one text field
_CACHE = 4096  # per-term entries kept per searcher generation


def length_field(name: str) -> str:
    return LEN_PREFIX + name


def token_analyzer(settings: dict) -> tantivy.TextAnalyzer:
    """An analyzer emitting the same tokens as the one the field is indexed with (its count is
    tantivy's field norm). tantivy's built-ins, rebuilt: ``whitespace`` has no filters."""
    tok = settings.get("tokenizer", "default")
    if set(settings) == {"tokenizer"} and tok in BUILTIN:
        if tok == "whitespace":
            return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        if tok == "raw":
            return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).build()
    return build_analyzer(settings)  # default / en_stem have the same chain as tantivy's


def _int4_to_long(i: int) -> int:
    bits, shift = i & 7, (i >> 3) - 1
    return bits if shift == -1 else (bits | 8) << shift


# tantivy's field norms: a document's token count kept in one byte, Lucene's SmallFloat scheme
# (exact below 40, then 3 significant bits); a count reads back as the largest entry <= it
FIELDNORMS = np.array([i if i < 24 else 24 + _int4_to_long(i - 24) for i in range(256)], np.int64)


def quantized(lengths: np.ndarray) -> np.ndarray:
    """The field norm tantivy scores a document of ``lengths`` tokens with."""
    return FIELDNORMS[np.searchsorted(FIELDNORMS, lengths, side="right") - 1]


def leaf_scores(idf_sum, tf: np.ndarray, dl: np.ndarray, avg) -> np.ndarray:
    """:func:`leaf_score` of many documents (idf and avg: scalars or arrays, float32)."""
    weight = np.asarray(idf_sum, np.float32) * (np.float32(1.0) + K1)
    norm = K1 * (np.float32(1.0) - B + B * dl.astype(np.float32) / np.asarray(avg, np.float32))
    t = tf.astype(np.float32)
    return (weight * (t / (t + norm))).astype(np.float32)


def idf(n: int, total: int) -> np.float32:
    """tantivy's idf: ln(1 + (N - n + 0.5) / (n + 0.5)), in float32."""
    x = (np.float32(total - n) + np.float32(0.5)) / (np.float32(n) + np.float32(0.5))
    return np.float32(np.log(np.float32(1.0) + x))


def leaf_score(idf_sum: np.float32, tf: float, dl: float, avg: np.float32) -> np.float32:
    """BM25 of one term or phrase in one document: (K1 + 1) idf tf / (tf + K1 (1 - B + B dl/avg)),
    ``dl`` the document's (quantised) field norm, as tantivy's explanation gives it."""
    weight = np.float32(idf_sum) * (np.float32(1.0) + K1)
    norm = K1 * (np.float32(1.0) - B + B * np.float32(dl) / avg)
    t = np.float32(tf)
    return np.float32(weight * (t / (t + norm)))


class IndexStats:
    """Statistics of one searcher generation of one index (computed when first asked)."""

    def __init__(self, index, searcher: tantivy.Searcher, maybe_deleted: bool) -> None:
        self.index = index  # the Bm25Index
        self.searcher = searcher
        self.docs = searcher.num_docs  # live documents
        self._maybe_deleted = maybe_deleted
        self._tantivy_docs: int | None = None if maybe_deleted else self.docs
        self._tokens: dict[str, int] = {}
        self._df: dict[tuple[str, str], int] = {}
        self._avg: dict[str, float | None] = {}
        self._lock = threading.Lock()

    @property
    def tantivy_docs(self) -> int:
        """The document count tantivy scores with (deleted documents included until merged)."""
        if self._tantivy_docs is None:
            self._tantivy_docs = self._probe_docs()
        return self._tantivy_docs

    @property
    def exact(self) -> bool:
        """Whether tantivy's own scores already use the live statistics."""
        return self.tantivy_docs == self.docs

    def tokens(self, field: str) -> int:
        got = self._tokens.get(field)
        if got is None:
            agg = self.searcher.aggregate(tantivy.Query.all_query(),
                                          {"t": {"sum": {"field": length_field(field)}}})
            got = self._tokens[field] = int(round((agg.get("t") or {}).get("value") or 0))
        return got

    def doc_freq(self, field: str, term: str) -> int:
        """Live documents containing the (analysed) term in the field."""
        key = (field, term)
        got = self._df.get(key)
        if got is None:
            q = tantivy.Query.term_query(self.index.schema, field, term)
            got = self.searcher.search(q, 1, count=True).count or 0
            with self._lock:
                if len(self._df) >= _CACHE:
                    self._df.clear()
                self._df[key] = got
        return got

    def tantivy_doc_freq(self, field: str, term: str) -> int:
        return self.searcher.doc_freq(field, term)

    def tantivy_avg(self, field: str, term: str) -> float | None:
        """tantivy's average length of the field (None when no document has ``term`` there)."""
        if field not in self._avg:
            q = tantivy.Query.term_query(self.index.schema, field, term)
            hits = self.searcher.search(q, 1).hits
            if not hits:
                return None
            self._avg[field] = _explained(q.explain(self.searcher, hits[0][1]), "avgdl")
        return self._avg[field]

    def _probe_docs(self) -> int:
        """tantivy's total document count, read from the explanation of a term query on the
        row-id field (the only way tantivy-py shows it)."""
        s = self.searcher
        hits = s.search(tantivy.Query.all_query(), 1).hits
        if not hits:
            return self.docs
        rid = s.fast_field_values("_rowid", [hits[0][1]])[0]
        q = tantivy.Query.term_query(self.index.schema, "_rowid", rid)
        got = s.search(q, 1).hits
        if not got:
            return self.docs
        n = _explained(q.explain(s, got[0][1]), "N,")
        return self.docs if n is None else int(n)


def _explained(expl: tantivy.Explanation, prefix: str) -> float | None:
    stack = [json.loads(expl.to_json())]
    while stack:
        node = stack.pop()
        if node.get("description", "").startswith(prefix):
            return float(node["value"])
        stack.extend(node.get("details", ()))
    return None


class GlobalStats:
    """The statistics of a logical table: the sums over its indexes' live statistics."""

    def __init__(self, parts: list[IndexStats]) -> None:
        self.parts = parts
        self.docs = sum(p.docs for p in parts)
        self._avg: dict[str, np.float32] = {}
        self._idf: dict[tuple[str, str], np.float32] = {}

    def avg(self, field: str) -> np.float32:
        got = self._avg.get(field)
        if got is None:
            tokens = sum(p.tokens(field) for p in self.parts)
            got = self._avg[field] = np.float32(tokens) / np.float32(max(self.docs, 1))
        return got

    def idf(self, field: str, term: str) -> np.float32:
        key = (field, term)
        got = self._idf.get(key)
        if got is None:
            n = sum(p.doc_freq(field, term) for p in self.parts)
            got = self._idf[key] = idf(n, self.docs)
        return got


def ratio_bound(local: IndexStats, target: GlobalStats, terms: list[tuple[str, str]]) -> float:
    """An upper bound of (score with ``target``) / (tantivy's score in ``local``) for any
    document of ``local``: every BM25 leaf scales by at most (idf_target / idf_local) times
    max(1, avg_target / avg_local) (its length factor moves between 1 at dl = 0 and the ratio
    of averages as dl grows), and sums, positive boosts and maxima of leaves scale no more
    than their largest leaf. Constant-score parts do not scale: the bound is at least 1."""
    best = 1.0
    n_local = local.tantivy_docs
    for field, term in terms:
        n = local.tantivy_doc_freq(field, term)
        if not n:
            continue  # no document of this index has the term: it scores nothing here
        avg_local = local.tantivy_avg(field, term)
        if not avg_local:
            continue
        r = float(target.idf(field, term)) / float(idf(n, n_local))
        r *= max(1.0, float(target.avg(field)) / avg_local)
        best = max(best, r)
    # float32 rounding of both scores
    return best * (1.0 + 1e-4) if math.isfinite(best) else math.inf


__all__ = ["GlobalStats", "IndexStats", "idf", "leaf_score", "leaf_scores", "length_field", "quantized",
           "ratio_bound", "token_analyzer"]
