"""Materialized views through the embedded API: the vector index path on one, REFRESH inside
transactions (atomic, readers keep their snapshot), durability across reopen, and the
dependency bookkeeping of DROP. SQL-level behaviour is in tests/sql/objects/matviews.test."""

from __future__ import annotations

import pytest

import sqlvec
from sqlvec import errors

VEC = "('[' || sin(i) || ',' || cos(i) || ',' || sin(2 * i) || ']')::vector(3)"


def rows(c, sql, params=None):
    c.execute(sql, params)
    return c.fetchall()


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "db")


def test_vector_index_on_matview_serves_top_k(db_path):
    conn = sqlvec.connect(db_path, autocommit=True)
    try:
        c = conn.cursor()
        c.execute("CREATE EXTENSION vector")
        c.execute(f"CREATE MATERIALIZED VIEW pts AS SELECT i AS id, {VEC} AS emb FROM generate_series(1, 6000) i")
        assert c.statusmessage == "SELECT 6000"
        c.execute("CREATE INDEX pts_emb ON pts USING hnsw (emb vector_l2_ops)")
        c.execute("CHECKPOINT")  # seal the rows, so that the segment gets its graph
        assert conn.session.db.engine.wait_for_indexes(120)
        q = "SELECT id FROM pts ORDER BY emb <-> '[0,1,0]' LIMIT 5"
        plan = "\n".join(r[0] for r in rows(c, "EXPLAIN " + q))
        assert "Vector Top-K on pts using pts_emb (hnsw" in plan
        assert "-> hnsw (graph walk" in plan
        got = [r[0] for r in rows(c, q)]
        # recall against the exact answer (distances computed without ORDER BY ... LIMIT)
        dist = sorted(rows(c, "SELECT emb <-> '[0,1,0]', id FROM pts"))
        exact = {i for _, i in dist[:5]}
        assert len(got) == 5 and len(set(got) & exact) >= 4
    finally:
        conn.close()


def test_refresh_is_atomic_and_readers_keep_their_snapshot(db_path):
    a = sqlvec.connect(db_path, autocommit=True)
    b = sqlvec.connect(db_path, autocommit=True)
    try:
        ca, cb = a.cursor(), b.cursor()
        ca.execute("CREATE TABLE src (id int PRIMARY KEY, v text)")
        ca.execute("INSERT INTO src SELECT i, 'v' || i FROM generate_series(1, 100) i")
        ca.execute("CREATE MATERIALIZED VIEW m AS SELECT id, v FROM src")
        ca.execute("CREATE UNIQUE INDEX m_id ON m (id)")
        ca.execute("INSERT INTO src SELECT i, 'w' || i FROM generate_series(101, 150) i")
        # a refresh in progress (not committed) is invisible to other sessions
        cb.execute("BEGIN")
        cb.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY m")
        assert rows(cb, "SELECT count(*) FROM m") == [(150,)]
        assert rows(ca, "SELECT count(*) FROM m") == [(100,)]
        # a repeatable-read reader keeps its snapshot across the refresh's commit
        ca.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert rows(ca, "SELECT count(*), max(id) FROM m") == [(100, 100)]
        cb.execute("COMMIT")
        assert rows(ca, "SELECT count(*), max(id) FROM m") == [(100, 100)]
        ca.execute("COMMIT")
        assert rows(ca, "SELECT count(*), max(id) FROM m") == [(150, 150)]
        # a REFRESH rolled back leaves the old contents; a failing one too
        cb.execute("DELETE FROM src WHERE id > 10")
        cb.execute("BEGIN")
        cb.execute("REFRESH MATERIALIZED VIEW m")
        assert rows(cb, "SELECT count(*) FROM m") == [(10,)]
        cb.execute("ROLLBACK")
        assert rows(cb, "SELECT count(*) FROM m") == [(150,)]
        cb.execute("INSERT INTO src VALUES (1000, 'x')")
        ca.execute("DROP MATERIALIZED VIEW m")
        ca.execute("CREATE MATERIALIZED VIEW m AS SELECT v AS k FROM src")
        ca.execute("CREATE UNIQUE INDEX m_k ON m (k)")
        ca.execute("INSERT INTO src VALUES (2000, 'x')")
        with pytest.raises(errors.UniqueViolation, match='could not create unique index "m_k"'):
            ca.execute("REFRESH MATERIALIZED VIEW m")
        assert rows(ca, "SELECT count(*) FROM m") == [(11,)]
    finally:
        a.close()
        b.close()


def test_matview_survives_reopen(db_path):
    conn = sqlvec.connect(db_path, autocommit=True)
    c = conn.cursor()
    c.execute("CREATE EXTENSION vector")
    c.execute("CREATE TABLE src (id int PRIMARY KEY, emb vector(2))")
    c.execute("INSERT INTO src VALUES (1, '[1,0]'), (2, '[0,1]'), (3, '[1,1]')")
    c.execute("CREATE MATERIALIZED VIEW m (ident, e) WITH (fillfactor = 80) AS SELECT id, emb FROM src WHERE id < 3")
    c.execute("CREATE UNIQUE INDEX m_ident ON m (ident)")
    c.execute("CREATE INDEX m_e ON m USING hnsw (e vector_cosine_ops)")
    c.execute("CREATE MATERIALIZED VIEW later AS SELECT id FROM src WITH NO DATA")
    c.execute("COMMENT ON MATERIALIZED VIEW m IS 'two rows'")
    conn.close()

    conn = sqlvec.connect(db_path, autocommit=True)
    try:
        c = conn.cursor()
        assert rows(c, "SELECT ident, e::text FROM m ORDER BY ident") == [(1, "[1,0]"), (2, "[0,1]")]
        assert rows(c, "SELECT ident FROM m ORDER BY e <=> '[0.1,1]' LIMIT 1") == [(2,)]
        assert rows(c, "SELECT matviewname, hasindexes, ispopulated FROM pg_matviews ORDER BY 1") == [
            ("later", False, False), ("m", True, True)]
        assert rows(c, "SELECT reloptions, obj_description(oid, 'pg_class') FROM pg_class WHERE relname = 'm'") == [
            (["fillfactor=80"], "two rows")]
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="has not been populated"):
            c.execute("SELECT * FROM later")
        with pytest.raises(errors.WrongObjectType, match='cannot change materialized view "m"'):
            c.execute("INSERT INTO m VALUES (9, '[1,1]')")
        c.execute("INSERT INTO src VALUES (0, '[2,2]')")
        c.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY m")
        c.execute("REFRESH MATERIALIZED VIEW later")
        assert rows(c, "SELECT ident FROM m ORDER BY ident") == [(0,), (1,), (2,)]
        assert rows(c, "SELECT count(*) FROM later") == [(4,)]
    finally:
        conn.close()
    conn = sqlvec.connect(db_path, autocommit=True)  # the refreshed contents are durable
    try:
        c = conn.cursor()
        assert rows(c, "SELECT ident FROM m ORDER BY ident") == [(0,), (1,), (2,)]
        assert rows(c, "SELECT relispopulated FROM pg_class WHERE relname = 'later'") == [(True,)]
    finally:
        conn.close()


def test_drop_cascade_releases_matviews_and_their_indexes(mem_conn):
    c = mem_conn.cursor()
    c.execute("CREATE TABLE t9 (a int)")
    c.execute("INSERT INTO t9 VALUES (1), (2)")
    c.execute("CREATE MATERIALIZED VIEW m9 AS SELECT a FROM t9")
    c.execute("CREATE UNIQUE INDEX m9_a ON m9 (a)")
    c.execute("CREATE VIEW v9 AS SELECT a FROM m9")
    c.execute("CREATE MATERIALIZED VIEW m10 AS SELECT a FROM v9")
    with pytest.raises(errors.DependentObjectsStillExist) as info:
        c.execute("DROP TABLE t9")
    assert info.value.detail.split("\n") == [
        "materialized view m9 depends on table t9",
        "view v9 depends on materialized view m9",
        "materialized view m10 depends on view v9",
    ]
    c.execute("DROP TABLE t9 CASCADE")
    assert rows(c, "SELECT relname FROM pg_class WHERE relname IN ('m9', 'm9_a', 'v9', 'm10')") == []
    # the names are free again
    c.execute("CREATE MATERIALIZED VIEW m9 AS SELECT 1 AS a")
    c.execute("CREATE UNIQUE INDEX m9_a ON m9 (a)")
    assert rows(c, "SELECT a FROM m9") == [(1,)]


def test_read_only_transaction_refuses_refresh(mem_conn):
    c = mem_conn.cursor()
    c.execute("CREATE MATERIALIZED VIEW m AS SELECT 1 AS a")
    c.execute("BEGIN READ ONLY")
    with pytest.raises(errors.Error, match="cannot execute REFRESH MATERIALIZED VIEW in a read-only transaction"):
        c.execute("REFRESH MATERIALIZED VIEW m")
    c.execute("ROLLBACK")


def test_unpopulated_matview_fails_only_when_read(mem_conn):
    c = mem_conn.cursor()
    c.execute("CREATE MATERIALIZED VIEW m AS SELECT 1 AS a WITH NO DATA")
    plan = "\n".join(r[0] for r in rows(c, "EXPLAIN SELECT a FROM m"))
    assert plan  # planning does not read it
    c.execute("CREATE VIEW v AS SELECT a FROM m")  # nor does creating a view over it
    with pytest.raises(errors.ObjectNotInPrerequisiteState) as info:
        c.execute("SELECT a FROM v")
    assert info.value.hint == "Use the REFRESH MATERIALIZED VIEW command."
    c.execute("REFRESH MATERIALIZED VIEW m")
    assert rows(c, "SELECT a FROM v") == [(1,)]  # the catalog changed: planned again
