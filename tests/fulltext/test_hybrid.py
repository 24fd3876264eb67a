"""Fusion: rrf(), rrf_k(), weighted_fusion() and the plain-SQL RRF recipe."""

from __future__ import annotations

import numpy as np
import pytest

from sqlvec import errors
from sqlvec.exec.hybrid import rrf_scores, weighted_scores


@pytest.fixture
def cur(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE docs (id bigint, body text, emb vector(2))")
    cur.execute("INSERT INTO docs VALUES (1, 'a database', '[1,0]'), (2, 'database b c', '[0,1]'), "
                "(3, 'cat', '[1,1]'), (4, 'database database database', '[-1,-1]')")
    cur.execute("CREATE INDEX ON docs USING bm25 (id, body) WITH (key_field = 'id')")
    return cur


def test_rrf_formula():
    ids, s = rrf_scores([np.array([3, 1]), np.array([1, 2])], k=1)
    assert ids.tolist() == [1, 3, 2]
    assert s.tolist() == pytest.approx([1 / 3 + 1 / 2, 1 / 2, 1 / 3])
    ids, s = weighted_scores([0.7, 0.3], [(np.array([1, 2]), np.array([2.0, 1.0])),
                                          (np.array([2, 3]), np.array([-0.1, -0.5]))])
    assert dict(zip(ids.tolist(), s.tolist())) == pytest.approx({1: 0.7, 2: 0.3, 3: 0.0})
    with pytest.raises(errors.InvalidParameterValue):
        weighted_scores([1.0], [])


def test_rrf_in_sql_matches_plain_sql(cur):
    q, v = "database", "[0,1]"
    cur.execute("""SELECT id, score FROM rrf(
        ARRAY(SELECT id FROM docs WHERE body @@@ %s ORDER BY score(id) DESC LIMIT 10),
        ARRAY(SELECT id FROM docs ORDER BY emb <-> %s::vector LIMIT 10)) ORDER BY score DESC, id""", (q, v))
    builtin = cur.fetchall()
    cur.execute("""
      WITH b AS (SELECT id, RANK() OVER (ORDER BY s DESC) AS r FROM (
                   SELECT id, score(id) AS s FROM docs WHERE body @@@ %s ORDER BY s DESC LIMIT 10) x),
           d AS (SELECT id, RANK() OVER (ORDER BY dist) AS r FROM (
                   SELECT id, emb <-> %s::vector AS dist FROM docs ORDER BY dist LIMIT 10) y)
      SELECT id, sum(1.0 / (60 + r)) AS s FROM (SELECT * FROM b UNION ALL SELECT * FROM d) u
      GROUP BY id ORDER BY s DESC, id""", (q, v))
    plain = cur.fetchall()
    assert [r[0] for r in builtin] == [r[0] for r in plain]
    assert [r[1] for r in builtin] == pytest.approx([float(r[1]) for r in plain])
    assert builtin[0][0] == 2  # third in BM25 (no ties: RANK equals position), first by distance


def test_rrf_k_and_weighted_in_sql(cur):
    cur.execute("SELECT * FROM rrf_k(1, ARRAY[3,1]::bigint[], ARRAY[1,2]::bigint[])")
    got = cur.fetchall()
    assert [r[0] for r in got] == [1, 3, 2]
    assert [r[1] for r in got] == pytest.approx([1 / 3 + 1 / 2, 0.5, 1 / 3])
    cur.execute("SELECT id FROM weighted_fusion(ARRAY[0.0, 1.0], ARRAY[1,2]::bigint[], ARRAY[2.0, 1.0], "
                "ARRAY[2,3]::bigint[], ARRAY[-0.1, -0.5])")
    assert [r[0] for r in cur.fetchall()][0] == 2
