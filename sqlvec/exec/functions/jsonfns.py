"""json and jsonb functions, operators and aggregates.

Values are stored as JSON text (jsonb already canonical, see sqlvec.types.strings). Each call
parses the text into Python values (objects as dicts, numbers kept as their text) and writes
the result back: jsonb through ``jsonb_in`` (so it is canonical again), json in PostgreSQL's
json formatting of the function that made it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from sqlvec import errors
from sqlvec.exec.functions.pyrows import rows_typed, values
from sqlvec.exec.functions.registry import AggOverload, Overload
from sqlvec.types.base import SqlType
from sqlvec.types.strings import jsonb_in

J, JB, T = "json", "jsonb", "text"


class Num(str):
    """A JSON number, kept as its text."""


def parse(text: str) -> Any:
    return json.loads(text, parse_float=Num, parse_int=Num)


def dump(v: Any, obj_sep: str = ": ", item_sep: str = ", ") -> str:
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "{" + item_sep.join(f"{json.dumps(k, ensure_ascii=False)}{obj_sep}"
                                   f"{dump(x, obj_sep, item_sep)}" for k, x in v.items()) + "}"
    return "[" + item_sep.join(dump(x, obj_sep, item_sep) for x in v) + "]"


def _out(kind: str, v: Any) -> str:
    text = dump(v)
    return jsonb_in(text) if kind == JB else text


def _as_text(v: Any) -> str | None:
    """->> and #>>: strings unquoted, JSON null is SQL NULL, the rest as JSON text."""
    if v is None:
        return None
    return v if isinstance(v, str) and not isinstance(v, Num) else dump(v)


_MISSING = object()


def _get(v: Any, key: Any) -> Any:
    if isinstance(key, int):
        if isinstance(v, list):
            i = key + len(v) if key < 0 else key
            return v[i] if 0 <= i < len(v) else _MISSING
        return _MISSING
    if isinstance(v, dict):
        return v.get(key, _MISSING)
    if isinstance(v, list):  # a path step into an array must be an integer
        try:
            return _get(v, int(key))
        except ValueError:
            return _MISSING
    return _MISSING


def _field(kind: str, text_result: bool):
    def fn(doc: str, key: Any) -> Any:
        v = _get(parse(doc), key)
        if v is _MISSING:
            return None
        return _as_text(v) if text_result else _out(kind, v)

    return fn


def _path(kind: str, text_result: bool):
    def fn(doc: str, path: list) -> Any:
        v = parse(doc)
        for step in path:
            if step is None:
                return None
            v = _get(v, step)
            if v is _MISSING:
                return None
        return _as_text(v) if text_result else _out(kind, v)

    return fn


def _contains(a: Any, b: Any) -> bool:
    """jsonb @>: objects contain sub-objects, arrays contain each element of the other
    array (a scalar array also contains the scalar)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _contains(a[k], v) for k, v in b.items())
    if isinstance(a, list):
        if isinstance(b, list):
            return all(any(_contains(x, y) for x in a) for y in b)
        return any(_same(x, b) for x in a)
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Num) and isinstance(b, Num):
        from decimal import Decimal

        return Decimal(a) == Decimal(b)
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return isinstance(a, type(b)) and _contains(a, b) and _contains(b, a)
    return type(a) is type(b) and a == b


def _has_key(v: Any, key: str) -> bool:
    if isinstance(v, dict):
        return key in v
    if isinstance(v, list):
        return any(isinstance(x, str) and not isinstance(x, Num) and x == key for x in v)
    return isinstance(v, str) and not isinstance(v, Num) and v == key


def _concat(a: str, b: str) -> str:
    x, y = parse(a), parse(b)
    if isinstance(x, dict) and isinstance(y, dict):
        return _out(JB, {**x, **y})
    xs = x if isinstance(x, list) else [x]
    ys = y if isinstance(y, list) else [y]
    return _out(JB, xs + ys)


def _delete(a: str, key: Any) -> str:
    v = parse(a)
    if isinstance(key, list):
        for k in key:
            if k is not None:
                v = parse(_delete(dump(v), k))
        return _out(JB, v)
    if isinstance(v, dict) and isinstance(key, str):
        v.pop(key, None)
    elif isinstance(v, list):
        if isinstance(key, int):
            i = key + len(v) if key < 0 else key
            if 0 <= i < len(v):
                del v[i]
        else:
            v = [x for x in v if not (isinstance(x, str) and not isinstance(x, Num) and x == key)]
    elif isinstance(key, int):
        raise errors.InvalidParameterValue("cannot delete from scalar")
    return _out(JB, v)


def _set_path(doc: Any, path: list, new: Any, create: bool, insert: bool, after: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        if head in doc:
            if rest:
                doc[head] = _set_path(doc[head], rest, new, create, insert, after)
            elif insert:
                raise errors.InvalidParameterValue("cannot replace existing key",
                                                   hint="Try using the function jsonb_set "
                                                   "to replace key value.")
            else:
                doc[head] = new
        elif not rest and (create or insert):
            doc[head] = new
        return doc
    if isinstance(doc, list):
        try:
            i = int(head)
        except ValueError:
            raise errors.InvalidTextRepresentation(
                f'path element at position 1 is not an integer: "{head}"') from None
        j = i + len(doc) if i < 0 else i
        if 0 <= j < len(doc):
            if rest:
                doc[j] = _set_path(doc[j], rest, new, create, insert, after)
            elif insert:
                doc.insert(j + 1 if after else j, new)
            else:
                doc[j] = new
        elif not rest and (create or insert):
            if j < 0:
                doc.insert(0, new)
            else:
                doc.append(new)
        return doc
    if path:
        raise errors.InvalidParameterValue("cannot set path in scalar")
    return doc


def _jsonb_set(doc: str, path: list, new: str, create: bool = True) -> str:
    return _out(JB, _set_path(parse(doc), path, parse(new), create, False, False))


def _jsonb_insert(doc: str, path: list, new: str, after: bool = False) -> str:
    return _out(JB, _set_path(parse(doc), path, parse(new), False, True, after))


def _strip_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_strip_nulls(x) for x in v]
    return v


def _pretty(v: Any, depth: int = 0) -> str:
    pad = "    " * (depth + 1)
    if isinstance(v, dict) and v:
        inner = ",\n".join(f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(x, depth + 1)}"
                           for k, x in v.items())
        return "{\n" + inner + "\n" + "    " * depth + "}"
    if isinstance(v, list) and v:
        inner = ",\n".join(pad + _pretty(x, depth + 1) for x in v)
        return "[\n" + inner + "\n" + "    " * depth + "]"
    return dump(v)


def _typeof(doc: str) -> str:
    v = parse(doc)
    if isinstance(v, Num):
        return "number"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(v), "null")


def _array_length(kind: str):
    def fn(doc: str) -> int:
        v = parse(doc)
        if not isinstance(v, list):
            what = "scalar" if not isinstance(v, dict) else "non-array"
            raise errors.InvalidParameterValue(f"cannot get array length of a {what}")
        return len(v)

    return fn


# ----------------------------------------------------------------- SQL values -> JSON


def to_json_value(v: Any, t: SqlType) -> Any:
    """A SQL value as a JSON value (to_json / json_build_*): numbers stay numbers, json is
    embedded, arrays become arrays, everything else is its text output as a string."""
    if v is None:
        return None
    if t.is_array:
        assert t.elem is not None
        return [to_json_value(x, t.elem) for x in v]
    if t.name in (J, JB):
        return parse(v)
    if t.name == "boolean":
        return bool(v)
    text = t.defn.text_out(v)
    if t.defn.category == "N":
        return text if text in ("NaN", "Infinity", "-Infinity") else Num(text)
    return text


def _to_json(kind: str):
    def fn(types: list[SqlType], v: Any) -> str:
        jv = to_json_value(v, types[0])
        if kind == JB:
            return _out(JB, jv)
        return dump(jv, ":", ",")  # array_to_json / to_json print without spaces

    return fn


def _build_object(kind: str):
    def fn(types: list[SqlType], *vals: Any) -> str:
        if len(vals) % 2:
            raise errors.InvalidParameterValue(
                "argument list must have even number of elements",
                hint=f"The arguments of {kind}_build_object() must consist of alternating "
                "keys and values.")
        obj: dict[str, Any] = {}
        for i in range(0, len(vals), 2):
            if vals[i] is None:
                raise errors.NullValueNotAllowed(f"argument {i + 1}: key must not be null")
            key = to_json_value(vals[i], types[i])
            obj[key if isinstance(key, str) else dump(key)] = to_json_value(vals[i + 1],
                                                                             types[i + 1])
        return _out(JB, obj) if kind == JB else dump(obj, " : ", ", ")

    return fn


def _build_array(kind: str):
    def fn(types: list[SqlType], *vals: Any) -> str:
        arr = [to_json_value(v, t) for v, t in zip(vals, types)]
        return _out(JB, arr) if kind == JB else dump(arr)

    return fn


def _extract(kind: str, text_result: bool):
    path = _path(kind, text_result)
    return lambda doc, *keys: path(doc, list(keys))


# ------------------------------------------------------------------------- aggregates


def _groups(args: list[pa.Array], types: list[SqlType], gids: np.ndarray, n_groups: int):
    cols = [values(a, t, len(a)) for a, t in zip(args, types)]
    out: list[list[tuple]] = [[] for _ in range(n_groups)]
    for g, row in zip(gids.tolist(), zip(*cols)):
        out[g].append(row)
    return out


def _json_agg(kind: str, elem: SqlType | None = None):
    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        t = _arg_type(args[0])
        res = []
        for rows in _groups(args, [t], gids, n_groups):
            if not rows:
                res.append(None)
                continue
            arr = [to_json_value(r[0], t) for r in rows]
            res.append(_out(JB, arr) if kind == JB else dump(arr))
        return pa.array(res, pa.string())

    return impl


def _object_agg(kind: str):
    def impl(args: list[pa.Array], gids: np.ndarray, n_groups: int, distinct: bool):
        ts = [_arg_type(a) for a in args]
        res = []
        for rows in _groups(args, ts, gids, n_groups):
            if not rows:
                res.append(None)
                continue
            obj: dict[str, Any] = {}
            for k, v in rows:
                if k is None:
                    raise errors.NullValueNotAllowed("field name must not be null")
                kv = to_json_value(k, ts[0])
                obj[kv if isinstance(kv, str) else dump(kv)] = to_json_value(v, ts[1])
            if kind == JB:
                res.append(_out(JB, obj))
            else:
                inner = ", ".join(f"{json.dumps(k, ensure_ascii=False)} : {dump(v)}"
                                  for k, v in obj.items())
                res.append("{ " + inner + " }")
        return pa.array(res, pa.string())

    return impl


def _arg_type(arr: pa.Array) -> SqlType:
    """Aggregates receive only Arrow arrays: the SQL type is recovered from the storage type
    for the common cases (numbers, text, booleans, json as text)."""
    from sqlvec.exec.functions.registry import type_named

    t = arr.type
    if pa.types.is_boolean(t):
        return type_named("boolean")
    if pa.types.is_integer(t):
        return type_named("bigint")
    if pa.types.is_floating(t):
        return type_named("double precision")
    if pa.types.is_decimal(t):
        return type_named("numeric")
    return type_named("text")


_B = "boolean"

OPERATORS: list[Overload] = [
    *(o for k in (J, JB) for o in (
        Overload("->", (k, T), k, rows_typed(_field(k, False), k)),
        Overload("->", (k, "integer"), k, rows_typed(_field(k, False), k)),
        Overload("->>", (k, T), T, rows_typed(_field(k, True), T)),
        Overload("->>", (k, "integer"), T, rows_typed(_field(k, True), T)),
        Overload("#>", (k, "text[]"), k, rows_typed(_path(k, False), k)),
        Overload("#>>", (k, "text[]"), T, rows_typed(_path(k, True), T)),
    )),
    Overload("@>", (JB, JB), _B, rows_typed(lambda a, b: _contains(parse(a), parse(b)), _B)),
    Overload("<@", (JB, JB), _B, rows_typed(lambda a, b: _contains(parse(b), parse(a)), _B)),
    Overload("?", (JB, T), _B, rows_typed(lambda a, k: _has_key(parse(a), k), _B)),
    Overload("?|", (JB, "text[]"), _B, rows_typed(
        lambda a, ks: any(k is not None and _has_key(parse(a), k) for k in ks), _B)),
    Overload("?&", (JB, "text[]"), _B, rows_typed(
        lambda a, ks: all(k is not None and _has_key(parse(a), k) for k in ks), _B)),
    Overload("||", (JB, JB), JB, rows_typed(_concat, JB)),
    Overload("-", (JB, T), JB, rows_typed(_delete, JB)),
    Overload("-", (JB, "integer"), JB, rows_typed(_delete, JB)),
    Overload("-", (JB, "text[]"), JB, rows_typed(_delete, JB)),
    Overload("#-", (JB, "text[]"), JB, rows_typed(
        lambda a, p: _out(JB, _delete_path(parse(a), p)), JB)),
    Overload("=", (JB, JB), _B, rows_typed(lambda a, b: a == b, _B)),
    Overload("<>", (JB, JB), _B, rows_typed(lambda a, b: a != b, _B)),
]


def _delete_path(v: Any, path: list) -> Any:
    if not path:
        return v
    head, rest = path[0], path[1:]
    if isinstance(v, dict) and head in v:
        if rest:
            v[head] = _delete_path(v[head], rest)
        else:
            del v[head]
    elif isinstance(v, list):
        try:
            i = int(head)
        except ValueError:
            return v
        i = i + len(v) if i < 0 else i
        if 0 <= i < len(v):
            if rest:
                v[i] = _delete_path(v[i], rest)
            else:
                del v[i]
    return v


FUNCTIONS: list[Overload] = [
    *(o for k in (J, JB) for o in (
        Overload(f"{k}_typeof", (k,), T, rows_typed(_typeof, T)),
        Overload(f"{k}_array_length", (k,), "integer", rows_typed(_array_length(k), "integer")),
        Overload(f"to_{k}", ("anyelement",), k, rows_typed(_to_json(k), k, with_types=True)),
        Overload(f"{k}_build_object", ("any",), k,
                 rows_typed(_build_object(k), k, strict=False, with_types=True),
                 variadic=True, strict=False),
        Overload(f"{k}_build_object", (), k, rows_typed(lambda ts: "{}", k, with_types=True)),
        Overload(f"{k}_build_array", ("any",), k,
                 rows_typed(_build_array(k), k, strict=False, with_types=True),
                 variadic=True, strict=False),
        Overload(f"{k}_build_array", (), k, rows_typed(lambda ts: "[]", k, with_types=True)),
        Overload(f"{k}_extract_path", (k, T), k, rows_typed(_extract(k, False), k),
                 variadic=True),
        Overload(f"{k}_extract_path_text", (k, T), T, rows_typed(_extract(k, True), T),
                 variadic=True),
        Overload(f"{k}_strip_nulls", (k,), k,
                 rows_typed(lambda d, k=k: _out(k, _strip_nulls(parse(d))), k)),
    )),
    Overload("jsonb_set", (JB, "text[]", JB), JB, rows_typed(_jsonb_set, JB)),
    Overload("jsonb_set", (JB, "text[]", JB, _B), JB, rows_typed(_jsonb_set, JB)),
    Overload("jsonb_insert", (JB, "text[]", JB), JB, rows_typed(_jsonb_insert, JB)),
    Overload("jsonb_insert", (JB, "text[]", JB, _B), JB, rows_typed(_jsonb_insert, JB)),
    Overload("jsonb_pretty", (JB,), T, rows_typed(lambda d: _pretty(parse(d)), T)),
]

AGGREGATES: list[AggOverload] = [
    AggOverload("json_agg", ("anyelement",), J, _json_agg(J)),
    AggOverload("jsonb_agg", ("anyelement",), JB, _json_agg(JB)),
    AggOverload("json_object_agg", ("any", "any"), J, _object_agg(J)),
    AggOverload("jsonb_object_agg", ("any", "any"), JB, _object_agg(JB)),
]

ALIASES = {"jsonarrayagg": "json_agg", "jsonbobjectagg": "jsonb_object_agg",
           "jsonobjectagg": "json_object_agg"}
