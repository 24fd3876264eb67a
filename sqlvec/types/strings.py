"""Text input/output of the string-like types: text, varchar, bpchar, bytea, uuid, json(b)."""

from __future__ import annotations

import json
import re
import uuid as _uuid
from decimal import Decimal

from sqlvec.errors import (
    CharacterNotInRepertoire,
    InvalidParameterValue,
    InvalidTextRepresentation,
    StringDataRightTruncation,
    UntranslatableCharacter,
)
from sqlvec.types.numbers import numeric_out

# varchar(n)/char(n) typmods are n + VARHDRSZ, as in pg_attribute.atttypmod.
VARHDRSZ = 4


def _check_nul(text: str) -> str:
    if "\x00" in text:
        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8": 0x00')
    return text


def text_in(text: str, typmod: int = -1) -> str:
    return _check_nul(text)


def text_out(value: str) -> str:
    return value


def _fit(text: str, typmod: int, type_name: str) -> str:
    """Cut ``text`` to the declared length: only trailing spaces may be cut (varchar_input)."""
    if typmod < VARHDRSZ:
        return text
    n = typmod - VARHDRSZ
    if len(text) > n:
        if text[n:].strip(" "):
            raise StringDataRightTruncation(f"value too long for type {type_name}({n})")
        return text[:n]
    return text


def varchar_in(text: str, typmod: int = -1) -> str:
    return _fit(_check_nul(text), typmod, "character varying")


def bpchar_in(text: str, typmod: int = -1) -> str:
    s = _fit(_check_nul(text), typmod, "character")
    if typmod >= VARHDRSZ:
        s = s.ljust(typmod - VARHDRSZ)
    return s


# --- bytea --------------------------------------------------------------------------------

_OCTAL = re.compile(r"\\([0-3][0-7]{2})|\\\\")


def bytea_in(text: str, typmod: int = -1) -> bytes:
    if text.startswith("\\x"):
        body = text[2:]
        out = bytearray()
        i = 0
        while i < len(body):
            c = body[i]
            if c in " \t\n\r":
                i += 1
                continue
            hi = _hexval(c)
            if i + 1 >= len(body):
                raise InvalidParameterValue("invalid hexadecimal data: odd number of digits")
            lo = _hexval(body[i + 1])
            out.append(hi << 4 | lo)
            i += 2
        return bytes(out)
    # escape format: \\ and \ooo; any other backslash is an error
    out = bytearray()
    pos = 0
    for m in re.finditer(r"\\", text):
        if m.start() < pos:
            continue
        out += text[pos : m.start()].encode()
        esc = _OCTAL.match(text, m.start())
        if esc is None:
            raise InvalidTextRepresentation("invalid input syntax for type bytea")
        out.append(int(esc.group(1), 8) if esc.group(1) else 0x5C)
        pos = esc.end()
    out += text[pos:].encode()
    return bytes(out)


def _hexval(c: str) -> int:
    try:
        return int(c, 16)
    except ValueError:
        raise InvalidParameterValue(f'invalid hexadecimal digit: "{c}"') from None


def bytea_out(value: bytes) -> str:
    return "\\x" + bytes(value).hex()


# --- uuid ---------------------------------------------------------------------------------

# 32 hex digits, optionally braced, with a hyphen allowed after any group of four digits.
_UUID_RE = re.compile(r"(\{)?((?:[0-9a-fA-F]{4}-?){7}[0-9a-fA-F]{4})(?(1)\})")


def uuid_in(text: str, typmod: int = -1) -> _uuid.UUID:
    m = _UUID_RE.fullmatch(text.strip())
    if m is None or m.group(2).endswith("-"):
        raise InvalidTextRepresentation(f'invalid input syntax for type uuid: "{text}"')
    return _uuid.UUID(hex=m.group(2).replace("-", ""))


def uuid_out(value: _uuid.UUID) -> str:
    return str(value)


# --- json / jsonb -------------------------------------------------------------------------


class _Num(str):
    """A JSON number kept as its text, so that jsonb prints it as numeric does."""


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _parse_json(text: str) -> object:
    try:
        return json.loads(
            text,
            parse_float=_Num,
            parse_int=_Num,
            parse_constant=_reject_constant,
            object_pairs_hook=list,
        )
    except (ValueError, RecursionError) as e:
        detail = "The input string ended unexpectedly."
        if isinstance(e, json.JSONDecodeError) and e.pos < len(text.rstrip()):
            token = re.match(r"[A-Za-z0-9_.+-]+|.", text[e.pos :], re.S)
            detail = f'Token "{token.group(0) if token else ""}" is invalid.'
        elif not isinstance(e, json.JSONDecodeError):
            detail = f'Token "{e}" is invalid.'
        raise InvalidTextRepresentation("invalid input syntax for type json", detail=detail) from None


def json_in(text: str, typmod: int = -1) -> str:
    _parse_json(text)
    return text  # json keeps its input text verbatim


def json_out(value: str) -> str:
    return value


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}
_ESCAPE_RE = re.compile(r'["\\\x00-\x1f]')


def _escape_json(s: str) -> str:
    def repl(m: re.Match[str]) -> str:
        c = m.group(0)
        return _ESCAPES.get(c) or f"\\u{ord(c):04x}"

    return '"' + _ESCAPE_RE.sub(repl, s) + '"'


def _jsonb_key(k: str) -> tuple[int, bytes]:
    # jsonb orders object keys by length first, then bytewise (lengthCompareJsonbString).
    b = k.encode()
    return len(b), b


def _jsonb_text(v: object) -> str:
    if isinstance(v, _Num):
        return numeric_out(Decimal(v))
    if isinstance(v, str):
        if "\x00" in v:
            raise UntranslatableCharacter(
                "unsupported Unicode escape sequence",
                detail="\\u0000 cannot be converted to text.",
            )
        return _escape_json(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, _Obj):
        items = dict(v.pairs)  # duplicate keys: the last one wins
        keys = sorted(items, key=_jsonb_key)
        return "{" + ", ".join(f"{_escape_json(k)}: {_jsonb_text(items[k])}" for k in keys) + "}"
    return "[" + ", ".join(_jsonb_text(x) for x in v) + "]"  # type: ignore[union-attr]


class _Obj:
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        self.pairs = pairs


def jsonb_in(text: str, typmod: int = -1) -> str:
    """jsonb keeps a normalised value; we keep its canonical text."""
    try:
        value = json.loads(
            text,
            parse_float=_Num,
            parse_int=_Num,
            parse_constant=_reject_constant,
            object_pairs_hook=_Obj,
        )
    except (ValueError, RecursionError):
        _parse_json(text)  # raises with PostgreSQL's message
        raise
    return _jsonb_text(value)


def jsonb_out(value: str) -> str:
    return value
