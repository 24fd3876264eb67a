"""The short path of the prepared top-k statement (sqlvec.exec.fast_topk) answers exactly
what the general path answers: the same rows in the same order, across segments, deletes,
ties, LIMIT/OFFSET parameters, transactions and DDL; and it steps aside for what it does not
handle (NULL vectors, text and bad query vectors, statement timeouts)."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec
from sqlvec import errors

N, DIM = 6_000, 16
SQL = "SELECT id, tag FROM items ORDER BY emb <-> %s LIMIT 10"


def _data(n: int = N, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(30, DIM)).astype(np.float32)
    return (centers[rng.integers(0, 30, n)] + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


@pytest.fixture
def db(tmp_path):
    """(fast connection, general connection, vectors): one sealed, indexed segment."""
    x = _data()
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, tag text, emb vector({DIM}))")
    conn.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)",
                              [(i, f"t{i}", x[i]) for i in range(N)])
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops)")
    general = sqlvec.connect(path, autocommit=True)
    general.execute("SET statement_timeout = '1h'")  # a timer: the general path always runs
    yield conn, general, x
    general.close()
    conn.close()


def _ids(conn, q, sql=SQL, extra=()):
    return conn.execute(sql, (q, *extra)).fetchall()


def _uses_fast(conn, sql=SQL) -> bool:
    """Whether the short path answered executions of ``sql`` on this connection."""
    fast = conn._session._fast.get(sql)
    return fast is not None and fast.hits > 0


def test_same_rows_as_general_path(db):
    conn, general, x = db
    rng = np.random.default_rng(1)
    for i in range(60):
        q = x[rng.integers(0, N)] + 0.01 * i
        assert _ids(conn, q) == _ids(general, q)
    assert _uses_fast(conn) and not _uses_fast(general)


def test_growing_segment_and_deletes(db):
    conn, general, x = db
    rng = np.random.default_rng(2)
    extra = _data(400, seed=9)
    conn.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)",
                              [(N + i, f"g{i}", extra[i]) for i in range(400)])
    conn.execute("DELETE FROM items WHERE id % 7 = 0")
    for _ in range(40):
        q = x[rng.integers(0, N)]
        got = _ids(conn, q)
        assert got == _ids(general, q)
        assert len(got) == 10 and all(r[0] % 7 for r in got)
    # one of the new rows is the nearest to itself: the growing segment is searched
    assert _ids(conn, extra[5])[0] == (N + 5, "g5")


def test_exact_ties_order_by_row(tmp_path):
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint, tag text, emb vector({DIM}))")
    x = _data(5000)
    x[100:111] = x[7]  # 12 identical vectors
    conn.cursor().executemany("INSERT INTO items VALUES (%s, %s, %s)",
                              [(i, None, x[i]) for i in range(5000)])
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops)")
    general = sqlvec.connect(path, autocommit=True)
    general.execute("SET statement_timeout = '1h'")
    ties = {7, *range(100, 111)}
    for _ in range(3):  # the first run plans, the later ones take the short path
        got = [r[0] for r in _ids(conn, x[7])]
        assert got == [r[0] for r in _ids(general, x[7])]
        assert set(got) <= ties and got == sorted(got)  # equal distances: in row order
    assert _uses_fast(conn)
    general.close()


def test_limit_offset_parameters(db):
    conn, general, x = db
    sql = "SELECT id FROM items ORDER BY emb <-> %s LIMIT %s OFFSET %s"
    for lim, off in [(5, 0), (3, 4), (0, 2), (20, 15)]:
        for _ in range(2):
            assert _ids(conn, x[11], sql, (lim, off)) == _ids(general, x[11], sql, (lim, off))
    assert len(_ids(conn, x[11], sql, (3, 4))) == 3
    assert _uses_fast(conn, sql)
    with pytest.raises(errors.DataError, match="LIMIT must not be negative"):
        _ids(conn, x[11], sql, (-1, 0))


def test_ddl_and_settings_replan(db):
    conn, general, x = db
    q = x[42] + 0.1
    _ids(conn, q), _ids(conn, q)
    conn.execute("DROP INDEX items_emb_idx")  # exact search now: the true nearest rows
    d = np.sqrt(((x - q) ** 2).sum(1))
    want = np.argsort(d, kind="stable")[:10].tolist()
    for _ in range(2):
        assert [r[0] for r in _ids(conn, q)] == want
    conn.execute("SET hnsw.ef_search = 100")
    assert [r[0] for r in _ids(conn, q)] == want


def test_transactions_see_their_own_rows_and_no_one_elses(db, tmp_path):
    conn, _, x = db
    q = x[3] + 5.0  # far from every row: a new row there is the nearest
    tx = sqlvec.connect(str(tmp_path / "db"))  # not autocommit: a transaction block
    try:
        for _ in range(2):
            tx.execute("SELECT 1")
            before = _ids(tx, q)
            tx.execute("INSERT INTO items VALUES (%s, %s, %s)", (-1, "mine", q))
            assert _ids(tx, q)[0] == (-1, "mine")  # own uncommitted row
            assert _ids(conn, q) == before  # not visible to anyone else
            tx.rollback()
        assert _ids(tx, q) == before
    finally:
        tx.close()


def test_steps_aside_and_raises_the_general_errors(db):
    conn, general, x = db
    _ids(conn, x[0]), _ids(conn, x[0])
    with pytest.raises(errors.DataError, match="NaN not allowed in vector"):
        _ids(conn, np.full(DIM, np.nan, np.float32))
    with pytest.raises(errors.DataError, match="different vector dimensions 16 and 3"):
        _ids(conn, np.ones(3, np.float32))
    # text and float64 input take the general path and find the same rows
    text = "[" + ",".join(str(float(v)) for v in x[5]) + "]"
    assert _ids(conn, text) == _ids(conn, x[5])
    assert _ids(conn, x[5].astype(np.float64)) == _ids(general, x[5])
    assert _ids(conn, None) == _ids(general, None)  # distance to NULL: all NULL, any 10 rows
    # NULL vectors in the table: they sort last, the general path places them
    conn.execute("INSERT INTO items VALUES (-5, 'null', NULL)")
    sql = "SELECT id FROM items ORDER BY emb <-> %s LIMIT 10 OFFSET 6000"
    for _ in range(2):
        assert _ids(conn, x[0], sql) == _ids(general, x[0], sql) == [(-5,)]


@pytest.mark.parametrize("ops,metric", [("vector_cosine_ops", "<=>"), ("vector_ip_ops", "<#>"),
                                        ("halfvec_l2_ops", "<->")])
def test_other_metrics_and_halfvec(tmp_path, ops, metric):
    kind = "halfvec" if ops.startswith("halfvec") else "vector"
    x = _data(4000)
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE items (id bigint, emb {kind}({DIM}))")
    dt = np.float16 if kind == "halfvec" else np.float32
    conn.cursor().executemany("INSERT INTO items VALUES (%s, %s)", [(i, x[i].astype(dt)) for i in range(4000)])
    conn.execute("CHECKPOINT")
    conn.execute(f"CREATE INDEX ON items USING hnsw (emb {ops})")
    general = sqlvec.connect(path, autocommit=True)
    general.execute("SET statement_timeout = '1h'")
    sql = f"SELECT id FROM items ORDER BY emb {metric} %s LIMIT 7"
    rng = np.random.default_rng(4)
    for _ in range(20):
        q = x[rng.integers(0, 4000)].astype(dt)
        assert _ids(conn, q, sql) == _ids(general, q, sql)
    assert _uses_fast(conn, sql)


def test_weak_consistency_levels(db):
    conn, general, x = db
    for level in ("eventually", "bounded", "session", "strong"):
        conn.execute(f"SET sqlvec.consistency = {level}")
        for _ in range(2):
            assert _ids(conn, x[9]) == _ids(general, x[9])
