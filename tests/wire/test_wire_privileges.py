"""Roles and privileges over the wire: a second role logs in with a SCRAM password and is
refused or allowed as PostgreSQL would; GRANTs survive a restart; psql's \\dp, \\z and \\du
print what PostgreSQL 16 prints for the same objects (outputs taken from it)."""

from __future__ import annotations

import shutil

import psycopg
import pytest
from test_wire_psql import psql
from wireserver import ServerProcess

SETUP = [
    "ALTER ROLE postgres PASSWORD 'pgpw'",
    "CREATE ROLE dp_alice LOGIN PASSWORD 'pw'",
    "CREATE ROLE dp_bob",
    "CREATE TABLE dp_t (a int)",
    "CREATE TABLE dp_u (a int)",
    "CREATE VIEW dp_v AS SELECT * FROM dp_t",
    "CREATE SEQUENCE dp_s",
    "INSERT INTO dp_t VALUES (1), (2)",
    "GRANT SELECT, INSERT ON dp_t TO dp_alice WITH GRANT OPTION",
    "GRANT UPDATE ON dp_t TO PUBLIC",
    "GRANT USAGE ON SEQUENCE dp_s TO dp_bob",
    "GRANT SELECT ON dp_v TO dp_bob",
    "GRANT dp_bob TO dp_alice",
    "CREATE SCHEMA dp_sch",
    "GRANT USAGE ON SCHEMA dp_sch TO dp_alice",
]

DP = """\
                                  Access privileges
 Schema | Name |   Type   |     Access privileges     | Column privileges | Policies
--------+------+----------+---------------------------+-------------------+----------
 public | dp_s | sequence | postgres=rwU/postgres    +|                   |
        |      |          | dp_bob=U/postgres         |                   |
 public | dp_t | table    | postgres=arwdDxt/postgres+|                   |
        |      |          | dp_alice=a*r*/postgres   +|                   |
        |      |          | =w/postgres               |                   |
 public | dp_u | table    |                           |                   |
 public | dp_v | view     | postgres=arwdDxt/postgres+|                   |
        |      |          | dp_bob=r/postgres         |                   |
(4 rows)

                                Access privileges
 Schema | Name | Type  |     Access privileges     | Column privileges | Policies
--------+------+-------+---------------------------+-------------------+----------
 public | dp_t | table | postgres=arwdDxt/postgres+|                   |
        |      |       | dp_alice=a*r*/postgres   +|                   |
        |      |       | =w/postgres               |                   |
(1 row)

            List of roles
 Role name |  Attributes  | Member of
-----------+--------------+-----------
 dp_alice  |              | {dp_bob}
 dp_bob    | Cannot login | {}

                    List of schemas
  Name  |  Owner   |  Access privileges   | Description
--------+----------+----------------------+-------------
 dp_sch | postgres | postgres=UC/postgres+|
        |          | dp_alice=U/postgres  |
(1 row)

"""


@pytest.fixture
def priv_dir(tmp_path_factory):
    """A data directory with the objects and grants of SETUP (made over trust auth)."""
    path = tmp_path_factory.mktemp("priv") / "data"
    srv = ServerProcess(path).start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as c:
            for sql in SETUP:
                c.execute(sql)
    finally:
        assert srv.stop() == 0
    return path


def _connect(srv, user: str, password: str):
    return psycopg.connect(srv.dsn(user=user, password=password), autocommit=True)


def _denied(conn, sql: str, message: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        conn.execute(sql)
    assert str(info.value).startswith(message), str(info.value)


def test_second_role_refused_and_allowed(make_server, priv_dir):
    srv = make_server("--auth", "scram-sha-256", data_dir=priv_dir)
    with _connect(srv, "dp_alice", "pw") as c:
        assert c.execute("SELECT current_user, session_user").fetchone() == ("dp_alice", "dp_alice")
        assert c.execute("SELECT a FROM dp_t ORDER BY a").fetchall() == [(1,), (2,)]
        c.execute("INSERT INTO dp_t VALUES (3)")
        _denied(c, "SELECT * FROM dp_u", "permission denied for table dp_u")
        _denied(c, "DELETE FROM dp_t", "permission denied for table dp_t")
        _denied(c, "DROP TABLE dp_t", "must be owner of table dp_t")
        _denied(c, "CREATE TABLE mine (a int)", "permission denied for schema public")
        # privileges of dp_bob, which dp_alice is a member of (INHERIT)
        assert c.execute("SELECT count(*) FROM dp_v").fetchone() == (3,)
        assert c.execute("SELECT nextval('dp_s')").fetchone() == (1,)
        # a prepared statement is planned once, but checked again after a REVOKE
        q = "SELECT count(*) FROM dp_t WHERE a > %s"
        for _ in range(6):  # psycopg prepares it server-side after 5 runs
            assert c.execute(q, (0,)).fetchone() == (3,)
        with _connect(srv, "postgres", "pgpw") as admin:
            admin.execute("REVOKE SELECT ON dp_t FROM dp_alice")
        _denied(c, q % "0", "permission denied for table dp_t")
        c.execute("SET ROLE dp_bob")
        assert c.execute("SELECT current_user").fetchone() == ("dp_bob",)
        _denied(c, "INSERT INTO dp_t VALUES (4)", "permission denied for table dp_t")
        c.execute("RESET ROLE")
        c.execute("INSERT INTO dp_t VALUES (4)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SET SESSION AUTHORIZATION postgres")
    with _connect(srv, "postgres", "pgpw") as admin:
        admin.execute("GRANT SELECT ON dp_t TO dp_alice")
        rows = admin.execute("SELECT has_table_privilege('dp_alice', 'dp_t', 'SELECT'), "
                             "has_table_privilege('dp_alice', 'dp_u', 'SELECT'), "
                             "pg_has_role('dp_alice', 'dp_bob', 'USAGE')").fetchone()
        assert rows == (True, False, True)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_access_privileges(make_server, priv_dir):
    srv = make_server(data_dir=priv_dir)
    dsn = srv.dsn(user="postgres", password="pgpw")
    out = psql(dsn, "-c", r"\dp dp_*", "-c", r"\z dp_t", "-c", r"\du dp_*", "-c", r"\dn+ dp_sch")
    assert out.returncode == 0, out.stderr
    # psql pads cells with spaces; the expected text above has its line ends trimmed
    assert [line.rstrip() for line in out.stdout.split("\n")] == DP.split("\n")
