"""BM25 on partitioned tables: one tantivy index per partition, scored with the statistics of
the whole table, so that ids, order and scores equal those of one unpartitioned table holding
the same rows (and, after deletes, of a table that never held the deleted ones)."""

from __future__ import annotations

import random

import pytest

WORDS = ["vector", "database", "search", "postgres", "index", "query", "cat", "dog", "sea", "sky",
         "ocean", "graph", "tree", "rank", "score"]
QUERIES = [
    "vector database", "cat OR dog", "search AND index", '"database postgres"', "sky -sea",
    '"cat dog"~2 OR ocean', "title:cat AND body:dog", "title:(rank tree) body:graph^2",
    "(vector OR graph) -title:sea", "cat^0.5 dog^3 sea",
]
HELPERS = [  # the fts_* builders: a phrase with slop, a boolean of terms, one field's words
    "fts_phrase('body', 'cat dog', 1)",
    "fts_all(fts_term('body', 'vector'), fts_any(fts_term('title', 'graph'), fts_term('title', 'tree')))",
    "fts_match('title', 'ocean rank score')",
]
TABLES = ("h", "l", "ph")  # partition_key hash, LIST, PARTITION BY HASH


def _rows(n: int = 400) -> list[tuple]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 4)))
        body = " ".join(rnd.choice(WORDS[: 6 + i % 9]) for _ in range(rnd.randint(2, 40)))
        out.append((i, i % 3, title, body))
    return out


ROWS = _rows()
COLS = "(id bigint, tenant int, title text, body text)"
INDEX = "USING bm25 (id, title, body) WITH (key_field = 'id', text_fields = '{\"body\": {\"tokenizer\": \"en_stem\"}}')"


def rows(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


@pytest.fixture
def cur(mem_conn):
    cur = mem_conn.cursor()
    cur.execute(f"CREATE TABLE u {COLS}")
    cur.execute(f"CREATE TABLE h {COLS} WITH (partition_key = 'tenant', num_partitions = 4)")
    cur.execute(f"CREATE TABLE l {COLS} PARTITION BY LIST (tenant)")
    cur.execute(f"CREATE TABLE ph {COLS} PARTITION BY HASH (id)")
    for t in range(3):
        cur.execute(f"CREATE TABLE l_{t} PARTITION OF l FOR VALUES IN ({t})")
        cur.execute(f"CREATE TABLE ph_{t} PARTITION OF ph FOR VALUES WITH (MODULUS 3, REMAINDER {t})")
    for name in ("u",) + TABLES:
        cur.executemany(f"INSERT INTO {name} VALUES (%s, %s, %s, %s)", ROWS)
        cur.execute(f"CREATE INDEX ON {name} {INDEX}")
    return cur


def _same(got: list, want: list) -> None:
    assert [r[0] for r in got] == [r[0] for r in want]  # ids and order (ties: by id)
    assert [r[1] for r in got] == pytest.approx([r[1] for r in want], rel=1e-5)


def _topk(cur, table: str, q: str, k: int, where: str = "", helper: bool = False):
    rhs = q if helper else "%s"
    return rows(cur, f"SELECT id, score(id) FROM {table} WHERE id @@@ {rhs} {where} "
                     f"ORDER BY score(id) DESC LIMIT {k}", None if helper else (q,))


@pytest.mark.parametrize("q", QUERIES)
def test_matches_equal_the_unpartitioned_table(cur, q):
    want = rows(cur, "SELECT id FROM u WHERE id @@@ %s ORDER BY id", (q,))
    assert want
    for t in TABLES:
        assert rows(cur, f"SELECT id FROM {t} WHERE id @@@ %s ORDER BY id", (q,)) == want


@pytest.mark.parametrize("q", QUERIES + HELPERS)
def test_topk_equals_the_unpartitioned_table(cur, q):
    helper = q in HELPERS
    full = _topk(cur, "u", q, 1000, helper=helper)
    assert len(full) > 5
    assert len({s for _, s in full}) > 3  # scores that rank, not one tie
    for t in TABLES:
        for k in (1, 5, 20, 1000):
            _same(_topk(cur, t, q, k, helper=helper), full[:k])


@pytest.mark.parametrize("q", QUERIES[:6])
def test_scores_outside_the_topk_equal_the_unpartitioned_table(cur, q):
    # two sort keys: not the top-k path; score() gathers every partition's rescored hits
    sql = "SELECT id, score(id) FROM {} WHERE body @@@ %s ORDER BY score(id) DESC, id"
    want = rows(cur, sql.format("u"), (q,))
    for t in TABLES:
        _same(rows(cur, sql.format(t), (q,)), want)


@pytest.mark.parametrize("q", QUERIES[:6])
def test_pruned_topk_scores_with_the_whole_table(cur, q):
    for t in range(3):
        want = _topk(cur, "u", q, 10, f"AND tenant = {t}")
        _same(_topk(cur, "l", q, 10, f"AND tenant = {t}"), want)
        _same(_topk(cur, "h", q, 10, f"AND tenant = {t}"), want)
        # a filter on another column: the top-k widens inside each partition
        _same(_topk(cur, "ph", q, 10, f"AND tenant = {t}"), want)


def test_live_statistics_after_deletes_and_updates(cur):
    """Deleted row versions leave tantivy's statistics only when its segments merge; ours
    count live documents, so scores equal those of a table that never had the rows."""
    gone = [r for r in ROWS if r[0] % 5 == 0]
    moved = {r[0]: (r[0], (r[1] + 1) % 3, r[2], "ocean graph " + r[3]) for r in ROWS if r[0] % 7 == 1}
    for t in ("u",) + TABLES:
        cur.execute(f"DELETE FROM {t} WHERE id % 5 = 0")
        # an update that moves rows to another partition (LIST and partition_key tables)
        cur.execute(f"UPDATE {t} SET tenant = (tenant + 1) % 3, body = 'ocean graph ' || body "
                    "WHERE id % 7 = 1")
    fresh = [moved.get(r[0], r) for r in ROWS if r not in gone]
    cur.execute(f"CREATE TABLE fresh {COLS}")
    cur.executemany("INSERT INTO fresh VALUES (%s, %s, %s, %s)", fresh)
    cur.execute(f"CREATE INDEX ON fresh {INDEX}")
    for q in QUERIES[:6] + ["ocean graph"]:
        want = _topk(cur, "fresh", q, 30)
        for t in ("u",) + TABLES:
            _same(_topk(cur, t, q, 30), want)


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
    cur.execute("INSERT INTO h VALUES (1000, 2, 'x', 'zebra')")
    assert rows(cur, "SELECT id FROM h WHERE body @@@ 'zebra' ORDER BY score(id) DESC LIMIT 10") \
        == [(1000,), (150,)]  # the shorter body first
    assert rows(cur, "SELECT count(*) FROM h WHERE body @@@ 'cat OR dog'") == \
        rows(cur, "SELECT count(*) FROM u WHERE body @@@ 'cat OR dog' AND id >= 100 AND id <> 150")


def test_a_prefix_phrase_runs_on_partitions(cur):
    # its expansions are not in the query's debug form: those leaves keep each partition's
    # own score (documented), the rows are the same
    q = '"cat do"*'
    want = {r[0] for r in rows(cur, "SELECT id FROM u WHERE body @@@ %s", (q,))}
    assert want
    got = rows(cur, "SELECT id, score(id) FROM h WHERE body @@@ %s ORDER BY score(id) DESC LIMIT 1000", (q,))
    assert {r[0] for r in got} == want and all(r[1] > 0 for r in got)
