"""Set-returning functions, LATERAL and grouping sets through the embedded API."""

from __future__ import annotations

import datetime as dt

import pytest

from sqlvec import errors
from sqlvec.exec import lateral as lateral_exec


@pytest.fixture
def cur(mem_conn):
    c = mem_conn.cursor()
    c.execute("CREATE TABLE t (id integer, k integer, arr integer[])")
    c.execute("INSERT INTO t VALUES (1, 1, '{1,2,3}'), (2, 1, '{4}'), (3, 2, NULL), (4, 2, '{}'), (5, NULL, '{5,6}')")
    return c


def test_lockstep_srfs_pad_the_shorter_with_null(cur):
    cur.execute("SELECT id, unnest(arr), generate_series(1, 2) FROM t ORDER BY id, 3")
    assert cur.fetchall() == [(1, 1, 1), (1, 2, 2), (1, 3, None), (2, 4, 1), (2, None, 2),
                              (3, None, 1), (3, None, 2), (4, None, 1), (4, None, 2), (5, 5, 1), (5, 6, 2)]


def test_srf_rows_vanish_when_every_srf_is_empty(cur):
    cur.execute("SELECT id, unnest(arr) FROM t WHERE id IN (3, 4)")
    assert cur.fetchall() == []


def test_lateral_subquery_runs_once_per_distinct_outer_value(cur, monkeypatch):
    calls = []
    real = lateral_exec.LateralRel.run

    def counting(self, ctx):
        orig = self.plan.run

        def run(c):
            calls.append(1)
            return orig(c)

        self.plan.run = run
        try:
            return real(self, ctx)
        finally:
            self.plan.run = orig

    monkeypatch.setattr(lateral_exec.LateralRel, "run", counting)
    cur.execute("SELECT t.id, x.n FROM t CROSS JOIN LATERAL (SELECT count(*) AS n FROM t t2 WHERE t2.k = t.k) x ORDER BY 1")
    assert cur.fetchall() == [(1, 2), (2, 2), (3, 2), (4, 2), (5, 0)]
    assert len(calls) == 3  # k = 1, 2, NULL


def test_lateral_left_join_pads(cur):
    cur.execute("SELECT t.id, x.v FROM t LEFT JOIN LATERAL (SELECT u AS v FROM unnest(t.arr) u WHERE u > 3) x ON true ORDER BY 1, 2")
    assert cur.fetchall() == [(1, None), (2, 4), (3, None), (4, None), (5, 5), (5, 6)]


def test_function_reads_left_columns_vectorised(cur):
    cur.execute("SELECT t.id, g FROM t, generate_series(t.id, 3) g ORDER BY 1, 2")
    assert cur.fetchall() == [(1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3)]


def test_generate_series_month_steps_accumulate(mem_conn):
    c = mem_conn.cursor()
    c.execute("SELECT * FROM generate_series('2024-01-31'::timestamp, '2024-04-30', '1 month')")
    assert [r[0] for r in c.fetchall()] == [dt.datetime(2024, 1, 31), dt.datetime(2024, 2, 29),
                                           dt.datetime(2024, 3, 29), dt.datetime(2024, 4, 29)]


def test_with_ordinality_and_aliases(mem_conn):
    c = mem_conn.cursor()
    c.execute("SELECT * FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY AS u(v, n)")
    assert [d[0] for d in c.description] == ["v", "n"]
    assert c.fetchall() == [("a", 1), ("b", 2)]


def test_unnest_of_several_arrays_only_in_from(mem_conn):
    with pytest.raises(errors.UndefinedFunction):
        mem_conn.cursor().execute("SELECT unnest(ARRAY[1], ARRAY[2])")


def test_grouping_sets_with_grouping_function(cur):
    cur.execute("SELECT k, grouping(k), count(*) FROM t GROUP BY ROLLUP (k) ORDER BY 2, 1 NULLS FIRST")
    assert cur.fetchall() == [(None, 0, 1), (1, 0, 2), (2, 0, 2), (None, 1, 5)]


def test_cube_counts_sets(cur):
    cur.execute("SELECT count(*) FROM (SELECT k, id FROM t GROUP BY CUBE (k, id)) s")
    # (k, id): 5 groups, (k): 3, (id): 5, (): 1
    assert cur.fetchone() == (14,)
