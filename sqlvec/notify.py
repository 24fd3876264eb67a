"""LISTEN / NOTIFY / UNLISTEN and ``pg_notify``: an in-process registry per Database.

As in PostgreSQL, both sides take effect when their transaction commits: LISTEN starts
delivery at commit, and a NOTIFY (or ``pg_notify``) is sent at commit to every session then
listening on the channel, including the sender; a rolled-back transaction notifies nobody.
Identical notifications of one transaction are sent once.

A session receives them through ``session.notify_sink(pid, channel, payload)`` (the wire
server sends NotificationResponse); sessions without a sink (embedded) collect them in
``session.notifications``.
"""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa

from sqlvec import errors
from sqlvec.extra_sql import ListenStmt, NotifyStmt
from sqlvec.result import Result

MAX_PAYLOAD = 7999  # PostgreSQL's limit (bytes), below the 8000-byte page


class Registry:
    """Which sessions listen on which channels, for one Database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.channels: dict[str, set[Any]] = {}

    def listen(self, session: Any, channel: str | None, on: bool) -> None:
        with self.lock:
            if on:
                assert channel is not None
                self.channels.setdefault(channel, set()).add(session)
                return
            names = list(self.channels) if channel is None else [channel]
            for name in names:
                members = self.channels.get(name)
                if members is not None:
                    members.discard(session)
                    if not members:
                        del self.channels[name]

    def send(self, pid: int, channel: str, payload: str) -> None:
        with self.lock:
            targets = list(self.channels.get(channel, ()))
        for s in targets:
            sink = getattr(s, "notify_sink", None)
            if sink is not None:
                sink(pid, channel, payload)
            else:
                s.__dict__.setdefault("notifications", []).append((pid, channel, payload))


_REGISTRY_LOCK = threading.Lock()


def registry(db: Any) -> Registry:
    reg = db.__dict__.get("_notify_registry")
    if reg is None:
        with _REGISTRY_LOCK:
            reg = db.__dict__.setdefault("_notify_registry", Registry())
    return reg


def forget(session: Any) -> None:
    """The session ends: it listens no more."""
    reg = session.db.__dict__.get("_notify_registry")
    if reg is not None:
        reg.listen(session, None, False)


def _pid(session: Any) -> int:
    from sqlvec.catalog.pg.system import backend_pid

    return backend_pid(session)


def queue_notify(session: Any, channel: str, payload: str) -> None:
    """Send at commit (once per distinct channel and payload in the transaction)."""
    if not channel:
        raise errors.InvalidParameterValue("channel name cannot be empty")
    if len(channel) > 63:
        raise errors.InvalidParameterValue("channel name too long")
    if len(payload.encode()) > MAX_PAYLOAD:
        raise errors.InvalidParameterValue("payload string too long")
    state = session.__dict__.get("_notify_pending")
    if state is None or state[0] is not session.txn:
        pending: dict[tuple[str, str], None] = {}  # ordered, and folds duplicates
        session.__dict__["_notify_pending"] = (session.txn, pending)
        reg, pid = registry(session.db), _pid(session)

        def deliver() -> None:
            for ch, text in list(pending):
                reg.send(pid, ch, text)
            pending.clear()

        session.after_commit(deliver)
    else:
        pending = state[1]
    pending[(channel, payload)] = None


def run_listen(session, st, values, many: bool) -> Result:
    node: ListenStmt = st.ast
    reg = registry(session.db)
    session.after_commit(lambda: reg.listen(session, node.channel, node.listen))
    return Result("LISTEN" if node.listen else "UNLISTEN")


def run_notify(session, st, values, many: bool) -> Result:
    node: NotifyStmt = st.ast
    queue_notify(session, node.channel, node.payload)
    return Result("NOTIFY")


def pg_notify_impl(args: list, types: list, n: int) -> Any:
    """``pg_notify(channel text, payload text)``: NOTIFY with computed arguments (void)."""
    from sqlvec.exec.functions.context import get_session

    session = get_session()
    chans, payloads = args
    if isinstance(chans, pa.Scalar):
        pairs = [(chans.as_py(), payloads.as_py() if isinstance(payloads, pa.Scalar) else None)]
        if not isinstance(payloads, pa.Scalar):
            pairs = [(pairs[0][0], p) for p in payloads.to_pylist()]
    else:
        ps = payloads.to_pylist() if not isinstance(payloads, pa.Scalar) else [payloads.as_py()] * len(chans)
        pairs = list(zip(chans.to_pylist(), ps))
    for ch, payload in pairs:
        if ch is None:
            raise errors.InvalidParameterValue("channel name cannot be empty")
        queue_notify(session, ch, payload or "")
    if isinstance(chans, pa.Scalar) and isinstance(payloads, pa.Scalar):
        return pa.scalar(None, pa.string())  # void: psql shows an empty value
    return pa.nulls(n, pa.string())
