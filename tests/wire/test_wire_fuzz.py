"""Random and mutated protocol bytes for a bounded time; then the server must still answer a
normal client, and committed data must be intact."""

from __future__ import annotations

import random
import socket
import struct
import time

import psycopg
import rawclient as W

FUZZ_SECONDS = 10.0


def _seeds() -> list[bytes]:
    """Well-formed conversations the mutations start from."""
    start = W.startup_packet("postgres", "fuzz")
    ext = (
        W.parse("SELECT a, v FROM scratch WHERE a > $1", "s", (23,)) + W.describe(b"S", "s")
        + W.bind("p", "s", (b"1",), (0,), (1, 0)) + W.describe(b"P", "p")
        + W.execute("p", 1) + W.execute("p", 0) + W.msg(b"C", b"Pp\0") + W.SYNC
    )
    return [
        start + W.query("SELECT 1; INSERT INTO scratch VALUES (1, '[1,2]'); SELECT * FROM scratch"),
        start + ext,
        start + W.parse("SELECT $1::vector") + W.bind(params=(b"\x00\x02\x00\x00" + struct.pack("!2f", 1, 2),), param_formats=(1,)) + W.execute() + W.FLUSH + W.SYNC,
        struct.pack("!ii", 8, 80877103) + start + W.query("BEGIN; SELECT 1/0; ROLLBACK"),
        struct.pack("!iiii", 16, 80877102, 1, 2),
        start + W.TERMINATE,
    ]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(b)) if b else 0
        if op < 0.35 and b:  # flip bytes
            b[pos] = rng.randrange(256)
        elif op < 0.5:  # truncate
            del b[pos:]
        elif op < 0.65:  # insert random bytes
            b[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op < 0.8 and len(b) > pos + 4:  # a wild length field
            b[pos : pos + 4] = struct.pack("!i", rng.choice([-1, 0, 3, 4, 5, 2**31 - 1, rng.randrange(2**31)]))
        else:  # duplicate a slice (repeated messages)
            b[pos:pos] = b[pos : pos + rng.randint(1, 64)]
    return bytes(b)


def _throw(host: str, port: int, payload: bytes, rng: random.Random) -> None:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(0.05)
            # sent in random pieces: framing must not depend on how bytes arrive
            pos = 0
            while pos < len(payload):
                n = rng.randint(1, max(1, len(payload) - pos))
                s.sendall(payload[pos : pos + n])
                pos += n
            deadline = time.monotonic() + 0.15
            while time.monotonic() < deadline and s.recv(65536):
                pass
    except OSError:
        pass  # the server closed on us, or took too long to answer garbage: both fine


def test_fuzz_then_normal_client(make_server):
    srv = make_server()
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        c.execute("CREATE DATABASE fuzz")
        c.execute("CREATE TABLE keep (id int PRIMARY KEY, v vector(2))")
        c.execute("INSERT INTO keep VALUES (1, NULL), (2, NULL), (3, NULL)")
    with psycopg.connect(srv.dsn("fuzz"), autocommit=True) as c:
        c.execute("CREATE TABLE scratch (a int, v vector(2))")
    rng = random.Random(20240601)
    seeds = _seeds()
    deadline = time.monotonic() + FUZZ_SECONDS
    rounds = 0
    while time.monotonic() < deadline:
        r = rng.random()
        if r < 0.15:
            payload = rng.randbytes(rng.randint(1, 200))
        elif r < 0.25:  # valid startup, then garbage
            payload = W.startup_packet("postgres", "fuzz") + rng.randbytes(rng.randint(1, 100))
        else:
            payload = _mutate(rng, rng.choice(seeds))
        _throw(srv.host, srv.port, payload, rng)
        rounds += 1
    assert rounds > 200
    with psycopg.connect(srv.dsn(), autocommit=True) as c:
        assert c.execute("SELECT id FROM keep ORDER BY id").fetchall() == [(1,), (2,), (3,)]
        c.execute("INSERT INTO keep VALUES (4, '[4,4]')")
        assert c.execute("SELECT count(*) FROM keep").fetchone() == (4,)
    assert srv.stop() == 0
    # a connection-level failure means the protocol layer mishandled input
    assert "ERROR: connection" not in srv.log(), srv.log()
    srv2 = make_server(data_dir=srv.data_dir)
    with psycopg.connect(srv2.dsn(), autocommit=True) as c:
        assert c.execute("SELECT id FROM keep ORDER BY id").fetchall() == [(1,), (2,), (3,), (4,)]
