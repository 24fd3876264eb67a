"""PostgreSQL protocol 3.0 messages: reading frontend payloads, building backend messages.

Every backend message is ``type byte + int32 length (including itself) + payload``; the
builders below return complete messages as bytes so that the caller can join a whole
response into one write. Frontend payloads are read with :class:`Payload`, which raises
:class:`ProtocolError` (SQLSTATE 08P01) instead of IndexError/struct.error on short data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from sqlvec import errors

PROTOCOL_3_0 = 196608  # (3 << 16) | 0
SSL_REQUEST = 80877103  # 1234.5679
GSSENC_REQUEST = 80877104  # 1234.5680
CANCEL_REQUEST = 80877102  # 1234.5678
MAX_STARTUP_PACKET = 10_000  # PostgreSQL's MAX_STARTUP_PACKET_LENGTH

# Largest frontend message accepted, by type; PostgreSQL caps small messages at 10000 bytes
# (PQ_SMALL_MESSAGE_LIMIT) and the rest at 1 GB. A bulk INSERT can be large; a Sync cannot.
_LARGE = 512 * 1024 * 1024
_SMALL = 10_000
MAX_MESSAGE: dict[bytes, int] = {
    b"Q": _LARGE,  # Query
    b"P": _LARGE,  # Parse
    b"B": _LARGE,  # Bind
    b"E": _SMALL,  # Execute
    b"D": _SMALL,  # Describe
    b"C": _SMALL,  # Close
    b"S": _SMALL,  # Sync
    b"H": _SMALL,  # Flush
    b"X": _SMALL,  # Terminate
    b"p": _SMALL,  # password / SASL response
    b"d": _LARGE,  # CopyData (answered with an error: COPY is not served yet)
    b"c": _SMALL,  # CopyDone
    b"f": _SMALL,  # CopyFail
}

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")


class ProtocolError(errors.ProtocolViolation):
    """A malformed frontend message: the connection gets 08P01 and is closed."""


class Payload:
    """Cursor over one frontend message's payload, with bounds checks."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError("insufficient data left in message")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def int32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def bytes(self, n: int) -> bytes:
        return self._take(n)

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolError("invalid string in message")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.CharacterNotInRepertoire(
                "invalid byte sequence for encoding \"UTF8\""
            ) from None

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError("invalid message format")


def _cstr_at(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise ProtocolError("invalid string in message")
    try:
        return data[pos:end].decode("utf-8"), end + 1
    except UnicodeDecodeError:
        raise errors.CharacterNotInRepertoire("invalid byte sequence for encoding \"UTF8\"") from None


def _int16s(data: bytes, pos: int) -> tuple[tuple[int, ...], int]:
    """An int16 count followed by that many int16 values."""
    (n,) = _I16.unpack_from(data, pos)
    pos += 2
    if n <= 0:
        return (), pos
    return struct.unpack_from(f"!{n}h", data, pos), pos + 2 * n


def parse_bind(data: bytes) -> tuple[str, str, tuple[int, ...], list[bytes | None], tuple[int, ...]]:
    """Bind: (portal, statement, parameter format codes, raw values, result format codes).

    The hottest message of the extended protocol (one per execution of a prepared
    statement), so it is read with struct directly rather than through :class:`Payload`."""
    try:
        portal, pos = _cstr_at(data, 0)
        stmt, pos = _cstr_at(data, pos)
        param_formats, pos = _int16s(data, pos)
        (n,) = _I16.unpack_from(data, pos)
        pos += 2
        raw: list[bytes | None] = []
        for _ in range(max(n, 0)):
            (size,) = _I32.unpack_from(data, pos)
            pos += 4
            if size == -1:
                raw.append(None)
                continue
            if size < 0 or pos + size > len(data):
                raise ProtocolError("insufficient data left in message")
            raw.append(data[pos : pos + size])
            pos += size
        codes, pos = _int16s(data, pos)
    except struct.error:
        raise ProtocolError("insufficient data left in message") from None
    if pos != len(data):
        raise ProtocolError("invalid message format")
    return portal, stmt, param_formats, raw, codes


def parse_execute(data: bytes) -> tuple[str, int]:
    """Execute: (portal, row limit)."""
    name, pos = _cstr_at(data, 0)
    if pos + 4 != len(data):
        raise ProtocolError("insufficient data left in message" if pos + 4 > len(data) else "invalid message format")
    return name, _I32.unpack_from(data, pos)[0]


def message(kind: bytes, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(payload) + 4) + payload


def cstr(s: str) -> bytes:
    return s.encode("utf-8") + b"\0"


# --- authentication and startup ------------------------------------------------------------

AUTH_OK = message(b"R", _I32.pack(0))
AUTH_CLEARTEXT = message(b"R", _I32.pack(3))


def auth_md5(salt: bytes) -> bytes:
    return message(b"R", _I32.pack(5) + salt)


def auth_sasl(mechanisms: Sequence[str]) -> bytes:
    return message(b"R", _I32.pack(10) + b"".join(cstr(m) for m in mechanisms) + b"\0")


def auth_sasl_continue(data: bytes) -> bytes:
    return message(b"R", _I32.pack(11) + data)


def auth_sasl_final(data: bytes) -> bytes:
    return message(b"R", _I32.pack(12) + data)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!ii", pid, secret))


def negotiate_protocol_version(newest_minor: int, unsupported: Sequence[str]) -> bytes:
    body = struct.pack("!ii", (3 << 16) | newest_minor, len(unsupported))
    return message(b"v", body + b"".join(cstr(o) for o in unsupported))


_READY = {st: message(b"Z", st.encode("ascii")) for st in "ITE"}


def ready_for_query(status: str) -> bytes:
    return _READY[status]


# --- query responses -----------------------------------------------------------------------

PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
EMPTY_QUERY = message(b"I")
PORTAL_SUSPENDED = message(b"s")


_TAGS: dict[str, bytes] = {}  # the same few tags come back every round trip


def command_complete(tag: str) -> bytes:
    out = _TAGS.get(tag)
    if out is None:
        out = message(b"C", cstr(tag))
        if len(_TAGS) < 4096:  # tags carry row counts: bounded
            _TAGS[tag] = out
    return out


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", struct.pack(f"!h{len(oids)}I", len(oids), *oids))


_FIELD = struct.Struct("!IhIhih")


def row_description(fields: Iterable[tuple[str, int, int, int, int, int, int]]) -> bytes:
    """``fields``: (name, table oid, attnum, type oid, typlen, typmod, format code)."""
    parts = [b""]
    n = 0
    for name, table_oid, attnum, type_oid, typlen, typmod, fmt in fields:
        parts.append(cstr(name) + _FIELD.pack(table_oid, attnum, type_oid, typlen, typmod, fmt))
        n += 1
    parts[0] = _I16.pack(n)
    return message(b"T", b"".join(parts))


# ErrorResponse / NoticeResponse field codes, in the order PostgreSQL sends them
_FIELDS = (
    ("S", "severity"),
    ("V", "severity"),
    ("C", "sqlstate"),
    ("M", "message"),
    ("D", "detail"),
    ("H", "hint"),
    ("P", "position"),
    ("s", "schema_name"),
    ("t", "table_name"),
    ("c", "column_name"),
    ("d", "datatype_name"),
    ("n", "constraint_name"),
)


def _fields(values: dict[str, object]) -> bytes:
    out = []
    for code, key in _FIELDS:
        v = values.get(key)
        if v is not None:
            out.append(code.encode() + cstr(str(v)))
    return b"".join(out) + b"\0"


def error_response(
    sqlstate: str,
    message_text: str,
    *,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
    position: int | None = None,
    objects: dict[str, str | None] | None = None,
) -> bytes:
    """``objects``: schema_name, table_name, column_name, datatype_name, constraint_name."""
    values: dict[str, object] = {
        "severity": severity,
        "sqlstate": sqlstate,
        "message": message_text,
        "detail": detail,
        "hint": hint,
        "position": position,
    }
    if objects:
        values.update(objects)
    return message(b"E", _fields(values))


def notice_response(
    severity: str, sqlstate: str, text: str, detail: str | None = None, hint: str | None = None
) -> bytes:
    return message(
        b"N",
        _fields(
            {"severity": severity, "sqlstate": sqlstate, "message": text, "detail": detail, "hint": hint}
        ),
    )


def notification_response(pid: int, channel: str, payload: str) -> bytes:
    return message(b"A", _I32.pack(pid) + cstr(channel) + cstr(payload))


def copy_response(kind: bytes, binary: bool, ncols: int) -> bytes:
    """CopyInResponse (``G``) or CopyOutResponse (``H``): overall format, per-column formats."""
    fmt = 1 if binary else 0
    return message(kind, struct.pack(f"!bh{ncols}h", fmt, ncols, *([fmt] * ncols)))


COPY_DONE = message(b"c")


def copy_data(data: bytes) -> bytes:
    return _HEADER.pack(b"d", len(data) + 4) + data
