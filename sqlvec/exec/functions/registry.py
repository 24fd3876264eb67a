"""Function, operator and aggregate registry, with PostgreSQL's overload resolution.

Each family module (math.py, strings.py, ...) declares tables ``FUNCTIONS``, ``OPERATORS`` and
``AGGREGATES``: lists of :class:`Overload` / :class:`AggOverload`, one line per overload. The
registry loads them on first use and resolves a call as PostgreSQL's ``func_select_candidate``
does (parse_func.c): exact match; candidates reachable by implicit casts; most exact matches;
preferred types; unknown literals biased towards the string category; unknowns assumed to be
of the known arguments' type. Operators first try the "unknown takes the other side's type"
exact match (``binary_oper_exact``), which is how ``int_col + '1'`` becomes ``int + int``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec.errors import AmbiguousFunction, UndefinedFunction
from sqlvec.types.base import SqlType

Datum = pa.Array | pa.Scalar
Impl = Callable[[list[Datum], list[SqlType], int], Datum]
AggImpl = Callable[[list[pa.Array], np.ndarray, int, bool], pa.Array]
RetSpec = SqlType | str | Callable[[list[SqlType]], SqlType]

# Pseudo-types a declared argument may name. "any*" markers bind to one element type per call;
# "anycompatible*" markers bind to the common supertype of their arguments.
POLYMORPHIC = frozenset(
    {"any", "anyelement", "anynonarray", "anyarray", "anycompatible", "anycompatiblearray",
     "anycompatiblenonarray"}
)
_FAMILIES = ("arith", "comparison", "math", "strings", "patterns", "datetime", "vector",
             "aggregates", "catalog", "arrays", "jsonfns", "binaryfns", "formatting",
             "sessionfns", "intervals", "rerankfns", "privfns")


@dataclass(frozen=True)
class Overload:
    name: str
    args: tuple[str, ...]
    ret: RetSpec  # a type, a type name, or a function of the (cast) argument types
    impl: Impl
    variadic: bool = False  # the last declared argument repeats (one or more times)
    strict: bool = True  # NULL in -> NULL out (the impl honours it)
    volatile: bool = False  # random(), clock_timestamp(): the planner must not fold

    def result_type(self, arg_types: list[SqlType]) -> SqlType:
        return _ret(self.ret, arg_types)


@dataclass(frozen=True)
class AggOverload:
    name: str
    args: tuple[str, ...]
    ret: RetSpec
    # (args of length n, group ids int64 in [0, n_groups), n_groups, distinct) -> n_groups rows
    impl: AggImpl
    empty_value: Any = None  # the value of a group without rows (count: 0)
    variadic: bool = False

    def result_type(self, arg_types: list[SqlType]) -> SqlType:
        return _ret(self.ret, arg_types)


def _ret(ret: RetSpec, arg_types: list[SqlType]) -> SqlType:
    if isinstance(ret, SqlType):
        return ret
    if isinstance(ret, str):
        return type_named(ret)
    return ret(arg_types)


# ------------------------------------------------------------------------------ type lookups


def type_named(name: str) -> SqlType:
    """A declared argument or result type by name ('integer', 'text[]', 'vector')."""
    from sqlvec.types import registry as types

    if name.endswith("[]"):
        return types.array_of(type_named(name[:-2]))
    t = types.type_by_name(name)
    return t if isinstance(t, SqlType) else SqlType(t)


def is_unknown(t: SqlType) -> bool:
    return t.defn.name == "unknown"


def same_type(a: SqlType, b: SqlType) -> bool:
    """Same type ignoring typmods (vector(3) is a vector)."""
    if a.is_array or b.is_array:
        return a.is_array and b.is_array and same_type(a.elem, b.elem)  # type: ignore[arg-type]
    return a.defn is b.defn or a.defn.name == b.defn.name


def category(t: SqlType) -> str:
    return "A" if t.is_array else t.defn.category


def _implicit(src: SqlType, dst: SqlType) -> bool:
    if same_type(src, dst):
        return True
    from sqlvec.types.casts import find_cast

    cast = find_cast(src, dst)
    return cast is not None and getattr(cast, "context", "e") == "i"


def type_display(t: SqlType) -> str:
    """format_type_be: the name without typmod, as function signatures in errors show it."""
    return type_display(t.elem) + "[]" if t.is_array and t.elem is not None else t.defn.name


# ------------------------------------------------------------------------------ the tables

_FUNCS: dict[str, list[Overload]] = {}
_OPS: dict[str, list[Overload]] = {}
_AGGS: dict[str, list[AggOverload]] = {}
_loaded = False
_load_lock = threading.Lock()


def _load() -> None:
    # Sessions on many threads resolve functions at once: fill the tables under a lock and
    # mark them loaded only when complete, so no thread ever sees half of them.
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if not _loaded:
            _fill()
            _loaded = True


def _fill() -> None:
    for family in _FAMILIES:
        mod = importlib.import_module(f"sqlvec.exec.functions.{family}")
        for ov in getattr(mod, "FUNCTIONS", ()):
            _FUNCS.setdefault(ov.name, []).append(ov)
        for ov in getattr(mod, "OPERATORS", ()):
            _OPS.setdefault(ov.name, []).append(ov)
        for ov in getattr(mod, "AGGREGATES", ()):
            _AGGS.setdefault(ov.name, []).append(ov)
    # sqlglot parses some calls into classes whose key is not the PostgreSQL name (to_hex ->
    # Hex, key "hex"); the binder names a call without a FUNCTION_NAMES entry by that key, so
    # the key resolves to the same overloads.
    for family in _FAMILIES:
        mod = importlib.import_module(f"sqlvec.exec.functions.{family}")
        for key, name in getattr(mod, "ALIASES", {}).items():
            table = _AGGS if name in _AGGS else _FUNCS
            table.setdefault(key, []).extend(table.get(name, []))
            ALIAS_NAMES.add(key)


# sqlglot's spellings of some PostgreSQL functions (exp.Hex -> "hex" for to_hex): resolvable,
# but not functions of their own (pg_proc and \df leave them out)
ALIAS_NAMES: set[str] = set()


def functions() -> dict[str, list[Overload]]:
    _load()
    return _FUNCS


def operators() -> dict[str, list[Overload]]:
    _load()
    return _OPS


def aggregates() -> dict[str, list[AggOverload]]:
    _load()
    return _AGGS


def is_aggregate(name: str) -> bool:
    return name.lower() in aggregates()


# ------------------------------------------------------------------------------ resolution


@dataclass
class _Cand:
    ov: Any
    declared: list[str]  # expanded for variadics
    targets: list[SqlType]  # the type each argument is cast to


def _expand(ov: Any, nargs: int) -> list[str] | None:
    if ov.variadic:
        fixed = len(ov.args) - 1
        return list(ov.args[:-1]) + [ov.args[-1]] * (nargs - fixed) if nargs > fixed else None
    return list(ov.args) if len(ov.args) == nargs else None


def _text() -> SqlType:
    return type_named("text")


def _plan(arg_types: list[SqlType], declared: list[str]) -> list[SqlType] | None:
    """The cast target of each argument, or None when some argument cannot be coerced."""
    elem: SqlType | None = None  # binding of anyelement/anyarray
    compat: list[SqlType] = []  # inputs to anycompatible*
    for t, d in zip(arg_types, declared):
        if d not in POLYMORPHIC or d == "any" or is_unknown(t):
            continue
        if d in ("anyelement", "anynonarray", "anyarray"):
            if d == "anyarray" and not t.is_array or d == "anynonarray" and t.is_array:
                return None
            e = t.elem if d == "anyarray" else t
            if elem is not None and not same_type(elem, e):  # type: ignore[arg-type]
                return None
            elem = elem or e
        else:
            if d == "anycompatiblearray" and not t.is_array:
                return None
            if d == "anycompatiblenonarray" and t.is_array:
                return None
            compat.append(t.elem if d == "anycompatiblearray" else t)  # type: ignore[arg-type]
    common: SqlType | None = None
    if compat:
        from sqlvec.types.casts import common_supertype

        try:
            common = common_supertype(compat)
        except Exception:  # noqa: BLE001 - "types cannot be matched" means: not a candidate
            return None
        if common is None:
            return None
    targets: list[SqlType] = []
    for t, d in zip(arg_types, declared):
        if d == "any":
            targets.append(_text() if is_unknown(t) else t)
        elif d in ("anyelement", "anynonarray"):
            targets.append(elem or _text())
        elif d == "anyarray":
            targets.append(_array(elem or _text()))
        elif d in ("anycompatible", "anycompatiblenonarray"):
            targets.append(common or _text())
        elif d == "anycompatiblearray":
            targets.append(_array(common or _text()))
        else:
            want = type_named(d)
            if is_unknown(t):
                targets.append(want)
            elif same_type(t, want):
                targets.append(t)  # keep the argument's typmod: no needless cast
            elif _implicit(t, want):
                targets.append(want)
            else:
                return None
    return targets


def _array(t: SqlType) -> SqlType:
    from sqlvec.types import registry as types

    return types.array_of(t)


def _declared_type(d: str) -> SqlType | None:
    return None if d in POLYMORPHIC else type_named(d)


def _select(arg_types: list[SqlType], cands: list[_Cand]) -> list[_Cand]:
    """Narrow coercible candidates as func_select_candidate does; returns the survivors."""
    known = [i for i, t in enumerate(arg_types) if not is_unknown(t)]

    def exact(c: _Cand, i: int) -> bool:
        dt = _declared_type(c.declared[i])
        return dt is not None and same_type(dt, arg_types[i])

    def keep_best(score: Callable[[_Cand], int]) -> None:
        nonlocal cands
        best = max(score(c) for c in cands)
        cands = [c for c in cands if score(c) == best]

    keep_best(lambda c: sum(exact(c, i) for i in known))
    if len(cands) == 1:
        return cands

    def preferred(c: _Cand, i: int) -> bool:
        dt = _declared_type(c.declared[i])
        return dt is not None and dt.defn.preferred and category(dt) == category(arg_types[i])

    keep_best(lambda c: sum(exact(c, i) or preferred(c, i) for i in known))
    if len(cands) == 1:
        return cands

    unknown = [i for i, t in enumerate(arg_types) if is_unknown(t)]
    if not unknown:
        return cands
    survivors = list(cands)
    for i in unknown:
        cats = {c.declared[i]: _decl_category(c.declared[i]) for c in cands}
        if "S" in cats.values():
            cat = "S"
        elif len(set(cats.values())) == 1:
            cat = next(iter(cats.values()))
        else:
            return cands  # cannot determine a category: ambiguous
        pref = any(_decl_preferred(d) and cats[d] == cat for d in cats)
        survivors = [
            c for c in survivors
            if cats[c.declared[i]] == cat and (not pref or _decl_preferred(c.declared[i]))
        ]
    if survivors:
        cands = survivors
    if len(cands) == 1:
        return cands
    # unknowns take the type of the known arguments when those all agree
    if known and len({type_display(arg_types[i]) for i in known}) == 1:
        guess = arg_types[known[0]]
        as_known = [guess if is_unknown(t) else t for t in arg_types]
        matching = [c for c in cands if _plan(as_known, c.declared) is not None]
        if len(matching) == 1:
            return matching
    return cands


def _decl_category(d: str) -> str:
    return "P" if d in POLYMORPHIC else category(type_named(d))


def _decl_preferred(d: str) -> bool:
    return d not in POLYMORPHIC and type_named(d).defn.preferred


def _resolve(
    overloads: list[Any], arg_types: list[SqlType], prefer_exact_unknown: bool = False
) -> list[_Cand]:
    cands: list[_Cand] = []
    for ov in overloads:
        declared = _expand(ov, len(arg_types))
        if declared is None:
            continue
        targets = _plan(arg_types, declared)
        if targets is not None:
            cands.append(_Cand(ov, declared, targets))
    if not cands:
        return []
    for c in cands:  # an exact match wins outright
        if all(
            not is_unknown(t) and d not in POLYMORPHIC and same_type(t, type_named(d))
            for t, d in zip(arg_types, c.declared)
        ):
            return [c]
    if prefer_exact_unknown:
        known = [t for t in arg_types if not is_unknown(t)]
        if len(known) == 1 and len(arg_types) == 2:
            for c in cands:
                if all(
                    d not in POLYMORPHIC and same_type(known[0], type_named(d))
                    for d in c.declared
                ):
                    return [c]
    if len(cands) == 1:
        return cands
    return _select(arg_types, cands)


def _signature(name: str, arg_types: list[SqlType]) -> str:
    return f"{name}({', '.join(type_display(t) for t in arg_types)})"


def _finish(c: _Cand) -> tuple[Any, list[SqlType], SqlType]:
    return c.ov, c.targets, c.ov.result_type(c.targets)


def resolve_function(name: str, arg_types: list[SqlType]) -> tuple[Overload, list[SqlType], SqlType]:
    """The overload of ``name`` for ``arg_types``, each argument's cast target, the result type."""
    key = name.lower()
    cands = _resolve(functions().get(key, []), arg_types)
    if not cands:
        raise UndefinedFunction(
            f"function {_signature(key, arg_types)} does not exist",
            hint="No function matches the given name and argument types. "
            "You might need to add explicit type casts.",
        )
    if len(cands) > 1:
        raise AmbiguousFunction(
            f"function {_signature(key, arg_types)} is not unique",
            hint="Could not choose a best candidate function. "
            "You might need to add explicit type casts.",
        )
    return _finish(cands[0])


def resolve_aggregate(
    name: str, arg_types: list[SqlType]
) -> tuple[AggOverload, list[SqlType], SqlType]:
    key = name.lower()
    cands = _resolve(aggregates().get(key, []), arg_types)
    if not cands:
        raise UndefinedFunction(
            f"function {_signature(key, arg_types)} does not exist",
            hint="No function matches the given name and argument types. "
            "You might need to add explicit type casts.",
        )
    if len(cands) > 1:
        raise AmbiguousFunction(
            f"function {_signature(key, arg_types)} is not unique",
            hint="Could not choose a best candidate function. "
            "You might need to add explicit type casts.",
        )
    return _finish(cands[0])


def _op_text(op: str, left: SqlType | None, right: SqlType) -> str:
    if left is None:
        return f"{op} {type_display(right)}"
    return f"{type_display(left)} {op} {type_display(right)}"


def resolve_operator(
    op: str, left: SqlType | None, right: SqlType
) -> tuple[Overload, list[SqlType], SqlType]:
    """Binary operator (or prefix operator when ``left`` is None)."""
    arg_types = [right] if left is None else [left, right]
    cands = _resolve(operators().get(op, []), arg_types, prefer_exact_unknown=True)
    if not cands:
        raise UndefinedFunction(
            f"operator does not exist: {_op_text(op, left, right)}",
            hint="No operator matches the given name and argument types. "
            "You might need to add explicit type casts.",
        )
    if len(cands) > 1:
        raise AmbiguousFunction(
            f"operator is not unique: {_op_text(op, left, right)}",
            hint="Could not choose a best candidate operator. "
            "You might need to add explicit type casts.",
        )
    return _finish(cands[0])
