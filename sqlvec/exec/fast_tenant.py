"""The prepared top-k inside one tenant of an isolated partition-key table.

``SELECT ... FROM docs WHERE tenant = $1 ORDER BY emb <-> $2 LIMIT k`` on a table with
``partition_key_isolation`` (sqlvec.exec.isolation) is the multi-tenant search: every query
names one key value, and each key value of each sealed segment has its own sub-index. The
general path evaluates the key predicate three times per query (the isolation check, the
partition pruning, the sub-index lookup) and runs the select pipeline around the search;
here the key value is read from the parameters once, routed to its partition through a
per-value cache, and resolved to its rows by the sub-index — the search itself is the same
as over a table that holds only that tenant (tenant_bench's configuration d), and the rows
and their order are the general path's (tests/partitions/test_fast_tenant.py).

Segments without a tenant sub-index (the growing segment) are searched exactly over the
rows whose key equals the value, as the general path searches them; a sealed segment whose
index is not built yet sends the execution to the general path.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.exec import isolation
from sqlvec.exec.fast_topk import DECLINE, FastTopK, make
from sqlvec.plan import expr as E
from sqlvec.plan import partitions as P

# Python types of a key parameter whose equality is SQL's for the key column's type (the
# types isolation.tenant_scope resolves through a sub-index)
_KEY_TYPES = {"text": (str,), "character varying": (str,), "integer": (int,),
              "bigint": (int,), "smallint": (int,)}
_INTS = ("smallint", "integer", "bigint")
_ROUTES_MAX = 65_536  # remembered key value -> partition routes


class TenantTopK(FastTopK):
    """FastTopK over the partition of one key value, searched through its sub-indexes."""

    def scope(self, values) -> object:
        v = values[self.key_param] if len(values) > self.key_param else None
        if type(v) not in self.key_types:
            return DECLINE  # NULL, or a value the general path converts (and checks) first
        child = self.routes.get(v)
        if child is None:
            if type(v) is str and "\x00" in v:
                return DECLINE  # text cannot hold NUL: the general path's error
            try:
                key = pa.array([v], type=self.key_arrow)
            except (pa.ArrowInvalid, OverflowError):
                return DECLINE  # out of the key type's range: the general path's error
            at = int(P.route(self.table, self.children, key)[0])
            if at < 0:
                return DECLINE  # no partition takes it: the general path says so
            if len(self.routes) >= _ROUTES_MAX:
                self.routes.clear()
            child = self.routes[v] = at
        return v, child

    def _candidates(self, txn, q: np.ndarray, k: int, ef: int, probes: int,
                    scope: object) -> list | None:
        value, at = scope
        child, index_oid = self.children[at], self.child_indexes[at]
        parts = self._parts(txn, child.oid)
        if parts is None:
            return None
        key_id = self.key_id
        found = []
        for part in parts:
            self.check()
            view = part.view
            vix = part.index(index_oid)
            if vix is not None and getattr(vix, "isolated", False) and \
                    (vix.has_keys or vix.learn_keys(view.columns[key_id])):
                rows = vix.rows_of(value)
                rows = rows[:np.searchsorted(rows, view.num_rows)]  # a snapshot's prefix
                if view.visible is not None:
                    rows = rows[view.visible[rows]]
                if not len(rows):
                    continue
                idx, dist, _exact = vix.search_rows(rows, q, k, ef=ef, probes=probes)
            elif vix is None and not getattr(view._segment, "sealed", False):
                # the growing segment: exactly over the value's rows, as the general path does
                m = pc.equal(view.columns[key_id], pa.scalar(value, self.key_arrow)).fill_null(False)
                if isinstance(m, pa.ChunkedArray):
                    m = m.combine_chunks()
                mask = m.to_numpy(zero_copy_only=False)
                if view.visible is not None:
                    mask &= view.visible
                if not mask.any():
                    continue
                idx, dist = part.exact(q, k, self.column_id, self.metric, mask)
            else:
                return None  # a sealed segment without its sub-index (yet): the general path
            if len(idx):
                found.append((part, idx, dist))
        return found


def build(session, prepared, key: tuple, st) -> TenantTopK | None:
    """The tenant short path of a planned top-k whose only condition is ``key = $n`` on an
    isolated partition-key table, or None."""
    from sqlvec.exec.indexes import vector_index_for

    plan = prepared.plan
    table = plan.source.table
    if plan.where is not None or not isolation.enabled(table) or P.spec(table) is None:
        return None
    pos = P.key_position(table)
    key_col = table.columns[pos]
    cond = plan.source.filter
    if not (isinstance(cond, E.Call) and cond.name == "=" and len(cond.args) == 2):
        return None
    a, b = cond.args
    if type(b) is E.ColRef:
        a, b = b, a
    if type(b) is E.Cast and type(b.arg) is E.ParamRef and b.type.name in _INTS and \
            prepared.params[b.arg.index].name in _INTS:
        b = b.arg  # an integer parameter cast to the key's integer type (range: see scope)
    if type(a) is not E.ColRef or a.index != pos or type(b) is not E.ParamRef:
        return None
    types = _KEY_TYPES.get(key_col.type.name)
    ptype = prepared.params[b.index].name
    if types is None or not (ptype == key_col.type.name or (ptype in _INTS and types == (int,))):
        return None  # a parameter of another type is cast first: the general path
    fast = make(TenantTopK, session, prepared, key, st)
    if fast is None:
        return None
    db = session.catalog().database(session.database)
    children = P.children(db, table)
    for child in children:  # partitions share the parent's column ids
        if [c.id for c in child.columns] != [c.id for c in table.columns]:
            return None
    fast.children = children
    fast.child_indexes = []
    for child in children:
        ix = vector_index_for(db, child.oid, fast.column_id, fast.metric)
        fast.child_indexes.append(ix.oid if ix is not None else None)
    fast.key_param, fast.key_id, fast.key_types = b.index, key_col.id, types
    fast.key_arrow = key_col.type.arrow_type()
    fast.colspec = {**fast.colspec, key_col.id: fast.key_arrow}
    fast.routes = {}
    return fast
