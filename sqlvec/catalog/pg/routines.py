"""pg_proc and pg_operator rows, generated from the function registry and the type registry.

Every overload in sqlvec.exec.functions becomes a pg_proc row (aggregates with prokind 'a'),
every type its input/output/receive/send functions, every operator a pg_operator row whose
oprcode is a pg_proc row of its own. OIDs are assigned in a deterministic order from
oids.PROC_BASE; common operators keep PostgreSQL's OIDs (a few clients know ``=`` on int4).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlvec.catalog.pg import oids as O
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType

# pseudo-types (pg_type rows with typtype 'p'); name -> oid
PSEUDO_TYPES = {"any": 2276, "anyelement": 2283, "anyarray": 2277, "anynonarray": 2776,
                "anycompatible": 5077, "anycompatiblearray": 5078,
                "anycompatiblenonarray": 5079, "void": 2278, "record": 2249, "trigger": 2279,
                "internal": 2281, "cstring": 2275, "language_handler": 2280,
                "event_trigger": 3838, "index_am_handler": 325, "table_am_handler": 269}
VECTOR_TYPE_OIDS = frozenset({16385, 16386, 16387, 16388, 16389, 16390})

_SUFFIX = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "+": "pl",
           "-": "mi", "*": "mul", "/": "div", "%": "mod", "^": "pow", "||": "cat",
           "~": "regexeq", "!~": "regexne", "~*": "icregexeq", "!~*": "icregexne",
           "~~": "like", "!~~": "nlike", "~~*": "iclike", "!~~*": "icnlike", "&": "and",
           "|": "or", "#": "xor", "<<": "shl", ">>": "shr", "@>": "contains", "<@": "contained",
           "&&": "overlap"}
# pgvector's operator functions (sql/vector.sql)
_VECTOR_PROCS = {"<->": "l2_distance", "<#>": "vector_negative_inner_product",
                 "<=>": "cosine_distance", "<+>": "l1_distance", "<~>": "hamming_distance",
                 "<%>": "jaccard_distance"}
_REAL_OPERATOR_OIDS = {
    ("=", "int2", "int2"): 94, ("=", "int4", "int4"): 96, ("=", "int8", "int8"): 410,
    ("=", "text", "text"): 98, ("=", "bool", "bool"): 91, ("=", "name", "name"): 93,
    ("=", "char", "char"): 92, ("=", "oid", "oid"): 607, ("=", "float8", "float8"): 670,
    ("=", "float4", "float4"): 620, ("=", "numeric", "numeric"): 1752,
    ("=", "bpchar", "bpchar"): 1054, ("=", "date", "date"): 1093,
    ("=", "timestamp", "timestamp"): 2060, ("=", "timestamptz", "timestamptz"): 1320,
    ("=", "uuid", "uuid"): 2972, ("=", "bytea", "bytea"): 1955,
    ("<>", "int4", "int4"): 518, ("<", "int4", "int4"): 97, (">", "int4", "int4"): 521,
    ("<=", "int4", "int4"): 523, (">=", "int4", "int4"): 525, ("<>", "int8", "int8"): 411,
    ("<", "int8", "int8"): 412, (">", "int8", "int8"): 413, ("<=", "int8", "int8"): 414,
    (">=", "int8", "int8"): 415, ("<>", "text", "text"): 531, ("<", "text", "text"): 664,
    ("<=", "text", "text"): 665, (">", "text", "text"): 666, (">=", "text", "text"): 667,
    ("<>", "oid", "oid"): 608, ("<", "oid", "oid"): 609, (">", "oid", "oid"): 610,
    ("<=", "oid", "oid"): 611, (">=", "oid", "oid"): 612, ("+", "int4", "int4"): 551,
    ("-", "int4", "int4"): 555, ("*", "int4", "int4"): 514, ("/", "int4", "int4"): 528,
    ("||", "text", "text"): 654, ("~", "text", "text"): 641, ("!~", "text", "text"): 642,
    ("~~", "text", "text"): 1209, ("!~~", "text", "text"): 1210, ("~*", "text", "text"): 1228,
    ("!~*", "text", "text"): 1229, ("~~*", "text", "text"): 1627, ("!~~*", "text", "text"): 1628,
}


@dataclass(frozen=True)
class Proc:
    oid: int
    name: str
    argtypes: tuple[int, ...]
    rettype: int
    kind: str = "f"  # prokind: f function, a aggregate, w window
    strict: bool = True
    volatile: str = "i"  # provolatile: i immutable, s stable, v volatile
    variadic: int = 0  # provariadic: element type of a VARIADIC argument
    extension: bool = False  # belongs to the vector extension (lives in its schema)
    src: str = ""  # prosrc: the C symbol


@dataclass(frozen=True)
class Operator:
    oid: int
    name: str
    left: int  # 0 for a prefix operator
    right: int
    result: int
    proc: str  # oprcode's function name
    extension: bool = False


def type_oid(decl: str | SqlType) -> int:
    """OID of a declared argument/result type ('integer', 'text[]', 'anyarray' ...)."""
    if isinstance(decl, SqlType):
        return R.array_of(decl.elem).oid if decl.elem is not None else decl.oid
    if decl in PSEUDO_TYPES:
        return PSEUDO_TYPES[decl]
    from sqlvec.exec.functions.registry import type_named

    return type_named(decl).oid


def _ret_oid(ov) -> int:
    ret = ov.ret
    if isinstance(ret, (SqlType, str)):
        return type_oid(ret)
    try:  # a function of the argument types: call it with the declared ones when concrete
        from sqlvec.exec.functions.registry import type_named

        if any(a in PSEUDO_TYPES for a in ov.args):
            return PSEUDO_TYPES["anyelement"]
        return type_oid(ret([type_named(a) for a in ov.args]))
    except Exception:  # noqa: BLE001 - a result that depends on values: shown as anyelement
        return PSEUDO_TYPES["anyelement"]


def _typname(oid: int) -> str:
    d = R.typedef_by_oid(oid)
    if d is not None:
        return d.typname
    return next((n for n, o in PSEUDO_TYPES.items() if o == oid), str(oid))


def _io_names(d) -> list[str]:
    if d.category == "A":
        return ["array_in", "array_out", "array_recv", "array_send"]
    if d.oid in VECTOR_TYPE_OIDS:
        return [f"{d.typname}_{x}" for x in ("in", "out", "recv", "send")]
    return [f"{d.typname}{x}" for x in ("in", "out", "recv", "send")]


@functools.lru_cache(maxsize=1)
def catalog() -> tuple[list[Proc], list[Operator]]:
    """(pg_proc rows, pg_operator rows); computed once per process."""
    from sqlvec.exec.functions import registry as F

    specs: dict[tuple[str, tuple[int, ...]], dict] = {}
    for d in R.all_typedefs():
        in_arg = (PSEUDO_TYPES["cstring"],)
        for name, args, ret in zip(_io_names(d), (in_arg, (d.oid,), (PSEUDO_TYPES["internal"],),
                                                  (d.oid,)),
                                   (d.oid, PSEUDO_TYPES["cstring"], d.oid, 17)):
            if d.category == "A":
                args = tuple(PSEUDO_TYPES["anyarray"] if a == d.oid else a for a in args)
                ret = PSEUDO_TYPES["anyarray"] if ret == d.oid else ret
            specs.setdefault((name, args), dict(ret=ret, src=name,
                                                ext=d.oid in VECTOR_TYPE_OIDS))
    for name, ovs in sorted(F.functions().items()):
        if name in F.ALIAS_NAMES:
            continue
        for ov in ovs:
            args = tuple(type_oid(a) for a in ov.args)
            specs.setdefault((name, args), dict(
                ret=_ret_oid(ov), strict=ov.strict, volatile="v" if ov.volatile else "i",
                variadic=args[-1] if ov.variadic else 0,
                ext=any(a in VECTOR_TYPE_OIDS for a in args)))
    for name, aggs in sorted(F.aggregates().items()):
        for ag in aggs:
            args = tuple(type_oid(a) for a in ag.args)
            specs.setdefault((name, args), dict(ret=_ret_oid(ag), kind="a", strict=False,
                                                ext=any(a in VECTOR_TYPE_OIDS for a in args)))
    ops: list[tuple] = []
    for opname, ovs in sorted(F.operators().items()):
        for ov in ovs:
            args = tuple(type_oid(a) for a in ov.args)
            left, right = (0, args[0]) if len(args) == 1 else args
            ext = any(a in VECTOR_TYPE_OIDS for a in args)
            proc = _VECTOR_PROCS.get(opname) if ext else None
            proc = proc or f"{_typname(left or right)}{_SUFFIX.get(opname, 'op')}"
            ops.append((opname, left, right, _ret_oid(ov), proc, ext))
            specs.setdefault((proc, args), dict(ret=_ret_oid(ov), ext=ext))
    procs = []
    for i, ((name, args), s) in enumerate(sorted(specs.items(), key=lambda kv: kv[0])):
        oid = O.PROC_BASE + i
        if oid >= O.PROC_LIMIT:
            raise RuntimeError("too many functions for the pg_proc OID range")
        procs.append(Proc(oid, name, args, s["ret"], s.get("kind", "f"), s.get("strict", True),
                          s.get("volatile", "i"), s.get("variadic", 0), s["ext"],
                          s.get("src", name)))
    operators, next_builtin, next_ext = [], O.OPERATOR_BASE, 17100
    seen: set[tuple[str, int, int]] = set()
    for opname, left, right, result, proc, ext in ops:
        if (opname, left, right) in seen:
            continue
        seen.add((opname, left, right))
        real = _REAL_OPERATOR_OIDS.get((opname, _typname(left), _typname(right)))
        if real is not None:
            oid = real
        elif ext:
            oid, next_ext = next_ext, next_ext + 1
        else:
            oid, next_builtin = next_builtin, next_builtin + 1
        operators.append(Operator(oid, opname, left, right, result, proc, ext))
    return procs, operators


@functools.lru_cache(maxsize=1)
def procs_by_name() -> dict[str, list[Proc]]:
    """Built-in functions by name (built once, like catalog(): pg_type asks for every type's
    I/O functions). Callers must not change the lists."""
    out: dict[str, list[Proc]] = {}
    for p in catalog()[0]:
        out.setdefault(p.name, []).append(p)
    return out


def proc_by_oid(oid: int) -> Proc | None:
    return _proc_index().get(oid)


@functools.lru_cache(maxsize=1)
def _proc_index() -> dict[int, Proc]:
    return {p.oid: p for p in catalog()[0]}


def io_proc_oids(d) -> tuple[int, int, int, int]:
    """(typinput, typoutput, typreceive, typsend) of a type definition."""
    by_name = procs_by_name()
    return tuple(by_name[n][0].oid if n in by_name else 0 for n in _io_names(d))  # type: ignore[return-value]
