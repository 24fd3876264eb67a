"""Authentication (trust, cleartext, md5, SCRAM-SHA-256) and TLS, with libpq as the client.

``require_auth`` (libpq 16+) makes the client refuse any other method than the one named, so
each test proves which exchange the server ran.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlvec.wire.auth import ScramServer, md5_matches, scram_verifier
from wireserver import ServerProcess

from sqlvec import errors

NEW_LIBPQ = psycopg.pq.version() >= 160000


def _md5_verifier(password: str, user: str) -> str:
    return "md5" + hashlib.md5((password + user).encode()).hexdigest()


@pytest.fixture(scope="module")
def auth_dir(tmp_path_factory):
    """A data directory with roles: alice (SCRAM), bob (md5), carol (no password),
    dave (cannot log in)."""
    path = tmp_path_factory.mktemp("auth") / "data"
    srv = ServerProcess(path).start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as c:
            c.execute("CREATE ROLE alice LOGIN PASSWORD 'secret'")
            c.execute(f"CREATE ROLE bob LOGIN PASSWORD '{_md5_verifier('hunter2', 'bob')}'")
            c.execute("CREATE ROLE carol LOGIN")
            c.execute("CREATE ROLE dave PASSWORD 'x'")
    finally:
        assert srv.stop() == 0
    return path


def _connect(srv, user: str, password: str | None = None, **kw):
    extra = dict(kw)
    if password is not None:
        extra["password"] = password
    return psycopg.connect(srv.dsn(user=user, **extra), autocommit=True)


def _fails(srv, user: str, password: str | None, expected: str, **kw) -> None:
    with pytest.raises(psycopg.OperationalError) as info:
        _connect(srv, user, password, **kw).close()
    assert expected in str(info.value)


def _failed_password(user: str) -> str:
    return f'FATAL:  password authentication failed for user "{user}"'


def _user(conn) -> str:
    return conn.info.parameter_status("session_authorization")


def test_auto_mode_scram_for_passwords_trust_on_loopback(make_server, auth_dir):
    srv = make_server(data_dir=auth_dir)
    ra = {"require_auth": "scram-sha-256"} if NEW_LIBPQ else {}
    with _connect(srv, "alice", "secret", **ra) as c:
        assert _user(c) == "alice" and c.execute("SELECT 1").fetchone() == (1,)
        assert c.info.parameter_status("is_superuser") == "off"
    _fails(srv, "alice", "wrong", _failed_password("alice"))
    trust = {"require_auth": "none"} if NEW_LIBPQ else {}
    with _connect(srv, "carol", **trust) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    _fails(srv, "dave", "x", 'role "dave" is not permitted to log in')
    _fails(srv, "nobody", None, 'role "nobody" does not exist')  # trust: nothing to hide


@pytest.mark.skipif(not NEW_LIBPQ, reason="require_auth needs libpq 16")
def test_md5_and_its_upgrade_to_scram(make_server, auth_dir):
    srv = make_server("--auth", "md5", data_dir=auth_dir)
    with _connect(srv, "bob", "hunter2", require_auth="md5") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    _fails(srv, "bob", "hunter3", _failed_password("bob"), require_auth="md5")
    # a SCRAM verifier cannot answer an md5 challenge: PostgreSQL runs SCRAM instead
    with _connect(srv, "alice", "secret", require_auth="scram-sha-256") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.skipif(not NEW_LIBPQ, reason="require_auth needs libpq 16")
def test_cleartext_password(make_server, auth_dir):
    srv = make_server("--auth", "password", data_dir=auth_dir)
    for user, password in (("alice", "secret"), ("bob", "hunter2")):
        with _connect(srv, user, password, require_auth="password") as c:
            assert _user(c) == user
    _fails(srv, "alice", "nope", _failed_password("alice"), require_auth="password")
    _fails(srv, "carol", "anything", _failed_password("carol"), require_auth="password")  # no password set


def test_scram_required_refuses_roles_without_password(make_server, auth_dir):
    srv = make_server("--auth", "scram-sha-256", data_dir=auth_dir)
    _fails(srv, "postgres", "whatever", _failed_password("postgres"))
    # an unknown role runs the whole exchange and fails like a wrong password
    _fails(srv, "nobody", "x", _failed_password("nobody"))
    with _connect(srv, "alice", "secret") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "server.crt", tmp / "server.key"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither cryptography nor openssl is available")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", "/CN=localhost"],
            check=True, capture_output=True,
        )
        return cert, key
    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    crt = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pkey.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2)).sign(pkey, hashes.SHA256())
    )
    cert.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pkey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())
    )
    return cert, key


def test_tls_with_scram_channel_binding(make_server, auth_dir, tmp_path):
    cert, key = _self_signed(tmp_path)
    srv = make_server("--tls-cert", str(cert), "--tls-key", str(key), data_dir=auth_dir)
    # channel_binding=require: only SCRAM-SHA-256-PLUS with tls-server-end-point passes
    with _connect(srv, "alice", "secret", sslmode="require", channel_binding="require") as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("SELECT 'over tls'").fetchone() == ("over tls",)
    _fails(srv, "alice", "bad", _failed_password("alice"), sslmode="require")
    with _connect(srv, "carol", sslmode="require") as c:  # trust over TLS on loopback
        assert c.pgconn.ssl_in_use
    with _connect(srv, "carol", sslmode="disable") as c:
        assert not c.pgconn.ssl_in_use


def test_wrong_password_is_28P01_and_closes(make_server, auth_dir):
    import rawclient as W

    srv = make_server("--auth", "password", data_dir=auth_dir)
    raw = W.RawClient(srv.host, srv.port)
    raw.send(W.startup_packet("alice"))
    assert raw.read() == (b"R", b"\0\0\0\x03")  # AuthenticationCleartextPassword
    raw.send(W.msg(b"p", b"wrong\0"))
    kind, payload = raw.read()
    f = W.fields(payload)
    assert (kind, f["S"], f["C"]) == (b"E", "FATAL", "28P01")
    assert raw.read() is None
    raw.close()


def test_non_loopback_needs_passwords(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sqlvec", "serve", "--host", "0.0.0.0", "--port", "0", "--data", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0" in out.stderr and "--auth scram-sha-256" in out.stderr


def test_scram_exchange_without_sockets():
    """RFC 7677's flow with libpq's empty user name, computed by hand on the client side."""
    import base64
    import hmac

    verifier = scram_verifier("pencil")
    server = ScramServer(verifier)
    assert server.mechanisms() == ["SCRAM-SHA-256"]
    first = server.client_first("SCRAM-SHA-256", b"n,,n=,r=rOprNGfwEbeRWgbNEkqO").decode()
    attrs = dict(a.split("=", 1) for a in first.split(","))
    assert attrs["r"].startswith("rOprNGfwEbeRWgbNEkqO")
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"n=,r=rOprNGfwEbeRWgbNEkqO,{first},{without_proof}".encode()
    sig = hmac.new(stored, auth_message, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
    final = server.client_final(f"{without_proof},p={proof}".encode())
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert final == b"v=" + base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest())
    # the same proof against another exchange (other server nonce) fails
    other = ScramServer(verifier)
    other.client_first("SCRAM-SHA-256", b"n,,n=,r=rOprNGfwEbeRWgbNEkqO")
    with pytest.raises(errors.ProtocolViolation, match="malformed SCRAM"):
        other.client_final(f"{without_proof},p={proof}".encode())


def test_md5_matches():
    v = _md5_verifier("pw", "u")
    salt = b"\x01\x02\x03\x04"
    answer = "md5" + hashlib.md5(v[3:].encode() + salt).hexdigest()
    assert md5_matches(v, salt, answer)
    assert not md5_matches(v, b"\x00\x02\x03\x04", answer)
    assert not md5_matches(scram_verifier("pw"), salt, answer)
