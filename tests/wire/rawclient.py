"""A minimal protocol-3 client over a plain socket, for tests that need exact messages
(row limits, Flush, malformed input) that no driver sends on purpose."""

from __future__ import annotations

import socket
import struct

Message = tuple[bytes, bytes]


def msg(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstr(s: str) -> bytes:
    return s.encode() + b"\0"


def startup_packet(user: str = "postgres", database: str = "postgres", version: int = 196608, **extra: str) -> bytes:
    params = {"user": user, "database": database, **extra}
    body = struct.pack("!i", version) + b"".join(cstr(k) + cstr(v) for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def parse(sql: str, name: str = "", oids: tuple[int, ...] = ()) -> bytes:
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack(f"!h{len(oids)}i", len(oids), *oids))


def bind(portal: str = "", stmt: str = "", params: tuple[bytes | None, ...] = (),
         param_formats: tuple[int, ...] = (), result_formats: tuple[int, ...] = ()) -> bytes:
    body = cstr(portal) + cstr(stmt)
    body += struct.pack(f"!h{len(param_formats)}h", len(param_formats), *param_formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack(f"!h{len(result_formats)}h", len(result_formats), *result_formats)
    return msg(b"B", body)


def describe(kind: bytes, name: str = "") -> bytes:
    return msg(b"D", kind + cstr(name))


def execute(portal: str = "", limit: int = 0) -> bytes:
    return msg(b"E", cstr(portal) + struct.pack("!i", limit))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERMINATE = msg(b"X")


def query(sql: str) -> bytes:
    return msg(b"Q", cstr(sql))


def fields(payload: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse/NoticeResponse payload, by code letter."""
    out = {}
    for part in payload.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def data_row(payload: bytes) -> list[bytes | None]:
    (n,) = struct.unpack_from("!h", payload)
    pos, out = 2, []
    for _ in range(n):
        (ln,) = struct.unpack_from("!i", payload, pos)
        pos += 4
        if ln < 0:
            out.append(None)
        else:
            out.append(payload[pos : pos + ln])
            pos += ln
    return out


def row_description(payload: bytes) -> list[tuple]:
    (n,) = struct.unpack_from("!h", payload)
    pos, out = 2, []
    for _ in range(n):
        end = payload.index(b"\0", pos)
        name = payload[pos:end].decode()
        pos = end + 1
        out.append((name, *struct.unpack_from("!IhIhih", payload, pos)))
        pos += 18
    return out


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_byte(self) -> bytes:
        while not self.buf:
            if not self._fill():
                raise EOFError
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read(self) -> Message | None:
        """The next backend message, or None when the server closed the connection."""
        while len(self.buf) < 5:
            if not self._fill():
                return None
        kind = self.buf[:1]
        (length,) = struct.unpack_from("!i", self.buf, 1)
        while len(self.buf) < 1 + length:
            if not self._fill():
                return None
        payload = self.buf[5 : 1 + length]
        self.buf = self.buf[1 + length :]
        return kind, payload

    def until(self, kind: bytes) -> list[Message]:
        """Messages up to and including the first of ``kind``."""
        out = []
        while True:
            m = self.read()
            if m is None:
                raise EOFError(f"connection closed before {kind!r}; got {out}")
            out.append(m)
            if m[0] == kind:
                return out

    def login(self, user: str = "postgres", database: str = "postgres", **extra: str) -> list[Message]:
        self.send(startup_packet(user, database, **extra))
        return self.until(b"Z")

    def close(self) -> None:
        self.sock.close()


def kinds(messages: list[Message]) -> bytes:
    return b"".join(k for k, _ in messages)
