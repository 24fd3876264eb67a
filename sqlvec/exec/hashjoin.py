"""Matching row pairs of an equi-join: which left row joins which right row.

Every function returns ``(li, ri)``: int64 positions into the left and right inputs, ordered by
left position and then right position (so that a join's output order is deterministic and
follows its left input, as the nested loop's does). NULL keys never match.

- one integer key (the common case: foreign key = primary key) is joined in numpy: a lookup
  table indexed by key when the keys are dense, else a sorted build side and searchsorted;
  both are O(n) or O(n log m) vectorised passes with no per-row Python;
- other keys go through Arrow's hash join (Acero), then are sorted into that order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

# a lookup table of at most this many slots per build row (and at least this many in all) is
# cheaper than sorting: one allocation, one scatter, one gather
_DENSE_FACTOR = 4
_DENSE_MIN = 1 << 16

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def equi_pairs(lk: list[pa.Array], rk: list[pa.Array], limit: Callable[[int], None]):
    """The matching pairs of key columns ``lk`` (left) and ``rk`` (right); ``limit(rows)`` is
    called with the number of pairs before they are materialised, to refuse huge results.
    Raises Arrow's errors for key types it cannot hash (the caller falls back)."""
    if len(lk) == 1 and _integer(lk[0]) and _integer(rk[0]):
        return integer_pairs(lk[0], rk[0], limit)
    return _arrow_pairs(lk, rk)


def _integer(a: pa.Array) -> bool:
    return pa.types.is_integer(a.type)


def _valid(a: pa.Array) -> tuple[np.ndarray | None, np.ndarray]:
    """Positions of the non-NULL keys (None: all of them) and their values, in their own
    integer type (widening a million int4 keys to int8 is a copy nobody needs)."""
    if a.null_count:
        pos = np.flatnonzero(np.asarray(a.is_valid()))
        return pos, a.drop_null().to_numpy()
    return None, a.to_numpy(zero_copy_only=False)


def _at(pos: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
    return idx.astype(np.int64, copy=False) if pos is None else pos[idx]


def integer_pairs(left: pa.Array, right: pa.Array, limit: Callable[[int], None]):
    """Equi-join pairs of one integer key column per side, in numpy."""
    lpos, lvals = _valid(left)
    rpos, rvals = _valid(right)
    if len(lvals) == 0 or len(rvals) == 0:
        return _EMPTY
    # build on the smaller side, probe with the larger one in its order
    build_left = len(lvals) < len(rvals)
    bvals, pvals = (lvals, rvals) if build_left else (rvals, lvals)
    b, p = _probe(bvals, pvals, limit)
    if build_left:
        li, ri = _at(lpos, b), _at(rpos, p)
        # pairs came in right order: regroup them by left row, keeping right order within
        order = np.argsort(_narrow(li), kind="stable")
        return li[order], ri[order]
    return _at(lpos, p), _at(rpos, b)


def _narrow(idx: np.ndarray) -> np.ndarray:
    """Positions as the smallest unsigned type that holds them: numpy sorts 16-bit integers
    with a radix sort, in linear time."""
    top = int(idx.max()) if len(idx) else 0
    for t in (np.uint16, np.uint32):
        if top <= np.iinfo(t).max:
            return idx.astype(t)
    return idx


def _probe(bvals: np.ndarray, pvals: np.ndarray, limit: Callable[[int], None]):
    """(build index, probe index) of every equal pair, by probe index then build index."""
    lo, hi = int(bvals.min()), int(bvals.max())
    plo, phi = int(pvals.min()), int(pvals.max())
    span = hi - lo + 1
    budget = max(_DENSE_FACTOR * len(bvals), _DENSE_MIN)
    if span <= budget and max(hi, phi) - min(lo, plo) < budget:
        unique = _unique_lookup(bvals, pvals, lo, min(lo, plo), max(hi, phi), limit)
        if unique is not None:
            return unique
    if lo <= plo and phi <= hi:
        inside = None  # every probe key is within the build range
        # key - lo lies in [0, span): it fits the keys' own type whenever lo does
        if lo == 0:
            keys = pvals
        elif np.iinfo(pvals.dtype).min <= lo:
            keys = pvals - pvals.dtype.type(lo)
        else:
            keys = pvals.astype(np.int64) - lo
    else:
        inside = np.flatnonzero((pvals >= lo) & (pvals <= hi))
        keys = pvals[inside].astype(np.int64) - lo
    if span <= budget:
        slot = bvals.astype(np.int64) - lo
        counts = np.bincount(slot, minlength=span)
        if counts.max() == 1:  # unique build keys (a primary key): one look-up per probe row
            table = np.full(span, -1, np.int64)
            table[slot] = np.arange(len(bvals), dtype=np.int64)
            hit = table[keys]
            sel = np.flatnonzero(hit >= 0)
            limit(len(sel))
            if len(sel) == len(hit):
                return hit, sel if inside is None else inside
            return hit[sel], sel if inside is None else inside[sel]
        order = np.argsort(slot, kind="stable")  # build rows grouped by key, in their order
        starts = np.cumsum(counts) - counts
        first, n = starts[keys], counts[keys]
    else:
        order = np.argsort(bvals, kind="stable")
        ordered = bvals[order].astype(np.int64)
        keys = keys + lo
        first = np.searchsorted(ordered, keys, "left")
        n = np.searchsorted(ordered, keys, "right") - first
    return _expand(order, first, n, np.arange(len(pvals), dtype=np.int64) if inside is None else inside, limit)


def _unique_lookup(bvals: np.ndarray, pvals: np.ndarray, lo: int, tlo: int, thi: int,
                   limit: Callable[[int], None]):
    """Pairs through one look-up table over the build and probe keys' whole range, when the
    build keys are unique (a primary key); None when they are not. Covering the probe range
    too spares a range-filter pass over the probe keys: out-of-range keys find -1 slots."""
    slot = bvals.astype(np.int64) - tlo
    table = np.full(thi - tlo + 1, -1, np.int64)
    table[slot] = np.arange(len(bvals), dtype=np.int64)
    if (table >= 0).sum() != len(bvals):
        return None  # duplicate build keys: the general path groups them
    hit = table[pvals if tlo == 0 else pvals.astype(np.int64) - tlo]
    if len(hit) and hit.min() >= 0:  # every probe row matches (foreign key -> primary key)
        limit(len(hit))
        return hit, np.arange(len(hit), dtype=np.int64)
    sel = np.flatnonzero(hit >= 0)
    limit(len(sel))
    return hit[sel], sel


def _expand(order, first, n, probe_idx, limit):
    """Pairs from per-probe-row runs ``order[first : first + n]`` of build rows."""
    some = n > 0
    first, n, probe_idx = first[some], n[some], probe_idx[some]
    total = int(n.sum())
    limit(total)
    p = np.repeat(probe_idx, n)
    run_start = np.repeat(np.cumsum(n) - n, n)
    b = order[np.repeat(first, n) + (np.arange(total, dtype=np.int64) - run_start)]
    return b, p


def _arrow_pairs(lk: list[pa.Array], rk: list[pa.Array]):
    names = [f"k{i}" for i in range(len(lk))]
    lt = pa.table(lk + [pa.array(np.arange(len(lk[0]) if lk else 0, dtype=np.int64))], names=names + ["__l"])
    rt = pa.table(rk + [pa.array(np.arange(len(rk[0]) if rk else 0, dtype=np.int64))], names=names + ["__r"])
    for i in range(len(lk)):
        if lt.schema.field(i).type != rt.schema.field(i).type:
            raise pa.ArrowTypeError("key types differ")
    j = lt.join(rt, keys=names, join_type="inner", use_threads=False)
    li = j.column("__l").to_numpy()
    ri = j.column("__r").to_numpy()
    order = np.lexsort((ri, li))  # deterministic output: left order, then right order
    return li[order].astype(np.int64), ri[order].astype(np.int64)
