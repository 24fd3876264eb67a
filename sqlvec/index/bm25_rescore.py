"""Rescoring tantivy hits with other BM25 statistics (a logical table's global ones).

tantivy-py offers no way to search with given statistics. Two ways to get a hit's score
under :class:`~sqlvec.index.bm25_stats.GlobalStats`:

- A *linear* query (a boosted sum of term and phrase leaves: plain words, ``fts_match``,
  booleans, ``^boosts``, phrases; what :class:`_Linear` reads from the query's debug form):
  one search per leaf restricted to the hits gives the leaf's own score of each hit; with
  the hit's field norm (its ``_len_<field>`` token count, quantised as tantivy does) BM25
  is solved for the term frequency, checked by recomputing tantivy's score, and the leaf is
  recomputed with the global statistics (:func:`_flat`). :func:`score_all` does it for every
  hit at once when the leaves have few postings.
- Anything else: the query's explanation of each hit holds per scored leaf its frequency
  and field norm inside the tree of sums and boosts combining them (:class:`_Leaves`). A term
  leaf names its term; a phrase leaf does not, so the query's phrases are matched to it by
  their idf under the index's own statistics.

:func:`QueryTerms.bound_ratio` bounds how much any hit not yet rescored can gain, so that a
top-k rescores only the hits that can still enter it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import tantivy

from sqlvec.index.bm25_stats import (
    K1,
    B,
    GlobalStats,
    IndexStats,
    idf,
    leaf_score,
    leaf_scores,
    length_field,
    quantized,
    ratio_bound,
)

_STR = r'"((?:[^"\\]|\\.)*)"'
_TERM = re.compile(r"Term\(field=(\d+), type=Str, " + _STR + r"\)")
_PHRASE = re.compile(r"PhraseQuery \{ field: Field\((\d+)\), phrase_terms: \[((?:\(\d+, Term\(field=\d+, "
                     r"type=Str, " + _STR + r"\)\)(?:, )?)*)\]")
# the debug form of the nodes a linear query is made of (see _Linear)
_TERMQ = re.compile(r"TermQuery\(Term\(field=(\d+), type=Str, " + _STR + r"\)\)")
_BOOL = re.compile(r"BooleanQuery \{ subqueries: \[")
_OCCUR = re.compile(r"\((Should|Must|MustNot), ")
_BOOST = re.compile(r"Boost\(query=")
_BOOST_END = re.compile(r", boost=([-+0-9.eE]+)\)")
_PHRASEQ = re.compile(r"PhraseQuery \{ field: Field\((\d+)\), phrase_terms: \[((?:\(\d+, Term\(field=\d+, "
                      r"type=Str, " + _STR + r"\)\)(?:, )?)*)\], slop: (\d+) \}")
_POSTERM = re.compile(r"\((\d+), Term\(field=\d+, type=Str, " + _STR + r"\)\)")
_BOOL_END = re.compile(r"\], minimum_number_should_match: \d+ \}")
_CONTEXT = re.compile(r"^Term=Term\(field=(\d+), type=Str, " + _STR + r"\)$")
# query kinds whose BM25 leaves are not all listed (expanded at search time) or that can
# lower a score (negative boosts): no bound, every hit is rescored
_UNBOUNDED = ("PhrasePrefixQuery", "RegexPhraseQuery", "MoreLikeThis", "boost=-", "type=Json")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _unescape(s: str) -> str:
    """Rust's Debug escaping of a string, undone."""
    if "\\" not in s:
        return s
    return re.sub(r"\\(u\{([0-9a-fA-F]+)\}|.)",
                  lambda m: chr(int(m.group(2), 16)) if m.group(2) else _ESCAPES.get(m.group(1), m.group(1)), s)


@dataclass
class QueryTerms:
    """The scored parts of a query: (field, term) pairs, phrases, and whether it is bounded."""

    terms: list[tuple[str, str]]
    phrases: list[tuple[str, tuple[str, ...]]]
    bounded: bool
    # a linear query's scored leaves (field, term or Phrase, boost): its score is their
    # boosted sum (see _Linear), else None
    flat: list[tuple[str, object, float]] | None = None

    @staticmethod
    def of(q: tantivy.Query, field_by_id: list) -> QueryTerms:
        """``field_by_id``: the index's field names by tantivy field id."""
        text = repr(q)

        def name(fid: str) -> str:
            i = int(fid)
            return (field_by_id[i] if i < len(field_by_id) else None) or f"#{fid}"
        terms = sorted({(name(f), _unescape(t)) for f, t in _TERM.findall(text)})
        phrases = [(name(m.group(1)), tuple(_unescape(t) for _, t in _TERM.findall(m.group(2))))
                   for m in _PHRASE.finditer(text)]
        flat = _Linear(text, name).leaves()
        if flat is not None and any(f.startswith("#") for f, _, _ in flat):
            flat = None  # a term of the key field
        return QueryTerms(terms, phrases, not any(u in text for u in _UNBOUNDED), flat)

    def bound_ratio(self, local: IndexStats, target: GlobalStats) -> float:
        return ratio_bound(local, target, self.terms) if self.bounded else math.inf


@dataclass(frozen=True)
class Phrase:
    """A phrase leaf: its (position, term) pairs and slop."""

    terms: tuple[tuple[int, str], ...]
    slop: int


class _Linear:
    """Reads a query's debug form as a sum of boosted leaves, when it is one: booleans (a
    matching document scores the sum of its matching Should/Must clauses; MustNot clauses do
    not score), boosts (a factor), term and phrase queries. Anything else: None."""

    def __init__(self, text: str, name) -> None:
        self.text, self.name = text, name

    def leaves(self) -> list[tuple[str, str, float]] | None:
        t = self.text
        if not (t.startswith("Query(") and t.endswith(")")):
            return None
        out: list = []
        try:
            end = self._node(6, 1.0, out)
        except ValueError:
            return None
        return out if end == len(t) - 1 else None

    def _node(self, i: int, factor: float, out: list) -> int:
        t = self.text
        m = _TERMQ.match(t, i)
        if m:
            out.append((self.name(m.group(1)), _unescape(m.group(2)), factor))
            return m.end()
        m = _PHRASEQ.match(t, i)
        if m:
            terms = tuple((int(p), _unescape(x)) for p, x in _POSTERM.findall(m.group(2)))
            out.append((self.name(m.group(1)), Phrase(terms, int(m.group(4))), factor))
            return m.end()
        if _BOOST.match(t, i):
            inner: list = []
            j = self._node(i + len("Boost(query="), 1.0, inner)
            b = _BOOST_END.match(t, j)
            if not b:
                raise ValueError("boost")
            out.extend((f, term, w * factor * float(b.group(1))) for f, term, w in inner)
            return b.end()
        m = _BOOL.match(t, i)
        if m:
            j = m.end()
            while True:
                o = _OCCUR.match(t, j)
                if not o:
                    break
                j = self._node(o.end(), factor, out if o.group(1) != "MustNot" else [])
                if not t.startswith(")", j):
                    raise ValueError("clause")
                j += 1
                if t.startswith(", ", j):
                    j += 2
            e = _BOOL_END.match(t, j)
            if not e:
                raise ValueError("boolean")
            return e.end()
        raise ValueError("not linear")


def rescore(q: tantivy.Query, local: IndexStats, target: GlobalStats, qt: QueryTerms,
            field_by_id: list, addrs: list, rids: np.ndarray) -> np.ndarray:
    """Scores of the hits at ``addrs`` (row ids ``rids``, of ``local``'s searcher) under
    ``target``: a flat query from its clauses' scores, anything else from explanations."""
    if qt.flat is None:
        return _explained(q, local, target, qt, field_by_id, addrs)
    out, ok = _flat(local, target, qt.flat, addrs, rids)
    if not ok.all():  # a score the flat path could not reproduce (should not happen)
        bad = np.flatnonzero(~ok)
        out[bad] = _explained(q, local, target, qt, field_by_id, [addrs[i] for i in bad])
    return out


# score_all: at most this many postings in the query's clauses (reading every posting costs
# ~1 us each in Python: past a few thousand, bounding and rescoring the top is cheaper)
FULL_LIMIT = 2_000


def score_all(q: tantivy.Query, local: IndexStats, target: GlobalStats, qt: QueryTerms,
              limit: int = FULL_LIMIT) -> tuple[np.ndarray, list, np.ndarray] | None:
    """(row ids, addresses, target scores) of every hit of a flat query, best first; None for
    other queries or when the clauses' postings pass FULL_LIMIT. Cheaper than bounding and
    rescoring hits one batch at a time when scores are close (a few postings per term, or
    many hits within reach of the k-th score: ``limit``)."""
    if qt.flat is None:
        return None
    most = sum(_postings(local, f, t) for f, t in {c[:2] for c in qt.flat})  # >= the hits
    if most > limit:
        return None
    s = local.searcher
    hits = s.search(q, max(1, most)).hits
    if not hits:
        return np.zeros(0, np.int64), [], np.zeros(0)
    addrs = [a for _, a in hits]
    rids = np.fromiter(s.fast_field_values("_rowid", addrs), np.int64, len(addrs))
    scores, ok = _flat(local, target, qt.flat, addrs, rids, restrict=False)
    if not ok.all():
        return None
    order = np.argsort(-scores, kind="stable")
    return rids[order], [addrs[i] for i in order], scores[order]


def _postings(local: IndexStats, field: str, leaf) -> int:
    """Documents of the index (deleted ones too) that may match the leaf."""
    if isinstance(leaf, Phrase):
        return min(local.tantivy_doc_freq(field, t) for _, t in leaf.terms)
    return local.tantivy_doc_freq(field, leaf)


def _leaf_query(schema, field: str, leaf) -> tantivy.Query:
    if isinstance(leaf, Phrase):
        return tantivy.Query.phrase_query(schema, field, list(leaf.terms), leaf.slop)
    return tantivy.Query.term_query(schema, field, leaf)


def _idf(field: str, leaf, one) -> np.float32:
    """The leaf's idf (a phrase: the float32 sum of its terms', as tantivy adds them)."""
    if not isinstance(leaf, Phrase):
        return one(field, leaf)
    total = np.float32(0.0)
    for _, t in leaf.terms:
        total = np.float32(total + one(field, t))
    return total


def _flat(local: IndexStats, target: GlobalStats, clauses: list[tuple[str, object, float]], addrs: list,
          rids: np.ndarray, restrict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A sum of term clauses, rescored without explanations: each clause's own scores of the
    hits (one search, restricted to them unless ``restrict`` is False: then every posting of
    the term is read and those of other documents dropped), the field norms from the
    ``_len_`` fast fields, hence each hit's term frequency (BM25 solved for tf, checked by
    recomputing tantivy's score), then the clause under ``target``.
    Returns (scores, reproduced)."""
    s, schema = local.searcher, local.index.schema
    n = len(addrs)
    order = np.argsort(rids)
    sorted_rids = rids[order]
    only = None
    if restrict and n <= 64:
        # the hits, as a disjunction of row-id terms: a term-set query builds a bitset of the
        # whole index (~0.4 ms on 5k documents), this walks 16 tiny postings (~0.04 ms)
        only = tantivy.Query.const_score_query(tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "_rowid", r))
             for r in rids.tolist()]), 0.0)
    elif restrict:
        only = tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(schema, "_rowid", rids.tolist()), 0.0)
    norms: dict[str, np.ndarray] = {}
    # per scored (clause, hit): which hit, own score, field norm, and the clause's statistics;
    # the arithmetic runs once over all of them
    parts: list[tuple] = []
    weight: dict[tuple[str, object], float] = {}
    for field, term, boost in clauses:  # a repeated clause counts again
        weight[(field, term)] = weight.get((field, term), 0.0) + boost
    n_docs = local.tantivy_docs

    def local_idf(f: str, t: str) -> np.float32:
        return idf(local.tantivy_doc_freq(f, t), n_docs)
    for (field, term), times in weight.items():
        n_local = _postings(local, field, term)
        if not n_local:
            continue
        tq = _leaf_query(schema, field, term)
        if only is not None:
            hits = s.search(tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, tq), (tantivy.Occur.Must, only)]), n).hits
        else:
            hits = s.search(tq, n_local).hits
        if not hits:
            continue
        if field not in norms:
            lens = [x or 0 for x in s.fast_field_values(length_field(field), addrs)]
            norms[field] = quantized(np.asarray(lens, np.int64))
        own, at = zip(*hits)
        got = np.fromiter(s.fast_field_values("_rowid", at), np.int64, len(at))
        pos = np.minimum(np.searchsorted(sorted_rids, got), n - 1)
        mine = sorted_rids[pos] == got  # the clause's postings of other documents: dropped
        idx = order[pos[mine]]
        own = np.asarray(own, np.float32)[mine]
        some = term.terms[0][1] if isinstance(term, Phrase) else term  # in the field: for its average
        parts.append((idx, own, norms[field][idx], len(idx), _idf(field, term, local_idf),
                      local.tantivy_avg(field, some), _idf(field, term, target.idf), target.avg(field), times))
    if not parts:
        return np.zeros(n), np.ones(n, bool)
    sizes = [p[3] for p in parts]

    def each(i: int, dtype) -> np.ndarray:
        return np.repeat(np.asarray([p[i] for p in parts], dtype), sizes)
    idx = np.concatenate([p[0] for p in parts])
    own = np.concatenate([np.asarray(p[1], np.float32) for p in parts])
    dl = np.concatenate([p[2] for p in parts])
    idf_l, avg_l = each(4, np.float32), each(5, np.float32)
    # score = idf (1 + K1) tf / (tf + norm)  =>  tf = x norm / (1 - x), x = score / (idf (1 + K1))
    norm = np.float64(K1) * (1.0 - np.float64(B) + np.float64(B) * dl / avg_l.astype(np.float64))
    x = own.astype(np.float64) / (idf_l.astype(np.float64) * (1.0 + np.float64(K1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = np.maximum(np.rint(x * norm / (1.0 - x)), 1.0)
    again = leaf_scores(idf_l, tf, dl, avg_l)
    bad = np.abs(again - own) > 1e-5 * np.abs(own)
    ok = np.ones(n, bool)
    ok[idx[bad]] = False
    mine = leaf_scores(each(6, np.float32), tf, dl, each(7, np.float32)) * each(8, np.float64)
    total = np.bincount(idx, weights=mine.astype(np.float64), minlength=n)
    return total.astype(np.float32).astype(np.float64), ok


def _explained(q: tantivy.Query, local: IndexStats, target: GlobalStats, qt: QueryTerms,
               field_by_id: list, addrs: list) -> np.ndarray:
    out = np.empty(len(addrs), np.float64)
    ctx = _Leaves(local, target, qt, field_by_id)
    for i, a in enumerate(addrs):
        node = json.loads(q.explain(local.searcher, a).to_json())
        out[i] = float(ctx.value(node))
    return out


class _Leaves:
    def __init__(self, local: IndexStats, target: GlobalStats, qt: QueryTerms,
                 field_by_id: list) -> None:
        self.local, self.target, self.qt, self.fields = local, target, qt, field_by_id
        self._phrase_idf: list[tuple[float, str, np.float32]] | None = None

    def value(self, node: dict) -> float:
        d = node.get("description", "")
        kids = node.get("details") or []
        if d.startswith("TermQuery, product of"):
            return float(self._leaf(node, kids))
        if d.startswith("BooleanClause. sum of"):
            return float(np.float32(sum(self.value(k) for k in kids)))
        if d.startswith("Boost x") and d.endswith(" of ...") and len(kids) == 1:
            return float(np.float32(float(d[len("Boost x"):-len(" of ...")]) * self.value(kids[0])))
        if d == "Phrase Scorer" and len(kids) == 1:
            return self.value(kids[0])
        if not _has_leaf(node):
            return float(node["value"])  # constant scores (ranges, fuzzy terms, all-docs)
        # another combination of BM25 leaves: assume it adds its children's changes
        return float(node["value"]) + sum(self.value(k) - float(k["value"]) for k in kids)

    def _leaf(self, node: dict, kids: list) -> np.float32:
        tf_node = next(k for k in kids if k["description"].startswith("freq /"))
        vals = {k["description"].split(",")[0]: float(k["value"]) for k in tf_node.get("details", ())}
        ctx = node.get("context") or []
        m = _CONTEXT.match(ctx[0]) if ctx else None
        if ctx and m is None:
            return np.float32(node["value"])  # a term of the integer key / row-id fields
        if m is not None:
            i = int(m.group(1))
            field = self.fields[i] if 2 <= i < len(self.fields) else None
            if field is None:
                return np.float32(node["value"])  # not one of the text fields
            w = self.target.idf(field, _unescape(m.group(2)))
        else:  # a phrase: which one, by its idf under this index's own statistics
            idf_local = next(float(k["value"]) for k in kids if k["description"].startswith("idf"))
            got = self._phrase(idf_local)
            if got is None:  # a phrase the query's debug form does not list (a prefix
                return np.float32(node["value"])  # phrase's expansions): the index's own score
            field, w = got
        return leaf_score(w, vals["freq"], vals["dl"], self.target.avg(field))

    def _phrase(self, idf_local: float) -> tuple[str, np.float32] | None:
        if self._phrase_idf is None:
            n_docs = self.local.tantivy_docs
            self._phrase_idf = []
            for field, terms in self.qt.phrases:
                loc = np.float32(sum(idf(self.local.tantivy_doc_freq(field, t), n_docs) for t in terms))
                glob = np.float32(sum(self.target.idf(field, t) for t in terms))
                self._phrase_idf.append((float(loc), field, glob))
        best = min(self._phrase_idf, key=lambda p: abs(p[0] - idf_local), default=None)
        if best is None or abs(best[0] - idf_local) > 1e-4 * max(abs(idf_local), 1.0):
            return None
        return best[1], best[2]


def _has_leaf(node: dict) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.get("description", "").startswith("TermQuery, product of"):
            return True
        stack.extend(n.get("details") or ())
    return False


__all__ = ["QueryTerms", "rescore"]
