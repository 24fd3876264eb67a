"""The listening server: accepts connections, routes CancelRequests, shuts down cleanly.

    >>> # sqlvec serve --data ./sqlvec-data --port 5433
    >>> # or, in a program:  asyncio.run(Server(ServerConfig(port=0)).serve_forever())
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable

from sqlvec.wire.auth import tls_server_end_point
from sqlvec.wire.config import ConfigError, ServerConfig
from sqlvec.wire.connection import Connection

from sqlvec.session import Database

log = logging.getLogger("sqlvec.wire")


class Server:
    """One data directory served over the PostgreSQL protocol."""

    def __init__(self, config: ServerConfig) -> None:
        config.check()
        self.config = config
        self.log = log
        self.ssl_context = config.ssl_context()
        self.channel_binding = tls_server_end_point(config.tls_cert) if config.tls_cert else None
        self.db: Database | None = None
        self.stopping = False
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._backends: dict[int, Connection] = {}
        # backend "process ids" are per server (all connections share one process): start
        # from the real pid so that two servers on one machine rarely hand out the same ones
        self._pids = itertools.count(os.getpid() * 1000 % 2**30 + 1)

    # -- connections ----------------------------------------------------------------------------
    def new_backend_key(self) -> tuple[int, int]:
        pid = next(self._pids)
        while pid in self._backends:
            pid = next(self._pids)
        return pid, secrets.randbits(31)

    def register(self, conn: Connection) -> None:
        assert conn.start is not None
        self._backends[conn.start.pid] = conn

    def unregister(self, conn: Connection) -> None:
        if conn.start is not None and self._backends.get(conn.start.pid) is conn:
            del self._backends[conn.start.pid]

    def cancel(self, pid: int, secret: int) -> None:
        """A CancelRequest: cancel the backend's running statement if the secret matches."""
        conn = self._backends.get(pid)
        if conn is None or conn.start is None:
            return
        if hmac.compare_digest(secret.to_bytes(4, "big", signed=True), conn.start.secret.to_bytes(4, "big", signed=True)):
            conn.start.session.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await Connection(self, reader, writer).run()
        finally:
            self._tasks.discard(task)

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        """Open the database and listen; returns the bound (host, port)."""
        os.makedirs(self.config.data_dir, exist_ok=True)
        self.db = await asyncio.to_thread(Database.open, self.config.data_dir)
        self._server = await asyncio.start_server(
            self._accept, self.config.host, self.config.port, reuse_address=True, backlog=512
        )
        sock = self._server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def stop(self) -> None:
        """Stop accepting, let running statements finish, close every session and the
        database (which flushes and checkpoints the WAL)."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._backends.values()):
            await conn.shutdown()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.db is not None:
            db, self.db = self.db, None
            await asyncio.to_thread(db.close)

    async def serve_forever(self, on_listening: Callable[[str, int], None] | None = None) -> None:
        host, port = await self.start()
        if on_listening is not None:
            on_listening(host, port)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        try:
            await done.wait()
            log.info("shutting down")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop()


def run(config: ServerConfig) -> int:
    """``sqlvec serve``: run in the foreground until SIGINT/SIGTERM. Returns the exit status."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="sqlvec: %(levelname)s: %(message)s")
    try:
        server = Server(config)
    except ConfigError as exc:
        print(f"sqlvec: error: {exc}", file=sys.stderr)
        return 2

    def listening(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(f"sqlvec: listening on {shown}:{port} (data directory {config.data_dir})", file=sys.stderr, flush=True)

    try:
        asyncio.run(server.serve_forever(listening))
    except OSError as exc:
        print(f"sqlvec: error: could not listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("sqlvec: stopped", file=sys.stderr, flush=True)
    return 0
