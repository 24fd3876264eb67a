"""The SQL real clients send (tests/catalog/queries/*.sql, captured from psql -E, SQLAlchemy,
psycopg and asyncpg): every file parses with our grammar. Running them and comparing with
PostgreSQL is the general executor's regression suite."""

from __future__ import annotations

import pathlib
import warnings

import pytest
from sqlvec.grammar import convert_paramstyle, parse

FILES = sorted((pathlib.Path(__file__).parent / "queries").glob("*.sql"))


def test_the_corpus_is_there():
    names = {f.stem for f in FILES}
    assert {"psql15_d", "psql15_dt", "psql15_l", "asyncpg_intro_lookup_types_13",
            "sqlalchemy2_get_columns", "pgvector_psycopg_register_vector"} <= names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_client_query_parses(path):
    sql, _ = convert_paramstyle(path.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stmts = parse(sql)
    assert stmts and all(type(s.ast).__name__ == "Select" for s in stmts)
