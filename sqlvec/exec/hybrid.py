"""Built-in fusion of ranked lists, as set-returning functions used in FROM.

Each branch is an ordinary top-k query turned into an array with ``ARRAY(subquery)``, so the
branch's LIMIT runs inside its index (tantivy, the vector top-k) and parameters work as usual::

    SELECT id, score FROM rrf(
        ARRAY(SELECT id FROM docs WHERE body @@@ $1 ORDER BY score(id) DESC LIMIT 100),
        ARRAY(SELECT id FROM docs ORDER BY emb <=> $2 LIMIT 100))
    ORDER BY score DESC LIMIT 10;

- ``rrf(ids bigint[], ...)`` / ``rrf_k(k integer, ids bigint[], ...)``: reciprocal rank fusion,
  ``score(d) = sum over branches containing d of 1 / (k + rank)`` with rank 1-based (the
  position in the array) and k = 60 by default (Cormack et al.; ParadeDB's and Milvus' default).
- ``weighted_fusion(weights float8[], ids bigint[], scores float8[], ...)``: each branch's
  scores are min-max normalised to [0, 1] (``(s - min) / (max - min)``; all 1 when max = min),
  then ``score(d) = sum_i weights[i] * norm_i(d)`` (0 where a branch lacks d). Scores must be
  "higher is better": pass ``-(emb <=> $2)`` (or ``1 - (emb <=> $2)``) for distances.

Both return ``(id bigint, score double precision)`` best first (ties: smaller id first).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec.functions.registry import Overload

RRF_K = 60


def _ids(v) -> np.ndarray:
    return np.asarray([x for x in (v or []) if x is not None], dtype=np.int64)


def rrf_scores(branches: list[np.ndarray], k: int = RRF_K) -> tuple[np.ndarray, np.ndarray]:
    """(ids, fused scores), best first."""
    if k < 0:
        raise errors.InvalidParameterValue("rrf k must not be negative")
    ids = [b for b in branches if len(b)]
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0)
    all_ids = np.concatenate(ids)
    contrib = np.concatenate([1.0 / (k + np.arange(1, len(b) + 1, dtype=np.float64)) for b in ids])
    return _sum_by_id(all_ids, contrib)


def weighted_scores(weights: list[float], branches: list[tuple[np.ndarray, np.ndarray]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    if len(weights) != len(branches):
        raise errors.InvalidParameterValue(
            f"weighted_fusion got {len(weights)} weights for {len(branches)} branches")
    parts_id, parts_s = [], []
    for w, (ids, s) in zip(weights, branches):
        if len(ids) != len(s):
            raise errors.InvalidParameterValue("weighted_fusion: ids and scores differ in length")
        if not len(ids):
            continue
        lo, hi = float(s.min()), float(s.max())
        norm = np.ones(len(s)) if hi == lo else (s - lo) / (hi - lo)
        parts_id.append(ids)
        parts_s.append(w * norm)
    if not parts_id:
        return np.zeros(0, np.int64), np.zeros(0)
    return _sum_by_id(np.concatenate(parts_id), np.concatenate(parts_s))


def _sum_by_id(ids: np.ndarray, contrib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(ids, return_inverse=True)
    score = np.bincount(inv, weights=contrib, minlength=len(uniq))
    order = np.lexsort((uniq, -score))
    return uniq[order], score[order]


def _result(per_row: list[tuple[np.ndarray, np.ndarray]]):
    parents = np.concatenate([np.full(len(i), r, np.int64) for r, (i, _) in enumerate(per_row)]) \
        if per_row else np.zeros(0, np.int64)
    ids = np.concatenate([i for i, _ in per_row]) if per_row else np.zeros(0, np.int64)
    sc = np.concatenate([s for _, s in per_row]) if per_row else np.zeros(0)
    return parents, [pa.array(ids, pa.int64()), pa.array(sc, pa.float64())]


def _rrf_impl(vals, types, n):
    cols = [v.to_pylist() for v in vals]
    return _result([rrf_scores([_ids(a) for a in row]) for row in zip(*cols)])


def _rrf_k_impl(vals, types, n):
    cols = [v.to_pylist() for v in vals]
    out = []
    for k, *arrs in zip(*cols):
        out.append(rrf_scores([_ids(a) for a in arrs], RRF_K if k is None else int(k)))
    return _result(out)


def _weighted_impl(vals, types, n):
    cols = [v.to_pylist() for v in vals]
    if (len(cols) - 1) % 2:
        raise errors.InvalidParameterValue("weighted_fusion takes weights, then (ids, scores) pairs")
    out = []
    for w, *rest in zip(*cols):
        branches = []
        for ids, s in zip(rest[0::2], rest[1::2]):
            ids, s = list(ids or []), list(s or [])
            keep = [i for i, (a, b) in enumerate(zip(ids, s)) if a is not None and b is not None]
            branches.append((np.asarray([ids[i] for i in keep], np.int64),
                             np.asarray([s[i] for i in keep], np.float64)))
        out.append(weighted_scores([float(x) for x in (w or [])], branches))
    return _result(out)


def register(srfs: dict, columns: dict) -> None:
    """Add the fusion functions to the SRF registry (called by sqlvec.exec.srf)."""
    out = lambda r: [("id", _type("bigint")), ("score", _type("double precision"))]  # noqa: E731
    srfs["rrf"] = [Overload("rrf", ("bigint[]",), "bigint", _rrf_impl, variadic=True)]
    srfs["rrf_k"] = [Overload("rrf_k", ("integer", "bigint[]"), "bigint", _rrf_k_impl, variadic=True)]
    srfs["weighted_fusion"] = [  # 1 to 8 branches of (ids, scores)
        Overload("weighted_fusion", ("double precision[]",) + ("bigint[]", "double precision[]") * b,
                 "bigint", _weighted_impl) for b in range(1, 9)]
    for name in ("rrf", "rrf_k", "weighted_fusion"):
        columns[name] = out


def _type(name: str):
    from sqlvec.exec.functions.registry import type_named

    return type_named(name)
