"""Progress of index builds (CREATE INDEX, REINDEX), reported to the client as NOTICEs.

PostgreSQL reports a build's progress in ``pg_stat_progress_create_index``; a client of
ours also gets it in-band, as NOTICE messages the way psql prints them::

    NOTICE:  hnsw build: segment 3/8 (37%)

at most every :data:`INTERVAL` seconds while the build runs, and a final one
(``hnsw build: segment 8/8 (100%)``). The builder thread only updates counters; the
notices are sent from the thread that waits for the build (the session's own thread), so a
connection's output is only ever written by its thread.

Where the notices go: the session's ``notice_sink`` (a callable taking a
:class:`sqlvec.result.Notice`, sending it to the client now: the wire connection and
``sqlvec shell`` set one); without one they are kept in ``session.pending_notices`` (at most
:data:`MAX_PENDING`) for whoever returns the statement's result to attach them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlvec.exec.functions.context import peek_session
from sqlvec.result import Notice

INTERVAL = 1.0  # seconds between two progress notices
MAX_PENDING = 64
PATTERN = re.compile(r"^(?P<method>\w+) build: segment (?P<done>\d+)/(?P<total>\d+) \((?P<pct>\d+)%\)$")

Sink = Callable[[Notice], None]


@dataclass(eq=False)
class BuildProgress:
    """One index build's counters (written by the builder) and its notice cadence."""

    method: str  # 'hnsw' | 'ivfflat' | 'flat' | 'bm25'
    sink: Sink
    table_oid: int = 0
    index_oid: int = 0
    command: str = "CREATE INDEX"
    pid: int = 0  # the session's backend pid (pg_stat_progress_create_index)
    datname: str | None = None
    segments_total: int = 0
    segments_done: int = 0
    rows_total: int = 0
    rows_done: int = 0
    interval: float = field(default_factory=lambda: INTERVAL)
    started: float = field(default_factory=time.monotonic)
    _last_sent: float = 0.0
    _last_text: str = ""
    _finished: bool = False
    refresh: Callable[[BuildProgress], None] | None = None  # pulls counters before a notice

    def __post_init__(self) -> None:
        self._last_sent = time.monotonic()  # the first notice comes after one interval
        _ACTIVE.add(self)

    # -- from the builder thread ----------------------------------------------------------
    def rows(self, done: int, total: int) -> None:
        self.rows_done, self.rows_total = done, max(total, done)

    def segment_finished(self) -> None:
        self.segments_done = min(self.segments_done + 1, max(self.segments_total, 1))

    # -- from the waiting thread ----------------------------------------------------------
    def text(self) -> str:
        if self.rows_total:
            pct = int(100 * self.rows_done / self.rows_total)
        else:
            pct = int(100 * self.segments_done / max(self.segments_total, 1))
        current = min(self.segments_done + (0 if self._finished else 1), self.segments_total)
        return f"{self.method} build: segment {max(current, 0)}/{self.segments_total} ({min(pct, 100)}%)"

    def poll(self) -> None:
        """Send a notice if an interval has passed since the last one and something moved."""
        now = time.monotonic()
        if now - self._last_sent < self.interval:
            return
        if self.refresh is not None:
            self.refresh(self)
        text = self.text()
        if text != self._last_text:
            self._send(text)
        self._last_sent = now

    def finish(self) -> None:
        """The final notice (100%), then forget the build."""
        if self._finished:
            return
        self._finished = True
        self.segments_done = self.segments_total
        self.rows_done = self.rows_total
        self._send(self.text())
        _ACTIVE.discard(self)

    def abandon(self) -> None:
        self._finished = True
        _ACTIVE.discard(self)

    def _send(self, text: str) -> None:
        self._last_text = text
        self.sink(Notice("NOTICE", text))

    def wait(self, done: threading.Event, timeout: float | None = None) -> bool:
        """Wait for ``done``, polling between; True if it was set (then the final notice)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = max(self.interval / 4, 0.01)
            if deadline is not None:
                step = min(step, max(0.0, deadline - time.monotonic()))
            if done.wait(step):
                return True
            self.poll()
            if deadline is not None and time.monotonic() >= deadline:
                return False


# builds in progress, for pg_stat_progress_create_index-like views
_ACTIVE: set[BuildProgress] = set()


def active_builds() -> list[BuildProgress]:
    """Index builds reporting progress right now (any session)."""
    return sorted(list(_ACTIVE), key=lambda b: b.started)


def session_sink(session=None) -> Sink | None:
    """Where the current statement's notices go now, or None outside any session."""
    session = session if session is not None else peek_session()
    if session is None:
        return None
    sink = getattr(session, "notice_sink", None)
    if sink is not None:
        return sink

    def keep(n: Notice) -> None:
        pending = session.__dict__.setdefault("pending_notices", [])
        pending.append(n)
        del pending[:-MAX_PENDING]
    return keep


def for_session(method: str, *, table_oid: int = 0, index_oid: int = 0,
                command: str = "CREATE INDEX", session=None) -> BuildProgress | None:
    """A progress reporter sending to the current session, or None outside any session."""
    session = session if session is not None else peek_session()
    sink = session_sink(session)
    if sink is None:
        return None
    return BuildProgress(method, sink, table_oid=table_oid, index_oid=index_oid, command=command,
                         **identity(session))


def identity(session) -> dict:
    """pid and database of a session, for pg_stat_progress_create_index."""
    from sqlvec.catalog.pg.system import backend_pid

    return {"pid": backend_pid(session), "datname": getattr(session, "database", None)}


def take_pending(session) -> list[Notice]:
    """Notices kept for a session without a sink (and forget them)."""
    return session.__dict__.pop("pending_notices", []) if session is not None else []


__all__ = ["INTERVAL", "PATTERN", "BuildProgress", "active_builds", "for_session",
           "session_sink", "take_pending"]
