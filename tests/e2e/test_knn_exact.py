"""Exact top-k search through SQL equals a numpy brute force, for every distance operator.

The table spans several sealed segments and a growing one (rows inserted over several
commits, the database closed and reopened in between), with deleted rows, updated rows,
NULL vectors and duplicated vectors (ties). The comparison is tie-aware: distances must match
position by position within a tolerance, every returned id must really be at the distance
returned, and the ids must equal the reference's except among rows tied at the cut-off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sqlvec
from sqlvec.types.values import BitString

DIM, BITS, CATS = 8, 16, 4
BATCHES = (150, 120, 90, 60)  # one commit each; reopened between them (one segment each)
RTOL, ATOL = 2e-5, 2e-5  # float32/float16 arithmetic in the engine vs float64 here


@dataclass
class Data:
    """What the table holds, as the reference sees it (alive rows only)."""

    ids: np.ndarray
    cat: np.ndarray
    emb: np.ndarray  # float32 (n, DIM); NaN rows where the vector is NULL
    half: np.ndarray  # float16 values as float64
    bits: np.ndarray  # bool (n, BITS)
    null: np.ndarray  # bool: the vectors of this row are NULL


def _rows(rng: np.random.Generator, start: int, n: int, pool: np.ndarray | None) -> list[tuple]:
    emb = rng.standard_normal((n, DIM)).astype(np.float32)
    if pool is not None and len(pool):  # exact duplicates of earlier vectors: ties
        dup = rng.random(n) < 0.1
        emb[dup] = pool[rng.integers(0, len(pool), dup.sum())]
    half = rng.standard_normal((n, DIM)).astype(np.float16)
    bits = rng.random((n, BITS)) < 0.5
    null = rng.random(n) < 0.05
    out = []
    for i in range(n):
        vecs: tuple[Any, ...] = (
            (None, None, None) if null[i] else (emb[i], half[i], BitString.from_bools(bits[i]))
        )
        out.append((start + i, int(rng.integers(0, CATS)), *vecs))
    return out


def _load(path: Path) -> tuple[sqlvec.Connection, Data]:
    """Fill the table; the last batch stays in the growing segment of the returned connection."""
    rng = np.random.default_rng(42)
    rows: dict[int, tuple] = {}
    conn: sqlvec.Connection | None = None
    for b, n in enumerate(BATCHES):
        if conn is not None:
            conn.close()  # closing seals the growing segment: the next batch starts a new one
        conn = sqlvec.connect(str(path))
        cur = conn.cursor()
        if b == 0:
            cur.execute(
                "CREATE TABLE t (id bigint PRIMARY KEY, cat integer, "
                "emb vector(8), h halfvec(8), b bit(16))"
            )
        pool = np.array([r[2] for r in rows.values() if r[2] is not None], np.float32)
        batch = _rows(rng, sum(BATCHES[:b]), n, pool if len(pool) else None)
        cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s)", batch)
        rows.update((r[0], r) for r in batch)
        if b:  # delete and update rows of earlier (by now sealed) segments
            gone = rng.choice(sorted(rows), 15, replace=False).tolist()
            cur.execute("DELETE FROM t WHERE id = ANY(%s)", (gone,))
            for i in gone:
                del rows[i]
            moved = rng.choice(sorted(rows), 5, replace=False).tolist()
            for i, new in zip(moved, _rows(rng, 0, 5, None)):
                cur.execute("UPDATE t SET emb = %s, h = %s, b = %s WHERE id = %s", (*new[2:], i))
                rows[i] = (i, rows[i][1], *new[2:])
        conn.commit()
    alive = [rows[i] for i in sorted(rows)]
    null = np.array([r[2] is None for r in alive])
    nan_row = np.full(DIM, np.nan)
    assert conn is not None
    return conn, Data(
        ids=np.array([r[0] for r in alive]),
        cat=np.array([r[1] for r in alive]),
        emb=np.array([nan_row if r[2] is None else r[2] for r in alive], np.float32),
        half=np.array([nan_row if r[3] is None else r[3] for r in alive], np.float64),
        bits=np.array([np.zeros(BITS, bool) if r[4] is None else r[4].to_bools() for r in alive]),
        null=null,
    )


@pytest.fixture(scope="module")
def db(module_dir: Path) -> Iterator[tuple[sqlvec.Connection, Data]]:
    path = module_dir / "knn"
    conn, data = _load(path)
    try:
        conn.autocommit = True
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(len(data.ids),)]
        yield conn, data
    finally:
        conn.close()


# -- reference distances ----------------------------------------------------------------------
def _l2(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sqrt(((x - q) ** 2).sum(1))


def _neg_ip(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return -(x @ q)


def _cosine(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return 1 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))


def _l1(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.abs(x - q).sum(1)


def _hamming(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    return (x != q).sum(1).astype(np.float64)


def _jaccard(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    both = (x & q).sum(1)
    union = x.sum(1) + q.sum() - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(both == 0, 1.0, 1 - both / union)


@dataclass(frozen=True)
class Metric:
    column: str
    op: str
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray]


METRICS = [
    Metric(c, op, fn)
    for c in ("emb", "h")
    for op, fn in (("<->", _l2), ("<#>", _neg_ip), ("<=>", _cosine), ("<+>", _l1))
]
METRICS += [Metric("b", "<~>", _hamming), Metric("b", "<%>", _jaccard)]


def _stored(data: Data, column: str) -> np.ndarray:
    return {"emb": data.emb.astype(np.float64), "h": data.half, "b": data.bits}[column]


def _queries(data: Data, column: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Two random query vectors and one equal to a stored vector (distance 0, ties)."""
    stored = _stored(data, column)[~data.null]
    if column == "b":
        return [rng.random(BITS) < 0.5, rng.random(BITS) < 0.3, stored[5]]
    dtype = np.float32 if column == "emb" else np.float16
    return [
        rng.standard_normal(DIM).astype(dtype),
        (rng.random(DIM) * 3).astype(dtype),
        stored[7].astype(dtype),
    ]


PARAM_FORMS: dict[str, Callable[[np.ndarray, str], Any]] = {
    # how the query vector is passed; "literal" inlines it as SQL text instead
    "numpy": lambda q, col: BitString.from_bools(q) if col == "b" else q,
    # float64 arrays (numpy's default) must be rounded to the column's element type
    "numpy64": lambda q, col: str(BitString.from_bools(q)) if col == "b" else q.astype(float),
    "list": lambda q, col: str(BitString.from_bools(q)) if col == "b" else q.tolist(),
    "literal": lambda q, col: None,
}


def _literal(q: np.ndarray, column: str) -> str:
    if column == "b":
        return f"'{BitString.from_bools(q)}'"
    return "'[" + ",".join(repr(float(x)) for x in q) + "]'"


def _expected(data: Data, m: Metric, q: np.ndarray, cat: int | None) -> tuple[np.ndarray, ...]:
    """Candidate ids and their distances (NaN for NULL vectors, which sort last)."""
    keep = np.ones(len(data.ids), bool) if cat is None else data.cat == cat
    stored = _stored(data, m.column)[keep]
    qq = q if m.column == "b" else q.astype(np.float64)
    with np.errstate(invalid="ignore"):
        dist = m.distance(stored, qq)
    return data.ids[keep], np.where(data.null[keep], np.nan, dist)


def _check(got: list[tuple], ids: np.ndarray, dist: np.ndarray, limit: int, offset: int) -> None:
    # NULL distances (NULL vectors) sort after every number: PostgreSQL's NULLS LAST
    order = np.argsort(np.where(np.isnan(dist), np.inf, dist), kind="stable")
    want = dist[order][offset : offset + limit]
    assert len(got) == len(want), (len(got), len(want))
    got_ids = np.array([r[0] for r in got], dtype=np.int64)
    got_d = np.array([np.nan if r[1] is None else r[1] for r in got], dtype=np.float64)
    assert len(set(got_ids.tolist())) == len(got_ids), "an id came back twice"
    np.testing.assert_allclose(got_d, want, rtol=RTOL, atol=ATOL, equal_nan=True)
    by_id = dict(zip(ids.tolist(), dist.tolist()))
    true_d = np.array([by_id.get(i, -np.inf) for i in got_ids.tolist()])
    # each id exists, passes the filter, and really is at the distance the engine printed
    np.testing.assert_allclose(true_d, got_d, rtol=RTOL, atol=ATOL, equal_nan=True)
    # ids equal the reference's, except that rows tied at either cut-off are interchangeable
    window = order[offset : offset + limit]
    ref_ids = ids[window]
    if len(want):
        d_all = np.where(np.isnan(dist), np.inf, dist)
        edges = [np.inf if np.isnan(d) else d for d in (want[0], want[-1])]
        tied = np.zeros(len(ids), bool)
        for e in edges:
            tied |= np.isclose(d_all, e, rtol=RTOL, atol=ATOL) | (d_all == e)
        tied_ids = set(ids[tied].tolist())
        diff = set(got_ids.tolist()) ^ set(ref_ids.tolist())
        assert diff <= tied_ids, f"ids differ beyond ties: {sorted(diff - tied_ids)[:10]}"


CASES = [(k, off, cat) for k in (1, 10, 1000) for off in (0, 5) for cat in (None, 2)]


@pytest.mark.parametrize("form", sorted(PARAM_FORMS))
@pytest.mark.parametrize("metric", METRICS, ids=lambda m: f"{m.column}{m.op}")
def test_topk_matches_numpy(db: tuple[sqlvec.Connection, Data], metric: Metric, form: str) -> None:
    conn, data = db
    rng = np.random.default_rng(abs(hash((metric.column, metric.op, form))) % 2**32)
    op = metric.op.replace("%", "%%")  # a literal % when the statement has parameters
    for q in _queries(data, metric.column, rng):
        for k, offset, cat in CASES:
            where = "" if cat is None else "WHERE cat = %s "
            tail = f"LIMIT {k}" + (f" OFFSET {offset}" if offset else "")
            if form == "literal":
                lit = _literal(q, metric.column)
                sql = (
                    f"SELECT id, {metric.column} {op} {lit} AS d FROM t {where}"
                    f"ORDER BY {metric.column} {op} {lit} {tail}"
                )
                params: list = [] if cat is None else [cat]
            else:
                p = PARAM_FORMS[form](q, metric.column)
                sql = (
                    f"SELECT id, {metric.column} {op} %s AS d FROM t {where}"
                    f"ORDER BY {metric.column} {op} %s {tail}"
                )
                params = [p] + ([] if cat is None else [cat]) + [p]
            if not params:
                sql = sql.replace("%%", "%")
            got = conn.execute(sql, params or None).fetchall()
            ids, dist = _expected(data, metric, q, cat)
            try:
                _check(got, ids, dist, k, offset)
            except AssertionError as e:
                raise AssertionError(
                    f"{sql} with q={q!r} k={k} offset={offset} cat={cat}: {e}"
                ) from None


def test_dollar_params_and_order_by_alias(db: tuple[sqlvec.Connection, Data]) -> None:
    conn, data = db
    q = np.linspace(-1, 1, DIM).astype(np.float32)
    got = conn.execute(
        "SELECT id, emb <-> $1 AS d FROM t WHERE cat = $2 ORDER BY d LIMIT 7", (q, 1)
    ).fetchall()
    ids, dist = _expected(data, METRICS[0], q, 1)
    _check(got, ids, dist, 7, 0)
