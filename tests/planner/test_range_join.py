"""Range search (WHERE emb <-> $1 < r) and top-k through joins give exactly the rows of the
plain plans: the same filter evaluated row by row, the same ORDER BY over the whole join."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec

N, DIM = 6000, 8


def _plan(conn, sql, params) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())


@pytest.fixture(scope="module", params=["exact", "hnsw"])
def db(request, tmp_path_factory):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, DIM)).astype(np.float32)
    conn = sqlvec.connect(str(tmp_path_factory.mktemp("r") / "db"), autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, cat int, emb vector({DIM}))")
    conn.execute("CREATE TABLE cats (id int PRIMARY KEY, name text)")
    cur = conn.cursor()
    cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                    [(i, i % 50, None if i % 997 == 0 else x[i]) for i in range(N - 300)])
    cur.executemany("INSERT INTO cats VALUES (%s, %s)", [(i, f"c{i}") for i in range(40)])
    conn.execute("CHECKPOINT")
    if request.param == "hnsw":
        conn.execute("CREATE INDEX items_emb ON items USING hnsw (emb vector_l2_ops)")
    cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",  # growing segment
                    [(i, i % 50, x[i]) for i in range(N - 300, N)])
    conn.execute("DELETE FROM items WHERE id % 17 = 0")
    yield conn, x, request.param
    conn.close()


RANGE_PREDICATES = [
    "emb <-> %(q)s < 2.2",
    "emb <-> %(q)s <= 2.2 AND cat < 10",
    "2.2 > emb <-> %(q)s",
    "1 - (emb <=> %(q)s) > 0.7",
    "(emb <#> %(q)s) * -1 >= 3",
    "-(emb <#> %(q)s) > 3 AND cat = 4",
]


@pytest.mark.parametrize("pred", RANGE_PREDICATES)
def test_range_search_matches_plain_filter(db, pred):
    conn, x, kind = db
    q = x[42] + 0.01
    sql = f"SELECT id FROM items WHERE {pred}"
    assert "Vector Range Scan on items" in _plan(conn, sql, {"q": q})
    got = sorted(r[0] for r in conn.execute(sql, {"q": q}).fetchall())
    # IS TRUE hides the pattern from the rewrite: the plain row-by-row filter
    plain = sorted(r[0] for r in conn.execute(f"SELECT id FROM items WHERE ({pred}) IS TRUE", {"q": q}).fetchall())
    assert "Vector Range Scan" not in _plan(conn, f"SELECT id FROM items WHERE ({pred}) IS TRUE", {"q": q})
    assert len(plain) > 5
    if kind == "exact":
        assert got == plain
    else:
        assert set(got) <= set(plain) and len(got) >= 0.99 * len(plain)


def test_range_with_order_by_limit_and_boundary(db):
    conn, x, kind = db
    q = x[7]
    d5 = conn.execute("SELECT emb <-> %s FROM items WHERE id = 5", (q,)).fetchone()[0]
    rows = conn.execute("SELECT id, emb <-> %s AS d FROM items WHERE emb <-> %s <= %s ORDER BY d LIMIT 100000",
                        (q, q, d5)).fetchall()
    assert any(r[0] == 5 for r in rows)  # the boundary row: <= keeps it
    assert all(r[1] <= d5 for r in rows) and [r[1] for r in rows] == sorted(r[1] for r in rows)
    strict = conn.execute("SELECT id FROM items WHERE emb <-> %s < %s", (q, d5)).fetchall()
    assert 5 not in [r[0] for r in strict]
    assert conn.execute("SELECT count(*) FROM items WHERE emb <-> %s < NULL", (q,)).fetchone()[0] == 0


JOINS = [
    "SELECT items.id, cats.name FROM items LEFT JOIN cats ON items.cat = cats.id ORDER BY items.emb <-> %(q)s",
    "SELECT items.id, cats.name FROM items JOIN cats ON items.cat = cats.id ORDER BY items.emb <-> %(q)s",
    "SELECT items.id, cats.name FROM items JOIN cats ON items.cat = cats.id WHERE cats.name LIKE 'c1%%' "
    "AND items.id > 100 ORDER BY items.emb <-> %(q)s",
]


@pytest.mark.parametrize("sql", JOINS)
@pytest.mark.parametrize("tail", ["LIMIT 10", "LIMIT 7 OFFSET 5"])
def test_topk_through_joins(db, sql, tail):
    conn, x, kind = db
    q = x[99] + 0.02
    assert "Vector Top-K on items" in _plan(conn, f"{sql} {tail}", {"q": q})
    got = conn.execute(f"{sql} {tail}", {"q": q}).fetchall()
    # a second sort key keeps the plain path: sort the whole join
    plain = conn.execute(f"{sql}, items.id {tail}", {"q": q}).fetchall()
    assert "Vector Top-K" not in _plan(conn, f"{sql}, items.id {tail}", {"q": q})
    n = int(tail.split()[1])
    assert len(got) == len(plain) == n
    if kind == "exact":
        assert got == plain
    else:
        assert len(set(got) & set(plain)) >= n - 1


def test_full_join_keeps_plain_path(db):
    conn, x, _ = db
    sql = "SELECT items.id FROM items FULL JOIN cats ON items.cat = cats.id ORDER BY items.emb <-> %s LIMIT 3"
    assert "Vector Top-K" not in _plan(conn, sql, (x[1],))
