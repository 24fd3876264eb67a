"""BM25 through SQL: CREATE INDEX options, @@@, score(), top-k with filters, helpers, MVCC."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sqlvec
from sqlvec import errors

DOCS = [
    (1, "Postgres", "a vector database inside postgres"),
    (2, "Cats", "cats are running fast"),
    (3, "Dogs", "dogs run after the database server"),
    (4, "Birds", "birds fly over the sea"),
    (5, "Café", "naïve café owners brew coffee"),
]


def setup(cur, with_opts: str = "") -> None:
    cur.execute("CREATE TABLE docs (id bigint PRIMARY KEY, title text, body text, n int)")
    cur.executemany("INSERT INTO docs VALUES (%s, %s, %s, %s)", [d + (d[0] * 10,) for d in DOCS])
    opts = with_opts or """key_field = 'id', text_fields = '{"body": {"tokenizer": "en_stem"}}'"""
    cur.execute(f"CREATE INDEX docs_bm25 ON docs USING bm25 (id, title, body) WITH ({opts})")


def rows(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


def test_match_score_and_topk(mem_conn):
    cur = mem_conn.cursor()
    setup(cur)
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'run' ORDER BY id") == [(2,), (3,)]  # en_stem
    got = rows(cur, "SELECT id, score(id) FROM docs WHERE body @@@ 'database' ORDER BY score(id) DESC LIMIT 5")
    assert [r[0] for r in got] == [1, 3] and got[0][1] > got[1][1] > 0
    # other predicates combine with the top-k (widening until k rows pass)
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'database' AND n > 15 "
                     "ORDER BY score(id) DESC LIMIT 1") == [(3,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'database' ORDER BY score(id) DESC "
                     "LIMIT 1 OFFSET 1") == [(3,)]
    # the key field searches every text field, with tantivy's syntax
    assert rows(cur, "SELECT id FROM docs WHERE id @@@ 'body:(vector database) AND title:postgres'") == [(1,)]
    assert rows(cur, "SELECT count(*) FROM docs WHERE body @@@ 'database' OR id = 4") == [(3,)]


def test_helpers_snippet_text_match(mem_conn):
    cur = mem_conn.cursor()
    setup(cur)
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_phrase('body', 'vector database')") == [(1,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_phrase('body', 'dogs after', 1)") == [(3,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_phrase('body', 'dogs after')") == []
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_fuzzy('body', 'dgos', 2)") == [(3,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_all('database', fts_not('vector'))") == [(3,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_any('cats', 'birds') ORDER BY id") == [(2,), (4,)]
    assert rows(cur, "SELECT id FROM docs WHERE id @@@ fts_all(fts_range('id', 2, 4), 'body:database')") == [(3,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ fts_match('body', 'Database? (servers)!') "
                     "ORDER BY id") == [(1,), (3,)]
    assert rows(cur, "SELECT snippet(body) FROM docs WHERE body @@@ 'vector'") == [
        ("a <b>vector</b> database inside postgres",)]
    assert rows(cur, "SELECT id FROM docs WHERE text_match(body, 'cats birds') ORDER BY id") == [(2,), (4,)]


def test_tokenizer_options(mem_conn):
    cur = mem_conn.cursor()
    setup(cur, """key_field = 'id', text_fields = '{"body": {"tokenizer": "default", "ascii_folding": true,
                  "stopwords": "english"}, "title": {"tokenizer": "ngram", "min_gram": 3, "max_gram": 3}}'""")
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'cafe'") == [(5,)]  # folded
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'the'") == []  # a stop word
    assert rows(cur, "SELECT id FROM docs WHERE title @@@ 'gre'") == [(1,)]  # ngram of Postgres


@pytest.mark.parametrize("opts, err", [
    ("key_field = 'title'", errors.FeatureNotSupported),
    ("key_field = 'nope'", errors.InvalidParameterValue),
    ("key_field = 'id', tokenizer = 'klingon'", errors.InvalidParameterValue),
    ("key_field = 'id', bogus = '1'", errors.InvalidParameterValue),
    ("key_field = 'id', text_fields = '{\"body\": {\"colour\": 1}}'", errors.InvalidParameterValue),
])
def test_bad_options(mem_conn, opts, err):
    cur = mem_conn.cursor()
    with pytest.raises(err):
        setup(cur, opts)


def test_no_index_and_score_without_match(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE t (id int, body text)")
    with pytest.raises(errors.ObjectNotInPrerequisiteState, match="no bm25 index"):
        cur.execute("SELECT * FROM t WHERE body @@@ 'x'")
    setup(cur)
    with pytest.raises(errors.FeatureNotSupported, match="score"):
        cur.execute("SELECT score(id) FROM docs")


def test_dml_snapshots_and_reopen(tmp_db_path):
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    reader = sqlvec.connect(str(tmp_db_path), autocommit=True)  # shares the engine
    cur, rcur = conn.cursor(), reader.cursor()
    setup(cur)
    q = "SELECT id FROM docs WHERE body @@@ 'database' ORDER BY id"
    rcur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    assert rows(rcur, q) == [(1,), (3,)]
    cur.execute("UPDATE docs SET body = 'nothing here' WHERE id = 1")
    cur.execute("DELETE FROM docs WHERE id = 3")
    cur.execute("INSERT INTO docs VALUES (6, 't', 'database again', 60)")
    assert rows(cur, q) == [(6,)]
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'nothing'") == [(1,)]
    # the old snapshot still sees (and only sees) its own row versions, in both paths
    assert rows(rcur, q) == [(1,), (3,)]
    assert sorted(rows(rcur, "SELECT id FROM docs WHERE body @@@ 'database' "
                             "ORDER BY score(id) DESC LIMIT 9")) == [(1,), (3,)]
    assert rows(rcur, "SELECT id FROM docs WHERE body @@@ 'nothing'") == []
    rcur.execute("COMMIT")
    assert rows(rcur, q) == [(6,)]
    reader.close()
    conn.close()
    # reopened: the index catches up from its watermark and the table
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    cur = conn.cursor()
    assert rows(cur, q) == [(6,)]
    cur.execute("INSERT INTO docs VALUES (7, 't', 'database later', 70)")
    assert sorted(rows(cur, "SELECT id FROM docs WHERE body @@@ 'database' ORDER BY score(id) DESC LIMIT 5")) \
        == [(6,), (7,)]
    cur.execute("DROP INDEX docs_bm25")
    with pytest.raises(errors.ObjectNotInPrerequisiteState):
        cur.execute(q)
    conn.close()


def test_catch_up_after_lost_sync(tmp_db_path):
    """Rows committed while the index was behind (its state file older than the table) are
    indexed at the next open, and rows it already had are not indexed twice."""
    from sqlvec.index.bm25_manager import fulltext_manager

    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    cur = conn.cursor()
    setup(cur)
    from sqlvec.session import _OPEN

    m = fulltext_manager(_OPEN[os.path.realpath(tmp_db_path)].engine)
    live = next(iter(m.indexes.values()))
    state = Path(live._state_path()).read_text()  # the index as of 5 rows
    cur.execute("INSERT INTO docs VALUES (8, 't', 'database eight', 80)")
    assert rows(cur, "SELECT count(*) FROM docs WHERE body @@@ 'database'") == [(3,)]
    m.close()  # a "crash" of the index: its files keep row 8, its state file does not
    Path(live._state_path()).write_text(state)
    conn.close()
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    cur = conn.cursor()
    assert rows(cur, "SELECT id FROM docs WHERE body @@@ 'database' ORDER BY id") == [(1,), (3,), (8,)]
    live = next(iter(fulltext_manager(_OPEN[os.path.realpath(tmp_db_path)].engine).indexes.values()))
    assert live.num_docs() == 6  # no duplicate of row 8
    conn.close()


def test_plans_and_other_contexts(mem_conn):
    cur = mem_conn.cursor()
    setup(cur)
    plan = [r[0] for r in rows(cur, "EXPLAIN SELECT id FROM docs WHERE body @@@ 'database' AND n > 1 "
                                    "ORDER BY score(id) DESC LIMIT 2")]
    assert "BM25 Top-K on docs" in plan[1] and any("Filter: (n > 1)" in p for p in plan)
    plan = [r[0] for r in rows(cur, "EXPLAIN SELECT id FROM docs WHERE body @@@ 'database' ORDER BY id LIMIT 2")]
    assert not any("BM25" in p for p in plan)  # not ordered by score: scan + filter
    cur.execute("ALTER TABLE docs ADD COLUMN emb vector(2)")
    cur.execute("UPDATE docs SET emb = ('[' || id || ',0]')::vector")
    # Milvus-style filter inside a vector top-k
    assert rows(cur, "SELECT id FROM docs WHERE text_match(body, 'cats database') "
                     "ORDER BY emb <-> '[2.2,0]' LIMIT 2") == [(2,), (3,)]
    cur.execute("CREATE TABLE tags (doc bigint, tag text)")
    cur.execute("INSERT INTO tags VALUES (1, 'x'), (3, 'y'), (4, 'z')")
    got = rows(cur, "SELECT d.id, t.tag FROM docs d JOIN tags t ON t.doc = d.id "
                    "WHERE d.body @@@ 'database' ORDER BY 1")
    assert got == [(1, "x"), (3, "y")]
    cur.execute("DELETE FROM docs WHERE body @@@ 'cats OR birds'")
    assert rows(cur, "SELECT id FROM docs ORDER BY id") == [(1,), (3,), (5,)]
