"""The wire side of COPY: the engine's copy channel, over the connection's socket.

The engine's COPY statement (``sqlvec.exec.copy``) asks ``session.copy_channel`` for the
client's data (COPY FROM STDIN) or hands it rows to send (COPY TO STDOUT); this class turns
those calls into CopyInResponse / CopyData / CopyDone / CopyFail and CopyOutResponse /
CopyData / CopyDone messages. It runs on the connection's thread, which reads the client's
CopyData straight from the socket while the statement runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlvec.wire import protocol as P
from sqlvec.wire.stream import SocketStream

from sqlvec import errors


class WireCopy:
    """``session.copy_channel`` of a wire connection."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream

    def copy_in(self, binary: bool, ncols: int) -> Iterator[bytes]:
        """Send CopyInResponse and yield each CopyData payload until CopyDone. CopyFail
        raises 57014 (nothing is written: the statement fails)."""
        self.stream.write(P.copy_response(b"G", binary, ncols))
        self.stream.flush()
        while True:
            kind, body = self.stream.next_message()
            if kind == b"d":
                yield body
            elif kind == b"c":
                return
            elif kind == b"f":
                reason = P.Payload(body).cstr()
                raise errors.QueryCanceled(f"COPY from stdin failed: {reason}")
            elif kind in (b"H", b"S"):
                continue  # PostgreSQL ignores Flush and Sync during COPY IN
            else:
                raise errors.ProtocolViolation(f"unexpected message type 0x{kind[0]:02X} during COPY from stdin")

    def copy_out(self, binary: bool, ncols: int) -> CopyOut:
        """Send CopyOutResponse; the returned writer sends CopyData, then CopyDone."""
        self.stream.write(P.copy_response(b"H", binary, ncols))
        return CopyOut(self.stream)


class CopyOut:
    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        if data:
            self.stream.write(P.copy_data(data))

    def done(self) -> None:
        self.stream.write(P.COPY_DONE)
