"""COPY through real clients: psycopg's cursor.copy() (text, CSV, binary, write_row with numpy
vectors), psql's \\copy and COPY FROM STDIN in a script, CopyFail, errors with the line."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import numpy as np
import psycopg
import pytest


def _as_list(v) -> list:
    """pgvector-python gives Vector objects (psycopg, asyncpg) or arrays/lists (SQLAlchemy)."""
    return [float(x) for x in (v.to_list() if hasattr(v, "to_list") else v)]


def _psql(database: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGCONNECT_TIMEOUT="30", PSQLRC="/dev/null", PGOPTIONS="")
    return subprocess.run(["psql", "-X", "-d", database, *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


needs_psql = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, name text, v vector(3), n int DEFAULT 7)")
        yield c


def test_copy_text_in_and_out(conn):
    with conn.cursor().copy("COPY items (id, name, v) FROM STDIN") as cp:
        cp.write_row((1, "tab\there", "[1,2,3]"))
        cp.write_row((2, None, "[4,5,6]"))
        cp.write_row((3, "back\\slash\nnewline", None))
    rows = conn.execute("SELECT id, name, v::text, n FROM items ORDER BY id").fetchall()
    assert rows == [(1, "tab\there", "[1,2,3]", 7), (2, None, "[4,5,6]", 7),
                    (3, "back\\slash\nnewline", None, 7)]
    with conn.cursor().copy("COPY items (id, name) TO STDOUT") as cp:
        out = b"".join(bytes(d) for d in cp)
    assert out == b"1\ttab\\there\n2\t\\N\n3\tback\\\\slash\\nnewline\n"
    with conn.cursor().copy("COPY (SELECT id, name FROM items WHERE id < 3 ORDER BY id) TO STDOUT") as cp:
        assert list(cp.rows()) == [("1", "tab\there"), ("2", None)]


def test_copy_csv_header_options(conn):
    data = 'id;name;v\n1;"semi;colon";"[1,2,3]"\n2;;"[0,0,1]"\n3;"";"[1,1,1]"\n'
    with conn.cursor().copy("COPY items (id, name, v) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';')") as cp:
        cp.write(data.encode())
    rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    assert rows == [(1, "semi;colon"), (2, None), (3, "")]
    with conn.cursor().copy("COPY items (id, name) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (name))") as cp:
        out = b"".join(bytes(d) for d in cp).decode()
    assert out == 'id,name\n1,"semi;colon"\n2,\n3,""\n'
    with conn.cursor().copy("COPY items (id, name) FROM STDIN WITH CSV NULL 'NULL'") as cp:
        cp.write(b"4,NULL\n5,\n")
    assert conn.execute("SELECT id, name FROM items WHERE id > 3 ORDER BY id").fetchall() == [(4, None), (5, "")]


def test_copy_binary_with_numpy_vectors(conn):
    from pgvector.psycopg import register_vector

    register_vector(conn)
    with conn.cursor().copy("COPY items (id, name, v) FROM STDIN WITH (FORMAT binary)") as cp:
        cp.set_types(["int4", "text", "vector"])
        cp.write_row((1, "a", np.array([1.5, 2, 3], dtype=np.float32)))
        cp.write_row((2, None, np.array([0, 0, 1], dtype=np.float32)))
    got = conn.execute("SELECT id, name, v FROM items ORDER BY id").fetchall()
    assert [(i, n, _as_list(v)) for i, n, v in got] == [(1, "a", [1.5, 2, 3]), (2, None, [0, 0, 1])]
    with conn.cursor().copy("COPY items (id, v) TO STDOUT WITH (FORMAT binary)") as cp:
        cp.set_types(["int4", "vector"])
        rows = list(cp.rows())
    assert [(i, _as_list(v)) for i, v in rows] == [(1, [1.5, 2, 3]), (2, [0, 0, 1])]


def test_copy_fail_writes_nothing(conn):
    with pytest.raises(RuntimeError):
        with conn.cursor().copy("COPY items (id, name) FROM STDIN") as cp:
            cp.write_row((1, "x"))
            raise RuntimeError("client gives up")
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection carries on


def test_copy_bad_value_names_line_and_column(conn):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as info:
        with conn.cursor().copy("COPY items (id, name) FROM STDIN") as cp:
            cp.write(b"1\tok\nabc\tbad\n")
    assert info.value.diag.message_primary == 'invalid input syntax for type integer: "abc"'
    assert info.value.diag.message_detail == 'COPY items, line 2, column id: "abc"'
    with pytest.raises(psycopg.errors.BadCopyFileFormat, match="missing data for column"):
        with conn.cursor().copy("COPY items (id, name) FROM STDIN") as cp:
            cp.write(b"1\n")
    with pytest.raises(psycopg.errors.DataException, match="expected 3 dimensions, not 2"):
        with conn.cursor().copy("COPY items (id, v) FROM STDIN") as cp:
            cp.write(b"1\t[1,2]\n")
    with pytest.raises(psycopg.errors.UniqueViolation):  # constraints hold for COPY too
        with conn.cursor().copy("COPY items (id) FROM STDIN") as cp:
            cp.write(b"1\n1\n")
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)


def test_copy_in_transaction_rolls_back(conn):
    conn.autocommit = False
    with conn.cursor().copy("COPY items (id) FROM STDIN") as cp:
        cp.write(b"1\n2\n")
    conn.rollback()
    conn.autocommit = True
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)


def test_copy_100k_rows_timing(conn):
    n = 100_000
    vecs = np.random.default_rng(0).random((n, 3), dtype=np.float32)
    lines = "".join(f"{i}\tname{i}\t[{a:.4f},{b:.4f},{c:.4f}]\n" for i, (a, b, c) in enumerate(vecs))
    t0 = time.perf_counter()
    with conn.cursor().copy("COPY items (id, name, v) FROM STDIN") as cp:
        cp.write(lines.encode())
    t_in = time.perf_counter() - t0
    t0 = time.perf_counter()
    with conn.cursor().copy("COPY items TO STDOUT") as cp:
        size = sum(len(d) for d in cp)
    t_out = time.perf_counter() - t0
    print(f"\nCOPY 100k rows (int, text, vector(3)): in {t_in:.2f} s, out {t_out:.2f} s ({size} bytes)")
    assert conn.execute("SELECT count(*), sum(id) FROM items").fetchone() == (n, n * (n - 1) // 2)


@needs_psql
def test_psql_backslash_copy_both_ways(database, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,name\n1,one\n2,\"two, too\"\n")
    dst = tmp_path / "out.txt"
    out = _psql(database, "-v", "ON_ERROR_STOP=1",
                "-c", "CREATE TABLE t (id int, name text)",
                "-c", f"\\copy t FROM '{src}' WITH (FORMAT csv, HEADER)",
                "-c", f"\\copy (SELECT * FROM t ORDER BY id) TO '{dst}'")
    assert out.returncode == 0, out.stderr
    assert "COPY 2" in out.stdout
    assert dst.read_text() == "1\tone\n2\ttwo, too\n"


@needs_psql
def test_psql_script_with_copy_from_stdin(database, tmp_path):
    script = tmp_path / "load.sql"
    script.write_text(
        "CREATE TABLE t (id int, v vector(2));\n"
        "COPY t (id, v) FROM stdin;\n1\t[1,2]\n2\t\\N\n\\.\n"
        "SELECT id, v FROM t ORDER BY id;\n"
    )
    out = _psql(database, "-v", "ON_ERROR_STOP=1", "-A", "-t", "-f", str(script))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-3:] == ["1|[1,2]", "2|", ""]
