"""Text form of one-dimensional arrays, as array_in/array_out write and read it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlvec.errors import FeatureNotSupported, InvalidTextRepresentation

# array_out quotes an element that is empty, spells NULL, or holds any of these.
_NEEDS_QUOTE = re.compile(r'[{},"\\\s]')
_ESCAPE = re.compile(r'(["\\])')
_SPACE = " \t\n\r\v\f"


def quote_element(s: str) -> str:
    if s == "" or s.upper() == "NULL" or _NEEDS_QUOTE.search(s):
        return '"' + _ESCAPE.sub(r"\\\1", s) + '"'
    return s


def array_out(values: list, elem_out: Callable[[Any], str]) -> str:
    return "{" + ",".join("NULL" if v is None else quote_element(elem_out(v))
                          for v in values) + "}"


def _malformed(text: str, detail: str) -> InvalidTextRepresentation:
    return InvalidTextRepresentation(f'malformed array literal: "{text}"', detail=detail)


def split_array(text: str) -> list[str | None]:
    """The element texts of a 1-D array literal (None for unquoted NULL)."""
    s = text.strip(_SPACE)
    if s.startswith("["):  # explicit bounds "[1:3]={...}": read past them
        eq = s.find("=")
        if eq < 0:
            raise _malformed(text, 'Missing "=" after array dimensions.')
        s = s[eq + 1 :].strip(_SPACE)
    if not s.startswith("{"):
        raise _malformed(text, 'Array value must start with "{" or dimension information.')
    out: list[str | None] = []
    i, n = 1, len(s)
    expect_elem = True
    while True:
        while i < n and s[i] in _SPACE:
            i += 1
        if i >= n:
            raise _malformed(text, "Unexpected end of input.")
        c = s[i]
        if c == "}" and (not out or not expect_elem):
            if expect_elem and out:
                raise _malformed(text, 'Unexpected "}" character.')
            i += 1
            break
        if not expect_elem:
            if c != ",":
                raise _malformed(text, f'Unexpected "{c}" character.')
            expect_elem = True
            i += 1
            continue
        if c == "{":
            raise FeatureNotSupported("multidimensional arrays are not supported")
        if c in ",}":
            raise _malformed(text, f'Unexpected "{c}" character.')
        buf: list[str] = []
        quoted = False
        if c == '"':
            quoted, i = True, i + 1
            while True:
                if i >= n:
                    raise _malformed(text, "Unexpected end of input.")
                ch = s[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise _malformed(text, "Unexpected end of input.")
                    buf.append(s[i + 1])
                    i += 2
                elif ch == '"':
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
        else:
            while i < n and s[i] not in ",}":
                if s[i] == "\\":
                    if i + 1 >= n:
                        raise _malformed(text, "Unexpected end of input.")
                    buf.append(s[i + 1])
                    i += 2
                    continue
                if s[i] in '"{':
                    raise _malformed(text, f'Unexpected "{s[i]}" character.')
                buf.append(s[i])
                i += 1
        elem = "".join(buf)
        if not quoted:
            elem = elem.strip(_SPACE)
        out.append(None if not quoted and elem.upper() == "NULL" else elem)
        expect_elem = False
    if s[i:].strip(_SPACE):
        raise _malformed(text, "Junk after closing right brace.")
    return out


def array_in(text: str, elem_in: Callable[[str, int], Any], typmod: int = -1) -> list:
    return [None if e is None else elem_in(e, typmod) for e in split_array(text)]
