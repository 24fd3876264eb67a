"""Materialized views as clients see them through the server: psql's \\dm and \\d print what
PostgreSQL 16 prints (expected text captured from a pgserver reference for the same schema),
and SQLAlchemy's inspector lists and describes them (through psycopg)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wire"))
from wireserver import ServerProcess  # noqa: E402

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE t (id int PRIMARY KEY, name text, emb vector(3));
INSERT INTO t VALUES (1, 'a', '[1,2,3]'), (2, 'b', '[4,5,6]'), (3, 'c', '[7,8,9]');
CREATE MATERIALIZED VIEW mv AS SELECT id, name, emb FROM t WHERE id > 1;
CREATE MATERIALIZED VIEW mv2 (x, y) WITH (fillfactor = 70) AS SELECT id, name FROM t WITH NO DATA;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE INDEX mv_emb ON mv USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 64);
COMMENT ON MATERIALIZED VIEW mv IS 'hello';
"""

# psql 16 against PostgreSQL 16.2 (pgserver) after SCHEMA
EXPECTED_D_MV = "\n".join([
    '            Materialized view "public.mv"',
    ' Column |   Type    | Collation | Nullable | Default ',
    '--------+-----------+-----------+----------+---------',
    ' id     | integer   |           |          | ',
    ' name   | text      |           |          | ',
    ' emb    | vector(3) |           |          | ',
    'Indexes:',
    '    "mv_emb" hnsw (emb vector_l2_ops) WITH (m=\'16\', ef_construction=\'64\')',
    '    "mv_id" UNIQUE, btree (id)',
    '',
    '',
])
EXPECTED_DM = "\n".join([
    '              List of relations',
    ' Schema | Name |       Type        |  Owner   ',
    '--------+------+-------------------+----------',
    ' public | mv   | materialized view | postgres',
    ' public | mv2  | materialized view | postgres',
    '(2 rows)',
    '',
    '',
])
EXPECTED_D_MV2 = "\n".join([
    '          Materialized view "public.mv2"',
    ' Column |  Type   | Collation | Nullable | Default ',
    '--------+---------+-----------+----------+---------',
    ' x      | integer |           |          | ',
    ' y      | text    |           |          | ',
    '',
    '',
])


@pytest.fixture(scope="module")
def dsn(tmp_path_factory):
    import psycopg

    srv = ServerProcess(tmp_path_factory.mktemp("matviews") / "data").start()
    try:
        with psycopg.connect(srv.dsn(), autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield srv.dsn()
    finally:
        assert srv.stop() == 0, srv.log()


def _psql(dsn: str, *commands: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGCONNECT_TIMEOUT="30", PSQLRC="/dev/null", PGOPTIONS="")
    args = [a for cmd in commands for a in ("-c", cmd)]
    return subprocess.run(["psql", "-X", "-d", dsn, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_describe_matviews_as_postgres(dsn):
    out = _psql(dsn, r"\d mv", r"\dm", r"\d mv2")
    assert out.returncode == 0, out.stderr
    assert out.stdout == EXPECTED_D_MV + EXPECTED_DM + EXPECTED_D_MV2


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_verbose_describe_matview(dsn):
    out = _psql(dsn, r"\d+ mv", r"\dm+")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # the parts PostgreSQL prints the same (the definition is ours: the stored query text)
    assert 'Materialized view "public.mv"' in text
    assert "View definition:\n SELECT id, name, emb FROM public.t WHERE id > 1;\n" in text
    assert "Access method: heap" in text
    assert " public | mv   | materialized view | postgres | permanent   | heap " in text
    assert "| hello" in text


def test_sqlalchemy_inspector_sees_matviews(dsn):
    sa = pytest.importorskip("sqlalchemy")
    url = "postgresql+psycopg://" + _url_tail(dsn)
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        assert sorted(insp.get_materialized_view_names()) == ["mv", "mv2"]
        assert insp.get_view_names() == []
        assert insp.get_table_names() == ["t"]
        assert insp.get_view_definition("mv").strip() == "SELECT id, name, emb FROM public.t WHERE id > 1;"
        assert [c["name"] for c in insp.get_columns("mv2")] == ["x", "y"]
        assert {(i["name"], i["unique"]) for i in insp.get_indexes("mv")} == {("mv_emb", False), ("mv_id", True)}
        assert insp.get_table_comment("mv") == {"text": "hello"}
        with engine.connect() as conn:  # and it is queryable like a table
            assert conn.execute(sa.text("SELECT id FROM mv ORDER BY emb <-> '[4,5,6]' LIMIT 1")).scalar() == 2
    finally:
        engine.dispose()


def _url_tail(dsn: str) -> str:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return f"{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"
