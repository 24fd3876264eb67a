"""Milvus-style partition keys and partitioned vector search: routing, pruning (seen in EXPLAIN
and in results), top-k across partitions equal to the unpartitioned answer, statistics and
persistence across reopen."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec

DIM = 8
TENANTS = [f"t{i}" for i in range(10)]


def _rows(n: int = 600, seed: int = 7):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    return [(i, TENANTS[i % len(TENANTS)], "[" + ",".join(f"{x:.5f}" for x in v) + "]") for i, v in enumerate(vecs)]


def _load(cur, name: str, with_key: bool) -> None:
    opts = " WITH (partition_key = 'tenant', num_partitions = 4)" if with_key else ""
    cur.execute(f"CREATE TABLE {name} (id int, tenant text NOT NULL, emb vector({DIM})){opts}")
    cur.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s)", _rows())


def _explain(cur, sql: str, params=None) -> str:
    cur.execute("EXPLAIN " + sql, params)
    return "\n".join(r[0] for r in cur.fetchall())


@pytest.fixture
def cur(tmp_conn):
    c = tmp_conn.cursor()
    _load(c, "docs", True)
    _load(c, "flat", False)
    return c


def test_rows_are_routed_to_child_partitions(cur):
    cur.execute("SELECT relname FROM pg_class WHERE relname LIKE 'docs_p%' AND relkind = 'r' ORDER BY 1")
    assert [r[0] for r in cur.fetchall()] == ["docs_p0", "docs_p1", "docs_p2", "docs_p3"]
    total = 0
    for i in range(4):
        cur.execute(f"SELECT DISTINCT tenant FROM docs_p{i}")
        tenants = {r[0] for r in cur.fetchall()}
        cur.execute(f"SELECT count(*) FROM docs_p{i}")
        total += cur.fetchone()[0]
        for j in range(4):  # a tenant lives in exactly one partition
            if j != i:
                cur.execute(f"SELECT count(*) FROM docs_p{j} WHERE tenant = ANY(%s)", (sorted(tenants),))
                assert cur.fetchone()[0] == 0
    assert total == 600
    cur.execute("SELECT count(*) FROM docs")
    assert cur.fetchone()[0] == 600


def test_pruning_shows_in_explain_and_keeps_results(cur):
    plan = _explain(cur, "SELECT id FROM docs WHERE tenant = 't3'")
    assert "Partitions: 1 of 4 (pruned by tenant = 't3')" in plan
    plan = _explain(cur, "SELECT id FROM docs WHERE tenant = %s AND id > 5", ("t3",))
    assert "Partitions: 1 of 4" in plan
    assert "Partitions: 4 of 4 (no predicate on the partition key)" in _explain(cur, "SELECT id FROM docs WHERE id > 5")
    for where in ("tenant = 't3'", "tenant IN ('t1', 't2')", "tenant = 't3' AND id < 100", "id % 7 = 1", "tenant = 'nobody'"):
        cur.execute(f"SELECT id, tenant FROM docs WHERE {where} ORDER BY id")
        got = cur.fetchall()
        cur.execute(f"SELECT id, tenant FROM flat WHERE {where} ORDER BY id")
        assert got == cur.fetchall(), where
    assert "Partitions: 0 of 4" not in _explain(cur, "SELECT id FROM docs WHERE tenant = 't1'")


@pytest.mark.parametrize("index", [False, True])
def test_topk_across_partitions_equals_unpartitioned(cur, index):
    if index:
        cur.execute("CREATE INDEX ON docs USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 200)")
        cur.execute("SET hnsw.ef_search = 400")  # recall ~1 on 600 rows: the answer is exact
        cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'docs_p%'")
        assert cur.fetchone()[0] == 4  # one index per partition
    q = "[" + ",".join(["0.1"] * DIM) + "]"
    for where in ("", "WHERE tenant = 't5'", "WHERE id %% 3 = 0"):
        sql = f"SELECT id FROM {{}} {where} ORDER BY emb <-> %s LIMIT 10"
        cur.execute(sql.format("docs"), (q,))
        got = [r[0] for r in cur.fetchall()]
        cur.execute(sql.format("flat"), (q,))
        assert got == [r[0] for r in cur.fetchall()], where
    plan = _explain(cur, "SELECT id FROM docs WHERE tenant = 't5' ORDER BY emb <-> %s LIMIT 10", (q,))
    assert "Vector Top-K on docs" in plan and "Partitions: 1 of 4 (pruned by tenant = 't5')" in plan
    cur.execute("SELECT id FROM docs ORDER BY emb <-> %s LIMIT 5 OFFSET 3", (q,))
    got = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT id FROM flat ORDER BY emb <-> %s LIMIT 5 OFFSET 3", (q,))
    assert got == [r[0] for r in cur.fetchall()]


def test_update_moves_rows_and_delete_prunes(cur):
    cur.execute("UPDATE docs SET tenant = 't9' WHERE tenant = 't0'")
    assert cur.rowcount == 60
    cur.execute("SELECT count(*) FROM docs WHERE tenant = 't9'")
    assert cur.fetchone()[0] == 120
    cur.execute("DELETE FROM docs WHERE tenant = 't9' AND id < 300")
    cur.execute("SELECT count(*) FROM docs")
    assert cur.fetchone()[0] == 600 - 60
    cur.execute("SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE 'docs_p%'")
    assert sum(r[1] for r in cur.fetchall()) == 540  # per-partition statistics
    cur.execute("SELECT sum(reltuples) FROM pg_class WHERE relname LIKE 'docs_p%' AND relkind = 'r'")
    assert cur.fetchone()[0] == 540
    cur.execute("SELECT relkind, reltuples FROM pg_class WHERE relname = 'docs'")
    assert cur.fetchone() == ("p", -1.0)
    cur.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'docs'::regclass")
    assert cur.fetchone()[0] == 4


def test_routing_survives_reopen(tmp_db_path):
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    c = conn.cursor()
    _load(c, "docs", True)
    c.execute("SELECT id FROM docs_p2 ORDER BY id")
    before = c.fetchall()
    conn.close()
    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    c = conn.cursor()
    c.execute("INSERT INTO docs VALUES (1000, 't0', %s)", ("[" + ",".join(["0"] * DIM) + "]",))
    c.execute("SELECT id FROM docs WHERE tenant = 't0' AND id = 1000")
    assert c.fetchall() == [(1000,)]
    c.execute("SELECT count(*) FROM docs WHERE tenant = 't0'")
    assert c.fetchone()[0] == 61
    c.execute("SELECT id FROM docs_p2 WHERE id < 1000 ORDER BY id")
    assert c.fetchall() == before
    assert "Partitions: 1 of 4" in _explain(c, "SELECT * FROM docs WHERE tenant = 't0'")
    conn.close()


def test_options_are_validated(tmp_conn):
    c = tmp_conn.cursor()
    with pytest.raises(sqlvec.errors.UndefinedColumn):
        c.execute("CREATE TABLE x (a int) WITH (partition_key = 'nope')")
    with pytest.raises(sqlvec.errors.InvalidParameterValue):
        c.execute("CREATE TABLE x (a int) WITH (partition_key = 'a', num_partitions = 0)")
    with pytest.raises(sqlvec.errors.FeatureNotSupported):
        c.execute("CREATE TABLE x (a int, b int) PARTITION BY RANGE (a, b)")


def test_bm25_and_range_search_stay_inside_the_tenant(tmp_conn):
    c = tmp_conn.cursor()
    c.execute("CREATE TABLE d (id int, tenant text, body text, emb vector(2)) WITH (partition_key = 'tenant', num_partitions = 3)")
    c.execute("INSERT INTO d VALUES (1, 'a', 'hello world', '[1,2]'), (2, 'b', 'hello there', '[2,2]'), (3, 'c', 'bye', '[0,0]')")
    c.execute("CREATE INDEX ON d USING bm25 (id, body) WITH (key_field = 'id')")
    c.execute("SELECT id FROM d WHERE body @@@ 'hello' ORDER BY id")
    assert c.fetchall() == [(1,), (2,)]
    c.execute("SELECT id FROM d WHERE tenant = 'a' AND body @@@ 'hello'")
    assert c.fetchall() == [(1,)]
    c.execute("SELECT id FROM d WHERE tenant = 'b' AND emb <-> '[1,2]' < 1.5")
    assert c.fetchall() == [(2,)]


def test_ddl_reaches_partitions(tmp_conn):
    c = tmp_conn.cursor()
    c.execute("CREATE TABLE d (id int, tenant text) WITH (partition_key = 'tenant', num_partitions = 2)")
    c.execute("INSERT INTO d VALUES (1, 'a'), (2, 'b')")
    c.execute("ALTER TABLE d ADD COLUMN z int DEFAULT 5")
    c.execute("INSERT INTO d VALUES (3, 'c', 7)")
    c.execute("SELECT id, z FROM d ORDER BY id")
    assert c.fetchall() == [(1, 5), (2, 5), (3, 7)]
    with pytest.raises(sqlvec.errors.InvalidTableDefinition):
        c.execute("ALTER TABLE d DROP COLUMN tenant")
    with pytest.raises(sqlvec.errors.WrongObjectType):
        c.execute("ALTER TABLE d_p0 ADD COLUMN w int")
    c.execute("TRUNCATE d")
    c.execute("SELECT count(*) FROM d")
    assert c.fetchone()[0] == 0
    c.execute("DROP TABLE d")
    c.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'd_p%'")
    assert c.fetchone()[0] == 0


def test_internal_option_names_are_refused(tmp_path):
    """partition_by, partition_of, partition_bound and isolate_by are the engine's own table
    options: a user's WITH / SET of one is an unrecognized parameter (22023), not a table
    that breaks every later statement."""
    from sqlvec import errors

    c = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    for name in ("partition_by", "PARTITION_OF", "isolate_by"):
        with pytest.raises(errors.InvalidParameterValue, match=f'unrecognized parameter "{name}"'):
            c.execute(f"CREATE TABLE t (id int) WITH ({name} = 'id')")
    c.execute("CREATE TABLE t (id int) WITH (fillfactor = 90)")
    with pytest.raises(errors.InvalidParameterValue, match='unrecognized parameter "partition_bound"'):
        c.execute("ALTER TABLE t SET (partition_bound = 'x')")
    c.execute("INSERT INTO t VALUES (1)")
    assert c.execute("SELECT id FROM t").fetchall() == [(1,)]
    c.close()
