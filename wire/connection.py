"""One client connection, served start to finish by its own thread on a blocking socket.

The thread does the handshake, then reads one frontend message at a time and answers it
through :class:`~sqlvec.wire.query.QueryProtocol`. Answers are buffered and written when
the thread is about to wait for more input, so a pipeline gets one write for all of its
answers and a round trip costs one recv and one send. A slow statement holds only its own
thread; numpy, pyarrow and hnswlib release the GIL while they work.

Two things reach a connection from other threads, both under ``lock``: the server's
shutdown (an idle connection is told FATAL 57P01 at once, a busy one after its message),
and NOTIFY from other sessions (written at once when the connection is idle outside a
transaction, else queued until it is).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING

from sqlvec.wire import protocol as P
from sqlvec.wire.errors import error_message
from sqlvec.wire.query import QueryProtocol, Terminate
from sqlvec.wire.startup import Handshake, Startup, StartupFailed
from sqlvec.wire.stream import Closed, SocketStream

from sqlvec import errors, notify
from sqlvec.exec.functions.context import current_session

if TYPE_CHECKING:
    from sqlvec.wire.server import Server

log = logging.getLogger("sqlvec.wire")
_SHUTDOWN = errors.AdminShutdown("terminating connection due to administrator command")


class Connection:
    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server = server
        self.stream = SocketStream(sock)
        self.start: Startup | None = None
        self.protocol: QueryProtocol | None = None
        self.lock = threading.Lock()
        self.idle = False  # blocked waiting for the client's next message
        self.closing = False
        self.notifications: list[bytes] = []  # NotificationResponses waiting for idle

    @property
    def peer(self) -> str:
        peer = self.stream.peer
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "local")

    def run(self) -> None:
        """The connection's thread."""
        try:
            try:
                self.start = Handshake(self.server, self.stream).run()
            except (StartupFailed, Closed):
                return
            except P.ProtocolError as exc:
                self._fatal(exc)
                return
            self.server.register(self)
            session = self.start.session
            session.backend_pid = self.start.pid
            session.notify_sink = self.deliver_notification
            self.protocol = QueryProtocol(self.start, self.stream)
            self.protocol.before_ready = self._drain_notifications
            session.notice_sink = self._live_notice
            # the thread serves this one session: its context (text output settings such
            # as extra_float_digits, catalog functions) holds for everything it encodes
            with current_session(session):
                self._serve()
        except Closed:
            pass  # the client went away; whatever ran has finished (or rolled back)
        except Exception:
            log.exception("connection %s failed", self.peer)
        finally:
            self._cleanup()

    def _serve(self) -> None:
        proto, stream = self.protocol, self.stream
        assert proto is not None
        while True:
            if not stream.has_message():
                stream.flush()
                with self.lock:
                    if self.closing or self.server.stopping:
                        self._fatal(_SHUTDOWN)
                        return
                    self.idle = True
            try:
                kind, body = stream.next_message()
            except P.ProtocolError as exc:
                self._fatal(exc)
                return
            finally:
                if self.idle:
                    with self.lock:
                        self.idle = False
            try:
                proto.handle(kind, body)
            except Terminate:
                stream.flush()
                return
            except P.ProtocolError as exc:
                self._fatal(exc)
                return

    def _live_notice(self, notice) -> None:
        """A notice raised while a statement runs (index build progress): sent at once, from
        this connection's own thread, subject to client_min_messages."""
        assert self.protocol is not None
        self.protocol._notices([notice])
        self.stream.flush()

    def _fatal(self, exc: errors.Error) -> None:
        try:
            self.stream.write(error_message(exc, severity="FATAL"))
            self.stream.flush()
        except Closed:
            pass

    # -- from other threads -------------------------------------------------------------------
    def deliver_notification(self, pid: int, channel: str, payload: str) -> None:
        """NOTIFY committed by some session: send now if we are idle and outside a
        transaction, else at our next ReadyForQuery (as PostgreSQL delivers them)."""
        msg = P.notification_response(pid, channel, payload)
        with self.lock:
            session = self.start.session if self.start else None
            if self.idle and session is not None and not session.in_block:
                try:
                    self.stream.send_now(msg)
                except Closed:
                    pass
            else:
                self.notifications.append(msg)

    def _drain_notifications(self) -> None:
        """Before ReadyForQuery: queued notifications go out once no transaction is open."""
        if not self.notifications or self.start is None or self.start.session.in_block:
            return
        with self.lock:
            msgs, self.notifications = self.notifications, []
        for m in msgs:
            self.stream.write(m)

    def shutdown(self) -> None:
        """Server shutdown: an idle connection ends now; a busy one after its message."""
        with self.lock:
            self.closing = True
            if self.idle:
                try:
                    self.stream.send_now(error_message(_SHUTDOWN, severity="FATAL"))
                except Closed:
                    pass
                self.stream.shutdown()

    def abort(self) -> None:
        """Close a connection still in its handshake (server shutdown)."""
        self.stream.shutdown()

    def _cleanup(self) -> None:
        self.server.unregister(self)
        if self.start is not None:
            session = self.start.session
            notify.forget(session)
            session.close()
        self.stream.close()
