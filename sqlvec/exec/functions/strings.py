"""String functions and the ``||`` operators.

The common ones (length, lower, upper, ||, trim, reverse, repeat, constant-argument
substring/replace/starts_with) are pyarrow kernels. The rest are rarely on a hot path and run a
Python function per row, declared in one table line each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import Datum, all_scalar, as_array, finish, length, map_rows
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.base import SqlType

T = "text"


def _substr(s: str, start: int, count: int | None = None) -> str:
    """PostgreSQL substring: 1-based; characters before position 1 count against the length."""
    if count is None:
        return s[max(start - 1, 0) :]
    if count < 0:
        raise errors.error_for("22011", "negative substring length not allowed")
    end = start - 1 + count
    return s[max(start - 1, 0) : max(end, 0)]


def _substr_impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    if all(isinstance(a, pa.Scalar) and a.is_valid for a in args[1:]) and not all_scalar(args):
        start = args[1].as_py()
        count = args[2].as_py() if len(args) > 2 else None
        if count is not None and count < 0:
            raise errors.error_for("22011", "negative substring length not allowed")
        stop = None if count is None else max(start - 1 + count, 0)
        return pc.utf8_slice_codeunits(args[0], max(start - 1, 0), stop)
    return map_rows(_substr, args, n, pa.string())


def _bytea_substr(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return map_rows(_substr, args, n, pa.binary())


def _split_part(s: str, delim: str, field: int) -> str:
    if field == 0:
        raise errors.InvalidParameterValue("field position must not be zero")
    parts = s.split(delim) if delim else [s]
    if field < 0:
        field = len(parts) + field + 1
        if field <= 0:
            return ""
    return parts[field - 1] if field <= len(parts) else ""


def _pad(left: bool):
    def fn(s: str, size: int, fill: str = " ") -> str:
        if size <= 0:
            return ""
        if len(s) >= size or not fill:
            return s[:size]
        pad = (fill * (size // len(fill) + 1))[: size - len(s)]
        return pad + s if left else s + pad

    return fn


def _trim(side: str):
    def fn(s: str, chars: str = " ") -> str:
        return {"b": s.strip, "l": s.lstrip, "r": s.rstrip}[side](chars)

    return fn


def _translate(s: str, frm: str, to: str) -> str:
    table: dict[int, Any] = {}
    for i, ch in enumerate(frm):
        table.setdefault(ord(ch), to[i] if i < len(to) else None)
    return s.translate(table)


def _quote_ident(s: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", s):
        return s
    return '"' + s.replace('"', '""') + '"'


def _quote_literal(s: str) -> str:
    body = s.replace("'", "''")
    if "\\" in s:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def _chr(code: int) -> str:
    if code == 0:
        raise errors.InvalidParameterValue("null character not permitted")
    if code < 0 or code > 0x10FFFF:
        raise errors.InvalidParameterValue("requested character too large for encoding: "
                                           f"{code}")
    return chr(code)


def _regexp_replace(s: str, pattern: str, repl: str, flags: str = "") -> str:
    from sqlvec.exec.functions.patterns import pg_regex

    rx = pg_regex(pattern, "i" in flags)
    repl = re.sub(r"\\(\d)", r"\\g<\1>", repl.replace("\\&", "\\g<0>"))
    return rx.sub(repl, s, count=0 if "g" in flags else 1)


def _regexp_match(s: str, pattern: str, flags: str = "") -> list | None:
    """The first match's capture groups (or the whole match when there are none), as text[]."""
    from sqlvec.exec.functions.patterns import pg_regex

    m = pg_regex(pattern, "i" in flags).search(s)
    if m is None:
        return None
    return list(m.groups()) if m.re.groups else [m.group(0)]


def similar_to_regex(pattern: str, escape: str | None = "\\") -> str:
    """SQL's SIMILAR TO pattern as a POSIX regex anchored at both ends (similar_to_escape)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append({"%": ".*", "_": "."}.get(ch, "\\." if ch == "." else ch))
        i += 1
    return "^(?:" + "".join(out) + ")$"


def _to_hex(v: int) -> str:
    return format(v & 0xFFFFFFFFFFFFFFFF if v < 0 else v, "x")


def _text_of(types: list[SqlType], i: int) -> Callable[[Any], str]:
    t = types[i]
    if t.name in ("text", "character varying", "character", "unknown"):
        return str
    return t.defn.text_out


def _variadic_text(fn: Callable[[list[str | None]], str | None]):
    """concat/concat_ws/format: arguments of any type, NULL handling left to ``fn``."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        m = length(args, n)
        outs = [_text_of(types, i) for i in range(len(args))]
        cols = [[None if v is None else o(v) for v in (
            [a.as_py()] * m if isinstance(a, pa.Scalar) else a.to_pylist())]
            for a, o in zip(args, outs)]
        res = [fn(list(row)) for row in zip(*cols)]
        return finish(pa.array(res, pa.string()), args)

    return impl


def _concat(vals: list[str | None]) -> str:
    return "".join(v for v in vals if v is not None)


def _concat_ws(vals: list[str | None]) -> str | None:
    if vals[0] is None:
        return None
    return vals[0].join(v for v in vals[1:] if v is not None)


def _format(vals: list[str | None]) -> str | None:
    fmt, rest = vals[0], vals[1:]
    if fmt is None:
        return None
    it = iter(rest)

    def sub(m: re.Match) -> str:
        kind = m.group(1)
        if kind == "%":
            return "%"
        try:
            v = next(it)
        except StopIteration:
            raise errors.InvalidParameterValue("too few arguments for format()") from None
        if kind == "s":
            return "" if v is None else v
        if kind == "I":
            if v is None:
                raise errors.NullValueNotAllowed("null values cannot be formatted as an SQL "
                                                 "identifier")
            return _quote_ident(v)
        return "NULL" if v is None else _quote_literal(v)

    return re.sub(r"%([sIL%])", sub, fmt)


def _cat_any(text_side: int):
    """text || anynonarray and anynonarray || text (PostgreSQL's textanycat/anytextcat)."""

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        conv = [_text_of(types, 0), _text_of(types, 1)]
        return map_rows(lambda a, b: conv[0](a) + conv[1](b), args, n, pa.string())

    return impl


def _textcat(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return pc.binary_join_element_wise(*args, "")


def _bytea_cat(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    return map_rows(lambda a, b: a + b, args, n, pa.binary())


def _array_cat(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    out = types[0].arrow_type() if types[0].is_array else types[1].arrow_type()

    def cat(a: Any, b: Any) -> Any:
        if a is None:
            return b if isinstance(b, list) else None if b is None else [b]
        if b is None:
            return a if isinstance(a, list) else [a]
        return (a if isinstance(a, list) else [a]) + (b if isinstance(b, list) else [b])

    return map_rows(cat, args, n, out, strict=False)


def _string_to_array(s: str, delim: str | None, null: str | None = None) -> list[str | None]:
    parts = list(s) if delim is None else ([s] if delim == "" else s.split(delim))
    if s == "":
        return []
    return [None if null is not None and p == null else p for p in parts]


def _array_to_string(arr: list[Any], delim: str, null: str | None = None) -> str:
    return delim.join(str(v) if v is not None else null for v in arr
                      if v is not None or null is not None)


_STR = pa.string()


def _rows(fn: Callable[..., Any], out: pa.DataType = _STR, strict: bool = True):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(fn, args, n, out, strict=strict)

    return impl


def _pc(name: str, **kw: Any):
    fn = getattr(pc, name)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        res = fn(args[0], **kw)
        return pc.cast(res, pa.int32()) if name.endswith("length") else res

    return impl


def _repeat(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    m = length(args, n)
    counts = as_array(args[1], m)
    counts = pc.max_element_wise(counts, pa.scalar(0, counts.type))  # negative -> ''
    return finish(pc.binary_repeat(as_array(args[0], m), counts), args)


def _starts_with(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    if isinstance(args[1], pa.Scalar) and args[1].is_valid and not all_scalar(args):
        return pc.starts_with(args[0], args[1].as_py())
    return map_rows(lambda s, p: s.startswith(p), args, n, pa.bool_())


FUNCTIONS: list[Overload] = [
    *(Overload(name, (T,), "integer", _pc("utf8_length"))
      for name in ("length", "char_length", "character_length")),
    Overload("octet_length", (T,), "integer", _rows(lambda s: len(s.encode()), pa.int32())),
    Overload("octet_length", ("bytea",), "integer", _pc("binary_length")),
    # character(n) keeps its blank padding for octet_length (bpcharoctetlen)
    Overload("octet_length", ("character",), "integer",
             _rows(lambda s: len(s.encode()), pa.int32())),
    *(Overload(name, ("bytea", "integer"), "bytea", _bytea_substr)
      for name in ("substring", "substr")),
    *(Overload(name, ("bytea", "integer", "integer"), "bytea", _bytea_substr)
      for name in ("substring", "substr")),
    Overload("length", ("bytea",), "integer", _pc("binary_length")),
    Overload("lower", (T,), T, _pc("utf8_lower")),
    Overload("upper", (T,), T, _pc("utf8_upper")),
    Overload("initcap", (T,), T, _pc("utf8_title")),
    Overload("reverse", (T,), T, _pc("utf8_reverse")),
    *(Overload(name, (T, "integer"), T, _substr_impl) for name in ("substring", "substr")),
    *(Overload(name, (T, "integer", "integer"), T, _substr_impl)
      for name in ("substring", "substr")),
    *(Overload(name, (T, T), "integer", _rows(lambda s, sub: s.find(sub) + 1, pa.int32()))
      for name in ("strpos", "position")),
    Overload("replace", (T, T, T), T, _rows(lambda s, a, b: s.replace(a, b) if a else s)),
    Overload("split_part", (T, T, "integer"), T, _rows(_split_part)),
    Overload("left", (T, "integer"), T, _rows(lambda s, k: s[:k] if k >= 0 else s[:k])),
    Overload("right", (T, "integer"), T, _rows(lambda s, k: s[-k:] if k > 0 else s[-k:]
                                                if k < 0 else "")),
    *(Overload(name, (T,), T, _rows(_trim(side))) for name, side in
      (("btrim", "b"), ("trim", "b"), ("ltrim", "l"), ("rtrim", "r"))),
    *(Overload(name, (T, T), T, _rows(_trim(side))) for name, side in
      (("btrim", "b"), ("trim", "b"), ("ltrim", "l"), ("rtrim", "r"))),
    Overload("lpad", (T, "integer"), T, _rows(_pad(True))),
    Overload("lpad", (T, "integer", T), T, _rows(_pad(True))),
    Overload("rpad", (T, "integer"), T, _rows(_pad(False))),
    Overload("rpad", (T, "integer", T), T, _rows(_pad(False))),
    Overload("repeat", (T, "integer"), T, _repeat),
    Overload("md5", (T,), T, _rows(lambda s: hashlib.md5(s.encode()).hexdigest())),
    Overload("md5", ("bytea",), T, _rows(lambda b: hashlib.md5(b).hexdigest())),
    Overload("starts_with", (T, T), "boolean", _starts_with),
    Overload("ascii", (T,), "integer", _rows(lambda s: ord(s[0]) if s else 0, pa.int32())),
    Overload("chr", ("integer",), T, _rows(_chr)),
    *(Overload("to_hex", (t,), T, _rows(_to_hex)) for t in ("integer", "bigint")),
    Overload("translate", (T, T, T), T, _rows(_translate)),
    Overload("regexp_match", (T, T), "text[]", _rows(_regexp_match, pa.list_(pa.string()))),
    Overload("regexp_match", (T, T, T), "text[]", _rows(_regexp_match, pa.list_(pa.string()))),
    Overload("similar_to_escape", (T,), T, _rows(similar_to_regex)),
    Overload("regexp_replace", (T, T, T), T, _rows(_regexp_replace)),
    Overload("regexp_replace", (T, T, T, T), T, _rows(_regexp_replace)),
    Overload("quote_ident", (T,), T, _rows(_quote_ident)),
    Overload("quote_literal", (T,), T, _rows(_quote_literal)),
    Overload("quote_nullable", (T,), T, _rows(
        lambda s: "NULL" if s is None else _quote_literal(s), strict=False)),
    Overload("concat", ("any",), T, _variadic_text(_concat), variadic=True, strict=False),
    Overload("concat_ws", (T, "any"), T, _variadic_text(_concat_ws), variadic=True,
             strict=False),
    Overload("format", (T,), T, _variadic_text(_format), strict=False),
    Overload("format", (T, "any"), T, _variadic_text(_format), variadic=True, strict=False),
    Overload("string_to_array", (T, T), "text[]", _rows(
        lambda s, d: None if s is None else _string_to_array(s, d), pa.list_(pa.string()),
        strict=False)),
    Overload("string_to_array", (T, T, T), "text[]", _rows(
        lambda s, d, nl: None if s is None else _string_to_array(s, d, nl),
        pa.list_(pa.string()), strict=False)),
    Overload("array_to_string", ("anyarray", T), T, _rows(_array_to_string)),
    Overload("array_to_string", ("anyarray", T, T), T, _rows(
        lambda a, d, nl: None if a is None or d is None else _array_to_string(a, d, nl),
        strict=False)),
]

OPERATORS: list[Overload] = [
    Overload("||", (T, T), T, _textcat),
    Overload("||", (T, "anynonarray"), T, _cat_any(0)),
    Overload("||", ("anynonarray", T), T, _cat_any(1)),
    Overload("||", ("bytea", "bytea"), "bytea", _bytea_cat),
    Overload("||", ("anycompatiblearray", "anycompatiblearray"), lambda ts: ts[0], _array_cat,
             strict=False),
    Overload("||", ("anycompatiblearray", "anycompatible"), lambda ts: ts[0], _array_cat,
             strict=False),
    Overload("||", ("anycompatible", "anycompatiblearray"), lambda ts: ts[1], _array_cat,
             strict=False),
]

__all__ = ["FUNCTIONS", "OPERATORS", "np"]
