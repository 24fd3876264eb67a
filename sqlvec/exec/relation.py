"""Relations in flight between operators, and the operators that need no planning knowledge:
scanning a table through a snapshot, grouping, sorting, distinct."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.plan import expr as E


@dataclass
class ExecContext:
    """What operators need from the session: the transaction (or snapshot) to read through,
    the parameter values, and per-statement pinned values (now())."""

    txn: Any
    params: list[pa.Scalar] = field(default_factory=list)
    stmt: dict[str, Any] = field(default_factory=dict)
    interrupt: Any = None  # callable raising QueryCanceled when the statement was cancelled
    outer: tuple = ()  # frames of enclosing queries' values (correlated subqueries)

    def check(self) -> None:
        """Operators call this between segments/batches: where a cancel takes effect."""
        if self.interrupt is not None:
            self.interrupt()

    def eval_ctx(self, columns: list[Any], n: int) -> E.EvalContext:
        return E.EvalContext(columns, n, self.params, self.stmt, self.outer, self)

    def with_frame(self, frame: dict) -> ExecContext:
        """The context a correlated subquery runs in: one more frame of outer values."""
        return ExecContext(self.txn, self.params, self.stmt, self.interrupt, self.outer + (frame,))


@dataclass
class Rel:
    """Columns of equal length (None for columns nobody reads) and optional row ids."""

    columns: list[pa.Array | None]
    n: int
    rowids: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> Rel:
        ia = pa.array(idx, type=pa.int64())
        cols = gather(self.columns, ia)
        return Rel(cols, len(idx), None if self.rowids is None else self.rowids[idx])


class LazyColumns(Sequence):
    """Columns selected by row positions, gathered when first read.

    A join (or a filter after one) produces rows of every input column, while the rest of
    the query often reads a few of them: a catalog query joins 30-column relations to print
    three, a fact table joined to a dimension is summed over one column. Each slot holds a
    column, None (never read), or a pending ``(column, positions)``; reading a slot gathers
    it once. Gathering again composes the positions instead of the columns. A slot behaves
    like a list item for every reader (index, slice, iteration, ``+``)."""

    __slots__ = ("_slots",)

    def __init__(self, slots: list) -> None:
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self._slots)))]
        s = self._slots[i]
        if type(s) is tuple:
            s = self._slots[i] = _gathered(s[0], s[1])
        return s

    def __setitem__(self, i: int, value) -> None:
        self._slots[i] = value

    def __iter__(self):
        for i in range(len(self._slots)):
            yield self[i]

    def append(self, value) -> None:
        self._slots.append(value)

    def __add__(self, other):
        if isinstance(other, LazyColumns):
            return LazyColumns(self._slots + other._slots)
        return list(self) + list(other)

    def __radd__(self, other):
        return list(other) + list(self)

    def __repr__(self) -> str:
        return f"LazyColumns({len(self._slots)} columns)"


# id(gathered column) -> (source column, positions) for columns gathered from a much smaller
# one (a dimension's column after a join): grouping by such a column encodes the small source
# and gathers the codes, instead of hashing every gathered value (see _codes)
_ORIGIN: dict[int, tuple[pa.Array, pa.Array]] = {}
_ORIGIN_MIN_ROWS = 1 << 14


def _gathered(source, positions: pa.Array):
    out = source.take(positions)
    if (len(positions) >= _ORIGIN_MIN_ROWS and 4 * len(source) <= len(positions)
            and isinstance(source, pa.Array) and not positions.null_count):
        key = id(out)
        _ORIGIN[key] = (source, positions)
        weakref.finalize(out, _ORIGIN.pop, key, None)  # the id may be reused once it is gone
    return out


def gather(columns, indices: pa.Array) -> LazyColumns:
    """``columns`` at row positions ``indices`` (NULL positions give NULLs), gathered lazily:
    see :class:`LazyColumns`."""
    if not isinstance(columns, LazyColumns):
        return LazyColumns([None if c is None else (c, indices) for c in columns])
    composed: dict[int, pa.Array] = {}  # one composition per distinct pending positions
    out = []
    for s in columns._slots:
        if s is None:
            out.append(None)
        elif type(s) is tuple:
            key = id(s[1])
            if key not in composed:
                composed[key] = s[1].take(indices)
            out.append((s[0], composed[key]))
        else:
            out.append((s, indices))
    return LazyColumns(out)


def take_columns(columns: list[pa.Array | None], indices: pa.Array) -> list[pa.Array | None]:
    """``columns[i].take(indices)`` for every column that is not None, in one Arrow call: the
    catalog relations are 20-30 columns wide and joins take rows of all of them, where one
    call per column costs more in Python than the copying does. Null indices give NULLs."""
    present = [c for c in columns if c is not None]
    if len(present) < 2 or any(isinstance(c, pa.ChunkedArray) for c in present):
        return [None if c is None else c.take(indices) for c in columns]
    batch = pa.RecordBatch.from_arrays(present, names=[""] * len(present))
    taken = iter(batch.take(indices).columns)
    return [None if c is None else next(taken) for c in columns]


def view_columns(view, table: Table, needed: set[int]) -> list[pa.Array | None]:
    """A segment view's columns as plain Arrays (growing segments hand out chunked ones;
    expressions and kernels work on contiguous arrays)."""
    out: list[pa.Array | None] = []
    for i, c in enumerate(table.columns):
        if i not in needed:
            out.append(None)
            continue
        a = view.columns[c.id]
        if isinstance(a, pa.ChunkedArray):
            a = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
        out.append(a)
    return out


def filter_mask(ctx: ExecContext, cols: list, n: int, visible: np.ndarray | None, where: E.Expr) -> np.ndarray:
    """``visible AND where`` over a segment's n rows as a bool mask; ``where`` is evaluated only
    on the visible rows (a deleted row must not raise, say, a division by zero)."""
    if visible is None:
        return E.as_mask(where.eval(ctx.eval_ctx(cols, n)), n)
    keep = np.flatnonzero(visible)
    ia = pa.array(keep, type=pa.int64())
    sub = take_columns(cols, ia)
    m = E.as_mask(where.eval(ctx.eval_ctx(sub, len(keep))), len(keep))
    out = np.zeros(n, dtype=bool)
    out[keep[m]] = True
    return out


def _combine(chunks: list[pa.Array], t: pa.DataType) -> pa.Array:
    if not chunks:
        return pa.array([], type=t)
    if len(chunks) == 1:
        c = chunks[0]
        return c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
    return pa.chunked_array(chunks, type=t).combine_chunks()


def scan_table(
    ctx: ExecContext, table: Table, needed: set[int], where: E.Expr | None, *, with_rowids: bool = False
) -> Rel:
    """Rows of ``table`` visible to the transaction that pass ``where``.

    Only the columns in ``needed`` (positions in table.columns) are read; the others stay None.
    The filter runs segment by segment on the columnar data, after the visibility mask."""
    if "partition_by" in table.options:  # a partitioned parent: the union of its pruned partitions
        from sqlvec.exec import partitions

        return partitions.scan(ctx, table, needed, where, with_rowids)
    spec = {c.id: c.type.arrow_type() for i, c in enumerate(table.columns) if i in needed}
    chunks: list[list[pa.Array]] = [[] for _ in table.columns]
    rowid_chunks: list[np.ndarray] = []
    total = 0
    for view in ctx.txn.scan(table.oid, spec):
        ctx.check()
        n = view.num_rows
        if n == 0:
            continue
        cols = view_columns(view, table, needed)
        keep: np.ndarray | None = None
        if view.visible is not None:
            keep = np.flatnonzero(view.visible)
            if len(keep) == 0:
                continue
            ia = pa.array(keep, type=pa.int64())
            cols = take_columns(cols, ia)
            n = len(keep)
        if where is not None:
            m = E.as_mask(where.eval(ctx.eval_ctx(cols, n)), n)
            sel = np.flatnonzero(m)
            if len(sel) != n:
                ia = pa.array(sel, type=pa.int64())
                cols = take_columns(cols, ia)
                keep = sel if keep is None else keep[sel]
                n = len(sel)
        if n == 0:
            continue
        for i, c in enumerate(cols):
            if c is not None:
                chunks[i].append(c)
        if with_rowids:
            rids = view.rowids()
            rowid_chunks.append(rids if keep is None else rids[keep])
        total += n
    out = [
        _combine(chunks[i], c.type.arrow_type()) if i in needed else None for i, c in enumerate(table.columns)
    ]
    rowids = np.concatenate(rowid_chunks) if rowid_chunks else np.zeros(0, np.int64)
    return Rel(out, total, rowids if with_rowids else None)


# -- grouping ---------------------------------------------------------------------------------


def group_ids(keys: list[pa.Array], n: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Group number of every row, the number of groups, and the first row of each group.

    NULLs form one group per key, as GROUP BY and DISTINCT require."""
    if not keys:
        return np.zeros(n, np.int64), 1, np.zeros(1 if n else 0, np.int64)
    if len(keys) == 1 and id(keys[0]) in _ORIGIN:
        return _codes_gathered(*_ORIGIN[id(keys[0])], with_first=True)  # type: ignore[return-value]
    codes = []
    sizes = []
    for k in keys:
        c, size = _codes(k)
        codes.append(c)
        sizes.append(size)
    if len(codes) == 1:
        # _codes numbers values by first appearance already: no sort needed
        return codes[0], sizes[0], _first_positions(codes[0])
    if float(np.prod([max(s, 1) for s in sizes], dtype=np.float64)) < 2**62:
        combined, ngroups = _codes(pa.array(np.ravel_multi_index(codes, [max(s, 1) for s in sizes])))
        return combined, ngroups, _first_positions(combined)
    _, combined = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    combined = combined.ravel()
    uniq, first, inv = np.unique(combined, return_index=True, return_inverse=True)
    # number groups by first appearance, so results follow input order where it matters
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inv.ravel()].astype(np.int64), len(uniq), first[order]


def _first_positions(codes: np.ndarray) -> np.ndarray:
    """Row of each group's first appearance, for codes numbered by first appearance (a new
    group's code is one more than every code before it)."""
    if len(codes) == 0:
        return np.zeros(0, np.int64)
    running = np.maximum.accumulate(codes)
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    np.greater(running[1:], running[:-1], out=new[1:])
    return np.flatnonzero(new)


def _codes(arr: pa.Array) -> tuple[np.ndarray, int]:
    """Code of every value (NULL is a value), numbered by first appearance, and their count."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    origin = _ORIGIN.get(id(arr))
    if origin is not None:
        return _codes_gathered(*origin)
    try:
        enc = pc.dictionary_encode(arr, null_encoding="encode")
        idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return idx, len(enc.dictionary)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        # nested values (vectors, arrays): hash their Python form
        seen: dict = {}
        out = np.empty(len(arr), np.int64)
        for i, v in enumerate(arr.to_pylist()):
            key = _hashable(v)
            out[i] = seen.setdefault(key, len(seen))
        return out, len(seen)


def _codes_gathered(source: pa.Array, positions: pa.Array, with_first: bool = False):
    """_codes of ``source.take(positions)`` from the codes of the (small) source: the source's
    codes gathered, then renumbered by first appearance in the gathered order (``with_first``:
    also the row where each group first appears, as group_ids returns)."""
    scodes, size = _codes(source)
    raw = scodes[positions.to_numpy(zero_copy_only=False)]
    n = len(raw)
    first = np.full(size, n, np.int64)
    np.minimum.at(first, raw, np.arange(n, dtype=np.int64))
    used = np.flatnonzero(first < n)
    order = used[np.argsort(first[used], kind="stable")]
    remap = np.empty(size, np.int64)
    remap[order] = np.arange(len(order), dtype=np.int64)
    if with_first:
        return remap[raw], len(order), first[order]
    return remap[raw], len(order)


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


# -- sorting ----------------------------------------------------------------------------------


@dataclass
class SortKey:
    index: int  # column of the relation being sorted
    desc: bool = False
    nulls_first: bool | None = None  # None: PostgreSQL default (NULLS LAST for ASC, FIRST for DESC)


def sort_indices(columns: list[pa.Array], keys: list[SortKey], n: int) -> np.ndarray:
    """Stable multi-key sort with per-key NULL placement, vectorised by Arrow."""
    table_cols = {}
    sort_keys = []
    for j, k in enumerate(keys):
        arr = columns[k.index]
        nulls_first = k.nulls_first if k.nulls_first is not None else k.desc
        if arr.null_count:
            # a leading is-null key puts NULLs where the clause asks, independently per key
            table_cols[f"n{j}"] = pc.is_null(arr)
            sort_keys.append((f"n{j}", "descending" if nulls_first else "ascending"))
        arr = _sortable(arr)
        table_cols[f"k{j}"] = arr
        sort_keys.append((f"k{j}", "descending" if k.desc else "ascending"))
    t = pa.table(table_cols) if table_cols else None
    if t is None:
        return np.arange(n)
    idx = pc.sort_indices(t, sort_keys=sort_keys)
    return idx.to_numpy()


def _sortable(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t):
        # vectors and arrays compare element by element: rank them in Python once
        vals = arr.to_pylist()
        order = sorted(range(len(vals)), key=lambda i: (vals[i] is None, _cmpkey(vals[i])))
        rank = np.empty(len(vals), np.int64)
        prev = object()
        r = -1
        for i in order:
            key = _cmpkey(vals[i])
            if key != prev:
                r += 1
                prev = key
            rank[i] = r
        return pa.array(rank)
    if pa.types.is_interval(t):
        vals = arr.to_pylist()
        return pa.array([None if v is None else (v.months * 30 + v.days) * 86_400_000_000_000 + v.nanoseconds for v in vals])
    return arr


def _cmpkey(v):
    if v is None:
        return ()
    if isinstance(v, dict):
        return tuple(_cmpkey(x) for x in v.values())
    if isinstance(v, list):
        return tuple((x is None, x) for x in v)
    return v


def distinct_rows(columns: list[pa.Array], n: int) -> np.ndarray:
    """Row positions of the first occurrence of every distinct row."""
    _, _, first = group_ids(columns, n)
    return np.sort(first)


def limit_value(v: pa.Scalar | None, what: str) -> int | None:
    if v is None or not v.is_valid:
        return None
    x = v.as_py()
    if x < 0:
        if what == "LIMIT":
            raise errors.InvalidRowCountInLimitClause("LIMIT must not be negative")
        raise errors.InvalidRowCountInResultOffsetClause("OFFSET must not be negative")
    return int(x)
