"""Set-returning functions: generate_series, unnest, generate_subscripts, the JSON element
and key expanders, regexp_matches, string_to_table.

Every implementation runs over all input rows at once: it takes the (already cast) argument
columns of n rows and returns ``(parent, columns)`` — for each output row the input row it came
from (ascending) and the output columns. A function in FROM runs with n = 1 (or over the rows of
the FROM items to its left, for LATERAL references); in a select list it runs over the rows
being projected. Types are resolved as for ordinary functions, from the overload tables below.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sqlvec import errors
from sqlvec.exec.functions.arith import decimals
from sqlvec.exec.functions.common import numeric_out
from sqlvec.exec.functions.patterns import pg_regex
from sqlvec.exec.functions.registry import Overload, _finish, _resolve, _signature, resolve_operator
from sqlvec.plan import expr as E
from sqlvec.types import registry as T
from sqlvec.types.base import SqlType

Result = tuple[np.ndarray, list[pa.Array]]

# sqlglot parses some SRFs into classes of their own
_CLASS_NAMES: dict[type, str] = {exp.ExplodingGenerateSeries: "generate_series", exp.GenerateSeries: "generate_series",
                                 exp.Explode: "unnest", exp.Unnest: "unnest"}


@dataclass
class SrfCall:
    name: str
    impl: Callable[[list[pa.Array], list[SqlType], int], Result]
    args: list[E.Expr]
    columns: list[tuple[str, SqlType]]  # output columns: (name, type)

    def run(self, ec: E.EvalContext) -> Result:
        vals = [E.broadcast(a.eval(ec), ec.n) for a in self.args]
        return self.impl(vals, [a.type for a in self.args], ec.n)


def srf_name(node: exp.Expression) -> str | None:
    """The SRF a sqlglot function node calls, or None when it is not a set-returning function."""
    name = _CLASS_NAMES.get(type(node))
    if name is None and isinstance(node, exp.Anonymous):
        name = node.name.lower()
    return name if name in SRFS else None


_VECTOR_ELEMS = {"int2vector": "smallint", "oidvector": "oid"}


def _vector_as_array(e: E.Expr) -> E.Expr:
    """int2vector / oidvector are arrays to unnest and friends, as in PostgreSQL (they are
    stored as the matching Arrow lists, so the cast moves no data)."""
    elem = _VECTOR_ELEMS.get(e.type.name)
    if elem is None:
        return e
    from sqlvec.types import registry as R

    return E.Cast(e, R.array_of(R.type_by_name(elem)), lambda arr: arr)


def bind_srf(binder, name: str, args: list[E.Expr], *, in_from: bool) -> SrfCall:
    """Resolve an SRF call against its overloads and cast the arguments."""
    if name == "unnest" and len(args) != 1:
        if not in_from:
            raise errors.UndefinedFunction(f"function {_signature(name, [a.type for a in args])} does not exist",
                                           hint="No function matches the given name and argument types. You might need to add explicit type casts.")
        calls = [bind_srf(binder, name, [a], in_from=True) for a in args]
        return SrfCall(name, _zip_impl(calls), [c.args[0] for c in calls], [c.columns[0] for c in calls])
    args = [_vector_as_array(a) for a in args]
    cands = _resolve(SRFS[name], [a.type for a in args])
    if len(cands) != 1:
        sig = _signature(name, [a.type for a in args])
        if cands:
            raise errors.AmbiguousFunction(f"function {sig} is not unique")
        raise errors.UndefinedFunction(f"function {sig} does not exist",
                                       hint="No function matches the given name and argument types. You might need to add explicit type casts.")
    ov, casts, ret = _finish(cands[0])
    args = [binder.coerce(a, t, "i") for a, t in zip(args, casts)]
    cols = _COLUMNS.get(name, lambda r: [(name, r)])(ret)
    return SrfCall(name, ov.impl, args, cols)


def _zip_impl(calls: list[SrfCall]):
    """unnest(a, b, ...): the arrays side by side, the shorter padded with NULLs."""

    def impl(vals, types, n) -> Result:
        outs = [c.impl([v], [t], n) for c, v, t in zip(calls, vals, types)]
        return lockstep(outs, n)

    return impl


def lockstep(outs: list[Result], n: int) -> Result:
    """Several SRF results over the same rows, run side by side (PostgreSQL 10+ semantics):
    each input row yields as many rows as its longest result, the others padded with NULL."""
    counts = [np.bincount(p, minlength=n) for p, _ in outs]
    total = np.max(np.stack(counts), axis=0) if outs else np.zeros(n, np.int64)
    parent = np.repeat(np.arange(n), total)
    k = np.arange(len(parent)) - np.repeat(np.cumsum(total) - total, total)
    cols = []
    for (_, cs), cnt in zip(outs, counts):
        start = np.cumsum(cnt) - cnt
        ok = k < cnt[parent]
        idx = pa.array(np.where(ok, start[parent] + k, 0), pa.int64(), mask=~ok)
        cols.extend(c.take(idx) for c in cs)
    return parent, cols


# rows one set-returning call may produce at once (its output is materialised): past this the
# statement fails with 54000 instead of exhausting the server's memory
MAX_SRF_ROWS = 100_000_000


def _children(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent row and position within the parent (0-based) of every output row."""
    total = int(counts.sum()) if len(counts) else 0
    if total > MAX_SRF_ROWS:
        raise errors.ProgramLimitExceeded(
            f"set-returning function would produce {total} rows, more than {MAX_SRF_ROWS}")
    parent = np.repeat(np.arange(len(counts)), counts)
    k = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
    return parent, k


def _valid(*arrs: pa.Array) -> np.ndarray:
    ok = np.ones(len(arrs[0]), bool)
    for a in arrs:
        if a.null_count:
            ok &= np.asarray(a.is_valid())
    return ok


def _ints(a: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(a, 0).to_numpy(zero_copy_only=False), np.int64)


# -- generate_series ------------------------------------------------------------------------------


def _series_int(vals, types, n) -> Result:
    start, stop = _ints(vals[0]), _ints(vals[1])
    step = _ints(vals[2]) if len(vals) > 2 else np.ones(n, np.int64)
    ok = _valid(*vals)
    if (ok & (step == 0)).any():
        raise errors.InvalidParameterValue("step size cannot equal zero")
    safe = np.where(step == 0, 1, step)
    cnt = np.where(ok, np.maximum((stop - start) // safe + 1, 0), 0)
    parent, k = _children(cnt)
    out = start[parent] + k * safe[parent]
    return parent, [pa.array(out, types[0].arrow_type())]


def _series_numeric(vals, types, n) -> Result:
    cols = [decimals(v, n) for v in vals]
    step = cols[2] if len(cols) > 2 else [decimal.Decimal(1)] * n
    parents, out = [], []
    for i, (a, b, s) in enumerate(zip(cols[0], cols[1], step)):
        if a is None or b is None or s is None:
            continue
        if s == 0:
            raise errors.InvalidParameterValue("step size cannot equal zero")
        if a.is_nan() or b.is_nan() or s.is_nan():
            raise errors.InvalidParameterValue("start value cannot be NaN" if a.is_nan() else
                                               "stop value cannot be NaN" if b.is_nan() else "step size cannot be NaN")
        # numeric has no fixed width: the values themselves are Python Decimals
        x = a
        while (x <= b) if s > 0 else (x >= b):
            parents.append(i)
            out.append(x)
            x = x + s
    return np.array(parents, np.int64), [numeric_out(out, T.NUMERIC)]


def _series_ts(vals, types, n) -> Result:
    start, stop, step = vals
    ok = _valid(*vals)
    at = types[0].arrow_type()
    iv = step.to_pylist()
    months = np.array([0 if v is None else v.months for v in iv], np.int64)
    us = np.array([0 if v is None else v.days * 86_400_000_000 + v.nanoseconds // 1000 for v in iv], np.int64)
    if (ok & (months == 0) & (us == 0)).any():
        raise errors.InvalidParameterValue("step size cannot equal zero")
    s_us = np.asarray(start.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    e_us = np.asarray(stop.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    # a day of a timestamptz is a calendar day in the session's TimeZone (23 or 25 hours
    # across DST), so day steps take the interval-addition path below too
    days = np.array([0 if v is None else v.days for v in iv], np.int64)
    calendar = (months != 0) | ((days != 0) if types[0].name == "timestamp with time zone" else False)
    if not (ok & calendar).any():
        step_us = np.where(us == 0, 1, us)
        cnt = np.where(ok, np.maximum((e_us - s_us) // step_us + 1, 0), 0)
        parent, k = _children(cnt)
        out = s_us[parent] + k * step_us[parent]
        return parent, [pa.array(out, pa.int64()).cast(at)]
    # month steps: add the interval again and again, as PostgreSQL does (Jan 31 + 1 month
    # + 1 month is Mar 29), every row at once
    plus = resolve_operator("+", types[0], types[2])[0].impl
    positive = (months * 30 * 86_400_000_000 + us) > 0
    cur, rows, parents, ks, pieces = start, np.flatnonzero(ok), [], [], []
    cur = cur.take(pa.array(rows, pa.int64()))
    k = 0
    while len(rows):
        c_us = np.asarray(cur.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64)
        inside = np.where(positive[rows], c_us <= e_us[rows], c_us >= e_us[rows])
        rows, cur = rows[inside], cur.filter(pa.array(inside))
        if not len(rows):
            break
        parents.append(rows)
        ks.append(np.full(len(rows), k))
        pieces.append(cur)
        cur = E.broadcast(plus([cur, step.take(pa.array(rows, pa.int64()))], [types[0], types[2]], len(rows)), len(rows))
        k += 1
        if k > 10_000_000:
            raise errors.ProgramLimitExceeded("generate_series produced too many rows")
    if not parents:
        return np.zeros(0, np.int64), [pa.array([], at)]
    parent, kk = np.concatenate(parents), np.concatenate(ks)
    order = np.lexsort((kk, parent))
    vals_out = pa.concat_arrays([p.cast(at) for p in pieces]).take(pa.array(order))
    return parent[order], [vals_out]


# -- arrays ----------------------------------------------------------------------------------


def _unnest(vals, types, n) -> Result:
    arr = vals[0]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)
    return parent, [pc.list_flatten(arr)]


def _partition_ancestors(vals, types, n) -> Result:
    """pg_partition_ancestors(rel): the relation itself, then its ancestors (psql's \\d asks;
    a table that is not a partition has no ancestors)."""
    arr = vals[0]
    if isinstance(arr, pa.Scalar):
        arr = pa.repeat(arr, n)
    elif isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    keep = np.flatnonzero(np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool))
    return keep.astype(np.int64), [arr.take(pa.array(keep))]


def _subscripts(vals, types, n) -> Result:
    arr, dim = vals[0], _ints(vals[1])
    rev = np.asarray(pc.fill_null(vals[2], False).to_numpy(zero_copy_only=False), bool) if len(vals) > 2 else np.zeros(n, bool)
    lens = np.asarray(pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False), np.int64)
    cnt = np.where(_valid(*vals) & (dim == 1), lens, 0)
    parent, k = _children(cnt)
    out = np.where(rev[parent], cnt[parent] - k, k + 1)
    return parent, [pa.array(out, pa.int32())]


# -- text -------------------------------------------------------------------------------------------


def _rows(fn: Callable[[list], list[tuple]], ncols: int, arrow_types: list[pa.DataType]):
    """An SRF whose per-row work is inherently per value (parsing JSON, regular expressions)."""

    def impl(vals, types, n) -> Result:
        pys = [v.to_pylist() for v in vals]
        parents: list[int] = []
        cols: list[list] = [[] for _ in range(ncols)]
        for i, row in enumerate(zip(*pys)):
            for out in fn(list(row)):
                parents.append(i)
                for c, v in zip(cols, out):
                    c.append(v)
        return np.array(parents, np.int64), [pa.array(c, t) for c, t in zip(cols, arrow_types)]

    return impl


def _regexp_matches(row: list) -> list[tuple]:
    text, pattern = row[0], row[1]
    flags = row[2] if len(row) > 2 else ""
    if text is None or pattern is None or flags is None:
        return []
    bad = set(flags) - set("gincpswx")
    if bad:
        raise errors.InvalidParameterValue(f'invalid regular expression option: "{sorted(bad)[0]}"')
    rx = pg_regex(pattern, "i" in flags)
    matches = rx.finditer(text) if "g" in flags else [m for m in [rx.search(text)] if m is not None]
    return [(list(m.groups()) if rx.groups else [m.group(0)],) for m in matches]


def _string_to_table(row: list) -> list[tuple]:
    text, delim = row[0], row[1]
    null_str = row[2] if len(row) > 2 else None
    if text is None:
        return []
    if delim is None:
        parts = list(text)
    elif delim == "":
        parts = [text] if text else []
    else:
        parts = text.split(delim) if text else []
    return [(None if p == null_str else p,) for p in parts]


# -- JSON -------------------------------------------------------------------------------------------

_DEC = json.JSONDecoder()


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\n\r":
        i += 1
    return i


def _elements(s: str, open_: str, close: str, what: str):
    """Raw texts of a JSON array's elements (or an object's key/value pairs), as written."""
    i = _skip_ws(s, 0)
    if i >= len(s) or s[i] != open_:
        raise errors.InvalidParameterValue(what)
    i = _skip_ws(s, i + 1)
    out = []
    while i < len(s) and s[i] != close:
        if open_ == "{":
            key, i = _DEC.raw_decode(s, i)
            i = _skip_ws(s, i) + 1  # the colon
            i = _skip_ws(s, i)
        _, end = _DEC.raw_decode(s, i)
        out.append((key, s[i:end]) if open_ == "{" else s[i:end])
        i = _skip_ws(s, end)
        if i < len(s) and s[i] == ",":
            i = _skip_ws(s, i + 1)
    return out


def _as_text(raw: str) -> str | None:
    """The _text variants: a string's value, NULL for null, other values as JSON text."""
    if raw.startswith('"'):
        return json.loads(raw)
    return None if raw == "null" else raw


def _json_array(kind: str, text_out: bool):
    def fn(row: list) -> list[tuple]:
        if row[0] is None:
            return []
        what = "cannot extract elements from a scalar" if not row[0].lstrip().startswith("{") else "cannot extract elements from an object"
        elems = _elements(row[0], "[", "]", what)
        return [(_as_text(e) if text_out else e,) for e in elems]

    return fn


def _json_object(kind: str, text_out: bool, keys_only: bool = False):
    def fn(row: list) -> list[tuple]:
        if row[0] is None:
            return []
        s = row[0].lstrip()
        if keys_only:
            what = f"cannot call {kind}_object_keys on {'an array' if s.startswith('[') else 'a scalar'}"
        else:
            what = f"cannot call {kind}_each{'_text' if text_out else ''} on a non-object"
        pairs = _elements(row[0], "{", "}", what)
        if keys_only:
            return [(k,) for k, _ in pairs]
        return [(k, _as_text(v) if text_out else v) for k, v in pairs]

    return fn


# -- the table -------------------------------------------------------------------------------------


def _ov(name: str, args: tuple[str, ...], ret: Any, impl) -> Overload:
    return Overload(name, args, ret, impl)


_S = pa.string()
SRFS: dict[str, list[Overload]] = {
    "generate_series": [
        *(_ov("generate_series", (t,) * k, t, _series_int) for t in ("integer", "bigint") for k in (2, 3)),
        *(_ov("generate_series", ("numeric",) * k, "numeric", _series_numeric) for k in (2, 3)),
        *(_ov("generate_series", (t, t, "interval"), t, _series_ts)
          for t in ("timestamp without time zone", "timestamp with time zone")),
    ],
    "unnest": [_ov("unnest", ("anyarray",), lambda ts: ts[0].elem, _unnest)],
    "pg_partition_ancestors": [_ov("pg_partition_ancestors", ("regclass",), "regclass", _partition_ancestors)],
    "generate_subscripts": [
        _ov("generate_subscripts", ("anyarray", "integer"), "integer", _subscripts),
        _ov("generate_subscripts", ("anyarray", "integer", "boolean"), "integer", _subscripts),
    ],
    "regexp_matches": [
        _ov("regexp_matches", ("text",) * k, "text[]", _rows(_regexp_matches, 1, [pa.list_(_S)])) for k in (2, 3)
    ],
    "string_to_table": [
        _ov("string_to_table", ("text",) * k, "text", _rows(_string_to_table, 1, [_S])) for k in (2, 3)
    ],
}
for _kind in ("json", "jsonb"):
    SRFS[f"{_kind}_array_elements"] = [_ov(f"{_kind}_array_elements", (_kind,), _kind, _rows(_json_array(_kind, False), 1, [_S]))]
    SRFS[f"{_kind}_array_elements_text"] = [_ov(f"{_kind}_array_elements_text", (_kind,), "text", _rows(_json_array(_kind, True), 1, [_S]))]
    SRFS[f"{_kind}_each"] = [_ov(f"{_kind}_each", (_kind,), _kind, _rows(_json_object(_kind, False), 2, [_S, _S]))]
    SRFS[f"{_kind}_each_text"] = [_ov(f"{_kind}_each_text", (_kind,), "text", _rows(_json_object(_kind, True), 2, [_S, _S]))]
    SRFS[f"{_kind}_object_keys"] = [_ov(f"{_kind}_object_keys", (_kind,), "text", _rows(_json_object(_kind, False, True), 1, [_S]))]

# output columns of SRFs whose OUT parameters have names of their own (default: the function's)
_COLUMNS: dict[str, Callable[[SqlType], list[tuple[str, SqlType]]]] = {}
for _kind in ("json", "jsonb"):
    _COLUMNS[f"{_kind}_array_elements"] = lambda r: [("value", r)]
    _COLUMNS[f"{_kind}_array_elements_text"] = lambda r: [("value", r)]
    _COLUMNS[f"{_kind}_each"] = lambda r: [("key", T.TEXT), ("value", r)]
    _COLUMNS[f"{_kind}_each_text"] = lambda r: [("key", T.TEXT), ("value", r)]

# rrf(), rrf_k(), weighted_fusion(): hybrid search fusion (sqlvec/exec/hybrid.py)
from sqlvec.exec import hybrid as _hybrid  # noqa: E402

_hybrid.register(SRFS, _COLUMNS)

# pg_get_keywords(): the catalog's key word table (sqlvec/catalog/pg/keywords.py)
from sqlvec.catalog.pg import keywords as _keywords  # noqa: E402

_keywords.register(SRFS, _COLUMNS)

# information_schema._pg_expandarray(): record rows (sqlvec/exec/records.py)
from sqlvec.exec import records as _records  # noqa: E402

_records.register(SRFS, _COLUMNS)
