"""One client connection: message framing on the event loop, statements on a worker thread.

The loop reads bytes, cuts them into frontend messages and hands every complete message
that has arrived to the connection's own worker thread in one batch (one thread hop per
round trip, and a pipeline of messages in one go). Each connection has its own thread, so a
slow statement never holds up another connection, and the event loop stays free to accept
connections and CancelRequests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import struct
from typing import TYPE_CHECKING

from sqlvec.wire import protocol as P
from sqlvec.wire.errors import error_message
from sqlvec.wire.query import Output, QueryProtocol, Terminate
from sqlvec.wire.startup import Handshake, Startup, StartupFailed

from sqlvec import errors

if TYPE_CHECKING:
    from sqlvec.wire.server import Server

log = logging.getLogger("sqlvec.wire")
READ_SIZE = 256 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024  # messages handed to the worker at once (pipelines)


class Connection:
    def __init__(self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.buf = bytearray()
        self.start: Startup | None = None
        self.protocol: QueryProtocol | None = None
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.busy = False  # a batch is running on the worker
        self.closing = False

    @property
    def peer(self) -> str:
        peer = self.writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "local")

    async def run(self) -> None:
        try:
            try:
                self.start = await Handshake(self.server, self.reader, self.writer).run()
            except (StartupFailed, asyncio.IncompleteReadError, ConnectionError, OSError):
                return
            self.server.register(self)
            self.executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"sqlvec-conn-{self.start.pid}"
            )
            self.protocol = QueryProtocol(self.start, Output(self._flush_from_worker))
            await self._serve()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the client went away; whatever ran has finished (or rolled back)
        except Exception:
            log.exception("connection %s failed", self.peer)
        finally:
            await self._cleanup()

    async def _serve(self) -> None:
        while not self.closing:
            batch = self._take_messages()
            if batch is None:  # a framing error was answered: close
                return
            if not batch:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    return  # disconnected
                self.buf += data
                continue
            self.busy = True
            try:
                out, done = await self.loop.run_in_executor(self.executor, self._work, batch)
            finally:
                self.busy = False
            if out:
                self.writer.write(out)
                await self.writer.drain()
            if done or self.server.stopping:
                if self.server.stopping and not done:
                    await self.send_fatal(errors.AdminShutdown("terminating connection due to administrator command"))
                return

    def _take_messages(self) -> list[tuple[bytes, bytes]] | None:
        """Complete messages at the start of the buffer (None after a framing error, which
        has been queued for the client)."""
        out: list[tuple[bytes, bytes]] = []
        size = 0
        pos = 0
        buf = self.buf
        while len(buf) - pos >= 5 and size < MAX_BATCH_BYTES:
            kind = bytes(buf[pos : pos + 1])
            (length,) = struct.unpack_from("!i", buf, pos + 1)
            limit = P.MAX_MESSAGE.get(kind)
            if limit is None:
                self._framing_error(f"invalid frontend message type {kind[0]}")
                return None
            if length < 4 or length > limit:
                self._framing_error(f"invalid message length {length} for message type {kind[0]}")
                return None
            if len(buf) - pos < 1 + length:
                break
            out.append((kind, bytes(buf[pos + 5 : pos + 1 + length])))
            pos += 1 + length
            size += length
        del buf[:pos]
        return out

    def _framing_error(self, text: str) -> None:
        self.writer.write(error_message(P.ProtocolError(text), severity="FATAL"))

    def _work(self, batch: list[tuple[bytes, bytes]]) -> tuple[bytes, bool]:
        """Worker thread: run a batch of messages; returns the output not yet flushed and
        whether the connection ends."""
        proto = self.protocol
        assert proto is not None
        for kind, body in batch:
            try:
                proto.handle(kind, body)
            except Terminate:
                return proto.out.take(), True
            except P.ProtocolError as exc:
                proto.out.add(error_message(exc, severity="FATAL"))
                return proto.out.take(), True
        return proto.out.take(), False

    def _flush_from_worker(self, data: bytes) -> None:
        """Called on the worker thread with a large piece of output: write it on the loop and
        wait until the socket has drained (a slow reader slows the statement, not memory)."""
        asyncio.run_coroutine_threadsafe(self._write(data), self.loop).result()

    async def _write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_fatal(self, exc: errors.Error) -> None:
        try:
            self.writer.write(error_message(exc, severity="FATAL"))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass

    async def shutdown(self) -> None:
        """Server shutdown: an idle connection ends now; a busy one after its batch."""
        self.closing = True
        if not self.busy:
            await self.send_fatal(errors.AdminShutdown("terminating connection due to administrator command"))
            self.writer.close()

    async def _cleanup(self) -> None:
        self.server.unregister(self)
        if self.start is not None:
            session = self.start.session
            if self.executor is not None:
                # close on the worker: it may still be finishing a statement
                await self.loop.run_in_executor(self.executor, session.close)
                self.executor.shutdown(wait=False)
            else:
                session.close()
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
