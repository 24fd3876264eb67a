"""CREATE INDEX ... USING hnsw/ivfflat through SQL: the planner uses the index per sealed
segment, filters inside the search, returns k rows whenever k match, survives restart."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec
from sqlvec import errors


def _load(conn, n=20_000, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, dim)).astype(np.float32)
    x = centers[rng.integers(0, 20, n)] + 0.1 * rng.normal(size=(n, dim)).astype(np.float32)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, cat int, emb vector({dim}))")
    cur = conn.cursor()
    for s in range(0, n, 5000):
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                        [(i, i % 100, x[i]) for i in range(s, min(n, s + 5000))])
    conn.execute("CHECKPOINT")  # seal: indexes live on sealed segments
    return x


def _exact(x, q, k, allowed=None):
    d = np.sqrt(((x - q) ** 2).sum(1))
    if allowed is not None:
        d = np.where(allowed, d, np.inf)
    return list(np.argsort(d, kind="stable")[:k])


@pytest.mark.parametrize("using", ["hnsw (emb vector_l2_ops)", "ivfflat (emb vector_l2_ops) WITH (lists = 20)"])
def test_index_recall_filter_and_restart(tmp_path, using):
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    x = _load(conn)
    conn.execute(f"CREATE INDEX items_idx ON items USING {using}")
    if using.startswith("ivfflat"):
        conn.execute("SET ivfflat.probes = 5")
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(20):
        q = x[rng.integers(0, len(x))] + 0.01
        got = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY emb <-> %s LIMIT 10", (q,)).fetchall()]
        hits += len(set(got) & set(_exact(x, q, 10)))
    assert hits / 200 >= 0.9
    # a selective filter still returns k rows, the right ones
    q = x[5]
    allowed = (np.arange(len(x)) % 100) == 7
    got = [r[0] for r in conn.execute(
        "SELECT id FROM items WHERE cat = 7 ORDER BY emb <-> %s LIMIT 10", (q,)).fetchall()]
    assert len(got) == 10 and all(g % 100 == 7 for g in got)
    assert len(set(got) & set(_exact(x, q, 10, allowed))) >= 9
    # deleted rows never come back
    conn.execute("DELETE FROM items WHERE id = %s", (got[0],))
    again = [r[0] for r in conn.execute(
        "SELECT id FROM items WHERE cat = 7 ORDER BY emb <-> %s LIMIT 10", (q,)).fetchall()]
    assert got[0] not in again and len(again) == 10
    conn.close()
    conn = sqlvec.connect(path, autocommit=True)
    names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'items'").fetchall()]
    assert "items_idx" in names
    got2 = [r[0] for r in conn.execute(
        "SELECT id FROM items WHERE cat = 7 ORDER BY emb <-> %s LIMIT 10", (q,)).fetchall()]
    assert got2 == again
    conn.execute("DROP INDEX items_idx")
    assert "items_idx" not in [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes").fetchall()]
    conn.close()


def test_index_option_errors():
    conn = sqlvec.connect(":memory:", autocommit=True)
    conn.execute("CREATE TABLE t (id int, emb vector(3), h halfvec(3))")
    with pytest.raises(errors.InvalidParameterValue) as ei:
        conn.execute("CREATE INDEX ON t USING hnsw (emb vector_l2_ops) WITH (m = 1)")
    assert ei.value.message == 'value 1 out of bounds for option "m"'
    assert ei.value.detail == 'Valid values are between "2" and "100".'
    with pytest.raises(errors.InvalidParameterValue, match="ef_construction must be greater than or equal to 2 \\* m"):
        conn.execute("CREATE INDEX ON t USING hnsw (emb vector_l2_ops) WITH (m = 40, ef_construction = 50)")
    with pytest.raises(errors.UndefinedObject, match='no default operator class for access method "hnsw"'):
        conn.execute("CREATE INDEX ON t USING hnsw (emb)")
    with pytest.raises(errors.UndefinedObject, match='operator class "vector_l2_ops" does not exist'):
        conn.execute("CREATE INDEX ON t USING hnsw (h vector_l2_ops)")
    conn.execute("CREATE INDEX ON t USING hnsw (h halfvec_cosine_ops)")
    with pytest.raises(errors.InvalidParameterValue, match="outside the valid range"):
        conn.execute("SET hnsw.ef_search = 1001")


def test_unique_index_enforced():
    conn = sqlvec.connect(":memory:", autocommit=True)
    conn.execute("CREATE TABLE t (a int, b text)")
    conn.execute("INSERT INTO t VALUES (1, 'x'), (1, 'y')")
    with pytest.raises(errors.UniqueViolation, match='could not create unique index "t_a_idx"'):
        conn.execute("CREATE UNIQUE INDEX ON t (a)")
    conn.execute("CREATE UNIQUE INDEX t_b ON t (b)")
    with pytest.raises(errors.UniqueViolation, match='duplicate key value violates unique constraint "t_b"'):
        conn.execute("INSERT INTO t VALUES (2, 'x')")
