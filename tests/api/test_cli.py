"""The sqlvec command as a user runs it (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def sqlvec(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "sqlvec"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sqlvec"]
    return subprocess.run(
        [*cmd, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
    )


def test_help():
    res = sqlvec("--help")
    assert res.returncode == 0
    assert "shell" in res.stdout and "usage: sqlvec" in res.stdout


def test_python_dash_m_is_the_same_cli():
    res = subprocess.run(
        [sys.executable, "-m", "sqlvec", "shell", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "-c SQL" in res.stdout


def test_no_command_is_a_usage_error():
    res = sqlvec()
    assert res.returncode == 2 and "usage:" in res.stderr


def test_shell_dash_c_prints_like_psql(tmp_path):
    data = tmp_path / "new-dir"
    res = sqlvec("shell", str(data), "-c", "select 1")
    assert res.stderr == ""
    assert res.stdout == " ?column? \n----------\n        1\n(1 row)\n\n"
    assert res.returncode == 0
    assert data.is_dir()


def test_shell_keeps_data_between_runs(tmp_path):
    data = str(tmp_path / "d")
    res = sqlvec(
        "shell",
        data,
        "-c",
        "create table t (id integer, name text)",
        "-c",
        "insert into t values (1, 'one'), (22, NULL)",
    )
    assert res.stdout == "CREATE TABLE\nINSERT 0 2\n", res.stderr
    res = sqlvec("shell", data, "-c", "select id, name from t order by id")
    assert res.stdout == " id | name \n----+------\n  1 | one\n 22 | \n(2 rows)\n\n"


def test_shell_error_exit_status_and_caret(tmp_path):
    res = sqlvec("shell", str(tmp_path / "d"), "-c", "select * from nope")
    assert res.returncode == 1
    assert res.stderr == (
        'ERROR:  relation "nope" does not exist\n'
        "LINE 1: select * from nope\n"
        "                      ^\n"
    )


def test_shell_file_and_piped_input(tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(
        "create table t (a integer);\ninsert into t values (1);\nselect nope;\nselect a from t;\n"
    )
    res = sqlvec("shell", str(tmp_path / "d"), "-f", str(script))
    assert res.returncode == 0
    assert res.stdout == "CREATE TABLE\nINSERT 0 1\n a \n---\n 1\n(1 row)\n\n"
    assert res.stderr.startswith(f'sqlvec:{script}:3: ERROR:  column "nope" does not exist\n')
    res = sqlvec("shell", str(tmp_path / "d"), stdin="select count(*) from t;\n")
    assert res.returncode == 0 and res.stdout == " count \n-------\n     1\n(1 row)\n\n"


@pytest.mark.parametrize("flag", ["--on-error-stop"])
def test_on_error_stop(tmp_path, flag):
    res = sqlvec("shell", str(tmp_path / "d"), flag, stdin="select nope;\nselect 1;\n")
    assert res.returncode == 3 and res.stdout == ""
