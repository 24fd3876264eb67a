"""Tenant isolation mode of partition-key tables (Milvus's ``partitionkey.isolation``).

``CREATE TABLE docs (...) WITH (partition_key = 'tenant', partition_key_isolation = true)``
(or ``ALTER TABLE docs SET (partition_key_isolation = true)``) promises that every query on
the table names exactly one key value: ``WHERE tenant = 'a'`` or ``tenant = $1`` (an
``IN`` list of one value counts too). In return each key value of every sealed segment gets
its own vector index (:mod:`sqlvec.index.isolated`), so a search inside one tenant is an
unfiltered search of that tenant's rows.

Catalog: the parent keeps the user's option (``partition_key_isolation`` = 'true' | 'false');
each partition carries ``isolate_by`` = the key column id while isolation is on. The
per-segment indexes of a partition are built as tenant sub-indexes when its index spec
carries that column (:data:`sqlvec.index.isolated.ISOLATE`); switching the mode rebuilds
them after the ALTER commits.

Top-k searches resolve the key value through the sub-index itself (:func:`tenant_scope`,
:func:`knn_segment`): the index knows which rows hold each key value, so ``tenant = $1`` is
never evaluated over the key column, and no filtered copy of a tenant's vectors is cached.

A query that does not name one key value fails with 0A000 and changes nothing; the session
stays usable. Partitions themselves (``docs_p3``) are ordinary tables: cross-tenant
maintenance (``DELETE FROM docs_p3 WHERE ...``) goes through them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import DatabaseDef, Index, Table
from sqlvec.index import structure_for
from sqlvec.index.base import IndexSpec
from sqlvec.index.isolated import ISOLATE, LABEL
from sqlvec.index.options import validate_options
from sqlvec.plan import expr as E
from sqlvec.plan import partitions as P

if TYPE_CHECKING:
    from sqlvec.exec.relation import ExecContext

OPTION = "partition_key_isolation"  # on the parent, as the user wrote it
CHILD_OPTION = "isolate_by"  # on each partition: the key column id
_TRUE = {"true", "on", "yes", "1", "t", "y"}
_FALSE = {"false", "off", "no", "0", "f", "n"}


def parse_bool(value: object) -> bool:
    """A boolean reloption as PostgreSQL reads it (``WITH (opt)`` alone means true)."""
    if value is None or value == "":
        return True
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise errors.InvalidParameterValue(f'invalid value for boolean option "{OPTION}": {value}')


def enabled(table: Table) -> bool:
    return table.options.get(OPTION) == "true"


def declare(table: Table, children: list[Table]) -> None:
    """Validate ``partition_key_isolation`` at CREATE TABLE and mark the partitions."""
    if OPTION not in table.options:
        return
    on = parse_bool(table.options[OPTION])
    if on and table.options.get("partition_key") is None:
        raise errors.InvalidParameterValue(
            f'"{OPTION}" requires "partition_key"',
            hint="CREATE TABLE ... WITH (partition_key = 'tenant', partition_key_isolation = true)")
    table.options[OPTION] = "true" if on else "false"
    _mark(table, children, on)


def _mark(parent: Table, children: list[Table], on: bool) -> None:
    key = P.spec(parent)["column"] if on else None
    for child in children:
        if key is None:
            child.options.pop(CHILD_OPTION, None)
        else:
            child.options[CHILD_OPTION] = key


# -- every query names one key value ----------------------------------------------------------------
def require_key(parent: Table, where: E.Expr | None, ctx) -> None:
    """Raise 0A000 unless ``where`` restricts the key of an isolated table to one value."""
    if not enabled(parent):
        return
    pos = P.key_position(parent)
    arrow_type = parent.columns[pos].type.arrow_type()
    values: set = set()
    named = False
    for c in P._conjuncts(where):
        cond = P._key_cond(c, pos, ctx, arrow_type)
        if cond is None or cond[0] != "=":
            continue
        named = True
        values.update(v.as_py() for v in cond[1])
    if named and len(values) == 1:
        return
    key = parent.columns[pos].name
    raise errors.FeatureNotSupported(
        f'a query on table "{parent.name}" must name exactly one value of its partition key "{key}"',
        detail=f'"{parent.name}" has {OPTION} on: each key value is searched through its own index.',
        hint=f"Add WHERE {key} = <value> (a constant or a parameter), or query one partition of "
             f'"{parent.name}" directly.')


# -- ALTER TABLE t SET (partition_key_isolation = ...) ----------------------------------------------
def alter_set(session, db: DatabaseDef, table: Table, pairs: list[exp.EQ]) -> list[exp.EQ]:
    """``ALTER TABLE t SET (partition_key_isolation = on|off, ...)``: applies that option (the
    partitions' vector indexes are rebuilt — tenant sub-indexes, or one index per segment —
    once the ALTER commits) and returns the other pairs, for the generic option setter."""
    mine = [p for p in pairs if p.this.name.lower() == OPTION]
    rest = [p for p in pairs if p.this.name.lower() != OPTION]
    if not mine:
        return rest
    v = mine[-1].expression
    on = parse_bool(str(v.this).lower() if isinstance(v, exp.Boolean) else v.name)
    if table.options.get("partition_key") is None:
        raise errors.InvalidParameterValue(f'"{OPTION}" requires "partition_key"')
    if enabled(table) == on:
        return rest
    table.options[OPTION] = "true" if on else "false"
    children = P.children(db, table)
    _mark(table, children, on)
    engine = session.db.engine
    from sqlvec.exec.indexes import VECTOR_METHODS, build_vector_index

    for child in children:
        for ix in list(db.indexes.values()):
            if ix.table == child.oid and ix.method in VECTOR_METHODS:
                session.after_commit(lambda c=child, i=ix: build_vector_index(engine, c, i))
    return rest


# -- the partitions' index specs ------------------------------------------------------------------
def involved(engine, table: Table, ix: Index) -> bool:
    """Whether building ``ix`` on ``table`` needs :func:`build_index`: the partition is
    isolated, or its index was built isolated before (the mode was switched off)."""
    if table.options.get(CHILD_OPTION):
        return True
    return any(s.index_oid == ix.oid and ISOLATE in s.options
               for s in engine.vector_index_specs(table.oid))


def build_index(engine, table: Table, ix: Index, column_id: str, *, wait: bool = True):
    """The engine's per-segment builds of ``ix`` on a partition, as tenant sub-indexes when
    it is isolated. A spec that changed (the mode was switched, or an ALTER committed but its
    rebuild did not run before a crash) drops the segments' old indexes first."""
    spec = IndexSpec(ix.oid, column_id, structure_for(ix.method, ix.metric), ix.metric,
                     validate_options(ix.method, dict(ix.options)))
    key = table.options.get(CHILD_OPTION)
    if key:
        spec = replace(spec, options={**spec.options, ISOLATE: key})
    old = next((s for s in engine.vector_index_specs(table.oid) if s.index_oid == ix.oid), None)
    if old is not None and old != spec:
        engine.drop_vector_index(table.oid, ix.oid)
    handle = engine._indexes.create(table.oid, spec, None)
    if wait:
        handle.wait()
    return handle


# -- top-k inside one tenant, through its sub-index -------------------------------------------------
# key types whose SQL equality is Python equality of their values (not bpchar: it ignores
# trailing blanks; not floats: -0.0 and NaN)
_LOOKUP_TYPES = frozenset({"text", "character varying", "integer", "bigint", "smallint", "uuid",
                           "date", "boolean"})
KEY_LOOKUP = "key lookup"  # EXPLAIN ANALYZE: "path=hnsw (tenant sub-index) by key lookup"


@dataclass(frozen=True)
class TenantScope:
    """A top-k's WHERE on an isolated partition, split into the key value and the rest."""

    value: object  # the key value (Python); None (key = NULL) matches no row
    residual: E.Expr | None  # the other conjuncts, evaluated on the key value's rows only


def tenant_scope(ctx: ExecContext, table: Table, where: E.Expr | None) -> TenantScope | None:
    """The scope of a search on an isolated partition whose WHERE has a conjunct
    ``key = <constant or parameter>`` (or ``key IN (<one value>)``), else None."""
    key = table.options.get(CHILD_OPTION)
    if not key or where is None:
        return None
    pos = next((i for i, c in enumerate(table.columns) if c.id == key), None)
    if pos is None or table.columns[pos].type.name not in _LOOKUP_TYPES:
        return None
    arrow_type = table.columns[pos].type.arrow_type()
    conjuncts = P._conjuncts(where)
    for i, c in enumerate(conjuncts):
        cond = P._key_cond(c, pos, ctx, arrow_type)
        if cond is None or cond[0] != "=" or len({v.as_py() for v in cond[1]}) != 1:
            continue
        rest = conjuncts[:i] + conjuncts[i + 1:]
        residual = rest[0] if len(rest) == 1 else (E.BoolOp("and", rest) if rest else None)
        return TenantScope(cond[1][0].as_py(), residual)
    return None


def knn_segment(ctx: ExecContext, table: Table, needed: set[int], view, vix, scope: TenantScope,
                column_id: str, q: np.ndarray, k: int, ef: int | None,
                ) -> tuple[np.ndarray, np.ndarray, str, int, int] | None:
    """One sealed segment's top-k inside the scope's key value, from its tenant sub-index:
    (offsets, distances, path for EXPLAIN ANALYZE, rows passing, passing rows with a NULL
    vector), or None when the segment has no such index (the caller filters as usual)."""
    if not getattr(vix, "isolated", False):
        return None
    if not vix.has_keys:  # a folder from before keys were saved: learn them once
        keys = view.columns.get(table.options.get(CHILD_OPTION))
        if keys is None or not vix.learn_keys(keys):
            return None
    rows = vix.rows_of(scope.value)
    n = view.num_rows
    rows = rows[:np.searchsorted(rows, n)]  # a snapshot may see a prefix of the segment
    keep = np.ones(len(rows), bool) if view.visible is None else view.visible[rows]
    if scope.residual is not None and len(rows):
        keep &= _residual_mask(ctx, table, needed, view, scope.residual, rows, keep)
    nulls = 0
    vec = view.columns[column_id]
    if vec.null_count and len(rows):
        valid = np.asarray(vec.is_valid().to_numpy(zero_copy_only=False), bool)[rows]
        nulls = int(np.count_nonzero(keep & ~valid))
        keep &= valid
    rows = rows[keep]
    if len(rows) == 0:
        return np.empty(0, np.int64), np.empty(0, np.float64), "skipped: no row passes", 0, nulls
    idx, dist, exact = vix.search_rows(rows, q, k, ef=ef)
    path = f"{'exact' if exact else vix.kind} ({LABEL}) by {KEY_LOOKUP}"
    return idx, dist, path, len(rows), nulls


def _residual_mask(ctx, table: Table, needed: set[int], view, residual: E.Expr,
                   rows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The other conjuncts over the key value's visible rows only (as the general path
    evaluates a filter over visible rows only: a deleted row must not raise)."""
    from sqlvec.exec.relation import take_columns, view_columns

    use = E.referenced_columns([residual]) & set(needed)
    cols = view_columns(view, table, use)
    at = rows[keep]
    sub = take_columns(cols, pa.array(at, type=pa.int64()))
    m = E.as_mask(residual.eval(ctx.eval_ctx(sub, len(at))), len(at))
    out = np.zeros(len(rows), bool)
    out[np.flatnonzero(keep)[m]] = True
    return out
