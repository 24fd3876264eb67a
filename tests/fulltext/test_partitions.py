"""BM25 on partitioned tables: one tantivy index per partition, a tantivy top-k per (pruned)
partition merged by score, score()/@@@ outside the top-k gathering every partition."""

from __future__ import annotations

import pytest

WORDS = ["vector", "database", "search", "postgres", "index", "query", "cat", "dog", "sea", "sky"]
QUERIES = ["vector database", "cat OR dog", "search AND index", '"database postgres"', "sky -sea"]


def body(i: int) -> str:
    return " ".join(WORDS[(i * p) % 10] for p in (1, 3, 7, 11)) + f" w{i % 13}"


ROWS = [(i, i % 3, body(i)) for i in range(300)]


def rows(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


@pytest.fixture
def cur(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE u (id bigint PRIMARY KEY, tenant int, body text)")
    cur.execute("CREATE TABLE h (id bigint, tenant int, body text) "
                "WITH (partition_key = 'tenant', num_partitions = 4)")
    cur.execute("CREATE TABLE l (id bigint, tenant int, body text) PARTITION BY LIST (tenant)")
    for t in range(3):
        cur.execute(f"CREATE TABLE l_{t} PARTITION OF l FOR VALUES IN ({t})")
        cur.execute(f"CREATE TABLE only_{t} (id bigint PRIMARY KEY, tenant int, body text)")
        cur.executemany(f"INSERT INTO only_{t} VALUES (%s, %s, %s)", [r for r in ROWS if r[1] == t])
    for name in ("u", "h", "l"):
        cur.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s)", ROWS)
    for name in ("u", "h", "l", "only_0", "only_1", "only_2"):
        cur.execute(f"CREATE INDEX ON {name} USING bm25 (id, body) WITH (key_field = 'id')")
    return cur


@pytest.mark.parametrize("q", QUERIES)
def test_matches_equal_the_unpartitioned_table(cur, q):
    want = rows(cur, "SELECT id FROM u WHERE body @@@ %s ORDER BY id", (q,))
    assert want
    for t in ("h", "l"):
        assert rows(cur, f"SELECT id FROM {t} WHERE body @@@ %s ORDER BY id", (q,)) == want
        # score() outside the top-k (a scan) reads every partition's index
        got = rows(cur, f"SELECT count(*) FROM {t} WHERE body @@@ %s AND score(id) > 0", (q,))
        assert got == [(len(want),)]


@pytest.mark.parametrize("q", QUERIES)
def test_topk_merges_partitions_exactly(cur, q):
    for t in ("h", "l"):
        # the general path: every match scored, sorted (two sort keys: not the top-k path)
        full = rows(cur, f"SELECT id, score(id) FROM {t} WHERE body @@@ %s ORDER BY score(id) DESC, id", (q,))
        for k in (1, 5, 20):
            got = rows(cur, f"SELECT id, score(id) FROM {t} WHERE body @@@ %s ORDER BY score(id) DESC LIMIT %s",
                       (q, k))
            assert [s for _, s in got] == pytest.approx([s for _, s in full[:k]])
            cut = full[k - 1][1] if len(full) >= k else -1
            assert {i for i, s in full if s > cut} <= {i for i, _ in got}  # ties at the cut may differ
            assert len(got) == min(k, len(full))


@pytest.mark.parametrize("q", QUERIES)
def test_pruned_topk_equals_the_partition_alone(cur, q):
    for t in range(3):
        want = rows(cur, f"SELECT id, score(id) FROM only_{t} WHERE body @@@ %s "
                         "ORDER BY score(id) DESC, id", (q,))
        got = rows(cur, "SELECT id, score(id) FROM l WHERE body @@@ %s AND tenant = %s "
                        "ORDER BY score(id) DESC LIMIT 10", (q, t))
        assert [s for _, s in got] == pytest.approx([s for _, s in want[:10]])
        assert {i for i, _ in got} <= {i for i, _ in want}


def test_explain_shows_pruning_and_the_per_partition_topk(cur):
    plan = "\n".join(r[0] for r in rows(cur, "EXPLAIN SELECT id FROM l WHERE body @@@ 'cat' AND tenant = 1 "
                                             "ORDER BY score(id) DESC LIMIT 5"))
    assert "BM25 Top-K on l (tantivy per partition)" in plan
    assert "Partitions: 1 of 3 (pruned by tenant = 1)" in plan and "merged: l_1" in plan
    assert "Seq Scan" not in plan
    plan = "\n".join(r[0] for r in rows(cur, "EXPLAIN SELECT id FROM h WHERE body @@@ 'cat' "
                                             "ORDER BY score(id) DESC LIMIT 5"))
    assert "Partitions: 4 of 4 (no predicate on the partition key)" in plan


def test_writes_through_the_parent_reach_the_partition_indexes(cur):
    cur.execute("DELETE FROM h WHERE id < 100")
    cur.execute("UPDATE h SET tenant = 0, body = 'zebra crossing' WHERE id = 150")  # moves partition
    cur.execute("INSERT INTO h VALUES (1000, 2, 'a zebra')")
    assert rows(cur, "SELECT id FROM h WHERE body @@@ 'zebra' ORDER BY score(id) DESC LIMIT 10") \
        in ([(1000,), (150,)], [(150,), (1000,)])
    assert rows(cur, "SELECT count(*) FROM h WHERE body @@@ 'cat OR dog'") == \
        rows(cur, "SELECT count(*) FROM u WHERE body @@@ 'cat OR dog' AND id >= 100 AND id <> 150")
