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
import socket
import sys
import threading
from collections.abc import Callable

from sqlvec.wire.auth import tls_server_end_point
from sqlvec.wire.blas import limit_blas_threads
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
        self._listener: socket.socket | None = None
        self._unix: socket.socket | None = None  # --socket-dir: DIR/.s.PGSQL.<port>
        self.socket_path: str | None = None
        self._accepting: asyncio.Task | None = None
        self._accepting_unix: asyncio.Task | None = None
        self._threads: dict[threading.Thread, Connection] = {}
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

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError:
                if self.stopping:
                    return
                continue
            sock.setblocking(True)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # small answers must leave at once: Nagle would hold them for the client's ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock)
            thread = threading.Thread(target=self._run_connection, args=(conn,), name="sqlvec-conn", daemon=True)
            self._threads[thread] = conn
            thread.start()

    def _run_connection(self, conn: Connection) -> None:
        try:
            conn.run()
        finally:
            self._threads.pop(threading.current_thread(), None)

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        """Open the database and listen; returns the bound (host, port)."""
        os.makedirs(self.config.data_dir, exist_ok=True)
        self.db = await asyncio.to_thread(Database.open, self.config.data_dir)
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        self._listener = socket.create_server((self.config.host, self.config.port), family=family, backlog=512, reuse_port=False)
        self._listener.setblocking(False)
        loop = asyncio.get_running_loop()
        self._accepting = loop.create_task(self._accept_loop(self._listener))
        sock = self._listener.getsockname()
        if self.config.socket_dir is not None:
            self._unix = listen_unix(self.config.socket_dir, int(sock[1]))
            self.socket_path = self._unix.getsockname()
            self._accepting_unix = loop.create_task(self._accept_loop(self._unix))
        return str(sock[0]), int(sock[1])

    async def stop(self) -> None:
        """Stop accepting, let running statements finish, close every session and the
        database (which flushes and checkpoints the WAL)."""
        self.stopping = True
        if self._accepting is not None:
            self._accepting.cancel()
        if self._accepting_unix is not None:
            self._accepting_unix.cancel()
        if self._listener is not None:
            self._listener.close()
        if self._unix is not None:
            self._unix.close()
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass
        for conn in list(self._threads.values()):
            if conn.start is None:
                conn.abort()
            else:
                conn.shutdown()
        for thread in list(self._threads):
            await asyncio.to_thread(thread.join)
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


def listen_unix(directory: str, port: int) -> socket.socket:
    """A Unix-domain listener at ``directory/.s.PGSQL.<port>``, where libpq looks for it
    (``psql -h DIRECTORY -p PORT``). A socket file left by a server that is gone is replaced;
    one that still accepts connections means another server: refuse."""
    path = os.path.join(directory, f".s.PGSQL.{port}")
    if os.path.exists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale
        else:
            raise OSError(f"another server is listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o777)  # PostgreSQL's unix_socket_permissions default
    sock.listen(512)
    sock.setblocking(False)
    return sock


def run(config: ServerConfig) -> int:
    """``sqlvec serve``: run in the foreground until SIGINT/SIGTERM. Returns the exit status."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="sqlvec: %(levelname)s: %(message)s")
    limit_blas_threads(1)  # connections are the parallelism (see wire/blas.py)
    try:
        server = Server(config)
    except ConfigError as exc:
        print(f"sqlvec: error: {exc}", file=sys.stderr)
        return 2

    def listening(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        unix = f" and Unix socket {server.socket_path}" if server.socket_path is not None else ""
        print(f"sqlvec: listening on {shown}:{port}{unix} (data directory {config.data_dir})",
              file=sys.stderr, flush=True)

    try:
        asyncio.run(server.serve_forever(listening))
    except OSError as exc:
        print(f"sqlvec: error: could not listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("sqlvec: stopped", file=sys.stderr, flush=True)
    return 0
