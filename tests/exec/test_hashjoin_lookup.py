"""The integer equi-join's look-up-table path (unique build keys, table over both key ranges)
gives exactly the pairs of a brute-force join, in the documented order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlvec.exec import hashjoin as H


def brute(left: pa.Array, right: pa.Array):
    lv, rv = left.to_pylist(), right.to_pylist()
    pairs = [(i, j) for i, a in enumerate(lv) if a is not None for j, b in enumerate(rv) if b == a]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def pairs(left, right):
    seen = []
    li, ri = H.integer_pairs(left, right, seen.append)
    # the result size was announced before materialising (empty inputs return at once)
    assert seen[-1:] == [len(li)] or (not seen and len(li) == 0)
    assert li.dtype == np.int64 and ri.dtype == np.int64
    return li.tolist(), ri.tolist()


CASES = {
    "fk to pk, all match": ([3, 1, 2, 2, 0], [0, 1, 2, 3]),
    "probe keys outside the build range": ([-5, 1, 99, 2, 7, 1000], [1, 2, 3, 7]),
    "negative keys": ([-3, -1, -2, 4], [-3, -2, 4, 5]),
    "nulls on both sides": ([1, None, 2, None], [None, 2, 1]),
    "duplicate build keys (general path)": ([1, 2, 2, 3], [2, 2, 1, 5]),
    "no match": ([10, 11], [1, 2]),
    "empty probe": ([], [1, 2]),
    "empty build": ([1, 2], []),
    "build on the left (smaller side)": ([5, 6], [6, 5, 6, 7, 5, 5]),
}


@pytest.mark.parametrize("left,right", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("typ", [pa.int16(), pa.int32(), pa.int64()])
def test_pairs_equal_brute_force(left, right, typ):
    la, ra = pa.array(left, typ), pa.array(right, typ)
    assert pairs(la, ra) == brute(la, ra)


def test_int16_range_wider_than_the_type():
    # build keys near the int16 minimum, probe keys near its maximum: the table spans more
    # than int16 can index from its low end, so keys are shifted in int64
    left = pa.array([32000, -32000, 5, -31990], pa.int16())
    right = pa.array([-32000, -31990, 32000], pa.int16())
    assert pairs(left, right) == brute(left, right)


def test_large_random_against_sorted_path():
    rng = np.random.default_rng(7)
    build = rng.permutation(50_000)[:20_000].astype(np.int32)  # unique keys with gaps
    probe = rng.integers(-1000, 60_000, 300_000).astype(np.int32)
    li, ri = H.integer_pairs(pa.array(probe), pa.array(build), lambda n: None)
    # the same join by sorting
    order = np.argsort(build)
    pos = np.searchsorted(build[order], probe)
    pos[pos == len(build)] = 0
    hit = build[order][pos] == probe
    assert li.tolist() == np.flatnonzero(hit).tolist()
    assert ri.tolist() == order[pos[hit]].tolist()
