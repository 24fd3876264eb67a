"""PostgreSQL JDBC (Debian's libpostgresql-jdbc-java) against the server.

tests/wire/clients/JdbcClient.java is compiled with javac into a temporary directory and run
once per module; it prints one "name<TAB>value" line per check (DatabaseMetaData calls that
fail print "ERROR sqlstate message" so that the others still run). Skips when java, javac or
the driver jar is missing (.ci/run installs libpostgresql-jdbc-java).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent / "clients"
JARS = [Path("/usr/share/java/postgresql.jar"), *sorted(Path("/usr/share/java").glob("postgresql-4*.jar"))]


@pytest.fixture(scope="module")
def jdbc(server, tmp_path_factory) -> dict[str, str]:
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        pytest.skip("java/javac is not installed")
    jar = next((j for j in JARS if j.exists()), None)
    if jar is None:
        pytest.skip("the PostgreSQL JDBC driver is not installed (apt-get install libpostgresql-jdbc-java)")
    out = tmp_path_factory.mktemp("jdbc")
    built = subprocess.run([javac, "-cp", str(jar), "-d", str(out), str(CLIENTS / "JdbcClient.java")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE jdbc_meta")
    done = subprocess.run([java, "-cp", f"{out}:{jar}", "JdbcClient", str(server.port), "jdbc_meta"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(line.split("\t", 1) for line in done.stdout.splitlines())


def test_statements_and_prepared(jdbc):
    assert jdbc["statement"] == "1|ann;2|bob"
    # 8 runs of each PreparedStatement: the 5th switches pgJDBC to a named server statement
    assert jdbc["prepared"] == ",".join(f"title {i}=[{i},{i},{i}]" for i in range(1, 9))
    assert jdbc["fetchsize"] == "1;3;5;7"
    assert jdbc["knn"] == "2;3;1"


def test_transaction_and_error(jdbc):
    assert jdbc["transaction"] == "8|ann2"
    assert jdbc["error"] == '42703|8|column "nosuch" does not exist'
    assert jdbc["aborted"] == "25P02"


def test_metadata_tables_columns_schemas(jdbc):
    assert jdbc["product"] == "PostgreSQL|16"
    assert jdbc["tables"] == "authors|TABLE;books|TABLE"
    assert jdbc["views"] == "book_titles|VIEW"
    assert jdbc["columns"] == "id|int4|1|NO;author_id|int4|2|YES;title|varchar|3|YES;emb|vector|4|YES"
    assert jdbc["schemas"] == "information_schema;pg_catalog;public"
    assert jdbc["typeinfo"] == "some"


# pgJDBC selects a field of a composite-returning SRF in the select list:
#   SELECT (information_schema._pg_expandarray(i.indkey)).n ... FROM pg_index i ...
# and compares a record column's field in the outer query: (result.KEYS).x
def test_metadata_primary_keys(jdbc):
    assert jdbc["pk"] == "id|1|books_pkey"


def test_metadata_index_info(jdbc):
    assert jdbc["indexes"] == "books_pkey|false|id;books_title_idx|true|title"


# getImportedKeys joins 9 relations with commas, generate_series(1, 32) among them, with the
# equality conditions in WHERE: the planner must order the joins by those equalities.
def test_metadata_foreign_keys(jdbc):
    assert jdbc["fk"] == "authors|id|author_id|books_author_id_fkey"
