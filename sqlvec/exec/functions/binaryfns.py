"""bytea and bit-level functions: encode/decode, get_byte/set_byte, bit_length,
gen_random_uuid, and the sqlglot names of to_hex / gen_random_uuid."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec import errors
from sqlvec.exec.functions.common import Datum, map_rows
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.base import SqlType

T, BY = "text", "bytea"


def _escape_encode(b: bytes) -> str:
    # 'escape': backslash doubled, bytes outside printable ASCII (and NUL) as \ooo
    out = []
    for x in b:
        if x == 0x5C:
            out.append("\\\\")
        elif x == 0 or x >= 0x80:
            out.append(f"\\{x:03o}")
        else:
            out.append(chr(x))
    return "".join(out)


def _escape_decode(s: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif s[i + 1 : i + 2] == "\\":
            out.append(0x5C)
            i += 2
        elif re.fullmatch(r"[0-3][0-7]{2}", s[i + 1 : i + 4]):
            out.append(int(s[i + 1 : i + 4], 8))
            i += 4
        else:
            raise errors.InvalidTextRepresentation("invalid input syntax for type bytea")
    return bytes(out)


def _b64_encode(b: bytes) -> str:
    text = base64.b64encode(b).decode()
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))  # 76-char lines


def _b64_decode(s: str) -> bytes:
    clean = re.sub(r"[ \t\r\n]", "", s)
    try:
        return base64.b64decode(clean, validate=True)
    except binascii.Error:
        bad = re.search(r"[^A-Za-z0-9+/=]", clean)
        if bad:
            raise errors.InvalidParameterValue(
                f'invalid symbol "{bad.group(0)}" found while decoding base64 sequence') from None
        raise errors.InvalidParameterValue("invalid base64 end sequence",
                                           hint="Input data is missing padding, is truncated, "
                                           "or is otherwise corrupted.") from None


def _hex_decode(s: str) -> bytes:
    clean = re.sub(r"\s", "", s)
    bad = re.search(r"[^0-9A-Fa-f]", clean)
    if bad:
        raise errors.InvalidParameterValue(f'invalid hexadecimal digit: "{bad.group(0)}"')
    if len(clean) % 2:
        raise errors.InvalidParameterValue("invalid hexadecimal data: odd number of digits")
    return bytes.fromhex(clean)


_ENCODERS = {"hex": lambda b: b.hex(), "base64": _b64_encode, "escape": _escape_encode}
_DECODERS = {"hex": _hex_decode, "base64": _b64_decode, "escape": _escape_decode}


def _codec(table: dict, fmt: str):
    fn = table.get(fmt.lower())
    if fn is None:
        raise errors.InvalidParameterValue(f'unrecognized encoding: "{fmt}"')
    return fn


def _get_byte(b: bytes, n: int) -> int:
    if not 0 <= n < len(b):
        raise errors.error_for("2202E", f"index {n} out of valid range, 0..{len(b) - 1}")
    return b[n]


def _set_byte(b: bytes, n: int, v: int) -> bytes:
    if not 0 <= n < len(b):
        raise errors.error_for("2202E", f"index {n} out of valid range, 0..{len(b) - 1}")
    out = bytearray(b)
    out[n] = v & 0xFF
    return bytes(out)


def _bit_length(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    fn = pc.binary_length
    return pc.cast(pc.multiply(pc.cast(fn(args[0]), pa.int32()), 8), pa.int32())


def _gen_random_uuid(args: list[Datum], types: list[SqlType], n: int) -> Datum:
    # called with no argument columns: the executor passes n, the number of rows wanted
    raw = np.frombuffer(secrets.token_bytes(16 * n), np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return pa.array([r.tobytes() for r in raw], pa.binary(16))


def _rows(fn, out: pa.DataType):
    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(fn, args, n, out)

    return impl


FUNCTIONS: list[Overload] = [
    Overload("encode", (BY, T), T, _rows(lambda b, f: _codec(_ENCODERS, f)(b), pa.string())),
    Overload("decode", (T, T), BY, _rows(lambda s, f: _codec(_DECODERS, f)(s), pa.binary())),
    Overload("get_byte", (BY, "integer"), "integer", _rows(_get_byte, pa.int32())),
    Overload("set_byte", (BY, "integer", "integer"), BY, _rows(_set_byte, pa.binary())),
    *(Overload("bit_length", (t,), "integer", _bit_length) for t in (T, BY)),
    Overload("gen_random_uuid", (), "uuid", _gen_random_uuid, volatile=True),
]

# sqlglot function classes named by their key (see registry._fill)
ALIASES = {"hex": "to_hex", "bitlength": "bit_length", "uuid": "gen_random_uuid"}

__all__ = ["ALIASES", "FUNCTIONS"]
