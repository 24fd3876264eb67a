"""What ``sqlvec serve`` is told on its command line, checked before anything listens."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass

# pg_hba.conf's method names. "auto": SCRAM-SHA-256 for roles with a password, trust for
# roles without one when the client connects over loopback.
AUTH_METHODS = ("auto", "trust", "password", "md5", "scram-sha-256")


class ConfigError(ValueError):
    """The server refuses to start; the message says why and what to do."""


@dataclass
class ServerConfig:
    data_dir: str = "./sqlvec-data"
    host: str = "127.0.0.1"
    port: int = 5433
    auth: str = "auto"
    tls_cert: str | None = None
    tls_key: str | None = None
    socket_dir: str | None = None  # also listen on socket_dir/.s.PGSQL.<port> (Unix socket)

    def check(self) -> None:
        if self.auth not in AUTH_METHODS:
            raise ConfigError(f"unknown authentication method {self.auth!r} (one of {', '.join(AUTH_METHODS)})")
        if self.socket_dir is not None and not os.path.isdir(self.socket_dir):
            raise ConfigError(f"--socket-dir {self.socket_dir}: no such directory")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key must be given together")
        if not is_loopback_host(self.host) and self.auth in ("auto", "trust"):
            raise ConfigError(
                f"refusing to listen on {self.host}: trust authentication is only allowed on "
                "loopback addresses, and this address is reachable from other machines. Give "
                "the roles passwords (ALTER ROLE postgres PASSWORD '...') and start with "
                "--auth scram-sha-256 (or md5/password), or listen on 127.0.0.1."
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # PostgreSQL's ssl_min_protocol_version
        try:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"could not load the TLS certificate or key: {exc}") from None
        return ctx


def is_loopback_host(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127/8, ::1, localhost)."""
    if host in ("", "*", "0.0.0.0", "::"):
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def is_loopback_peer(peer: object) -> bool:
    """Whether a connection's peer address (``transport.get_extra_info('peername')``) is
    loopback; Unix-domain sockets count as local."""
    if not isinstance(peer, tuple) or not peer:
        return True
    try:
        return ipaddress.ip_address(str(peer[0]).split("%")[0]).is_loopback
    except ValueError:
        return False
