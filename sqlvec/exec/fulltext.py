"""Full-text search in SQL: ``col @@@ 'query'``, ``score(key)``, ``snippet(col)``,
``text_match(col, 'a b')``, and the top-k path for ``ORDER BY score(key) DESC LIMIT k``.

A match is evaluated on the table's *key column*: the tantivy hits (row versions) are first
masked by the reader's visibility (row id -> segment view -> visible), and the keys of the
visible hits are the rows that match; the key must be unique among visible rows (as
ParadeDB's key_field). That makes ``@@@`` an ordinary boolean expression usable anywhere
(joins, CTEs, DELETE ... WHERE). Per statement, each match runs tantivy once (cached in
``ctx.stmt``).

``ORDER BY score(key) DESC LIMIT k`` over one table asks tantivy for its best hits, widening
(x4) until k of them are visible and pass the other WHERE conditions, never scanning the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import tantivy

from sqlvec import errors
from sqlvec.exec import fulltext_global, fulltext_partitions
from sqlvec.exec.fulltext_index import live_index
from sqlvec.exec.fulltext_query import to_query
from sqlvec.exec.relation import Rel, view_columns
from sqlvec.plan import expr as E
from sqlvec.types import registry as T

OFFSET_MASK = np.int64((1 << 32) - 1)


# -- expressions ----------------------------------------------------------------------------------
@dataclass(eq=False)
class FtsMatch(E.Expr):
    key: E.ColRef  # the table's key column
    query: E.Expr  # text
    field: str | None  # the searched column (None: every text field — ``key @@@ 'q'``)
    table_oid: int
    type: object = T.BOOL
    # the table whose BM25 statistics score the match (a partitioned parent, when the match
    # is retargeted at one of its partitions: scores are the parent's, see fulltext_global)
    stats_oid: int | None = None

    def children(self) -> list[E.Expr]:
        return [self.key, self.query]

    def eval(self, ctx: E.EvalContext):
        keys, _ = hits(ctx.exec, self, full=True, scores=False)
        col = E.broadcast(self.key.eval(ctx), ctx.n)
        vals = np.asarray(col.cast(pa.int64()).fill_null(np.iinfo(np.int64).min)
                          .to_numpy(zero_copy_only=False))
        return pa.array(np.isin(vals, keys))


@dataclass(eq=False)
class FtsScore(E.Expr):
    key: E.ColRef
    match: FtsMatch
    type: object = T.FLOAT4

    def children(self) -> list[E.Expr]:
        return [self.key]

    def eval(self, ctx: E.EvalContext):
        keys, scores = hits(ctx.exec, self.match, full=False)
        col = E.broadcast(self.key.eval(ctx), ctx.n)
        if len(keys) == ctx.n and not col.null_count and col.type == pa.int64() \
                and np.array_equal(col.to_numpy(zero_copy_only=False), keys):
            return pa.array(scores.astype(np.float32))  # the top-k's own rows, in its order
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
        vals = np.asarray(col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        pos = np.searchsorted(sk, vals)
        pos_c = np.minimum(pos, max(len(sk) - 1, 0))
        found = valid & (pos < len(sk)) & (sk[pos_c] == vals if len(sk) else False)
        out = np.where(found, scores[order][pos_c] if len(sk) else 0.0, 0.0).astype(np.float32)
        return pa.array(out, mask=~found)


@dataclass(eq=False)
class FtsSnippet(E.Expr):
    column: E.ColRef
    match: FtsMatch
    max_chars: int = 150
    type: object = T.TEXT

    def children(self) -> list[E.Expr]:
        return [self.column]

    def eval(self, ctx: E.EvalContext):
        field = self.column.name
        live, q = _query(ctx.exec, self.match)
        if field not in live.field_names:
            raise errors.UndefinedColumn(f'column "{field}" is not in the bm25 index')
        gen = tantivy.SnippetGenerator.create(live.searcher(), q, live.schema, field)
        gen.set_max_num_chars(self.max_chars)
        col = E.broadcast(self.column.eval(ctx), ctx.n).to_pylist()
        out = []
        for text in col:
            if text is None:
                out.append(None)
                continue
            doc = tantivy.Document()
            doc.add_text(field, text)
            out.append(gen.snippet_from_doc(doc).to_html())
        return pa.array(out, pa.string())


# -- running a match ------------------------------------------------------------------------------
def _snapshot_ts(txn) -> int:
    ts = getattr(txn, "snapshot_ts", None)
    return txn.ts if ts is None else ts


def _query(ectx, m: FtsMatch):
    session = ectx.stmt.get("session")
    if session is None:
        from sqlvec.exec.functions.context import get_session

        session = get_session()
    live, ix, table = live_index(session, m.table_oid, _snapshot_ts(ectx.txn))
    qv = m.query.eval(ectx.eval_ctx([], 1))
    qv = qv if isinstance(qv, pa.Scalar) else qv[0]
    if not qv.is_valid:
        return live, tantivy.Query.empty_query()
    fields = [m.field] if m.field is not None and m.field in live.field_names else live.field_names
    return live, to_query(live, qv.as_py(), fields, ix.options["key_field"])


def visible_mask(ectx, table_oid: int, rids: np.ndarray) -> np.ndarray:
    """Which row ids the reader's snapshot (and own deletes) sees."""
    ok = np.zeros(len(rids), bool)
    if not len(rids):
        return ok
    segs, offs = rids >> 32, rids & OFFSET_MASK
    for view in ectx.txn.scan(table_oid, {}):
        sel = np.flatnonzero(segs == view.segment_id)
        if not len(sel):
            continue
        o = offs[sel]
        good = o < view.num_rows
        if view.visible is not None:
            good &= view.visible[np.minimum(o, max(view.num_rows - 1, 0))] if view.num_rows else False
        ok[sel] = good
    return ok


def hits(ectx, m: FtsMatch, *, full: bool, scores: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of the visible rows matching ``m``; ``full=False`` accepts the top-k
    path's partial answer (enough for scoring the rows it returned); ``scores=False``: only
    the keys count (a filter; scores left out where they would cost a rescoring)."""
    got = cached(ectx, "full", m)
    if got is None and not full:
        got = cached(ectx, "part", m)
    if got is None and not scores:
        got = cached(ectx, "keys", m)
    if got is None:
        kind = "full" if scores else "keys"
        oids = fulltext_partitions.child_oids(ectx, m.table_oid)
        if oids is not None:  # a partitioned parent: every partition's own index
            return remember(ectx, kind, m, fulltext_partitions.gather_hits(ectx, m, oids, hits, scores))
        got = remember(ectx, kind, m, fulltext_global.all_hits(ectx, m, scores))
    return got


def cached(ectx, kind: str, m: FtsMatch):
    """This statement's (keys, scores) of ``m`` ("full": every hit; "part": the top-k's)."""
    got = ectx.stmt.get("fts", {}).get((kind, id(m)))
    return None if got is None or got[0] is not m else got[1]


def remember(ectx, kind: str, m: FtsMatch, value):
    # the match is kept with its hits: a per-partition copy freed early must not hand its id
    # (and its hits) to the next one
    ectx.stmt.setdefault("fts", {})[(kind, id(m))] = (m, value)
    return value


# -- binding --------------------------------------------------------------------------------------
def _session():
    from sqlvec.exec.functions.context import peek_session

    return peek_session()


def _key_ref(scope, col: E.ColRef) -> tuple[E.ColRef, str]:
    """The key column (ColRef in the same scope) of the bm25 index on col's table."""
    from sqlvec.exec.fulltext_index import bm25_index_for

    if not isinstance(col, E.ColRef) or not col.table_oid:
        raise errors.FeatureNotSupported("@@@ needs a column of a table with a bm25 index on its left")
    session = _session()
    if session is None:
        raise errors.InternalError_("full-text search needs a session")
    ix, _table = bm25_index_for(session, col.table_oid)
    key = ix.options["key_field"]
    src = next((c for c in scope.columns if c.index == col.index), None)
    for c in scope.columns:
        if c.table_oid == col.table_oid and c.name == key and (src is None or c.table == src.table):
            return E.ColRef(c.index, c.type, c.name, c.table_oid, c.attnum), key
    raise errors.UndefinedColumn(f'key column "{key}" is not reachable here')


def bind_match(binder, node, scope) -> FtsMatch:
    """``a @@@ 'q'``: a searches its own field; ``key @@@ 'q'`` searches every text field."""
    col = binder.bind(node.this, scope)
    q = binder.coerce(binder.bind(node.expression, scope), T.TEXT, "i")
    key, key_name = _key_ref(scope, col)
    field = None if col.name == key_name else col.name
    m = FtsMatch(key, q, field, col.table_oid, stats_oid=col.table_oid)
    _matches(binder).append(m)
    return m


def _matches(binder) -> list:
    got = getattr(binder, "_fts_matches", None)
    if got is None:
        got = binder._fts_matches = []
    return got


def _match_for(binder, col: E.ColRef, fn: str) -> FtsMatch:
    for m in reversed(_matches(binder)):
        if m.table_oid == col.table_oid:
            return m
    raise errors.FeatureNotSupported(
        f"{fn}() needs a @@@ condition on the same table in the WHERE clause")


def _bind_score(binder, args, scope):
    col = binder.bind(args[0], scope)
    if not isinstance(col, E.ColRef):
        raise errors.FeatureNotSupported("score() takes the key column of a bm25-indexed table")
    m = _match_for(binder, col, "score")
    return FtsScore(m.key, m)


def _bind_snippet(binder, args, scope):
    col = binder.bind(args[0], scope)
    m = _match_for(binder, col, "snippet")
    n = 150
    if len(args) > 1:
        c = binder.bind(args[1], scope)
        n = int(c.eval(E.EvalContext([], 1)).as_py()) if isinstance(c, E.Const) else 150
    return FtsSnippet(col, m, n)


def _bind_text_match(binder, args, scope):
    from sqlvec.exec.fulltext_query import any_terms

    col = binder.bind(args[0], scope)
    text = binder.bind(args[1], scope)
    if not isinstance(text, E.Const):
        raise errors.FeatureNotSupported("text_match() takes a constant text")
    key, _ = _key_ref(scope, col)
    words = text.eval(E.EvalContext([], 1))
    words = words if isinstance(words, pa.Scalar) else words[0]
    q = E.Const(pa.scalar(any_terms(col.name, words.as_py() or "")), T.TEXT)
    m = FtsMatch(key, q, col.name, col.table_oid)
    return m  # a filter only: not offered to score()


def _bind_helper(name):
    from sqlvec.exec.fulltext_query import HELPERS

    fn, (lo, hi) = HELPERS[name]

    def bind(binder, args, scope):
        if not lo <= len(args) <= hi:
            raise errors.UndefinedFunction(f"function {name} takes {lo}..{hi} arguments")
        bound = [binder.bind(a, scope) for a in args]

        def impl(vals, types, n):
            if all(isinstance(v, pa.Scalar) for v in vals):  # the usual call: constants, $n
                row = [v.as_py() for v in vals]
                return pa.scalar(None if any(x is None for x in row) else fn(*row), pa.string())
            cols = [E.broadcast(v, n).to_pylist() for v in vals]
            out = [None if any(x is None for x in row) else fn(*row) for row in zip(*cols)]
            return pa.array(out, pa.string()) if n != 1 else pa.scalar(out[0], pa.string())
        return E.Call(name, impl, bound, T.TEXT)
    return bind


SPECIAL = {  # function name -> binder(binder, arg nodes, scope)
    "score": _bind_score,
    "bm25_score": _bind_score,
    "snippet": _bind_snippet,
    "text_match": _bind_text_match,
    **{n: _bind_helper(n) for n in ("fts_match", "fts_term", "fts_phrase", "fts_fuzzy", "fts_range",
                                    "fts_all", "fts_any", "fts_not")},
}


def bind_special(binder, node, scope):
    """The full-text function a call names, or None (then it is an ordinary function)."""
    name = node.name.lower()
    b = SPECIAL.get(name)
    if b is None:
        return None
    return b(binder, list(node.expressions), scope)


# -- the top-k path -------------------------------------------------------------------------------
@dataclass
class FtsTopK:
    match: FtsMatch
    rest: E.Expr | None  # the WHERE without the match itself

    def run(self, ctx, source, offset: int, limit: int | None) -> Rel:
        return run(ctx, source.table, source.needed, self, offset, limit)

    def explain(self, source, ctx=None) -> tuple[str, list[str]]:
        from sqlvec.plan.explain import expr_sql

        field = self.match.field or f"{self.match.key.name} (all fields)"
        details = [f"Query: {field} @@@ {expr_sql(self.match.query)}",
                   f"Order By: score({self.match.key.name}) DESC"]
        if self.rest is not None:
            details.append(f"Filter: {expr_sql(self.rest)}")
        return f"BM25 Top-K on {source.table.name} (tantivy)", details


def match_search(plan, source):
    """The search top-k path for a single-table SELECT (BM25, then sparse vectors), or None."""
    from sqlvec.exec import sparse_knn

    if "partition_by" in source.table.options:  # a tantivy top-k per partition, merged
        got = match(plan, source)
        return None if got is None else fulltext_partitions.FtsPartitionTopK(got)
    return match(plan, source) or sparse_knn.match(plan, source)


def _conjuncts(e: E.Expr | None) -> list[E.Expr]:
    if e is None:
        return []
    if isinstance(e, E.BoolOp) and e.op == "and":
        return [x for a in e.args for x in _conjuncts(a)]
    return [e]


def match(plan, source) -> FtsTopK | None:
    if len(plan.sort) != 1 or plan.limit is None or not plan.sort[0].desc:
        return None
    e = plan.outputs[plan.sort[0].index]
    if not isinstance(e, FtsScore):
        return None
    parts = _conjuncts(source.filter)
    if not any(p is e.match for p in parts):
        return None
    rest = [p for p in parts if p is not e.match]
    return FtsTopK(e.match, None if not rest else rest[0] if len(rest) == 1 else E.BoolOp("and", rest))


def run(ctx, table, needed: set[int], spec: FtsTopK, offset: int, limit: int | None) -> Rel:
    """The best ``offset + limit`` visible rows passing the WHERE, best first (ties: key),
    then OFFSET."""
    k = offset + (limit or 0)
    needed = set(needed) | E.referenced_columns([spec.match.key] + ([spec.rest] if spec.rest else []))
    if not k:
        cols = [pa.array([], type=c.type.arrow_type()) if i in needed else None
                for i, c in enumerate(table.columns)]
        remember(ctx, "part", spec.match, (np.zeros(0, np.int64), np.zeros(0)))
        return Rel(cols, 0)
    src = fulltext_global.Source.of(ctx, spec.match)
    rels, _, keys, scores = fulltext_global.topk(ctx, [(src, table, spec.rest)], needed, k)
    # score() of these rows comes from here (no second tantivy lookup)
    remember(ctx, "part", spec.match, (keys, scores))
    rel = rels[0]  # the answer's rows, in order
    return rel if not offset else rel.take(np.arange(offset, rel.n, dtype=np.int64))


def fetch_rows(ctx, table, needed: set[int], rids: np.ndarray) -> tuple[list, np.ndarray]:
    """Columns of the given row ids in their order (invisible rows: present but not ok)."""
    colspec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in needed}
    n = len(rids)
    ok = np.zeros(n, bool)
    segs, offs = rids >> 32, rids & OFFSET_MASK
    single = bool(n) and bool((segs == segs[0]).all())  # the usual case: one segment
    wanted = {int(segs[0])} if single else set(np.unique(segs).tolist())
    parts: list[list] = [[] for _ in table.columns]
    pos: list[np.ndarray] = []
    for view in ctx.txn.scan(table.oid, colspec):
        if view.segment_id not in wanted:
            continue
        sel = np.arange(n) if single else np.flatnonzero(segs == view.segment_id)
        o = offs if single else offs[sel]
        good = o < view.num_rows
        if view.visible is not None and len(o):
            good &= view.visible[np.minimum(o, max(view.num_rows - 1, 0))]
        if not good.all():
            sel, o = sel[good], o[good]
        if not len(sel):
            continue
        ok[sel] = True
        pos.append(sel)
        ia = pa.array(o, type=pa.int64())
        for i, c in enumerate(view_columns(view, table, needed)):
            if c is not None:
                parts[i].append(c.take(ia))
    if len(pos) == 1 and len(pos[0]) == n:  # one segment, every row found: already in order
        return [p[0] if p else None for p in parts], ok
    # rows not found stay NULL; they are never selected (ok is False)
    order = np.concatenate(pos) if pos else np.zeros(0, np.int64)
    inv = np.zeros(n, np.int64)
    inv[order] = np.arange(len(order))
    cols: list = []
    for i, c in enumerate(table.columns):
        if i not in needed:
            cols.append(None)
            continue
        t = c.type.arrow_type()
        arr = pa.concat_arrays(parts[i]) if parts[i] else pa.array([], type=t)
        if len(order) < n:
            arr = pa.concat_arrays([arr, pa.nulls(1, t)])
            inv[~ok] = len(order)
        cols.append(arr.take(pa.array(inv)))
    return cols, ok
