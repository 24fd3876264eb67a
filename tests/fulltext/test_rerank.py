"""rerank(query, doc [, scorer]): built-in scorers, scorers registered from Python (one call
per query batch), and a server-side scorer published as a ``sqlvec.rerankers`` entry point."""

from __future__ import annotations

import os
import sys
import textwrap

import psycopg
import pytest

import sqlvec
from sqlvec import errors
from sqlvec.exec.rerank import bm25_scorer, token_overlap_scorer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "wire"))
from wireserver import ServerProcess  # noqa: E402

DOCS = [(i, f"{'vector ' * (i % 4)}database number {i} " + ("postgres" if i % 3 == 0 else "cats"))
        for i in range(1, 41)]
TOP = ("WITH top AS (SELECT id, body FROM docs WHERE body @@@ 'database' "
       "ORDER BY score(id) DESC LIMIT 20) ")


@pytest.fixture
def cur(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE docs (id bigint PRIMARY KEY, body text, emb vector(2))")
    cur.executemany("INSERT INTO docs VALUES (%s, %s, %s)",
                    [(i, b, f"[{i % 5}, {i % 7}]") for i, b in DOCS])
    cur.execute("CREATE INDEX ON docs USING bm25 (id, body) WITH (key_field = 'id')")
    return cur


def test_builtin_scorers():
    assert token_overlap_scorer("A b c", ["a x", "c b a", "", "d"]) == [pytest.approx(1 / 3), 1.0, 0.0, 0.0]
    s = bm25_scorer("vector postgres", ["vector vector postgres", "vector y", "cats", "postgres db", "vector x"])
    assert s[0] == max(s) and s[2] == 0.0
    assert s[3] > s[4] == s[1]  # the rarer word (postgres) weighs more
    assert bm25_scorer("x", []) == []


def test_registered_scorer_runs_once_per_batch(cur):
    calls = []

    def longest(query, docs):
        calls.append((query, list(docs)))
        return [float(len(d)) for d in docs]

    sqlvec.register_reranker("Longest", longest)
    try:
        cur.execute(TOP + "SELECT id, rerank('q', body, 'longest') AS r FROM top ORDER BY r DESC, id LIMIT 5")
        got = cur.fetchall()
        assert len(calls) == 1 and calls[0][0] == "q" and len(calls[0][1]) == 20
        cur.execute(TOP + "SELECT id, length(body)::float8 FROM top ORDER BY 2 DESC, id LIMIT 5")
        assert got == cur.fetchall()
        sqlvec.unregister_reranker("longest")
        with pytest.raises(errors.UndefinedObject, match='reranker "longest" does not exist'):
            cur.execute(TOP + "SELECT id FROM top ORDER BY rerank('q', body, 'longest') DESC LIMIT 5")
    finally:
        sqlvec.unregister_reranker("longest")


def test_rerank_over_fused_candidates(cur):
    fused = """
      WITH fused AS (
        SELECT d.id, d.body FROM rrf(
            ARRAY(SELECT id FROM docs WHERE body @@@ 'vector database' ORDER BY score(id) DESC LIMIT 30),
            ARRAY(SELECT id FROM docs ORDER BY emb <-> '[0, 0]' LIMIT 30)) f
        JOIN docs d ON d.id = f.id ORDER BY f.score DESC LIMIT 30) """
    cur.execute(fused + "SELECT id, body FROM fused")
    cands = cur.fetchall()
    assert len(cands) == 30
    scores = bm25_scorer("vector postgres", [b for _, b in cands])  # the default scorer
    want = [i for _, i in sorted((-s, i) for s, (i, _) in zip(scores, cands))][:5]
    cur.execute(fused + "SELECT id FROM fused ORDER BY rerank('vector postgres', body) DESC, id LIMIT 5")
    got = [r[0] for r in cur.fetchall()]
    assert got == want
    assert all(i % 3 == 0 for i in got)  # "postgres", the rarer word among the candidates
    cur.execute("SELECT rerank('a b', NULL), rerank(NULL, 'a'), rerank('a', 'a', 'token_overlap')")
    assert cur.fetchall() == [(None, None, 1.0)]


def test_bad_scorers_are_sql_errors(cur):
    sqlvec.register_reranker("short", lambda q, docs: [1.0])
    sqlvec.register_reranker("boom", lambda q, docs: 1 / 0)
    try:
        with pytest.raises(errors.DataException, match="returned 1 scores for 20 documents"):
            cur.execute(TOP + "SELECT id FROM top ORDER BY rerank('q', body, 'short') DESC LIMIT 5")
        with pytest.raises(errors.DataException, match='reranker "boom" failed: division by zero'):
            cur.execute(TOP + "SELECT id FROM top ORDER BY rerank('q', body, 'boom') DESC LIMIT 5")
    finally:
        sqlvec.unregister_reranker("short")
        sqlvec.unregister_reranker("boom")
    with pytest.raises(TypeError):
        sqlvec.register_reranker("x", 3)


def test_server_side_scorer_from_an_entry_point(tmp_path, monkeypatch):
    # an installed package publishing a scorer: a module and its dist-info on the path
    pkg = tmp_path / "site"
    pkg.mkdir()
    (pkg / "my_scorers.py").write_text(textwrap.dedent("""
        def shortest(query, docs):
            return [-float(len(d)) for d in docs]
    """))
    info = pkg / "my_scorers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-scorers\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sqlvec.rerankers]\nshortest = my_scorers:shortest\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")]))
    srv = ServerProcess(tmp_path / "data").start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE docs (id bigint PRIMARY KEY, body text)")
            with conn.cursor() as c:
                c.executemany("INSERT INTO docs VALUES (%s, %s)", DOCS)
            conn.execute("CREATE INDEX ON docs USING bm25 (id, body) WITH (key_field = 'id')")
            got = conn.execute(TOP + "SELECT id FROM top ORDER BY rerank(%s, body, 'shortest') DESC, id "
                               "LIMIT 3", ("database",)).fetchall()
            want = conn.execute(TOP + "SELECT id FROM top ORDER BY length(body), id LIMIT 3").fetchall()
            assert got == want
            with pytest.raises(psycopg.errors.UndefinedObject):
                conn.execute("SELECT rerank('a', 'b', 'no_such_scorer')")
    finally:
        srv.stop()
