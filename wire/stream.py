"""A connection's socket as a blocking, buffered message stream, used from its own thread.

Each connection is served start to finish by one thread that blocks on its socket: no event
loop hop per message, which is most of a round trip's cost in Python. Output is buffered and
sent when the connection is about to wait for input (as PostgreSQL's backend flushes before
it blocks), so a pipeline of messages gets one write for all of its answers.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading

from sqlvec.wire import protocol as P

READ_SIZE = 256 * 1024
_HEAD = struct.Struct("!ci")
_LEN = struct.Struct("!i")


class Closed(Exception):
    """The peer closed the connection (or it was shut down)."""


class SocketStream:
    """Buffered reads and writes on one socket (plain or TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket = sock
        self.buf = bytearray()
        self.pos = 0  # start of unread data in buf
        self.out: list[bytes] = []
        self.out_size = 0
        self.tls = False
        self.write_lock = threading.Lock()  # the server's shutdown may write a FATAL too
        try:
            self.peer = sock.getpeername()
        except OSError:
            self.peer = None

    # -- reading ------------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        return len(self.buf) - self.pos

    def _fill(self) -> None:
        """Read at least one more byte from the socket (flushing pending output first)."""
        if self.out:
            self.flush()
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        try:
            data = self.sock.recv(READ_SIZE)
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            raise Closed(str(exc)) from None
        if not data:
            raise Closed("end of stream")
        if self.pos > READ_SIZE:  # compact: keep the buffer from growing without bound
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data

    def read_exact(self, n: int) -> bytes:
        while self.buffered < n:
            self._fill()
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def has_message(self) -> bool:
        """Whether a whole frontend message is already buffered."""
        avail = len(self.buf) - self.pos
        if avail < 5:
            return False
        return avail >= 1 + _LEN.unpack_from(self.buf, self.pos + 1)[0]

    def next_kind(self) -> bytes | None:
        """The type byte of the next buffered message, if any has arrived."""
        return bytes(self.buf[self.pos : self.pos + 1]) if self.buffered else None

    def next_message(self) -> tuple[bytes, bytes]:
        """The next frontend message as (type byte, payload). Raises ProtocolError for an
        unknown type or an impossible length, Closed when the peer has gone."""
        buf = self.buf
        while len(buf) - self.pos < 5:
            self._fill()
        pos = self.pos
        kind, length = _HEAD.unpack_from(buf, pos)
        limit = P.MAX_MESSAGE.get(kind)
        if limit is None:
            raise P.ProtocolError(f"invalid frontend message type {kind[0]}")
        if length < 4 or length > limit:
            raise P.ProtocolError(f"invalid message length {length} for message type {kind[0]}")
        end = pos + 1 + length
        while len(buf) < end:
            self._fill()
            pos = self.pos  # _fill may compact the buffer
            end = pos + 1 + length
        body = bytes(buf[pos + 5 : end])
        self.pos = end
        return kind, body

    # -- writing ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue ``data``; it is sent at the next flush (or when much is queued)."""
        self.out.append(data)
        self.out_size += len(data)
        if self.out_size >= READ_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.out:
            return
        data = self.out[0] if len(self.out) == 1 else b"".join(self.out)
        self.out.clear()
        self.out_size = 0
        self.send_now(data)

    def send_now(self, data: bytes) -> None:
        with self.write_lock:
            try:
                self.sock.sendall(data)
            except (ConnectionError, OSError, ssl.SSLError) as exc:
                raise Closed(str(exc)) from None

    # -- life cycle ---------------------------------------------------------------------------
    def start_tls(self, ctx: ssl.SSLContext) -> None:
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:  # a failed handshake: nothing to answer
            raise Closed(str(exc)) from None
        self.tls = True

    def shutdown(self) -> None:
        """Wake a thread blocked in recv (server shutdown): its read sees end of stream."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
