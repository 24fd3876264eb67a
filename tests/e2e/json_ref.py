"""JSON documents for the round-trip tests, and PostgreSQL's jsonb text form computed
independently of the engine (json keeps its input text; jsonb normalises it)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from hypothesis import strategies as st

TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))

# numbers as decimals written without exponent: jsonb keeps such text as numeric prints it
JSON_NUMBERS = st.integers(0, 4).flatmap(
    lambda p: st.decimals(-(10**12), 10**12, places=p, allow_nan=False, allow_infinity=False)
)
JSON_SCALARS = st.none() | st.booleans() | JSON_NUMBERS | TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def json_text(value: Any, ws: str, ascii_only: bool) -> str:
    if isinstance(value, dict):
        parts = [
            f"{json_text(k, ws, ascii_only)}{ws}:{ws}{json_text(v, ws, ascii_only)}"
            for k, v in value.items()
        ]
        return "{" + f",{ws}".join(parts) + "}"
    if isinstance(value, list):
        return "[" + f",{ws}".join(json_text(v, ws, ascii_only) for v in value) + "]"
    if isinstance(value, D):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=ascii_only)


_JSONB_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _jsonb_string(s: str) -> str:
    out = []
    for ch in s:
        esc = _JSONB_ESCAPES.get(ch)
        out.append(esc if esc else f"\\u{ord(ch):04x}" if ord(ch) < 0x20 else ch)
    return '"' + "".join(out) + '"'


def jsonb_out(value: Any) -> str:
    """PostgreSQL's jsonb text form: keys ordered by (byte length, bytes), ', ' and ': '."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_jsonb_string(k)}: {jsonb_out(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_out(v) for v in value) + "]"
    if isinstance(value, D):
        return format(value + 0, "f")  # + 0 turns -0.00 into 0.00, as numeric prints it
    if isinstance(value, str):
        return _jsonb_string(value)
    return json.dumps(value)


@st.composite
def json_docs(draw: st.DrawFn) -> tuple[str, Any]:
    value = draw(JSON_VALUES)
    return json_text(value, draw(st.sampled_from(["", " ", "\n  "])), draw(st.booleans())), value
