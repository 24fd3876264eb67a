"""Window functions against brute-force references over larger, random data: the vectorised
paths (prefix sums, sparse tables, segmented running sums, frame expansion) must agree with
the definition row by row."""

from __future__ import annotations

import decimal
import random

import numpy as np
import pytest

import sqlvec
from sqlvec import errors


@pytest.fixture
def data(mem_conn):
    rng = random.Random(7)
    rows = [(i, rng.choice("abcde"), rng.choice([None, *range(-5, 30)]), rng.random() * 10)
            for i in range(400)]
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE t (id integer, g text, x integer, f double precision)")
    cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s)", rows)
    return cur, rows


def _frames(rows, key, lo, hi):
    """{id: [x of the ROWS BETWEEN lo AND hi frame]} per partition g ordered by id."""
    out = {}
    for g in {r[1] for r in rows}:
        part = sorted((r for r in rows if r[1] == g), key=key)
        for i, r in enumerate(part):
            a = 0 if lo is None else max(0, i + lo)
            b = len(part) if hi is None else min(len(part), i + hi + 1)
            out[r[0]] = [p[2] for p in part[a:b]] if a < b else []
    return out


@pytest.mark.parametrize("lo,hi,frame", [
    (-3, 1, "ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING"),
    (None, 0, "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"),
    (2, None, "ROWS BETWEEN 2 FOLLOWING AND UNBOUNDED FOLLOWING"),
    (-5, -2, "ROWS BETWEEN 5 PRECEDING AND 2 PRECEDING"),
])
def test_rows_frames_match_brute_force(data, lo, hi, frame):
    cur, rows = data
    cur.execute(f"SELECT id, sum(x) OVER w, count(x) OVER w, min(x) OVER w, max(x) OVER w, avg(x) OVER w, "
                f"array_agg(x) OVER w FROM t WINDOW w AS (PARTITION BY g ORDER BY id {frame})")
    frames = _frames(rows, lambda r: r[0], lo, hi)
    got = cur.fetchall()
    assert len(got) == len(rows)
    for rid, s, c, mn, mx, avg, arr in got:
        xs = [v for v in frames[rid] if v is not None]
        assert arr == (frames[rid] or None)
        assert c == len(xs)
        assert s == (sum(xs) if xs else None)
        assert mn == (min(xs) if xs else None) and mx == (max(xs) if xs else None)
        if xs:
            assert abs(avg - decimal.Decimal(sum(xs)) / len(xs)) < decimal.Decimal("1e-12")
        else:
            assert avg is None


def test_running_float_sum_adds_in_row_order(data):
    cur, rows = data
    cur.execute("SELECT id, sum(f) OVER (PARTITION BY g ORDER BY id) FROM t")
    got = dict(cur.fetchall())
    for g in {r[1] for r in rows}:
        acc = 0.0
        for r in sorted((r for r in rows if r[1] == g), key=lambda r: r[0]):
            acc += r[3]  # sequential additions, exactly as PostgreSQL's float8pl does them
            assert got[r[0]] == acc


def test_ranking_with_peers(data):
    cur, rows = data
    cur.execute("SELECT id, rank() OVER w, dense_rank() OVER w, row_number() OVER w, cume_dist() OVER w "
                "FROM t WINDOW w AS (PARTITION BY g ORDER BY x NULLS FIRST, id)")
    got = {r[0]: r[1:] for r in cur.fetchall()}
    for g in {r[1] for r in rows}:
        part = sorted((r for r in rows if r[1] == g), key=lambda r: (r[2] is not None, r[2] or 0, r[0]))
        for i, r in enumerate(part):
            assert got[r[0]][2] == i + 1
            assert got[r[0]][0] == i + 1  # ORDER BY includes id: no peers
            assert got[r[0]][3] == pytest.approx((i + 1) / len(part))


def test_rank_peers_and_default_frame(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("SELECT v, rank() OVER (ORDER BY v), dense_rank() OVER (ORDER BY v), sum(v) OVER (ORDER BY v) "
                "FROM (VALUES (1), (2), (2), (NULL), (5)) t(v) ORDER BY v NULLS LAST")
    assert cur.fetchall() == [(1, 1, 1, 1), (2, 2, 2, 5), (2, 2, 2, 5), (5, 4, 3, 10), (None, 5, 4, 10)]


def test_numeric_running_sum_is_exact_and_keeps_scale(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("SELECT sum(v) OVER (ORDER BY i), avg(v) OVER (ORDER BY i) FROM "
                "(VALUES (1, 0.1), (2, 0.20), (3, 100000000000000000000.1)) t(i, v)")
    got = cur.fetchall()
    assert [str(r[0]) for r in got] == ["0.1", "0.30", "100000000000000000000.40"]
    assert str(got[0][1]) == "0.10000000000000000000"


def test_window_frame_offset_from_parameter(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("SELECT sum(g) OVER (ORDER BY g ROWS BETWEEN %s PRECEDING AND CURRENT ROW) "
                "FROM generate_series(1, 5) g", (1,))
    assert [r[0] for r in cur.fetchall()] == [1, 3, 5, 7, 9]


def test_windows_over_empty_input(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("SELECT row_number() OVER (), sum(g) OVER (ORDER BY g ROWS 2 PRECEDING) "
                "FROM generate_series(1, 0) g")
    assert cur.fetchall() == []


def test_rows_come_out_in_window_order_without_order_by(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("SELECT v, row_number() OVER (ORDER BY v DESC) FROM (VALUES (2), (3), (1)) t(v)")
    assert cur.fetchall() == [(3, 1), (2, 2), (1, 3)]


@pytest.mark.parametrize("sql,exc,msg", [
    ("SELECT 1 FROM generate_series(1, 3) g WHERE rank() OVER () > 1", errors.WindowingError,
     "window functions are not allowed in WHERE"),
    ("SELECT sum(rank() OVER ()) FROM generate_series(1, 3) g", errors.GroupingError,
     "aggregate function calls cannot contain window function calls"),
    ("SELECT sum(g) OVER (ORDER BY g ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM generate_series(1, 3) g",
     errors.WindowingError, "frame starting from following row cannot have preceding rows"),
    ("SELECT rank() OVER nope FROM generate_series(1, 3) g", errors.UndefinedObject, 'window "nope" does not exist'),
    ("SELECT ntile(-1) OVER () FROM generate_series(1, 3) g", errors.DataException,
     "argument of ntile must be greater than zero"),
])
def test_errors(mem_conn, sql, exc, msg):
    with pytest.raises(exc, match=msg):
        mem_conn.cursor().execute(sql)


def test_large_partition_running_aggregates_are_linear():
    # 200k rows in one partition: the running frame must not materialise n^2 members
    conn = sqlvec.connect(":memory:", autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT max(s), max(m), max(c) FROM (SELECT sum(g) OVER w AS s, min(g) OVER w AS m, "
                    "count(*) OVER w AS c FROM generate_series(1, 200000) g WINDOW w AS (ORDER BY g DESC)) x")
        s, m, c = cur.fetchone()
        assert (s, m, c) == (int(np.arange(1, 200001).sum()), 200000, 200000)
    finally:
        conn.close()
