"""Fast paths added for the wire benchmark give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec.knn import take_rows


def _column(chunk_sizes: list[int], nulls: bool = False) -> pa.ChunkedArray:
    rng = np.random.default_rng(1)
    chunks, start = [], 0
    for size in chunk_sizes:
        vals = rng.standard_normal(size * 4).astype(np.float32)
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vals), 4)
        if nulls:
            arr = pa.array([None if (start + i) % 5 == 0 else v for i, v in enumerate(arr.to_pylist())], arr.type)
        chunks.append(arr)
        start += size
    return pa.chunked_array(chunks, type=pa.list_(pa.float32(), 4))


@pytest.mark.parametrize("nrows", [1, 10, 64, 65, 300])
@pytest.mark.parametrize("sizes", [[1000], [100, 1, 250, 649], [3] * 50])
def test_take_rows_matches_take(nrows, sizes):
    col = _column(sizes, nulls=nrows == 10)
    rng = np.random.default_rng(nrows)
    rows = rng.choice(len(col), size=min(nrows, len(col)), replace=False).astype(np.int64)
    got = take_rows(col, rows)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == col.take(pa.array(rows)).to_pylist()
    assert got.type == col.type


def test_take_rows_plain_array():
    arr = pa.array([5, 6, 7, None], pa.int32())
    assert take_rows(arr, np.array([3, 0], np.int64)).to_pylist() == [None, 5]


# -- constant SELECTs (a pool's ping) answered from their plan ---------------------------------


def test_constant_select_repeated_prepared(database):
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        for _ in range(8):  # psycopg prepares after 5 runs: both paths, text and binary
            assert conn.execute("SELECT 1, 'a'::text AS b, 2.5::float8").fetchone() == (1, "a", 2.5)
            assert conn.execute("SELECT 1", binary=True).fetchone() == (1,)
            cur = conn.execute("SELECT 1 AS one")
            assert [d.name for d in cur.description] == ["one"]


def test_constant_select_not_served_in_failed_transaction(database):
    import psycopg

    with psycopg.connect(database) as conn:
        for _ in range(7):
            conn.execute("SELECT 1").fetchone()
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1/0")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_constant_select_follows_catalog_and_settings(database):
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        for _ in range(7):
            assert conn.execute("SELECT 1.5::float4").fetchone() == (1.5,)
            assert conn.execute("SELECT now() < now() + interval '1 s'").fetchone() == (True,)
        # a volatile or stable function is never cached: two calls differ
        a = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        for _ in range(6):
            b = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        assert b > a
        # DDL bumps the catalog version: the cached rows are not reused blindly
        conn.execute("CREATE TABLE IF NOT EXISTS fastpath_t (x int)")
        assert conn.execute("SELECT 1.5::float4").fetchone() == (1.5,)
        # an output setting changes the text of the same cached value
        cur = conn.cursor()
        for _ in range(7):
            cur.execute("SELECT 1.234567::float4, '2020-03-04'::date")
            assert cur.pgresult.get_value(0, 0) == b"1.234567"
        conn.execute("SET extra_float_digits = -3")
        cur.execute("SELECT 1.234567::float4, '2020-03-04'::date")
        assert cur.pgresult.get_value(0, 0) == b"1.23"
        assert cur.pgresult.get_value(0, 1) == b"2020-03-04"
        conn.execute("DROP TABLE fastpath_t")


# -- the prepared top-k's short path (sqlvec.exec.fast_topk) through the wire -------------------


def _topk_table(conn, n: int = 4000, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    conn.execute(f"CREATE TABLE items (id bigint PRIMARY KEY, score float8, tag text, emb vector({dim}))")
    with conn.cursor().copy("COPY items (id, score, tag, emb) FROM STDIN") as cp:
        for i in range(n):
            cp.write_row((i, i / 7, f"t{i}", "[" + ",".join(f"{v:.7g}" for v in x[i]) + "]"))
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX ON items USING hnsw (emb vector_l2_ops)")
    return x


@pytest.mark.parametrize("binary", [False, True])
def test_prepared_topk_same_rows_text_and_binary(database, binary):
    import psycopg
    from pgvector.psycopg import register_vector

    sql = "SELECT id, score, tag, emb FROM items ORDER BY emb <-> %s LIMIT %s"
    with psycopg.connect(database, autocommit=True) as conn, \
            psycopg.connect(database, autocommit=True) as general:
        x = _topk_table(conn)
        general.execute("SET statement_timeout = '1h'")  # its timer keeps the general path
        for c in (conn, general):
            register_vector(c)
        rng = np.random.default_rng(6)
        for i in range(30):  # psycopg prepares after 5 runs: unnamed, then named statements
            q = x[rng.integers(0, len(x))] + 0.01
            got = conn.cursor(binary=binary).execute(sql, (q, 5 + i % 3)).fetchall()
            want = general.cursor(binary=binary).execute(sql, (q, 5 + i % 3)).fetchall()
            assert [r[:3] for r in got] == [r[:3] for r in want]
            assert all(np.array_equal(a[3], b[3]) for a, b in zip(got, want))
            assert len(got) == 5 + i % 3
        # the text of the vector, as the benchmark sends it, and an error after the short path
        text = "[" + ",".join(f"{v:.7g}" for v in x[3]) + "]"
        cur = conn.cursor(binary=binary)
        for _ in range(7):
            assert cur.execute("SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 3",
                               (text,)).fetchall()[0] == (3,)
        with pytest.raises(psycopg.errors.DataException, match="different vector dimensions"):
            cur.execute("SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 3", ("[1,2]",))
        assert cur.execute("SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 3",
                           (text,)).fetchall()[0] == (3,)


def test_prepared_topk_in_transaction_sees_own_rows(database):
    import psycopg

    sql = "SELECT id FROM items ORDER BY emb <-> %s::vector LIMIT 1"
    with psycopg.connect(database, autocommit=True) as setup:
        _topk_table(setup)
    far = "[" + ",".join("50" for _ in range(8)) + "]"
    with psycopg.connect(database) as conn, psycopg.connect(database, autocommit=True) as other:
        for _ in range(8):
            before = conn.execute(sql, (far,)).fetchone()
            conn.execute("INSERT INTO items VALUES (-1, 0, 'mine', %s::vector)", (far,))
            assert conn.execute(sql, (far,)).fetchone() == (-1,)
            assert other.execute(sql, (far,)).fetchone() == before
            conn.rollback()
