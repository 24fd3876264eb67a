"""`sqlvec serve --socket-dir DIR`: a Unix-domain socket where libpq looks for one
(DIR/.s.PGSQL.PORT), as PostgreSQL's unix_socket_directories, beside the TCP listener."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import psycopg
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_psycopg_and_psql_over_unix_socket(make_server, tmp_path):
    sock_dir = tmp_path / "sock"
    sock_dir.mkdir()
    srv = make_server("--socket-dir", str(sock_dir))
    path = sock_dir / f".s.PGSQL.{srv.port}"
    assert path.is_socket()
    assert f"and Unix socket {path}" in "\n".join(srv.lines)
    dsn = f"host={sock_dir} port={srv.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE over_unix (v vector(2))")
        conn.execute("INSERT INTO over_unix VALUES ('[1,2]')")
        assert conn.execute("SELECT v::text FROM over_unix").fetchone() == ("[1,2]",)
        # a Unix socket counts as local: trust authentication applies, as on loopback
        assert conn.info.host == str(sock_dir)
    if shutil.which("psql"):
        out = subprocess.run(
            ["psql", "-h", str(sock_dir), "-p", str(srv.port), "-U", "postgres", "-d", "postgres",
             "-Atc", "SELECT count(*) FROM over_unix"],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "1"
    assert srv.stop() == 0
    assert not path.exists()  # removed at shutdown


def test_stale_socket_file_is_replaced(make_server, tmp_path):
    port = _free_port()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / f".s.PGSQL.{port}"))
    stale.close()  # the file stays, nobody listens: what a killed server leaves
    srv = make_server("--socket-dir", str(tmp_path), "--port", str(port))
    with psycopg.connect(f"host={tmp_path} port={port} user=postgres dbname=postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    srv.stop()


def test_missing_socket_dir_is_refused(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sqlvec", "serve", "--port", "0", "--data", str(tmp_path / "d"),
         "--socket-dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "no such directory" in out.stderr


@pytest.mark.parametrize("n", [3])
def test_unix_and_tcp_clients_share_data(make_server, tmp_path, n):
    srv = make_server("--socket-dir", str(tmp_path))
    with psycopg.connect(srv.dsn(), autocommit=True) as tcp:
        tcp.execute("CREATE TABLE shared (x int)")
        with psycopg.connect(f"host={tmp_path} port={srv.port} user=postgres dbname=postgres",
                             autocommit=True) as unix:
            for i in range(n):
                unix.execute("INSERT INTO shared VALUES (%s)", (i,))
            assert tcp.execute("SELECT sum(x) FROM shared").fetchone() == (sum(range(n)),)
