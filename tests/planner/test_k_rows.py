"""k always means k: a filtered top-k returns k rows whenever k rows match, at every
selectivity, with deleted rows, NULL vectors and a non-empty growing segment, and with no
setting (hnsw.iterative_scan is accepted and changes nothing)."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec

N, DIM = 20_000, 16


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(40, DIM)).astype(np.float32)
    grp = rng.integers(0, 40, N + 500)
    x = (centers[grp] + 0.2 * rng.normal(size=(N + 500, DIM))).astype(np.float32)
    conn = sqlvec.connect(str(tmp_path_factory.mktemp("k") / "db"), autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, sel int, grp int, emb vector({DIM}))")
    cur = conn.cursor()
    null_ids = set(range(0, N, 400))  # 50 NULL vectors
    rows = [(i, i % 1000, int(grp[i]), None if i in null_ids else x[i]) for i in range(N)]
    for s in range(0, N, 5000):
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s, %s)", rows[s:s + 5000])
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX items_emb ON items USING hnsw (emb vector_l2_ops)")
    # deletes after the index build (marked inside the graph) and a growing segment
    conn.execute("DELETE FROM items WHERE id % 10 = 3")
    cur.executemany("INSERT INTO items VALUES (%s, %s, %s, %s)",
                    [(i, i % 1000, int(grp[i]), x[i]) for i in range(N, N + 500)])
    live = np.ones(N + 500, bool)
    live[np.arange(N + 500) % 10 == 3] = False
    live[:N][np.arange(N) % 10 == 3] = False
    live[N:][np.arange(N, N + 500) % 10 == 3] = True  # the growing rows were inserted after
    has_vec = np.ones(N + 500, bool)
    has_vec[list(null_ids)] = False
    yield conn, x, grp, live, has_vec
    conn.close()


def _exact(x, q, allowed, k):
    ids = np.flatnonzero(allowed)
    d = np.sqrt(((x[ids] - q) ** 2).sum(1))
    return set(ids[np.argsort(d, kind="stable")[:k]].tolist())


@pytest.mark.parametrize("cut", [1, 10, 100, 500, 900])  # 0.1% 1% 10% 50% 90%
def test_k_rows_at_every_selectivity(db, cut):
    conn, x, _, live, has_vec = db
    sel = np.arange(len(x)) % 1000
    allowed = live & (sel < cut)
    rng = np.random.default_rng(cut)
    hits = total = 0
    for _ in range(8):
        q = x[rng.integers(0, N)] + 0.05
        got = [r[0] for r in conn.execute(
            "SELECT id FROM items WHERE sel < %s ORDER BY emb <-> %s LIMIT 10", (cut, q)).fetchall()]
        assert len(got) == 10  # every cut leaves >= 10 matching rows
        assert len(set(got)) == 10 and all(allowed[g] for g in got)
        vec_ok = [g for g in got if has_vec[g]]
        want = _exact(x, q, allowed & has_vec, 10)
        hits += len(set(vec_ok) & want)
        total += len(want)
    assert hits / total >= 0.9


def test_k_rows_correlated_filter(db):
    """A filter that keeps one cluster far from the query: the graph walk must widen."""
    conn, x, grp, live, has_vec = db
    q = x[int(np.flatnonzero(grp[:N] == 0)[0])]
    far = int(np.argmax(((x[:N] - q) ** 2).sum(1)))
    g = int(grp[far])
    got = [r[0] for r in conn.execute(
        "SELECT id FROM items WHERE grp = %s ORDER BY emb <-> %s LIMIT 10", (g, q)).fetchall()]
    allowed = live & (grp == g) & has_vec
    assert len(got) == 10 and all(grp[i] == g for i in got)
    assert len(set(got) & _exact(x, q, allowed, 10)) >= 9


def test_fewer_than_k_match_returns_all_and_nulls_sort_last(db):
    conn, x, _, live, has_vec = db
    # ids 0, 400, 800 ... have NULL vectors; 13 was deleted: three rows match
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM items WHERE id IN (401, 802, 0, 13) ORDER BY emb <-> %s LIMIT 10", (x[1],)).fetchall()]
    assert sorted(ids) == [0, 401, 802] and ids[-1] == 0  # a NULL distance sorts last


def test_iterative_scan_setting_changes_nothing(db):
    conn, x, _, _, _ = db
    q = x[11]
    sql = "SELECT id FROM items WHERE sel < 3 ORDER BY emb <-> %s LIMIT 10"
    before = conn.execute(sql, (q,)).fetchall()
    for mode in ("relaxed_order", "strict_order", "off"):
        conn.execute(f"SET hnsw.iterative_scan = {mode}")
        assert conn.execute(sql + " -- " + mode, (q,)).fetchall() == before
    assert len(before) == 10


def test_16000_dimensions_indexable(tmp_path):
    conn = sqlvec.connect(str(tmp_path / "big"), autocommit=True)
    dim = 16_000
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, dim)).astype(np.float32)
    conn.execute(f"CREATE TABLE big (id int, emb vector({dim}))")
    conn.cursor().executemany("INSERT INTO big VALUES (%s, %s)", [(i, x[i]) for i in range(60)])
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX big_idx ON big USING hnsw (emb vector_l2_ops)")
    q = x[17] + 0.001
    got = [r[0] for r in conn.execute("SELECT id FROM big ORDER BY emb <-> %s LIMIT 5", (q,)).fetchall()]
    assert got[0] == 17 and len(got) == 5
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT id FROM big ORDER BY emb <-> %s LIMIT 5", (q,)).fetchall())
    assert "using big_idx (hnsw" in plan
    conn.close()
