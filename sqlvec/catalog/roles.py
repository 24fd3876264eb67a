"""Roles (cluster-wide, as in PostgreSQL) and their password verifiers.

Passwords are never stored in clear: CREATE ROLE ... PASSWORD 'x' stores a SCRAM-SHA-256
verifier in PostgreSQL's own format, ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``
(base64 parts), which the wire server checks SCRAM, md5-less cleartext and password logins
against. A password given already hashed (``SCRAM-SHA-256$...`` or ``md5`` + 32 hex digits)
is stored as it is, as PostgreSQL does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

SCRAM_ITERATIONS = 4096
_MD5 = re.compile(r"^md5[0-9a-f]{32}$")


@dataclass
class Role:
    oid: int
    name: str
    superuser: bool = False
    login: bool = False
    password: str | None = None  # verifier (SCRAM-SHA-256$... or md5...), never clear text
    createdb: bool = False
    createrole: bool = False
    inherit: bool = True
    replication: bool = False
    bypassrls: bool = False
    connection_limit: int = -1
    valid_until: str | None = None


def scram_verifier(password: str, *, iterations: int = SCRAM_ITERATIONS, salt: bytes | None = None) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of a password."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def password_verifier(password: str | None, role_name: str) -> str | None:
    """What CREATE/ALTER ROLE ... PASSWORD stores for ``password``."""
    if password is None:
        return None
    if password.startswith("SCRAM-SHA-256$") or _MD5.match(password):
        return password
    return scram_verifier(password)


def parse_scram_verifier(v: str) -> tuple[int, bytes, bytes, bytes] | None:
    """(iterations, salt, StoredKey, ServerKey) of a SCRAM verifier, or None if it is not one."""
    m = re.match(r"^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$", v or "")
    if m is None:
        return None
    return int(m.group(1)), base64.b64decode(m.group(2)), base64.b64decode(m.group(3)), base64.b64decode(m.group(4))


def check_password(verifier: str | None, role_name: str, password: str) -> bool:
    """Whether a clear-text password (cleartext auth) matches a stored verifier."""
    if verifier is None:
        return False
    if verifier.startswith("md5"):
        digest = "md5" + hashlib.md5((password + role_name).encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, verifier)
    parsed = parse_scram_verifier(verifier)
    if parsed is None:
        return False
    iterations, salt, stored, server = parsed
    return hmac.compare_digest(scram_verifier(password, iterations=iterations, salt=salt), verifier)
