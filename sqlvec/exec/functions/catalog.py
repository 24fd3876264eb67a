"""System information and catalog functions: version(), current_user, format_type,
pg_get_*def, obj_description, pg_*_is_visible, to_reg*, pg_*_size, has_*_privilege ...

They read the running statement's session (see context.py). Functions that take an OID
column from a catalog scan look every row up at once: a dict built from the catalog, applied
with ``pc.index_in`` + ``take``. Results that depend on session state are marked volatile so
that a cached plan never keeps a folded value.

has_*_privilege and pg_has_role are in privfns.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.catalog.pg import names as NM
from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.core import live_rows
from sqlvec.catalog.pg.describe import constraint_def, default_text, index_def, view_def
from sqlvec.catalog.pg.source import CatalogView, view_for
from sqlvec.exec.functions.common import Datum, as_array, finish, length, map_rows
from sqlvec.exec.functions.context import get_session
from sqlvec.exec.functions.registry import Overload
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType

VERSION = ("PostgreSQL 16.4 (sqlvec 0.1.0) on x86_64-pc-linux-gnu, compiled by CPython 3.11, "
           "64-bit")
_ENCODINGS = {0: "SQL_ASCII", 6: "UTF8", 8: "LATIN1"}
STARTED = dt.datetime.now(dt.UTC)


def _view() -> CatalogView:
    return view_for(get_session())


def _lookup(arg: Datum, n: int, mapping: Mapping[Any, Any], out: pa.DataType,
            default: Callable[[Any], Any] | None = None) -> Datum:
    """Map every value of ``arg`` through ``mapping`` at once (NULL in, NULL out; a value
    not in the mapping gives ``default(value)`` or NULL)."""
    args = [arg]
    m = length(args, n)
    col = as_array(arg, m).cast(pa.int64()) if not pa.types.is_string(
        arg.type) else as_array(arg, m)
    keys = list(mapping)
    values = pa.array([mapping[k] for k in keys], out)
    idx = pc.index_in(col, value_set=pa.array(keys, col.type)) if keys else pa.nulls(m, pa.int32())
    res = values.take(idx) if keys else pa.nulls(m, out)
    if default is not None and res.null_count > col.null_count:
        missing = pc.and_(pc.is_null(res), pc.is_valid(col))
        fill = [default(v) if bad else None for v, bad in zip(col.to_pylist(), missing.to_pylist())]
        res = pc.coalesce(res, pa.array(fill, out))
    return finish(res, args)


def _memo(view: CatalogView, name: str, arg: Datum, n: int, fn: Callable[[int], Any]) -> dict:
    """``fn(oid)`` for the OIDs in ``arg``, remembered for the catalog version ``view`` is of:
    a catalog query calls pg_get_indexdef or pg_table_is_visible over a scan of every
    relation, and psql's \\d asks the same OIDs again and again."""
    memo = view.__dict__.setdefault("_function_memo", {}).setdefault(name, {})
    col = as_array(arg, length([arg], n))
    for oid in pc.unique(col).drop_null().to_pylist():
        if oid not in memo:
            memo[oid] = fn(oid)
    return memo


def _const(value_fn: Callable[[], Any], out: str) -> Callable:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return pa.scalar(value_fn(), R.type_by_name(out).arrow_type() if out != "name[]"
                         else pa.list_(pa.string()))

    return impl


def _rows(fn: Callable[..., Any], out: pa.DataType, strict: bool = True) -> Callable:
    """A per-row function (catalog look-ups that take more than an OID)."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(fn, args, n, out, strict=strict)

    return impl


# -- session information ---------------------------------------------------------------------------


def _schemas(implicit: bool) -> list[str]:
    """current_schemas(implicit): the search_path's existing schemas (pg_catalog first when
    it is not listed and ``implicit``)."""
    s = get_session()
    view = view_for(s)
    raw = [p.strip().strip('"') for p in s.settings.get("search_path").split(",")]
    path = [s.user if p == "$user" else p for p in raw if p]
    out = [p for p in dict.fromkeys(path) if p in view.namespaces]
    if implicit and "pg_catalog" not in out:
        out.insert(0, "pg_catalog")
    return out


def _current_schema() -> str | None:
    found = _schemas(False)
    return found[0] if found else None


def _current_schemas(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    flags = [None if v is None else _schemas(bool(v)) for v in
             ([args[0].as_py()] * m if isinstance(args[0], pa.Scalar) else args[0].to_pylist())]
    return finish(pa.array(flags, pa.list_(pa.string())), args)


def _user() -> str:
    from sqlvec.privileges import current_user

    return current_user(get_session())


def _session_user() -> str:
    from sqlvec.privileges import session_user

    return session_user(get_session())


def _pg_notify(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    from sqlvec.notify import pg_notify_impl  # NOTIFY lives with the session machinery

    return pg_notify_impl(args, types, n)


def _backend_pid() -> int:
    from sqlvec.catalog.pg.system import backend_pid

    return backend_pid(get_session())


def _txid() -> int:
    txn = getattr(get_session(), "txn", None)
    return int(getattr(txn, "snapshot_ts", 0) or 0) + 1


# -- types and names --------------------------------------------------------------------------------


def _format_type(oid: int | None, typmod: int | None) -> str | None:
    if oid is None:
        return None
    try:
        t = R.type_by_oid(oid, -1 if typmod is None else typmod)
    except Exception:  # noqa: BLE001 - unknown OIDs print as PostgreSQL prints them
        return NM.regtype_out(oid) if oid in _pseudo() else "???"
    return str(t)


def _pseudo() -> set[int]:
    from sqlvec.catalog.pg.routines import PSEUDO_TYPES

    return set(PSEUDO_TYPES.values())


def _format_type_impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    if isinstance(args[1], pa.Scalar) and not args[1].is_valid and not isinstance(args[0], pa.Scalar):
        # the common call format_type(atttypid, NULL): one look-up per distinct type
        col = as_array(args[0], n)
        uniq = pc.unique(col).drop_null().to_pylist()
        return _lookup(col, n, {u: _format_type(u, None) for u in uniq}, pa.string())
    return map_rows(_format_type, args, n, pa.string(), strict=False)


def _userbyid(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    roles = {r.oid: r.name for r in _view().cat.roles.values()}
    return _lookup(args[0], n, roles, pa.string(), lambda v: f"unknown (OID={v})")


def _visible(kind: str) -> Callable:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        s = get_session()
        view, path = view_for(s), s.search_path()
        if kind == "relation":
            vis = _memo(view, f"visible {path}", args[0], n,
                        lambda oid: NM.relation_visible(view, path, oid)
                        if view.relation(oid) is not None else None)
        elif kind == "type":
            ext_ns = "public" if "vector" in view.db.extensions else "pg_catalog"
            vis = {d.oid: (ext_ns if d.oid in (16385, 16386, 16387, 16388, 16389, 16390)
                           else "pg_catalog") in path for d in R.all_typedefs()}
        else:
            from sqlvec.catalog.pg.routines import catalog

            vis = {p.oid: (("public" if p.extension and "vector" in view.db.extensions
                            else "pg_catalog") in path) for p in catalog()[0]}
        return _lookup(args[0], n, vis, pa.bool_())

    return impl


def _function_text(what: str) -> Callable:
    """pg_get_function_result / _arguments / _identity_arguments of our built-in functions
    (PostgreSQL shows argument types only, as ours have no argument names)."""

    def one(oid: int) -> str | None:
        from sqlvec.catalog.pg.routines import proc_by_oid

        p = proc_by_oid(oid)
        if p is None:
            return None
        if what == "result":
            return _format_type(p.rettype, None)
        args = [_format_type(a, None) for a in p.argtypes]
        if p.variadic and args:
            args[-1] = "VARIADIC " + args[-1]
        return ", ".join(args)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(one, args, n, pa.string())

    return impl


def _collation_visible(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    # every collation is in pg_catalog, which is always on the search path
    return map_rows(lambda oid: True, args, n, pa.bool_())


def _to_reg(kind: str) -> Callable:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(lambda text: NM.to_reg(kind, text), args, n, pa.int64())

    return impl


# -- definitions and comments --------------------------------------------------------------------------


def _constraintdef(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    view = _view()
    def one(oid: int) -> str | None:
        c = view.constraint(oid)
        return None if c is None else constraint_def(view, c)

    return _lookup(args[0], n, _memo(view, "constraintdef", args[0], n, one), pa.string())


def _indexdef(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    view = _view()
    if len(args) == 1:
        def whole(oid: int) -> str | None:
            ix = view.index_by_oid.get(oid)
            return None if ix is None else index_def(view, ix)

        return _lookup(args[0], n, _memo(view, "indexdef", args[0], n, whole), pa.string())

    def one(oid: int, col: int, pretty: bool) -> str | None:
        ix = view.index_by_oid.get(oid)
        return None if ix is None else index_def(view, ix, col)

    return map_rows(one, args, n, pa.string())


def _viewdef(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    view = _view()

    def one(key: Any, *rest: Any) -> str | None:
        oid = key if isinstance(key, int) else NM.to_reg("regclass", key)
        rel = view.relation(oid) if oid is not None else None
        if rel is None or rel.kind not in "vm" or hasattr(rel.obj, "producer"):
            return None
        return view_def(rel.obj)

    return map_rows(one, args, n, pa.string())


def _get_expr(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    # adbin/conbin hold expression text already: pg_get_expr returns it unchanged
    return args[0] if isinstance(args[0], pa.Scalar) else as_array(args[0], n).cast(pa.string())


def _obj_description(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    view = _view()
    classes = {name: oid for name, oid in O.CATALOG_TABLE_OIDS.items()}

    def one(oid: int, catalog: str = "pg_class") -> str | None:
        classoid = classes.get(catalog)
        return None if classoid is None else view.comment(classoid, oid, 0)

    return map_rows(one, args, n, pa.string())


def _col_description(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    view = _view()
    return map_rows(lambda oid, num: view.comment(O.PG_CLASS, oid, num), args, n, pa.string())


def _shobj_description(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    from sqlvec.catalog.pg.system import pg_shdescription

    view = _view()
    rows = pg_shdescription(view, get_session())
    texts = {(o, c): d for o, c, d in zip(rows["objoid"], rows["classoid"], rows["description"])}

    def one(oid: int, catalog: str) -> str | None:
        return texts.get((oid, O.CATALOG_TABLE_OIDS.get(catalog, 0)))

    return map_rows(one, args, n, pa.string())


def _serial_sequence(table: str, column: str) -> str | None:
    s = get_session()
    view = view_for(s)
    oid = NM.regclass_in(table)
    t = view.tables.get(oid)  # type: ignore[arg-type]
    col = t.column(column.strip('"') if column.startswith('"') else column.lower()) if t else None
    if col is None:
        from sqlvec import errors

        raise errors.UndefinedColumn(f'column "{column}" of relation "{table}" does not exist')
    for q in view.sequences():
        if q.owned_by == (t.oid, col.id):
            return f"{NM.quote_ident(q.schema)}.{NM.quote_ident(q.name)}"
    return None


# -- sizes ------------------------------------------------------------------------------------------------


def _rel_bytes(oid: int) -> int:
    engine = get_session().db.engine
    return int(engine.stats(oid).get("bytes", 0)) if oid in _view().tables else 0


def _size(kind: str) -> Callable:
    """pg_relation_size & co. The storage engine reports bytes per table directory (data and
    index files together): table, relation and total size all report it, indexes 0."""

    def one(oid: int, *fork: str) -> int | None:
        view = _view()
        if view.relation(oid) is None:
            return None
        return 0 if kind == "indexes" else _rel_bytes(oid)

    return _rows(one, pa.int64())


def _database_size(key: Any) -> int:
    s = get_session()
    cat = s.catalog()
    db = next((d for d in cat.databases.values() if d.name == key or d.oid == key), None)
    if db is None:
        from sqlvec import errors

        raise errors.UndefinedObject(f'database "{key}" does not exist')
    return sum(int(s.db.engine.stats(t).get("bytes", 0)) for t in db.tables)


def size_pretty(v: Any) -> str:
    """pg_size_pretty: bytes below 10 kB, then kB, MB, GB, TB, PB, each value rounded half
    away from zero from one extra bit, as dbsize.c does."""
    size = int(v)
    limit = 10 * 1024
    if abs(size) < limit:
        return f"{size} bytes"
    size >>= 9  # one extra bit for the rounding
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        if abs(size) < limit * 2 or unit == "PB":
            half = abs(size) + 1
            return f"{half // 2 if size >= 0 else -(half // 2)} {unit}"
        size >>= 10
    raise AssertionError("unreachable")


def parse_ident(text: str, strict: bool = True) -> list[str]:
    """parse_ident(): the identifiers of a qualified name, quoted ones as written, others
    folded to lower case; without ``strict``, anything after the last identifier is ignored."""
    parts, i, s = [], 0, text

    def bad(why: str = "") -> errors.InvalidParameterValue:
        return errors.InvalidParameterValue(f'string is not a valid identifier: "{text}"',
                                            detail=why or None)

    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i < len(s) and s[i] == '"':
            j, buf = i + 1, []
            while True:
                k = s.find('"', j)
                if k < 0:
                    raise bad("String has unclosed double quotes.")
                buf.append(s[j:k])
                if s[k + 1:k + 2] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            if not "".join(buf):
                raise bad("Quoted identifier must not be empty.")
            parts.append("".join(buf))
        else:
            j = i
            while j < len(s) and (s[j].isalnum() or s[j] in "_$" or ord(s[j]) > 127):
                j += 1
            if j == i or s[i].isdigit() or s[i] == "$":
                if parts:
                    raise bad("No valid identifier after \".\".")
                if not parts and i < len(s) and s[i] == ".":
                    raise bad("No valid identifier before \".\".")
                raise bad()
            parts.append(s[i:j].lower())
            i = j
        while i < len(s) and s[i].isspace():
            i += 1
        if i < len(s) and s[i] == ".":
            i += 1
            continue
        if i < len(s) and strict:
            raise bad()
        return parts


def _parse_ident(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return map_rows(lambda t, strict=True: parse_ident(t, strict), args, n, pa.list_(pa.string()))


def _array_bound(upper: bool) -> Callable:
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        arr = as_array(args[0], m)
        dims = as_array(args[1], m).cast(pa.int64()).to_numpy(zero_copy_only=False)
        lens = pc.list_value_length(arr).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        valid = np.asarray(pc.is_valid(arr)) & np.asarray(pc.is_valid(as_array(args[1], m)))
        valid &= (dims == 1) & (lens > 0)
        vals = lens if upper else np.ones(m, dtype=np.int64)
        return finish(pa.array(vals, pa.int32(), mask=~valid), args)

    return impl




def _ov(name: str, args: tuple[str, ...], ret: str, impl: Callable, volatile: bool = True,
        strict: bool = True) -> Overload:
    return Overload(name, args, ret, impl, strict=strict, volatile=volatile)


FUNCTIONS: list[Overload] = [
    _ov("version", (), "text", _const(lambda: VERSION, "text"), volatile=False),
    _ov("current_database", (), "name", _const(lambda: get_session().database, "name")),
    _ov("current_catalog", (), "name", _const(lambda: get_session().database, "name")),
    _ov("current_schema", (), "name", _const(_current_schema, "name")),
    _ov("current_schemas", ("boolean",), "name[]", _current_schemas),
    *(_ov(f, (), "name", _const(_user, "name")) for f in ("current_user", "user", "current_role")),
    _ov("session_user", (), "name", _const(_session_user, "name")),
    _ov("pg_backend_pid", (), "integer", _const(_backend_pid, "integer")),
    _ov("pg_notify", ("text", "text"), "text", _pg_notify, strict=False),
    _ov("format_type", ("oid", "integer"), "text", _format_type_impl, strict=False),
    _ov("pg_get_userbyid", ("oid",), "name", _userbyid),
    _ov("pg_table_is_visible", ("oid",), "boolean", _visible("relation")),
    _ov("pg_type_is_visible", ("oid",), "boolean", _visible("type")),
    _ov("pg_function_is_visible", ("oid",), "boolean", _visible("function")),
    _ov("pg_collation_is_visible", ("oid",), "boolean", _collation_visible),
    _ov("pg_get_function_result", ("oid",), "text", _function_text("result")),
    _ov("pg_get_function_arguments", ("oid",), "text", _function_text("arguments")),
    _ov("pg_get_function_identity_arguments", ("oid",), "text", _function_text("arguments")),
    _ov("pg_get_expr", ("pg_node_tree", "oid"), "text", _get_expr, volatile=False),
    _ov("pg_get_expr", ("pg_node_tree", "oid", "boolean"), "text", _get_expr, volatile=False),
    _ov("pg_get_constraintdef", ("oid",), "text", _constraintdef),
    _ov("pg_get_constraintdef", ("oid", "boolean"), "text", _constraintdef),
    _ov("pg_get_indexdef", ("oid",), "text", _indexdef),
    _ov("pg_get_indexdef", ("oid", "integer", "boolean"), "text", _indexdef),
    _ov("pg_get_viewdef", ("oid",), "text", _viewdef),
    _ov("pg_get_viewdef", ("oid", "boolean"), "text", _viewdef),
    _ov("pg_get_viewdef", ("text",), "text", _viewdef),
    _ov("pg_get_viewdef", ("text", "boolean"), "text", _viewdef),
    _ov("obj_description", ("oid",), "text", _obj_description),
    _ov("obj_description", ("oid", "name"), "text", _obj_description),
    _ov("col_description", ("oid", "integer"), "text", _col_description),
    _ov("shobj_description", ("oid", "name"), "text", _shobj_description),
    # has_*_privilege and pg_has_role: privfns.py
    _ov("pg_encoding_to_char", ("integer",), "name",
        _rows(lambda e: _ENCODINGS.get(e, ""), pa.string()), volatile=False),
    _ov("pg_char_to_encoding", ("name",), "integer",
        _rows(lambda s: next((k for k, v in _ENCODINGS.items() if v == s.upper()), -1),
              pa.int32()), volatile=False),
    *(_ov(f"to_{k}", ("text",), k, _to_reg(k))
      for k in ("regclass", "regtype", "regproc", "regprocedure", "regnamespace", "regrole",
                "regoper", "regoperator")),
    _ov("pg_relation_size", ("regclass",), "bigint", _size("relation")),
    _ov("pg_relation_size", ("regclass", "text"), "bigint", _size("relation")),
    _ov("pg_total_relation_size", ("regclass",), "bigint", _size("total")),
    _ov("pg_table_size", ("regclass",), "bigint", _size("table")),
    _ov("pg_indexes_size", ("regclass",), "bigint", _size("indexes")),
    _ov("pg_database_size", ("name",), "bigint", _rows(_database_size, pa.int64())),
    _ov("pg_database_size", ("oid",), "bigint", _rows(_database_size, pa.int64())),
    _ov("pg_size_pretty", ("bigint",), "text", _rows(size_pretty, pa.string()), volatile=False),
    _ov("pg_size_pretty", ("numeric",), "text", _rows(size_pretty, pa.string()), volatile=False),
    _ov("pg_postmaster_start_time", (), "timestamp with time zone",
        _const(lambda: STARTED, "timestamptz")),
    _ov("pg_is_in_recovery", (), "boolean", _const(lambda: False, "boolean"), volatile=False),
    # there are no triggers (pg_trigger is empty): the definition of none is NULL
    *(_ov("pg_get_triggerdef", args, "text",
          lambda a, t, n: pa.nulls(n, pa.string()) if not isinstance(a[0], pa.Scalar) else pa.scalar(None, pa.string()),
          volatile=False, strict=False)
      for args in (("oid",), ("oid", "boolean"))),
    # nor rules (pg_rewrite is empty): psql's \d+ of a view or materialized view asks
    *(_ov("pg_get_ruledef", args, "text",
          lambda a, t, n: pa.nulls(n, pa.string()) if not isinstance(a[0], pa.Scalar) else pa.scalar(None, pa.string()),
          volatile=False, strict=False)
      for args in (("oid",), ("oid", "boolean"))),
    # there are no publications: no relation is publishable (psql's \d asks)
    _ov("pg_relation_is_publishable", ("regclass",), "boolean",
        lambda a, t, n: pa.repeat(pa.scalar(False), n) if not isinstance(a[0], pa.Scalar) else pa.scalar(False),
        volatile=False),
    _ov("txid_current", (), "bigint", _const(_txid, "bigint")),
    _ov("pg_current_xact_id", (), "xid8", _const(_txid, "xid8")),
    _ov("inet_server_addr", (), "text", _const(lambda: None, "text"), strict=False),
    _ov("inet_server_port", (), "integer", _const(lambda: None, "integer"), strict=False),
    _ov("pg_get_serial_sequence", ("text", "text"), "text", _rows(_serial_sequence, pa.string())),
    _ov("pg_get_partkeydef", ("oid",), "text", _rows(lambda oid: None, pa.string())),
    _ov("parse_ident", ("text",), "text[]", _parse_ident, volatile=False),
    _ov("parse_ident", ("text", "boolean"), "text[]", _parse_ident, volatile=False),
    # scan and dead-row counters are not kept: they read 0, as pg_stat_user_tables shows
    *(_ov(f, ("oid",), "bigint", _rows(lambda oid: 0, pa.int64()))
      for f in ("pg_stat_get_numscans", "pg_stat_get_dead_tuples", "pg_stat_get_tuples_returned",
                "pg_stat_get_tuples_fetched")),
    _ov("pg_stat_get_live_tuples", ("oid",), "bigint",
        _rows(lambda oid: live_rows(get_session(), oid), pa.int64())),
    _ov("pg_get_statisticsobjdef_columns", ("oid",), "text", _rows(lambda oid: None, pa.string())),
]

# comparison operators of the catalog types (oid-like values compare as integers, name and
# "char" bytewise); reg* types compare through their implicit cast to oid, as in PostgreSQL
OPERATORS: list[Overload] = [
    Overload(op, (a, b), "boolean", (lambda f: lambda args, types, n: f(*args))(fn))
    for op, fn in (("=", pc.equal), ("<>", pc.not_equal), ("<", pc.less),
                   ("<=", pc.less_equal), (">", pc.greater), (">=", pc.greater_equal))
    for a, b in (("oid", "oid"), ("name", "name"), ("name", "text"), ("text", "name"),
                 ('"char"', '"char"'), ("xid", "xid"))
]

__all__ = ["FUNCTIONS", "OPERATORS", "VERSION", "default_text", "size_pretty"]
