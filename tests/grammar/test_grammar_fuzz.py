"""Property: any text either parses or raises sqlvec.errors.SyntaxError with a position
inside it (1 .. len + 1); sqlglot, lark and the scanner never leak their own exceptions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlvec.grammar import parse

from sqlvec import errors

WORDS = [
    "SELECT",
    "FROM",
    "WHERE",
    "t",
    "a",
    "(",
    ")",
    ",",
    ";",
    "'x'",
    "$1",
    "$2",
    "<->",
    "<=>",
    "<#>",
    "<%>",
    "@@@",
    "+",
    "*",
    "1",
    "2.5",
    "ORDER BY",
    "LIMIT",
    "SET",
    "=",
    "TO",
    "BEGIN",
    "COMMIT",
    "COPY",
    "STDIN",
    "WITH",
    "CSV",
    "::",
    "vector",
    "[",
    "]",
    "ARRAY",
    "INSERT INTO",
    "VALUES",
    "PREPARE",
    "AS",
    "EXECUTE",
    "EXPLAIN",
    "CREATE",
    "TABLE",
    "INDEX",
    "ON",
    "USING",
    "DROP",
    "ROLE",
    "ALTER",
    '"Q"',
    "$$z$$",
    "--c\n",
    "/*c*/",
    "AND",
    "NOT",
    "IS",
    "NULL",
    "BETWEEN",
    "IN",
    "ANALYZE",
    "VACUUM",
    "SHOW",
    "ALL",
    "SAVEPOINT",
    "ROLLBACK",
    "DATABASE",
    "EXTENSION",
    "%",
    "?",
    "->>",
    ".",
    "E'\\n'",
    "oid[]",
    "'",
    '"',
    "$$",
]

VALID = [
    "SELECT id FROM t WHERE cat = $1 ORDER BY emb <-> $2 LIMIT 10",
    "COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER)",
    "PREPARE q (int, vector(3)) AS SELECT $1, $2",
    "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
    "CREATE ROLE bob WITH LOGIN PASSWORD 'x'",
    "INSERT INTO t VALUES (1, '[1,2]') ON CONFLICT (id) DO UPDATE SET e = excluded.e",
]


def check(sql: str) -> None:
    try:
        parse(sql)
    except errors.SyntaxError as e:
        assert 1 <= e.position <= len(sql) + 1, (sql, e.message, e.position)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12))
def test_word_soup(words):
    check(" ".join(words))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.integers(min_value=0, max_value=80))
def test_truncated_statements(sql, cut):
    check(sql[:cut])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text(sql):
    check(sql)
