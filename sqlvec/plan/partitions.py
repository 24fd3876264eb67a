"""Partitioned tables: the catalog view of a parent and its partitions, row routing, pruning.

A partitioned table is a parent :class:`Table` with no storage of its own and
``options["partition_by"] = {"strategy": "hash"|"list"|"range", "column": <column id>}``;
each partition is an ordinary table (own segments, indexes, statistics) with
``options["partition_of"] = <parent oid>`` and ``options["partition_bound"]``:

* ``{"kind": "hash", "modulus": m, "remainder": r}``
* ``{"kind": "list", "values": [text | None, ...]}``   (None is NULL)
* ``{"kind": "range", "from": [text | None], "to": [text | None]}``  (None is MINVALUE/MAXVALUE)
* ``{"kind": "default"}``

Bound values are kept as text and cast to the key column's Arrow type when used, so the
catalog stays plain JSON.

Hash partitioning uses our own stable hash (PostgreSQL's hash functions are not reproduced,
so a row may land in a different remainder than PostgreSQL would put it): integers (and
booleans, dates, timestamps as their int64 value) go through splitmix64; every other value
is hashed as CRC-32 of its UTF-8 text (``str()`` of the Python value), computed once per
distinct value. The partition is ``hash % modulus == remainder``. This is stable across
processes and versions (no Python ``hash()`` randomisation), so a reopened database routes
identically.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.catalog.model import DatabaseDef, Table
from sqlvec.plan import expr as E

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def spec(table: Table) -> dict | None:
    """The parent's partitioning spec, or None for an ordinary table or a partition."""
    return table.options.get("partition_by")


def is_partitioned(table: Table) -> bool:
    return spec(table) is not None


def children(db: DatabaseDef, parent: Table) -> list[Table]:
    """The parent's partitions in creation (OID) order: the order scans and EXPLAIN use."""
    return sorted((t for t in db.tables.values() if t.options.get("partition_of") == parent.oid), key=lambda t: t.oid)


def key_position(parent: Table) -> int:
    cid = spec(parent)["column"]
    return next(i for i, c in enumerate(parent.columns) if c.id == cid)


def bound_array(values: list, arrow_type: pa.DataType) -> pa.Array:
    """Bound values (text, None = NULL) as an Arrow array of the key's type."""
    return pa.array(values, type=pa.string()).cast(arrow_type)


# -- hashing -----------------------------------------------------------------------------------
def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _M64


def hash_values(arr: pa.Array) -> np.ndarray:
    """Stable uint64 hash per row (NULL hashes to 0, as PostgreSQL routes NULL to remainder 0)."""
    t = arr.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_temporal(t):
        ints = arr.cast(pa.int64()) if not pa.types.is_boolean(t) else pc.cast(arr, pa.int8()).cast(pa.int64())
        h = _splitmix(ints.fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64))
    elif len(arr) <= 8:  # a query's key values: no dictionary encoding (same hashes)
        h = _splitmix(np.asarray([0 if v is None else zlib.crc32(str(v).encode())
                                  for v in arr.to_pylist()], dtype=np.uint64))
    else:
        enc = pc.dictionary_encode(arr)
        uniq = [0 if v is None else zlib.crc32(str(v).encode()) for v in enc.dictionary.to_pylist()]
        table = _splitmix(np.asarray(uniq, dtype=np.uint64)) if uniq else np.zeros(0, np.uint64)
        idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
        h = table[idx] if len(table) else np.zeros(len(arr), np.uint64)
    if arr.null_count:
        h = np.where(arr.is_null().to_numpy(zero_copy_only=False), np.uint64(0), h)
    return h


# -- routing -----------------------------------------------------------------------------------
def _cmp_ge(key: pa.Array, bound: list, arrow_type: pa.DataType, strict: bool) -> np.ndarray:
    """key >= bound (or > when strict); a None bound (MINVALUE) admits everything non-NULL."""
    if bound[0] is None:
        return np.ones(len(key), bool)
    b = bound_array(bound, arrow_type)[0]
    m = pc.greater(key, b) if strict else pc.greater_equal(key, b)
    return m.fill_null(False).to_numpy(zero_copy_only=False)


def route(parent: Table, parts: list[Table], key: pa.Array) -> np.ndarray:
    """Index into ``parts`` of the partition each row belongs to; -1 where none accepts it."""
    n = len(key)
    bounds = [p.options["partition_bound"] for p in parts]
    if bounds and all(b["kind"] == "hash" for b in bounds):
        # every partition by hash: one (rows x partitions) test instead of a pass per partition
        mod = np.array([b["modulus"] for b in bounds], np.uint64)
        rem = np.array([b["remainder"] for b in bounds], np.uint64)
        hit = (hash_values(key)[:, None] % mod[None, :]) == rem[None, :]
        return np.where(hit.any(axis=1), hit.argmax(axis=1), -1).astype(np.int64)
    out = np.full(n, -1, np.int64)
    arrow_type = key.type
    hashes: np.ndarray | None = None
    default = -1
    isnull = key.is_null().to_numpy(zero_copy_only=False) if key.null_count else np.zeros(n, bool)
    for i, p in enumerate(parts):
        b = p.options["partition_bound"]
        kind = b["kind"]
        if kind == "default":
            default = i
            continue
        if kind == "hash":
            if hashes is None:
                hashes = hash_values(key)
            m = (hashes % np.uint64(b["modulus"])) == np.uint64(b["remainder"])
        elif kind == "list":
            vals = bound_array(b["values"], arrow_type)
            m = pc.is_in(key, value_set=vals.drop_null()).fill_null(False).to_numpy(zero_copy_only=False)
            if vals.null_count:
                m = m | isnull
        else:  # range: from <= key < to; NULL keys only go to the default partition
            m = _cmp_ge(key, b["from"], arrow_type, False) & ~_upper_reached(key, b["to"], arrow_type) & ~isnull
        out[(out < 0) & m] = i
    if default >= 0:
        out[out < 0] = default
    return out


def _upper_reached(key: pa.Array, bound: list, arrow_type: pa.DataType) -> np.ndarray:
    if bound[0] is None:  # MAXVALUE
        return np.zeros(len(key), bool)
    return _cmp_ge(key, bound, arrow_type, False)


# -- pruning -----------------------------------------------------------------------------------
@dataclass
class Pruned:
    parts: list[Table]  # the partitions that can hold matching rows
    total: int
    used: list = field(default_factory=list)  # the key predicates pruning used
    expr_sql: Callable | None = None

    @property
    def reason(self) -> str | None:
        """The key predicates pruning used, as SQL text (EXPLAIN); None when there were none.
        Deparsed only when asked: every query of a partitioned table prunes."""
        if not self.used:
            return None
        return " AND ".join(_cond_sql(c, self.expr_sql) for c in self.used)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


def _const_value(e: E.Expr, ctx, arrow_type: pa.DataType) -> pa.Scalar | None:
    """The value of a constant/parameter expression cast to the key type, or None if it is not one."""
    if e.volatile or any(isinstance(x, E.ColRef) for x in E.walk(e)):
        return None
    try:
        v = e.eval(ctx.eval_ctx([], 1))
        v = v if isinstance(v, pa.Scalar) else v[0]
        return v.cast(arrow_type)
    except Exception:  # a value the key type cannot hold exactly: prune nothing
        return None


def _conjuncts(e: E.Expr | None) -> list[E.Expr]:
    if e is None:
        return []
    if isinstance(e, E.BoolOp) and e.op == "and":
        return [c for a in e.args for c in _conjuncts(a)]
    return [e]


def _key_cond(c: E.Expr, pos: int, ctx, arrow_type) -> tuple[str, list[pa.Scalar]] | None:
    """(op, values) when the conjunct restricts the key: '=' with a value list, or a comparison."""
    if isinstance(c, E.InList) and not c.negate and isinstance(c.arg, E.ColRef) and c.arg.index == pos:
        try:
            return "=", list(c.values.cast(arrow_type))
        except Exception:
            return None
    if isinstance(c, E.Call) and c.name in _FLIP and len(c.args) == 2:
        a, b = c.args
        op = c.name
        if isinstance(b, E.ColRef) and b.index == pos:
            a, b, op = b, a, _FLIP[op]
        if isinstance(a, E.ColRef) and a.index == pos:
            v = _const_value(b, ctx, arrow_type)
            if v is not None:
                return op, [v]
    return None


def _range_overlaps(b: dict, op: str, v: pa.Scalar, arrow_type) -> bool:
    """Whether a range partition can hold a key satisfying ``key op v``."""
    if not v.is_valid:
        return False
    lo = None if b["from"][0] is None else bound_array(b["from"], arrow_type)[0]
    hi = None if b["to"][0] is None else bound_array(b["to"], arrow_type)[0]
    if op in ("<", "<="):  # needs some key >= lo with key op v
        return lo is None or bool((pc.less if op == "<" else pc.less_equal)(lo, v).as_py())
    # key >= v or key > v, and key < hi: possible only when v < hi
    return hi is None or bool(pc.less(v, hi).as_py())


def prune(parent: Table, parts: list[Table], where: E.Expr | None, ctx, expr_sql) -> Pruned:
    """The partitions a scan with ``where`` (over the parent's columns) must read.

    Equality and IN on the key route their values like rows; comparisons narrow RANGE
    partitions (a default partition always stays for those). Each conjunct narrows further."""
    pos = key_position(parent)
    arrow_type = parent.columns[pos].type.arrow_type()
    keep = np.ones(len(parts), bool)
    used: list[E.Expr] = []
    strategy = spec(parent)["strategy"]
    for c in _conjuncts(where):
        cond = _key_cond(c, pos, ctx, arrow_type)
        if cond is None:
            continue
        op, vals = cond
        m = np.zeros(len(parts), bool)
        if op == "=":
            live = [v for v in vals if v.is_valid]
            if live:
                idx = route(parent, parts, pa.array([v.as_py() for v in live], type=arrow_type))
                m[idx[idx >= 0]] = True
        elif strategy == "range":
            for i, p in enumerate(parts):
                b = p.options["partition_bound"]
                m[i] = b["kind"] == "default" or _range_overlaps(b, op, vals[0], arrow_type)
        else:
            continue
        keep &= m
        used.append(c)
    kept = [p for p, k in zip(parts, keep) if k]
    return Pruned(kept, len(parts), used, expr_sql)


def _cond_sql(c: E.Expr, expr_sql) -> str:
    """A key predicate as EXPLAIN prints it, without the outer parentheses."""
    if isinstance(c, E.InList):
        vals = ", ".join("NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in c.values.to_pylist())
        return f"{expr_sql(c.arg)} IN ({vals})"
    sql = expr_sql(c)
    return sql[1:-1] if sql.startswith("(") and sql.endswith(")") else sql
