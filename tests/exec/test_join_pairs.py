"""Equi-join pair finding (sqlvec/exec/hashjoin.py), lazily gathered join columns and
first-appearance group numbering (sqlvec/exec/relation.py), against brute force."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec.hashjoin import equi_pairs, integer_pairs
from sqlvec.exec.relation import LazyColumns, gather, group_ids


def brute(left: list, right: list) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(left) for j, b in enumerate(right)
            if a is not None and b is not None and a == b]


def pairs(li: np.ndarray, ri: np.ndarray) -> list[tuple[int, int]]:
    return list(zip(li.tolist(), ri.tolist()))


def no_limit(rows: int) -> None:
    pass


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    ("nl", "nr", "span"),
    [(200, 30, 40), (30, 200, 40), (50, 50, 10**12), (300, 300, 5), (1, 100, 3), (100, 1, 3)],
)
def test_integer_pairs_equal_brute_force_in_left_then_right_order(seed, nl, nr, span):
    rng = np.random.default_rng(seed)

    def keys(n: int, t: pa.DataType) -> pa.Array:
        vals = rng.integers(-span // 2, span // 2 + 1, n)
        nulls = rng.random(n) < 0.1
        return pa.array([None if z else int(v) for v, z in zip(vals, nulls)], t)

    left, right = keys(nl, pa.int32() if span < 2**31 else pa.int64()), keys(nr, pa.int64())
    li, ri = integer_pairs(left, right, no_limit)
    assert pairs(li, ri) == brute(left.to_pylist(), right.to_pylist())  # sorted: brute is
    assert li.dtype == np.int64 and ri.dtype == np.int64


def test_unique_build_keys_and_keys_outside_the_build_range():
    left = pa.array([5, 1, 99, None, 1, -3], pa.int32())
    right = pa.array([1, 2, 3, 4, 5], pa.int32())  # unique: the look-up-table path
    assert pairs(*integer_pairs(left, right, no_limit)) == [(0, 4), (1, 0), (4, 0)]
    assert pairs(*integer_pairs(right, left, no_limit)) == [(0, 1), (0, 4), (4, 0)]


def test_the_limit_sees_the_pair_count_before_pairs_are_built():
    seen = []

    def limit(rows: int) -> None:
        seen.append(rows)
        raise OverflowError

    many = pa.array([7] * 1000, pa.int64())
    with pytest.raises(OverflowError):
        integer_pairs(many, many, limit)
    assert seen == [1_000_000]


def test_other_key_types_go_through_arrow_in_the_same_order():
    left = [pa.array(["b", "a", None, "b"]), pa.array([1, 2, 3, 1])]
    right = [pa.array(["b", "b", "a", None]), pa.array([1, 1, 2, 3])]
    li, ri = equi_pairs(left, right, no_limit)
    assert pairs(li, ri) == [(0, 0), (0, 1), (1, 2), (3, 0), (3, 1)]


def test_lazy_columns_gather_once_and_compose_positions():
    base = [pa.array([10, 11, 12, 13]), None, pa.array(["a", "b", "c", "d"])]
    first = gather(base, pa.array([3, 0, None, 1], pa.int64()))  # NULL position: NULL value
    assert isinstance(first, LazyColumns) and len(first) == 3 and first[1] is None
    second = gather(first, pa.array([2, 0], pa.int64()))
    assert second[0].to_pylist() == [None, 13] and second[2].to_pylist() == [None, "d"]
    assert first[0].to_pylist() == [13, 10, None, 11]
    assert first[0] is first[0]  # gathered once, then kept
    joined = first + gather([pa.array([1, 2])], pa.array([1, 1, 0, 0], pa.int64()))
    assert isinstance(joined, LazyColumns) and joined[3].to_pylist() == [2, 2, 1, 1]
    assert [c is None for c in joined[:2]] == [False, True]
    assert isinstance(first + [None], list) and len(list(first)) == 3
    joined.append(pa.array([0, 0, 0, 0]))
    assert len(joined) == 5 and joined[4].to_pylist() == [0, 0, 0, 0]


def test_group_ids_number_groups_by_first_appearance():
    gid, n, first = group_ids([pa.array([3, None, 1, 3, None, 2])], 6)
    assert (gid.tolist(), n, first.tolist()) == ([0, 1, 2, 0, 1, 3], 4, [0, 1, 2, 5])
    gid, n, first = group_ids([pa.array([1, 1, 2, 2, 1]), pa.array(["x", "y", "x", "x", "x"])], 5)
    assert (gid.tolist(), n, first.tolist()) == ([0, 1, 2, 2, 0], 3, [0, 1, 2])
    gid, n, first = group_ids([pa.array([], pa.int64())], 0)
    assert (len(gid), n, len(first)) == (0, 0, 0)


def test_joins_through_sql(mem_conn):
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE a (id int, k int)")
    cur.execute("CREATE TABLE b (k bigint, name text)")
    cur.execute("INSERT INTO a VALUES (1, 1), (2, 2), (3, NULL), (4, 2), (5, 9)")
    cur.execute("INSERT INTO b VALUES (2, 'two'), (1, 'one'), (2, 'deux'), (NULL, 'null'), (7, 'seven')")

    def q(sql: str) -> list:
        cur.execute(sql)
        return cur.fetchall()

    # int4 = int8 keys, several matches per key, left order then right order
    assert q("SELECT a.id, b.name FROM a JOIN b ON a.k = b.k") == [
        (1, "one"), (2, "two"), (2, "deux"), (4, "two"), (4, "deux")]
    assert q("SELECT a.id, b.name FROM a LEFT JOIN b ON a.k = b.k WHERE b.name IS NULL") == [
        (3, None), (5, None)]
    assert sorted(q("SELECT a.id, b.name FROM a FULL JOIN b ON a.k = b.k WHERE a.id IS NULL OR b.k IS NULL"),
                  key=str) == sorted([(3, None), (5, None), (None, "null"), (None, "seven")], key=str)
    assert q("SELECT b.name, count(a.id) FROM b LEFT JOIN a ON a.k = b.k GROUP BY b.name ORDER BY 1") == [
        ("deux", 2), ("null", 0), ("one", 1), ("seven", 0), ("two", 2)]
    # one-side conditions of an inner join filter that side first; mixed ones stay residual
    assert q("SELECT a.id, b.name FROM a JOIN b ON a.k = b.k "
             "WHERE b.name <> 'deux' AND a.id > 1 AND a.id + b.k > 3") == [(2, "two"), (4, "two")]
    assert q("SELECT a.id, b.name FROM a JOIN b ON a.k = b.k "
             "WHERE b.name IN (SELECT name FROM b WHERE k = 1)") == [(1, "one")]
    assert q("SELECT count(*) FROM a JOIN b ON a.k = b.k WHERE b.k > 100") == [(0,)]
