"""GROUP BY GROUPING SETS / ROLLUP / CUBE.

:func:`expand` turns a GROUP BY clause into its distinct key expressions and, when the clause
uses grouping sets, the list of sets (each a list of key positions), expanding ROLLUP and CUBE
and taking the cross product of the clause's items as PostgreSQL does. :func:`aggregate_sets`
runs the aggregation once per set and stacks the results: the keys a set does not group by are
NULL, and a last column holds the set's number (what ``grouping()`` reads).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec.relation import Rel, group_ids

_SET_NODES = (exp.Rollup, exp.Cube, exp.GroupingSets)
_MAX_SETS = 4096  # PostgreSQL's limit on the number of grouping sets


def uses_sets(group: exp.Group | None) -> bool:
    if group is None:
        return False
    if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        return True
    return any(isinstance(g, _SET_NODES) for g in group.expressions)


def expand(group: exp.Group, resolve: Callable[[exp.Expression], exp.Expression]
           ) -> tuple[list[exp.Expression], list[list[int]]]:
    """(distinct key nodes, grouping sets as key positions) of a GROUP BY with grouping sets.
    ``resolve`` maps an item to the expression it stands for (ordinals, output aliases)."""
    items = list(group.expressions)
    for k in ("grouping_sets", "rollup", "cube"):  # older sqlglot keeps them apart
        items += list(group.args.get(k) or [])
    combos: list[list[exp.Expression]] = [[]]
    for it in items:
        sets = _sets(it) if isinstance(it, _SET_NODES) else [[it]]
        combos = [c + s for c in combos for s in sets]
        if len(combos) > _MAX_SETS:
            raise errors.StatementTooComplex("too many grouping sets present (maximum 4096)")
    keys: list[exp.Expression] = []
    out: list[list[int]] = []
    for combo in combos:
        pos: list[int] = []
        for node in combo:
            node = resolve(node)
            hit = next((i for i, k in enumerate(keys) if k == node), None)
            if hit is None:
                keys.append(node)
                hit = len(keys) - 1
            if hit not in pos:
                pos.append(hit)
        out.append(pos)
    return keys, out


def _members(node: exp.Expression) -> list[exp.Expression]:
    """The expressions of one element: (a, b) is two, (a) and a are one, () none."""
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    if isinstance(node, exp.Paren):
        return [node.this]
    return [node]


def _sets(node: exp.Expression) -> list[list[exp.Expression]]:
    if isinstance(node, exp.Rollup):
        parts = [_members(x) for x in node.expressions]
        return [sum(parts[:k], []) for k in range(len(parts), -1, -1)]
    if isinstance(node, exp.Cube):
        parts = [_members(x) for x in node.expressions]
        if len(parts) > 12:
            raise errors.ProgramLimitExceeded("CUBE is limited to 12 elements")
        out = []
        for k in range(len(parts), -1, -1):
            for combo in combinations(range(len(parts)), k):
                out.append(sum((parts[i] for i in combo), []))
        return out
    out: list[list[exp.Expression]] = []
    for x in node.expressions:  # GROUPING SETS: each element is one set, or nests more
        out.extend(_sets(x) if isinstance(x, _SET_NODES) else [_members(x)])
    return out


def aggregate_sets(keys: list[pa.Array], n: int, sets: list[list[int]],
                   aggregate: Callable[[np.ndarray, int], list[pa.Array]]) -> Rel:
    """One aggregation per grouping set, stacked; ``aggregate(gids, ngroups)`` computes the
    aggregate columns for one grouping of the input rows."""
    parts: list[list[pa.Array]] = []
    total = 0
    for s, members in enumerate(sets):
        sub = [keys[i] for i in members]
        gids, ngroups, first = group_ids(sub, n)
        if not members:
            ngroups = 1  # the empty set: one row, even over no input
        elif n == 0:
            continue
        ia = pa.array(first, pa.int64())
        cols = []
        for i, k in enumerate(keys):
            if i in members:
                cols.append(k.take(ia))
            else:
                cols.append(pa.nulls(ngroups, k.type))
        cols += aggregate(gids, ngroups)
        cols.append(pa.array(np.full(ngroups, s, np.int64)))
        parts.append(cols)
        total += ngroups
    if not parts:
        empty = [k.slice(0, 0) for k in keys] + aggregate(np.zeros(0, np.int64), 0)
        return Rel(empty + [pa.array([], pa.int64())], 0)
    cols = [pa.concat_arrays([p[j] for p in parts]) for j in range(len(parts[0]))]
    return Rel(cols, total)
