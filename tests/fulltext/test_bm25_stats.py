"""The pieces of global BM25 scoring: token counts equal tantivy's field norms, rescoring an
index with its own statistics gives back tantivy's scores, the ratio bound holds."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import tantivy

from sqlvec.index.bm25_manager import fulltext_manager
from sqlvec.index.bm25_rescore import QueryTerms, rescore
from sqlvec.index.bm25_stats import GlobalStats

WORDS = ["Vector", "databases", "searching", "the", "and", "Postgres", "indexes", "cat", "dog",
         "sea-sky", "x" * 45, "café", "naïve", "running", "ran"]
SETTINGS = [
    {"tokenizer": "default"}, {"tokenizer": "en_stem"}, {"tokenizer": "whitespace"},
    {"tokenizer": "raw"}, {"tokenizer": "default", "stopwords": "english"},
    {"tokenizer": "ngram", "min_gram": 2, "max_gram": 3}, {"tokenizer": "whitespace", "lowercase": True},
    {"tokenizer": "default", "ascii_folding": True, "stemmer": "english"},
]


def _live(conn):
    (ix,) = fulltext_manager(conn._session.db.engine).indexes.values()
    return ix


def _load(conn, settings: dict, n: int = 300):
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id bigint, body text)")
    rnd = random.Random(3)
    rows = [(i, " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 30))) if i % 17 else None)
            for i in range(n)]
    cur.executemany("INSERT INTO t VALUES (%s, %s)", rows)
    fields = json.dumps({"body": settings}).replace("'", "''")
    cur.execute(f"CREATE INDEX ON t USING bm25 (id, body) WITH (key_field = 'id', text_fields = '{fields}')")
    assert _live(conn).spec.fields["body"]["settings"] == settings
    return cur


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_token_counts_equal_tantivy_field_norms(mem_conn, settings):
    _load(mem_conn, settings)
    st = _live(mem_conn).stats()
    assert st.exact and st.docs == 300
    # tantivy's average field length (its token total / documents), probed with a common term
    term = next(t for t in ("cat", "ca", "dog", "Vector", "x" * 45) if st.tantivy_doc_freq("body", t))
    avg = st.tantivy_avg("body", term)
    assert st.tokens("body") / st.docs == pytest.approx(avg, rel=1e-6)


QUERIES = ["cat", "cat dog", '"cat dog"', '"dog cat"~3 OR vector^2', "+cat -dog postgres",
           "cat^0.5 (dog OR \"vector databases\")", "body:running AND body:ran", "the cat the",
           "cat^0.5 dog^3", "cat AND _key:[0 TO 150]", "dog -\"cat dog\"~1", "dog \"cat do\"*"]
# sums of boosted terms and phrases: rescored without explanations
NOT_LINEAR = {"cat AND _key:[0 TO 150]", "dog \"cat do\"*"}


@pytest.mark.parametrize("q", QUERIES)
def test_rescoring_with_own_statistics_gives_tantivy_scores(mem_conn, q):
    _load(mem_conn, {"tokenizer": "en_stem"})
    live = _live(mem_conn)
    st = live.stats()
    query = live.parse(q, ["body"])
    hits = st.searcher.search(query, 1000).hits
    assert hits
    qt = QueryTerms.of(query, live.field_by_id)
    addrs = [a for _, a in hits]
    rids = np.asarray(st.searcher.fast_field_values("_rowid", addrs), np.int64)
    want = np.array([s for s, _ in hits])
    got = rescore(query, st, GlobalStats([st]), qt, live.field_by_id, addrs, rids)
    assert got == pytest.approx(want, rel=1e-5)
    assert (qt.flat is None) == (q in NOT_LINEAR)
    if qt.flat is not None:  # the explanation path agrees too
        qt.flat = None
        assert rescore(query, st, GlobalStats([st]), qt, live.field_by_id, addrs, rids) == \
            pytest.approx(want, rel=1e-5)
    assert qt.bounded == ('"cat do"*' not in q)  # a prefix phrase expands to unlisted terms
    if qt.bounded:
        assert qt.bound_ratio(st, GlobalStats([st])) == pytest.approx(1.0, abs=1e-3)


def test_query_terms_read_phrases_and_escapes():
    sb = tantivy.SchemaBuilder()
    for f in ("_rowid", "_key"):
        sb.add_integer_field(f, indexed=True, fast=True)
    sb.add_text_field("a", tokenizer_name="raw")
    sb.add_integer_field("_len_a", fast=True)
    sb.add_text_field("b")
    ix = tantivy.Index(sb.build())
    q = tantivy.Query.boolean_query([
        (tantivy.Occur.Should, tantivy.Query.term_query(ix.schema, "a", 'say "hi"\\ now')),
        (tantivy.Occur.Should, tantivy.Query.phrase_query(ix.schema, "b", ["x", "y"], 1)),
    ])
    qt = QueryTerms.of(q, ["_rowid", "_key", "a", None, "b"])
    assert ("a", 'say "hi"\\ now') in qt.terms and ("b", "x") in qt.terms
    assert qt.phrases == [("b", ("x", "y"))] and qt.bounded
    prefix = tantivy.Query.phrase_prefix_query(ix.schema, "b", ["x", "y"])
    assert not QueryTerms.of(prefix, ["_rowid", "_key", "a", None, "b"]).bounded
