"""Password authentication: the server side of SCRAM-SHA-256 (RFC 5802/7677), md5, cleartext.

The exchanges are written as small state machines that take the client's bytes and return
the server's answer, so that they can be tested without sockets. Verifiers use PostgreSQL's
formats (see ``sqlvec.catalog.roles``): ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>``
and ``md5<md5(password || user)>``.

libpq sends an empty user name (``n=``) in client-first-message because the user is already
in the startup packet; that is allowed here (``scramp`` rejects it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import ssl

from sqlvec import errors
from sqlvec.catalog.roles import check_password, parse_scram_verifier, scram_verifier

__all__ = [
    "ScramServer",
    "check_password",
    "md5_matches",
    "scram_verifier",
    "tls_server_end_point",
]

SCRAM = "SCRAM-SHA-256"
SCRAM_PLUS = "SCRAM-SHA-256-PLUS"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except ValueError:
        raise _malformed("invalid base64 in SCRAM message") from None


def _malformed(detail: str) -> errors.Error:
    return errors.ProtocolViolation("malformed SCRAM message", detail=detail)


def _attributes(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        if len(part) < 2 or part[1] != "=":
            raise _malformed(f"expected attribute, got {part[:20]!r}")
        out.append((part[0], part[2:]))
    return out


class ScramServer:
    """One SCRAM-SHA-256 exchange against a stored verifier.

    ``verifier`` None (unknown role, or no SCRAM secret) runs the exchange with a made-up salt
    and always fails at the proof, as PostgreSQL does, so the client cannot tell which.
    ``cbind_data`` is the tls-server-end-point hash when -PLUS was offered (TLS), else None.
    """

    def __init__(self, verifier: str | None, cbind_data: bytes | None = None) -> None:
        parsed = parse_scram_verifier(verifier) if verifier else None
        if parsed is None:
            self.iterations, self.salt = 4096, os.urandom(16)
            self.stored_key = self.server_key = b""
        else:
            self.iterations, self.salt, self.stored_key, self.server_key = parsed
        self.cbind_data = cbind_data
        self.mechanism = ""
        self._client_first_bare = ""
        self._server_first = ""
        self._gs2_header = ""
        self._nonce = ""

    def mechanisms(self) -> list[str]:
        return [SCRAM_PLUS, SCRAM] if self.cbind_data is not None else [SCRAM]

    def client_first(self, mechanism: str, data: bytes) -> bytes:
        """Answer client-first-message with server-first-message."""
        if mechanism not in self.mechanisms():
            raise errors.ProtocolViolation(
                "client selected an invalid SASL authentication mechanism"
            )
        self.mechanism = mechanism
        text = _decode(data)
        # gs2-header: cbind-flag "," [authzid] ","
        flag, sep, rest = text.partition(",")
        authzid, sep2, bare = rest.partition(",")
        if not sep or not sep2:
            raise _malformed("missing GS2 header")
        if authzid:
            raise errors.FeatureNotSupported("client uses authorization identity, but it is not supported")
        if mechanism == SCRAM_PLUS:
            if flag != "p=tls-server-end-point":
                raise _malformed("channel binding is required by SCRAM-SHA-256-PLUS")
        elif flag == "y" and self.cbind_data is not None:
            # the client could bind but thinks we cannot: a downgrade attack
            raise _malformed("client supports channel binding, but the server offered it")
        elif flag not in ("n", "y"):
            raise _malformed("channel binding was not offered for this mechanism")
        self._gs2_header = f"{flag},{authzid},"
        attrs = _attributes(bare)
        if len(attrs) < 2 or attrs[0][0] != "n" or attrs[1][0] != "r" or not attrs[1][1]:
            raise _malformed("expected n= and r= attributes")
        client_nonce = attrs[1][1]
        self._nonce = client_nonce + _b64(os.urandom(18))
        self._client_first_bare = bare
        self._server_first = f"r={self._nonce},s={_b64(self.salt)},i={self.iterations}"
        return self._server_first.encode()

    def client_final(self, data: bytes) -> bytes | None:
        """Check client-final-message; the server-final-message, or None if the proof fails."""
        text = _decode(data)
        without_proof, sep, proof_attr = text.rpartition(",p=")
        if not sep:
            raise _malformed("missing proof")
        attrs = dict(_attributes(without_proof))
        expected_cbind = self._gs2_header.encode()
        if self.mechanism == SCRAM_PLUS:
            expected_cbind += self.cbind_data or b""
        if _unb64(attrs.get("c", "")) != expected_cbind:
            raise _malformed("SCRAM channel binding check failed")
        if attrs.get("r") != self._nonce:
            raise _malformed("nonce does not match")
        proof = _unb64(proof_attr)
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        if not self.stored_key or len(proof) != len(self.stored_key):
            return None
        signature = hmac.new(self.stored_key, auth_message, hashlib.sha256).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.stored_key):
            return None
        server_signature = hmac.new(self.server_key, auth_message, hashlib.sha256).digest()
        return f"v={_b64(server_signature)}".encode()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("invalid UTF-8") from None


def md5_matches(verifier: str | None, salt: bytes, response: str) -> bool:
    """The client's md5 answer is ``"md5" + md5(md5(password || user) || salt)``; the stored
    verifier is ``"md5" + md5(password || user)``."""
    if not verifier or not re.fullmatch(r"md5[0-9a-f]{32}", verifier):
        return False
    expected = "md5" + hashlib.md5(verifier[3:].encode("ascii") + salt).hexdigest()
    return hmac.compare_digest(expected, response)


# Certificate signature algorithms (DER OID bytes) -> the hash tls-server-end-point uses:
# the certificate's own hash, except that MD5 and SHA-1 become SHA-256 (RFC 5929 section 4.1)
_SIGNATURE_HASHES = {
    bytes.fromhex("2a864886f70d010104"): "sha256",  # md5WithRSAEncryption
    bytes.fromhex("2a864886f70d010105"): "sha256",  # sha1WithRSAEncryption
    bytes.fromhex("2a864886f70d01010b"): "sha256",  # sha256WithRSAEncryption
    bytes.fromhex("2a864886f70d01010c"): "sha384",  # sha384WithRSAEncryption
    bytes.fromhex("2a864886f70d01010d"): "sha512",  # sha512WithRSAEncryption
    bytes.fromhex("2a8648ce3d040302"): "sha256",  # ecdsa-with-SHA256
    bytes.fromhex("2a8648ce3d040303"): "sha384",  # ecdsa-with-SHA384
    bytes.fromhex("2a8648ce3d040304"): "sha512",  # ecdsa-with-SHA512
}


def tls_server_end_point(cert_pem_path: str) -> bytes | None:
    """Channel-binding data for SCRAM-SHA-256-PLUS: the hash of our certificate (RFC 5929).

    None when the signature algorithm is not in the table above (RSA-PSS, Ed25519, ...):
    then only plain SCRAM-SHA-256 is offered.
    """
    with open(cert_pem_path, encoding="ascii") as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)
    if m is None:
        return None
    der = ssl.PEM_cert_to_DER_cert(m.group(0))
    # the outer signatureAlgorithm is the last algorithm identifier in the certificate
    found = [(der.rfind(bytes([6, len(oid)]) + oid), algo) for oid, algo in _SIGNATURE_HASHES.items()]
    pos, algo = max(found)
    if pos < 0:
        return None
    return hashlib.new(algo, der).digest()
