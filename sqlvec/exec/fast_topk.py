"""The short path of the prepared top-k statement.

``SELECT <columns> FROM t ORDER BY <vector column> <op> $1 LIMIT k [OFFSET m]`` is what a
vector search client sends again and again with a new query vector. Its plan is fixed, so
once it has run through the general pipeline the session keeps a :class:`FastTopK` for its
text: the next executions convert the query vector once (numpy float32, the same checks as
any vector parameter), take the snapshot the consistency level asks for, search each segment
(the index's graph walk, or the exact kernel over a growing segment) and gather the output
columns of the k rows. No expression is evaluated, no Arrow scalar is built for the query,
and the generic select stages are skipped; the answer is the same rows in the same order as
the general path's (tests/vector/test_fast_topk.py compares them).

Anything outside that shape (a WHERE clause, joins, partitioned tables, NULL vectors, an
expression in the select list, a statement timeout) keeps the general path, which is also
what runs when the catalog or a plan input changed since (the cached plan is checked first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sqlvec import consistency
from sqlvec.dbapi import describe
from sqlvec.exec import kernels, knn
from sqlvec.exec.nodes import TableScan
from sqlvec.plan import expr as E
from sqlvec.result import Result
from sqlvec.storage.txn import Snapshot
from sqlvec.types import adapt as A
from sqlvec.types.arrow import from_arrow


@dataclass(eq=False, repr=False)
class FastTopK:
    key: tuple  # the plan-cache key of the plan this was made from
    prepared: object  # that plan (sqlvec.session._Prepared): still cached = still valid
    st: object  # the parsed statement (consistency levels read its tables)
    table: object  # catalog Table
    column_id: str  # the vector column
    dim: int
    metric: str
    query: int  # parameter position of the query vector
    adapt: object  # the vector parameter's adapter (validation and float32 conversion)
    limit: int | tuple  # an int, or ("param", position)
    offset: int | tuple
    outputs: list[str]  # column id of each output column
    colspec: dict  # columns read from the segments
    index_oid: int | None
    settings: tuple = (None, None)  # (settings version, (ef_search, probes, timeout_ms))
    _states: dict = None  # table oid -> (snapshot key, its segments): see _parts
    valid_at: tuple = ()  # (catalog version, settings version) the plan was last checked at
    hits: int = 0  # executions this path answered (EXPLAIN-less evidence for tests)
    levels_at: tuple = (None, None)  # ((settings version, catalog version), levels)

    def run(self, session, values) -> Result | None:
        """The answer, or None when the general path must run this execution."""
        qv = values[self.query] if len(values) > self.query else None
        if type(qv) is np.ndarray and qv.dtype == self.dtype and qv.ndim == 1 \
                and qv.shape[0] == self.dim and self.dim_ok:
            # a query vector of the column's element type: no copy; NaN or infinity (or an
            # overflowing square) makes the dot product non-finite: the general path's error
            if not math.isfinite(float(np.dot(qv, qv))):
                return None
            q = qv
        else:
            if qv is None or isinstance(qv, str):
                return None  # NULL or text input: the general path (and its errors)
            try:
                q = self.adapt(qv, self.vector_type)
            except Exception:
                return None  # the general path raises the right error
            if q.shape[0] != self.dim:
                return None
        k, off = _count(self.limit, values), _count(self.offset, values)
        if k is None or off is None:
            return None
        ef, probes, timeout = self._settings(session)
        if timeout:
            return None  # statement_timeout needs the general path's timer
        scope = self.scope(values)
        if scope is DECLINE:
            return None
        self.check = session.check_interrupt  # CancelRequest, between segments
        res = session.run_fast_read(self.st, self._levels(session), self._search, q, off, off + k,
                                    ef, probes, scope)
        if res is not None:
            self.hits += 1
        return res

    def _levels(self, session) -> tuple:
        """The consistency levels in force (sqlvec.consistency.levels), read again only after
        a SET or a catalog change."""
        at = (session.settings.version, session.db.catalog.version)
        if self.levels_at[0] != at:
            self.levels_at = (at, consistency.levels(session, self.st))
        return self.levels_at[1]

    def _settings(self, session) -> tuple:
        s = session.settings
        ver = s.version
        if self.settings[0] != ver:
            self.settings = (ver, (int(s.get("hnsw.ef_search")), int(s.get("ivfflat.probes")),
                                   s.timeout_ms()))
        return self.settings[1]

    def scope(self, values) -> object:
        """What else a subclass reads from the parameters (:class:`sqlvec.exec.fast_tenant.
        TenantTopK`: the tenant); DECLINE sends the execution to the general path."""
        return None

    def _search(self, txn, q: np.ndarray, off: int, k: int, ef: int, probes: int,
                scope: object = None) -> Result | None:
        found = self._candidates(txn, q, k, ef, probes, scope) if k > 0 else []
        if found is None:
            return None
        if len(found) == 1:  # the common case: one sealed segment answers, in order
            part, idx, _ = found[0]
            return self._result([part.values(c, self.types[c], idx[off:k]) for c in self.outputs])
        if not found:
            return self._result([(pa.array([], type=self.types[c]), []) for c in self.outputs])
        seg = np.concatenate([np.full(len(f[1]), s, np.int64) for s, f in enumerate(found)])
        idx = np.concatenate([f[1] for f in found])
        # ties broken by segment order, then row order, as the general path breaks them
        order = np.lexsort((idx, seg, np.concatenate([f[2] for f in found])))[off:k]
        views = [f[0].view for f in found]
        cols = []
        for c in self.outputs:
            arr = knn.gather(views, seg[order], idx[order], c, self.types[c])
            cols.append((arr, from_arrow(arr, self.sql_types[c])))
        return self._result(cols)

    def _candidates(self, txn, q: np.ndarray, k: int, ef: int, probes: int,
                    scope: object) -> list | None:
        """(segment, offsets, distances) of each segment's k nearest rows, in scan order;
        None when the general path must answer."""
        parts = self._parts(txn, self.table.oid)
        if parts is None:
            return None  # NULL vectors: the general path places them last
        found = []
        for part in parts:
            self.check()
            vix = part.index(self.index_oid)
            if vix is not None:
                idx, dist, _exact = vix.search(q, k, allowed=part.view.visible, ef=ef, probes=probes)
            else:
                idx, dist = part.exact(q, k, self.column_id, self.metric, part.view.visible)
            if len(idx):
                found.append((part, idx, dist))
        return found

    def _parts(self, reader, table_oid: int) -> list[_Part] | None:
        """The segments of a table as ``reader`` (a Snapshot, or a Txn) sees them (cached
        while the snapshot's commit and segment list stay the same: a read-mostly workload
        looks them up once)."""
        bare = type(reader) is Snapshot
        snap = reader if bare else reader._snapshot
        key = (id(snap._tables), snap.ts, snap.epoch)
        own = not bare and bool(reader.own_tables())
        hit = self._states.get(table_oid)
        if not own and hit is not None and hit[0] == key:
            return hit[1]
        parts = []
        for view in reader.scan(table_oid, self.colspec):
            if view.columns[self.column_id].null_count:
                parts = None
                break
            parts.append(_Part(view))
        if not own:  # (the tables dict is held: its id stays unique while cached)
            self._states[table_oid] = (key, parts, snap._tables)
        return parts

    def _result(self, cols: list[tuple]) -> Result:
        cols = [c if c[1] is not None else (c[0], from_arrow(c[0], self.sql_types[cid]))
                for c, cid in zip(cols, self.outputs)]
        n = len(cols[0][1]) if cols else 0
        rows = list(zip(*[c[1] for c in cols])) if cols else [()] * n
        return _TopKResult(f"SELECT {n}", self.columns, rows, cols, self, n)


class _Part:
    """One segment of a snapshot, with what the short path reads of it."""

    __slots__ = ("view", "_numpy")

    def __init__(self, view) -> None:
        self.view = view
        self._numpy: dict[str, np.ndarray | None] = {}

    def index(self, index_oid: int | None):
        # looked up each time: an index build may finish while the snapshot stays the same
        return self.view.vector_index(index_oid) if index_oid is not None else None

    def exact(self, q: np.ndarray, k: int, column_id: str, metric: str,
              mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        view = self.view
        mat = view.numpy_fixed(column_id)
        norms = None
        if metric in ("l2", "cosine"):
            norms = view.derived("sqnorms:" + column_id, lambda: kernels.row_sqnorms(mat))
        return kernels.topk(mat, q, k, metric, mask=mask, sqnorms=norms)

    def values(self, column_id: str, arrow_type, idx: np.ndarray) -> tuple:
        """(column of the rows ``idx``: a numpy array or an Arrow array, their Python values)."""
        col = self.view.columns[column_id]
        if column_id not in self._numpy:
            self._numpy[column_id] = (
                col.to_numpy(zero_copy_only=True)
                if isinstance(col, pa.Array) and col.null_count == 0 and arrow_type in _NUMPY_TYPES
                else None)
        np_col = self._numpy[column_id]
        if np_col is not None:
            vals = np_col[idx]
            return vals, vals.tolist()
        arr = knn.take_rows(col, idx)
        return arr, None


# Arrow types whose values numpy holds as they are (tolist gives the Python values to_pylist
# would): integers and floats without NULLs
_NUMPY_TYPES = frozenset((pa.int16(), pa.int32(), pa.int64(), pa.float32(), pa.float64()))


class _TopKResult(Result):
    """A top-k answer that carries its Python rows (what the DB-API hands out) and builds its
    Arrow table only when asked (the wire encodes from it)."""

    def __init__(self, tag: str, columns, rows: list, cols: list, fast: FastTopK, n: int) -> None:
        self.tag, self.columns, self.rowcount, self.notices = tag, columns, n, []
        self.rows = rows
        self.description = fast.description
        self._cols, self._fast, self._table = cols, fast, None

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            f = self._fast
            arrays = [a if isinstance(a, pa.Array) else pa.array(a, type=f.types[c])
                      for (a, _), c in zip(self._cols, f.outputs)]
            self._table = pa.Table.from_arrays(arrays, names=f.names)
        return self._table

    @table.setter
    def table(self, value: pa.Table) -> None:
        self._table = value


def _count(v, values) -> int | None:
    if isinstance(v, int):
        return v
    x = values[v[1]] if len(values) > v[1] else None
    if type(x) is not int or x < 0:
        return None  # NULL (no limit), negative or not an integer: the general path decides
    return x


_INTS = ("bigint", "integer", "smallint")
DECLINE = object()  # FastTopK.scope: this execution takes the general path


def _int_expr(e: E.Expr | None, default: int | None, params: list):
    """A LIMIT/OFFSET as an int, a parameter reference, or None when neither."""
    if e is None:
        return default
    if isinstance(e, E.Const):
        v = e.value.as_py() if hasattr(e.value, "as_py") else e.value
        return v if type(v) is int and v >= 0 else None
    if type(e) is E.Cast and type(e.arg) is E.ParamRef and e.type.name == "bigint":
        e = e.arg  # an integer parameter widened to LIMIT's bigint: the same Python int
    if type(e) is E.ParamRef and params[e.index].name in _INTS:
        return ("param", e.index)
    return None


def build(session, prepared, key: tuple, st) -> FastTopK | None:
    """The short path of a planned SELECT, or None when its shape is not the plain top-k."""
    from sqlvec.plan.select import SelectPlan

    plan = prepared.plan
    if type(plan) is not SelectPlan or plan.knn is None or plan.knn.scan is not None:
        return None
    src = plan.source
    if (type(src) is not TableScan or plan.group_keys is not None or plan.windows or plan.srfs
            or plan.distinct or plan.distinct_on is not None or plan.fts is not None
            or plan.having is not None):
        return None
    if "partition_by" in src.table.options or src.filter is not None or plan.where is not None:
        from sqlvec.exec import fast_tenant

        return fast_tenant.build(session, prepared, key, st)
    return make(FastTopK, session, prepared, key, st)


def make(cls: type, session, prepared, key: tuple, st) -> FastTopK | None:
    """A ``cls`` for the plan's top-k over its one table (the caller checked the shape and
    the filter), or None when the query vector, select list or LIMIT/OFFSET do not fit."""
    from sqlvec.exec.indexes import vector_index_for

    plan = prepared.plan
    table = plan.source.table
    spec = plan.knn
    if not isinstance(spec.query, E.ParamRef):
        return None
    vtype = prepared.params[spec.query.index]
    adapt = A._ADAPT.get(vtype.oid)
    if adapt is None or vtype.name not in ("vector", "halfvec"):
        return None
    outputs = []
    for e in plan.outputs[: len(plan.columns)]:
        if type(e) is not E.ColRef or e.index >= len(table.columns):
            return None
        outputs.append(table.columns[e.index].id)
    limit = _int_expr(plan.limit, None, prepared.params)
    offset = _int_expr(plan.offset, 0, prepared.params)
    if limit is None or offset is None:
        return None
    col = table.columns[spec.column]
    db = session.catalog().database(session.database)
    ix = vector_index_for(db, table.oid, col.id, spec.metric)
    types = {c.id: c.type.arrow_type() for c in table.columns}
    colspec = {cid: types[cid] for cid in {*outputs, col.id}}
    fast = cls(key, prepared, st, table, col.id, col.type.typmod, spec.metric, spec.query.index,
               adapt, limit, offset, outputs, colspec, ix.oid if ix is not None else None)
    fast.vector_type = vtype
    fast.dtype = np.float16 if vtype.name == "halfvec" else np.float32
    fast.dim_ok = vtype.typmod in (-1, col.type.typmod)
    fast.types = types
    fast._states = {}
    fast.sql_types = {c.id: c.type for c in table.columns}
    fast.description = describe(plan.columns)
    fast.columns = plan.columns
    fast.names = [f"c{i}" for i in range(len(plan.columns))]
    return fast
