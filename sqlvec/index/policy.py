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


FILTERED_EF_FRACTION = 0.75  # share of ef a filtered walk wants among passing candidates


def filtered_want(ef: int, k: int) -> int:
    """Passing candidates a filtered walk collects before it re-ranks: 3/4 of ef. Measured
    (100k x 128, ef 40, k 10): half of ef kept recall >= 0.99 at 10%..90% selectivity and
    saved 10-35% of the time, but on 20k x 64 at 90% it fell to the unfiltered walk's 0.935;
    3/4 keeps 0.995 there."""
    return max(math.ceil(ef * FILTERED_EF_FRACTION), k)


def overfetch(n_rows: int, n_allowed: int, k: int, ef: int) -> int:
    """How many candidates to ask the graph for so that about :func:`filtered_want` of them
    pass, with a 25% margin against an unlucky spread (a correlated filter widens again);
    never a narrower beam than an unfiltered walk's ``max(ef, k)``."""
    want = filtered_want(ef, k)
    fetch = max(math.ceil(want * 1.25 * n_rows / max(n_allowed, 1)) + k, ef, k)
    return min(n_rows, fetch)


SUBSET_ROW_COST = 0.05  # us per row of an exact pass over a cached, gathered subset (128 dims)
SUBSET_FIXED = 40.0  # us of fixed cost of that pass (argpartition, the exact re-check)


def subset_exact(n_passing: int, n_rows: int, k: int, ef: int, indexed: bool) -> bool:
    """Whether a segment whose filter (cached by :mod:`sqlvec.exec.filter_cache`) keeps
    ``n_passing`` of ``n_rows`` rows is best searched exactly over just those rows.

    Without an index: whenever that is a minority of the rows (a masked pass reads them all).
    With one: while the subset pass costs less than the over-fetching walk it replaces.

    >>> subset_exact(1_000, 100_000, 10, 40, True)
    True
    >>> subset_exact(50_000, 100_000, 10, 40, True)
    False
    """
    if n_passing == 0 or n_passing > SUBSET_LIMIT:
        return False
    if not indexed:
        return n_passing * 2 <= n_rows
    if n_passing <= max(EXACT_FLOOR, 4 * k):
        return True
    fetch = overfetch(n_rows, n_passing, k, ef)
    return SUBSET_FIXED + n_passing * SUBSET_ROW_COST < fetch * WALK_COST


SUBSET_LIMIT = 50_000  # rows: past this a gathered copy costs more memory than it saves
