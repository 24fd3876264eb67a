"""EXPLAIN [ANALYZE]: which path each vector search took and why, as a normal result set."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sqlvec
from sqlvec import errors


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8000, 8)).astype(np.float32)
    c = sqlvec.connect(str(tmp_path_factory.mktemp("e") / "db"), autocommit=True)
    c.execute("CREATE TABLE items (id bigint PRIMARY KEY, cat int, emb vector(8))")
    c.execute("CREATE TABLE cats (id int, name text)")
    c.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)", [(i, i % 1000, x[i]) for i in range(8000)])
    c.execute("INSERT INTO cats VALUES (1, 'a'), (2, 'b')")
    c.execute("CHECKPOINT")
    c.execute("CREATE INDEX items_emb_idx ON items USING hnsw (emb vector_l2_ops)")
    c.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)", [(i, 3, x[i - 8000]) for i in range(8000, 8050)])
    c.x = x
    yield c
    c.close()


def _lines(c, sql, params=None):
    cur = c.execute(sql, params)
    assert [d[0] for d in cur.description] == ["QUERY PLAN"]
    return [r[0] for r in cur.fetchall()]


def test_topk_paths_per_segment(conn):
    q = conn.x[3]
    lines = _lines(conn, "EXPLAIN SELECT id FROM items ORDER BY emb <-> %s LIMIT 10", (q,))
    assert lines[0] == "Limit  (rows=10)"
    assert lines[1].startswith("  ->  Vector Top-K on items using items_emb_idx (hnsw, ef_search=40)")
    text = "\n".join(lines)
    assert "Segments: 2 (1 hnsw, 1 exact: growing)" in text
    conn.execute("SET hnsw.ef_search = 77")
    lines = _lines(conn, "EXPLAIN SELECT id FROM items WHERE cat = 3 ORDER BY emb <-> %s LIMIT 10", (q,))
    text = "\n".join(lines)
    assert "ef_search=77" in text and "Filter: (cat = 3)" in text
    assert "passing filter=8 -> exact (8 rows pass" in text  # selective: exact over the subset
    conn.execute("RESET hnsw.ef_search")


def test_analyze_reports_actual_rows_and_paths(conn):
    q = conn.x[5]
    lines = _lines(conn, "EXPLAIN ANALYZE SELECT id FROM items WHERE cat < 500 ORDER BY emb <-> %s LIMIT 4", (q,))
    assert "actual time=" in lines[0] and "rows=4 loops=1" in lines[0]
    text = "\n".join(lines)
    assert "actual segment 0: passing=4000 path=hnsw returned=4" in text
    assert lines[-1].startswith("Execution Time: ")


def test_plain_nodes_and_join(conn):
    text = "\n".join(_lines(conn, "EXPLAIN ANALYZE SELECT c.name, count(*) FROM items i JOIN cats c ON i.cat = c.id "
                                  "WHERE i.id < 100 GROUP BY c.name ORDER BY 2 DESC"))
    for piece in ("Sort", "Sort Key:", "HashAggregate", "Group Key: name", "Hash Join", "Hash Cond: (cat = id)",
                  "Seq Scan on items i", "Seq Scan on cats c", "Filter: (id < 100)"):
        assert piece in text, piece
    assert "rows=2 loops=1" in text.splitlines()[0]


def test_format_json_and_range(conn):
    q = conn.x[9]
    (doc,) = [r[0] for r in conn.execute("EXPLAIN (FORMAT JSON) SELECT id FROM items WHERE emb <-> %s < 1", (q,))]
    plan = json.loads(doc)[0]["Plan"]
    assert plan["Node Type"].startswith("Vector Range Scan on items using items_emb_idx")
    assert any(d.startswith("Range Cond: ((emb <-> $1) < 1") for d in plan["Details"])


def test_explain_analyze_dml_runs_it(conn):
    lines = _lines(conn, "EXPLAIN ANALYZE DELETE FROM cats WHERE id = 2")
    assert lines[0].startswith("Delete on cats")
    assert conn.execute("SELECT count(*) FROM cats").fetchone()[0] == 1
    with pytest.raises(errors.FeatureNotSupported):
        conn.execute("EXPLAIN CREATE TABLE z (a int)")


def test_explain_through_the_server(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wire"))
    from wireserver import ServerProcess

    srv = ServerProcess(tmp_path / "data").start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as c:
            c.execute("CREATE TABLE t (id int, emb vector(2))")
            c.execute("INSERT INTO t VALUES (1, '[1,2]'), (2, '[3,4]')")
            rows = c.execute("EXPLAIN ANALYZE SELECT id FROM t ORDER BY emb <-> %s LIMIT 1", ("[1,1]",)).fetchall()
            assert rows[0][0].startswith("Limit  (rows=1) (actual time=")
            assert "exact: growing" in "\n".join(r[0] for r in rows)
            rows = c.execute("EXPLAIN SELECT id FROM t ORDER BY emb <-> %s LIMIT 1", ("[1,1]",), prepare=True).fetchall()
            assert rows[0][0] == "Limit  (rows=1)"
    finally:
        assert srv.stop() == 0
