"""Connection startup: SSL/GSS negotiation, the startup packet, authentication, and the
ParameterStatus/BackendKeyData greeting.

Runs on the connection's own thread, blocking on its socket (see ``stream``).
"""

from __future__ import annotations

import os
import shlex
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlvec.wire import auth
from sqlvec.wire import protocol as P
from sqlvec.wire.config import is_loopback_peer
from sqlvec.wire.stream import SocketStream

from sqlvec import errors
from sqlvec.session import Session

if TYPE_CHECKING:
    from sqlvec.wire.server import Server

# Settings PostgreSQL reports with ParameterStatus (GUC_REPORT), in its order; sent after
# startup and again whenever SET changes one. is_superuser and session_authorization come
# from the role, not from the settings table.
REPORTED = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "integer_datetimes",
    "IntervalStyle",
    "server_encoding",
    "server_version",
    "standard_conforming_strings",
    "TimeZone",
)
# startup packet keys that are not settings
_NOT_SETTINGS = {"user", "database", "options", "replication"}


class StartupFailed(Exception):
    """The handshake ended (error already sent, or nothing to answer): close quietly."""


@dataclass
class Startup:
    """A connection that passed startup: its session and what it reports."""

    session: Session
    user: str
    superuser: bool
    pid: int
    secret: int
    reported: dict[str, str] = field(default_factory=dict)


def reported_settings(session: Session) -> dict[str, str]:
    out = {}
    for name in REPORTED:
        try:
            out[name] = session.settings.get(name)
        except errors.Error:
            continue
    return out


class Handshake:
    """One connection's way from the first byte to ReadyForQuery."""

    def __init__(self, server: Server, stream: SocketStream):
        self.server = server
        self.stream = stream
        self.tls = False

    def _fatal(self, exc: errors.Error) -> None:
        self.stream.write(
            P.error_response(exc.sqlstate, exc.message, severity="FATAL", detail=exc.detail, hint=exc.hint)
        )
        self.stream.flush()
        raise StartupFailed(exc.message)

    def _read_packet(self) -> tuple[int, bytes]:
        head = self.stream.read_exact(4)
        (length,) = struct.unpack("!i", head)
        if length < 8 or length > P.MAX_STARTUP_PACKET:
            self._fatal(errors.ProtocolViolation("invalid length of startup packet"))
        body = self.stream.read_exact(length - 4)
        return struct.unpack("!i", body[:4])[0], body[4:]

    def run(self) -> Startup:
        while True:
            code, body = self._read_packet()
            if code == P.CANCEL_REQUEST:
                if len(body) == 8:
                    pid, secret = struct.unpack("!ii", body)
                    self.server.cancel(pid, secret)
                raise StartupFailed("cancel request")  # no answer, as PostgreSQL does
            if code == P.SSL_REQUEST:
                self._negotiate_ssl()
                continue
            if code == P.GSSENC_REQUEST:
                self.stream.write(b"N")
                continue
            return self._startup(code, body)

    def _negotiate_ssl(self) -> None:
        ctx = self.server.ssl_context
        if self.tls or ctx is None:
            self.stream.write(b"N")
            return
        # Bytes sent after SSLRequest but before the handshake would be read as if they had
        # come over TLS (CVE-2021-23214): refuse them. StreamReader has no public peek.
        if self.stream.buffered:
            self._fatal(errors.ProtocolViolation("received unencrypted data after SSL request"))
        self.stream.write(b"S")
        self.stream.flush()
        self.stream.start_tls(ctx)
        self.tls = True

    def _startup(self, code: int, body: bytes) -> Startup:
        major, minor = code >> 16, code & 0xFFFF
        if major != 3:
            self._fatal(
                errors.FeatureNotSupported(
                    f"unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
                )
            )
        try:
            params = self._params(body)
        except errors.Error as exc:
            self._fatal(exc)
        unsupported = [k for k in params if k.startswith("_pq_.")]
        if minor > 0 or unsupported:
            self.stream.write(P.negotiate_protocol_version(0, unsupported))
        user = params.get("user", "")
        if not user:
            self._fatal(
                errors.InvalidAuthorizationSpecification("no PostgreSQL user name specified in startup packet")
            )
        database = params.get("database") or user
        role = self.server.db.role(user)
        self._authenticate(user, role)
        if role is None:
            self._fatal(errors.InvalidAuthorizationSpecification(f'role "{user}" does not exist'))
        if not role.login:
            self._fatal(
                errors.InvalidAuthorizationSpecification(f'role "{user}" is not permitted to log in')
            )
        try:
            session = Session(self.server.db, database=database, user=user)
        except errors.Error as exc:
            self._fatal(exc)
        try:
            self._apply_settings(session, params)
        except errors.Error as exc:
            session.close()
            self._fatal(exc)
        pid, secret = self.server.new_backend_key()
        start = Startup(session, user, bool(role.superuser), pid, secret)
        start.reported = reported_settings(session)
        out = [P.AUTH_OK]
        for name, value in start.reported.items():
            out.append(P.parameter_status(name, value))
        out.append(P.parameter_status("is_superuser", "on" if start.superuser else "off"))
        out.append(P.parameter_status("session_authorization", user))
        out.append(P.backend_key_data(pid, secret))
        out.append(P.ready_for_query(session.transaction_status))
        self.stream.write(b"".join(out))
        return start

    def _params(self, body: bytes) -> dict[str, str]:
        parts = body.split(b"\0")
        if len(parts) < 2 or parts[-1] != b"" or parts[-2] != b"" or len(parts) % 2:
            raise P.ProtocolError("invalid startup packet layout: expected terminator as last byte")
        try:
            decoded = [p.decode("utf-8") for p in parts[:-2]]
        except UnicodeDecodeError:
            raise P.ProtocolError("invalid byte sequence in startup packet") from None
        return dict(zip(decoded[0::2], decoded[1::2]))

    def _apply_settings(self, session: Session, params: dict[str, str]) -> None:
        """Startup parameters are settings, as in PostgreSQL; ``options`` holds ``-c k=v``."""
        pairs = [(k, v) for k, v in params.items() if k not in _NOT_SETTINGS and not k.startswith("_pq_.")]
        words = shlex.split(params.get("options", "").replace("\\ ", "\0"))
        i = 0
        while i < len(words):
            w = words[i].replace("\0", " ")
            if w == "-c" and i + 1 < len(words):
                w = "--" + words[i + 1].replace("\0", " ")
                i += 1
            if w.startswith("--") and "=" in w:
                k, v = w[2:].split("=", 1)
                pairs.append((k.replace("-", "_"), v))
            i += 1
        for name, value in pairs:
            if name.lower() == "client_encoding":
                # PostgreSQL ignores punctuation in encoding names (asyncpg sends "'utf-8'")
                value = "".join(ch for ch in value if ch.isalnum())
            try:
                session.settings.set(name, value)
            except errors.Error:
                # client_encoding must be one we speak; another setting a client sends out of
                # habit (pgJDBC sends its JVM's zone as TimeZone, which is applied like SET
                # TimeZone when valid) must not block the connection
                if name.lower() == "client_encoding":
                    raise
                self.server.log.warning("ignoring startup parameter %s=%r", name, value)

    # -- authentication ---------------------------------------------------------------------
    def _method(self, role: Any) -> str:
        method = self.server.config.auth
        verifier = getattr(role, "password", None)
        if method == "auto":
            if verifier is None and is_loopback_peer(self.stream.peer):
                return "trust"
            return "scram-sha-256"
        if method == "md5" and verifier is not None and not verifier.startswith("md5"):
            return "scram-sha-256"  # PostgreSQL upgrades md5 to SCRAM for SCRAM verifiers
        return method

    def _authenticate(self, user: str, role: Any) -> None:
        method = self._method(role)
        if method == "trust":
            return
        verifier = getattr(role, "password", None)
        ok = _METHODS[method](self, user, verifier)
        if not ok:
            self._fatal(errors.InvalidPassword(f'password authentication failed for user "{user}"'))

    def _read_password_message(self) -> bytes:
        head = self.stream.read_exact(5)
        kind, length = struct.unpack("!ci", head)
        if kind != b"p" or length < 4 or length > P.MAX_MESSAGE[b"p"]:
            self._fatal(
                errors.ProtocolViolation(f"expected password response, got message type {head[0]}")
            )
        return self.stream.read_exact(length - 4)

    def _cleartext(self, user: str, verifier: str | None) -> bool:
        self.stream.write(P.AUTH_CLEARTEXT)
        password = P.Payload(self._read_password_message()).cstr()
        # a SCRAM verifier costs one PBKDF2 (milliseconds): keep it off the event loop
        return auth.check_password(verifier, user, password)

    def _md5(self, user: str, verifier: str | None) -> bool:
        salt = os.urandom(4)
        self.stream.write(P.auth_md5(salt))
        answer = P.Payload(self._read_password_message()).cstr()
        return auth.md5_matches(verifier, salt, answer)

    def _scram(self, user: str, verifier: str | None) -> bool:
        cbind = self.server.channel_binding if self.tls else None
        scram = auth.ScramServer(verifier, cbind)
        self.stream.write(P.auth_sasl(scram.mechanisms()))
        try:
            first = P.Payload(self._read_password_message())
            mechanism = first.cstr()
            n = first.int32()
            data = first.bytes(n) if n >= 0 else b""
            self.stream.write(P.auth_sasl_continue(scram.client_first(mechanism, data)))
            final = scram.client_final(self._read_password_message())
        except errors.Error as exc:
            self._fatal(exc)
        if final is None:
            return False
        self.stream.write(P.auth_sasl_final(final))
        return True


_METHODS = {
    "password": Handshake._cleartext,
    "md5": Handshake._md5,
    "scram-sha-256": Handshake._scram,
}
