"""psql, the reference client: -c, -f, ON_ERROR_STOP, \\set, the caret under errors."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


def psql(database: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGCONNECT_TIMEOUT="30", PSQLRC="/dev/null", PGOPTIONS="")
    return subprocess.run(
        ["psql", "-X", "-d", database, *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
    )


def test_command_and_aligned_output(database):
    out = psql(database, "-c", "CREATE TABLE t (id int, v vector(3))",
               "-c", "INSERT INTO t VALUES (1, '[1,2,3]'), (2, NULL)",
               "-c", "SELECT id, v FROM t ORDER BY id")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n") == [
        "CREATE TABLE",
        "INSERT 0 2",
        " id |    v    ",
        "----+---------",
        "  1 | [1,2,3]",
        "  2 | ",
        "(2 rows)",
        "",
        "",
    ]


def test_error_with_line_and_caret(database):
    out = psql(database, "-c", "SELECT 1 FROM nowhere")
    assert out.returncode == 1
    assert out.stderr.split("\n")[:3] == [
        'ERROR:  relation "nowhere" does not exist',
        "LINE 1: SELECT 1 FROM nowhere",
        "                      ^",
    ]


def test_file_with_variables_and_on_error_stop(database, tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(
        "\\set n 3\n"
        "CREATE TABLE s (a int);\n"
        "INSERT INTO s VALUES (:n), (:n + 1);\n"
        "SELECT sum(a) AS total FROM s \\gset\n"
        "\\echo total=:total\n"
        "SELECT * FROM s WHERE a = 'x';\n"
        "\\echo not reached\n"
    )
    out = psql(database, "-v", "ON_ERROR_STOP=1", "-f", str(script))
    assert out.returncode == 3
    assert "total=7" in out.stdout
    assert "not reached" not in out.stdout
    assert 'invalid input syntax for type integer: "x"' in out.stderr
    assert f"{script}:6: ERROR" in out.stderr


def test_several_statements_in_one_command_and_tuples_only(database):
    out = psql(database, "-At", "-c", "SELECT 1; SELECT 'two'; SELECT NULL::int IS NULL")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "1\ntwo\nt\n"


def test_stdin_script_and_transaction(database):
    script = "BEGIN;\nCREATE TABLE x (a int);\nINSERT INTO x VALUES (1);\nROLLBACK;\nSELECT count(*) FROM x;\n"
    out = psql(database, "-At", stdin=script)
    assert 'relation "x" does not exist' in out.stderr
    out = psql(database, "-At", "-c", "SHOW server_version", "-c", "SHOW standard_conforming_strings")
    assert out.stdout == "16.4\non\n"
