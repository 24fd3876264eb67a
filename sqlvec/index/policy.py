"""Which way to answer a filtered top-k on one indexed segment: exact, index, or index+filter.

Measured on 200k x 128 float32 (bench/index_bench.py, 2 cores, one query at a time, k = 10,
ef 40): an exact top-k over a gathered subset costs ~0.6 us per allowed row (2,000 rows:
~1 ms; 20,000 rows: ~10 ms), a graph walk that over-fetches ``ef / selectivity`` candidates
costs ~1.5 us per candidate. So the exact path wins while ``n_allowed * EXACT_COST <
(ef / s) * WALK_COST``, i.e. below ``sqrt(ef * n * WALK_COST / EXACT_COST)`` allowed rows
(~5,500 rows of 200k at ef 40), and always below a floor where the graph has no advantage.
"""

from __future__ import annotations

import math

EXACT_FLOOR = 2048  # at most this many candidate rows: exact search is as fast as any walk
EXACT_COST = 0.6  # us per allowed row of an exact subset scan (128 dims)
WALK_COST = 1.5  # us per candidate an over-fetching hnsw walk returns (128 dims)
MAX_FETCH_FRACTION = 0.2  # a walk asked for more than this share of the rows: go exact


def plan_search(n_rows: int, n_allowed: int, k: int, *, ef: int = 40,
                dim: int = 128) -> str:
    """'exact' | 'index' | 'index_filtered' for a segment of ``n_rows`` indexed rows of which
    ``n_allowed`` pass the reader's mask (visibility and WHERE).

    >>> plan_search(200_000, 200_000, 10)
    'index'
    >>> plan_search(200_000, 2_000, 10)
    'exact'
    >>> plan_search(200_000, 100_000, 10)
    'index_filtered'
    """
    del dim  # both costs scale with the dimension alike
    if n_allowed <= max(EXACT_FLOOR, 4 * k) or n_rows <= EXACT_FLOOR:
        return "exact"
    if n_allowed >= n_rows:
        return "index"
    want = max(ef, k)
    fetch = want * n_rows / n_allowed  # candidates a walk must return to meet ``want`` passers
    if fetch > MAX_FETCH_FRACTION * n_rows:
        return "exact"
    if n_allowed * EXACT_COST < fetch * WALK_COST:
        return "exact"
    return "index_filtered"


def overfetch(n_rows: int, n_allowed: int, k: int, ef: int) -> int:
    """How many candidates to ask the graph for so that about ``max(ef, k)`` of them pass,
    with a 25% margin against an unlucky spread (a correlated filter widens again)."""
    want = max(ef, k)
    return min(n_rows, math.ceil(want * 1.25 * n_rows / max(n_allowed, 1)) + k)
