"""The protocol itself, message by message, through a raw socket client."""

from __future__ import annotations

import struct

import pytest
import rawclient as W
from rawclient import RawClient, kinds


@pytest.fixture
def raw(server):
    c = RawClient(server.host, server.port)
    yield c
    c.close()


def _dbname(dsn: str) -> str:
    return dict(p.split("=", 1) for p in dsn.split())["dbname"]


def test_startup_reports_parameters_key_and_ready(raw):
    msgs = raw.login(application_name="raw-test")
    assert msgs[0] == (b"R", struct.pack("!i", 0))
    status = dict(p[:-1].decode().split("\0") for k, p in msgs if k == b"S")
    assert status["server_version"] == "16.4"
    assert status["client_encoding"] == "UTF8"
    assert status["DateStyle"] == "ISO, MDY"
    assert status["standard_conforming_strings"] == "on"
    assert status["integer_datetimes"] == "on"
    assert status["application_name"] == "raw-test"
    assert status["is_superuser"] == "on"
    assert status["session_authorization"] == "postgres"
    assert {"server_encoding", "IntervalStyle", "TimeZone"} <= status.keys()
    key = [p for k, p in msgs if k == b"K"]
    assert len(key) == 1 and len(key[0]) == 8
    assert msgs[-1] == (b"Z", b"I")


def test_ssl_and_gss_requests_are_declined_without_certificate(raw):
    raw.send(struct.pack("!ii", 8, 80877104))  # GSSENCRequest
    assert raw.read_byte() == b"N"
    raw.send(struct.pack("!ii", 8, 80877103))  # SSLRequest
    assert raw.read_byte() == b"N"
    assert raw.login()[-1] == (b"Z", b"I")


def test_newer_minor_version_and_pq_options_are_negotiated(raw):
    raw.send(W.startup_packet(version=(3 << 16) | 2, **{"_pq_.frobnicate": "1"}))
    msgs = raw.until(b"Z")
    assert msgs[0][0] == b"v"
    newest, n = struct.unpack_from("!ii", msgs[0][1])
    assert newest == (3 << 16) | 0 and n == 1
    assert msgs[0][1][8:] == b"_pq_.frobnicate\0"
    assert msgs[1] == (b"R", struct.pack("!i", 0))


def test_unsupported_major_version_is_refused(raw):
    raw.send(W.startup_packet(version=2 << 16))
    kind, payload = raw.read()
    f = W.fields(payload)
    assert kind == b"E" and f["S"] == "FATAL" and f["C"] == "0A000"
    assert "unsupported frontend protocol 2.0" in f["M"]
    assert raw.read() is None


def test_unknown_database_and_role(server):
    for user, db, code, text in [
        ("postgres", "nope", "3D000", 'database "nope" does not exist'),
        ("nobody", "postgres", "28000", 'role "nobody" does not exist'),
    ]:
        c = RawClient(server.host, server.port)
        c.send(W.startup_packet(user, db))
        msgs = c.until(b"E")
        f = W.fields(msgs[-1][1])
        assert (f["S"], f["C"], f["M"]) == ("FATAL", code, text)
        assert c.read() is None
        c.close()


def test_simple_query_several_statements_empty_and_error(raw, database):
    raw.login(database=_dbname(database))
    raw.send(W.query("CREATE TABLE t (a int, v vector(3)); INSERT INTO t VALUES (1, '[1,2,3]'), (2, NULL); SELECT a, v FROM t ORDER BY a"))
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"CCTDDCZ"
    assert msgs[0][1] == b"CREATE TABLE\0" and msgs[1][1] == b"INSERT 0 2\0"
    desc = W.row_description(msgs[2][1])
    assert [d[0] for d in desc] == ["a", "v"]
    assert desc[0][1] != 0 and desc[0][2] == 1 and desc[0][3] == 23 and desc[0][4] == 4
    assert desc[1][2] == 2 and desc[1][5] == 3  # vector(3): typmod 3
    assert W.data_row(msgs[3][1]) == [b"1", b"[1,2,3]"]
    assert W.data_row(msgs[4][1]) == [b"2", None]
    assert msgs[5][1] == b"SELECT 2\0"
    raw.send(W.query("  ;  "))
    assert kinds(raw.until(b"Z")) == b"IZ"
    # an error skips the rest of the message
    raw.send(W.query("SELECT 1; SELECT * FROM nope; SELECT 3"))
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"TDCEZ"
    f = W.fields(msgs[3][1])
    assert f["C"] == "42P01" and f["S"] == "ERROR" and f["V"] == "ERROR" and f["P"] == "25"


def test_extended_row_limit_suspends_and_resumes(raw):
    raw.login()
    raw.send(W.parse("SELECT x FROM (VALUES (1), (2), (3), (4), (5)) AS v(x)") + W.bind()
             + W.execute(limit=2) + W.execute(limit=2) + W.execute(limit=2) + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"12DDsDDsDCZ"
    assert [W.data_row(p)[0] for k, p in msgs if k == b"D"] == [b"1", b"2", b"3", b"4", b"5"]
    assert msgs[-2][1] == b"SELECT 1\0"


def test_describe_answered_on_flush_without_sync(raw):
    """asyncpg: Parse + Describe + Flush, then waits before it binds."""
    raw.login()
    raw.send(W.parse("SELECT $1::int + 1 AS n", "s1") + W.describe(b"S", "s1") + W.FLUSH)
    msgs = [raw.read(), raw.read(), raw.read()]
    assert kinds(msgs) == b"1tT"
    assert msgs[1][1] == struct.pack("!hI", 1, 23)
    raw.send(W.bind("", "s1", (struct.pack("!i", 41),), (1,), (1,)) + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"2DCZ"
    assert W.data_row(msgs[1][1]) == [struct.pack("!i", 42)]


def test_parameter_types_are_inferred(raw, database):
    raw.login(database=_dbname(database))
    raw.send(W.query("CREATE TABLE items (id bigint, emb vector(3), note text)"))
    raw.until(b"Z")
    raw.send(W.parse("INSERT INTO items VALUES ($1, $2, $3)") + W.describe(b"S") + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"1tnZ"
    n, *oids = struct.unpack("!h3I", msgs[1][1])
    assert (n, oids[0], oids[2]) == (3, 20, 25)
    assert oids[1] >= 16384  # vector: an extension type's OID


def test_unnamed_statement_survives_sync_and_portals_do_not(raw):
    raw.login()
    raw.send(W.parse("SELECT 7") + W.SYNC)
    assert kinds(raw.until(b"Z")) == b"1Z"
    raw.send(W.bind() + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"2DCZ"
    raw.send(W.execute() + W.SYNC)  # the unnamed portal died with the implicit transaction
    msgs = raw.until(b"Z")
    assert W.fields(msgs[0][1])["C"] == "34000"


def test_error_skips_to_sync_and_names_are_checked(raw):
    raw.login()
    raw.send(W.parse("SELECT 1", "dup") + W.parse("SELECT 2", "dup") + W.bind() + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"1EZ"
    assert W.fields(msgs[1][1])["C"] == "42P05"
    raw.send(W.bind("", "missing") + W.SYNC)
    msgs = raw.until(b"Z")
    assert W.fields(msgs[0][1])["C"] == "26000"
    raw.send(W.bind("", "dup", (b"1",)) + W.SYNC)
    msgs = raw.until(b"Z")
    f = W.fields(msgs[0][1])
    assert f["C"] == "08P01" and "supplies 1 parameters" in f["M"]
    # Close of a statement, then it is gone
    raw.send(W.msg(b"C", b"Sdup\0") + W.bind("", "dup") + W.SYNC)
    assert kinds(raw.until(b"Z")) == b"3EZ"


def test_bad_parameter_values(raw):
    raw.login()
    raw.send(W.parse("SELECT $1::int") + W.bind(params=(b"12x",)) + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    f = W.fields(msgs[1][1])
    assert f["C"] == "22P02" and "integer" in f["M"]
    raw.send(W.parse("SELECT $1::int") + W.bind(params=(b"\x01",), param_formats=(1,)) + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert W.fields(msgs[1][1])["C"] == "22P03"


def test_parameter_status_after_set_and_transaction_status(raw):
    raw.login()
    raw.send(W.query("SET application_name = 'renamed'"))
    msgs = raw.until(b"Z")
    assert (b"S", b"application_name\0renamed\0") in msgs
    raw.send(W.query("BEGIN"))
    assert raw.until(b"Z")[-1] == (b"Z", b"T")
    raw.send(W.query("SELECT * FROM nope"))
    assert raw.until(b"Z")[-1] == (b"Z", b"E")
    raw.send(W.query("SELECT 1"))
    msgs = raw.until(b"Z")
    assert W.fields(msgs[0][1])["C"] == "25P02"
    raw.send(W.parse("ROLLBACK") + W.bind() + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"12CZ" and msgs[-1] == (b"Z", b"I")


def test_binary_results_per_column(raw):
    raw.login()
    raw.send(W.parse("SELECT 1::int2, 'x'::text, 2.5::float8, '[1,2]'::vector")
             + W.bind(result_formats=(1, 0, 1, 1)) + W.describe(b"P") + W.execute() + W.SYNC)
    msgs = raw.until(b"Z")
    assert kinds(msgs) == b"12TDCZ"
    assert [d[6] for d in W.row_description(msgs[2][1])] == [1, 0, 1, 1]
    assert W.data_row(msgs[3][1]) == [
        b"\x00\x01", b"x", struct.pack("!d", 2.5), struct.pack("!hh2f", 2, 0, 1.0, 2.0)
    ]


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x07\x00\x00\x00\x08abcd",  # unknown message type
        b"Q\x00\x00\x00\x02",  # length below 4
        b"S\x7f\xff\xff\xff",  # oversize Sync
        W.msg(b"P", b"no terminators"),  # malformed Parse
        W.msg(b"D", b"Zname\0"),  # bad Describe kind
    ],
)
def test_malformed_messages_get_08P01_and_close(raw, garbage):
    raw.login()
    raw.send(garbage)
    kind, payload = raw.read()
    f = W.fields(payload)
    assert kind == b"E" and f["C"] == "08P01" and f["S"] == "FATAL"
    assert raw.read() is None


def test_terminate_closes(raw):
    raw.login()
    raw.send(W.TERMINATE)
    assert raw.read() is None
