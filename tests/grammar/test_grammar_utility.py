"""The statements parsed by the lark grammars, into the dataclasses of grammar.utility."""

from __future__ import annotations

import dataclasses

import pytest
from sqlglot import exp
from sqlvec.grammar import Param, parse
from sqlvec.grammar import utility as u

from sqlvec import errors

Q = u.QualifiedName

CASES = [
    # --- SET
    ("SET hnsw.ef_search = 100", u.SetStmt("hnsw.ef_search", (100,))),
    ("SET LOCAL hnsw.ef_search TO 40", u.SetStmt("hnsw.ef_search", (40,), local=True)),
    ("SET SESSION statement_timeout = '5s'", u.SetStmt("statement_timeout", ("5s",))),
    (
        "set Search_Path to Public, \"MySchema\", 'x'",
        u.SetStmt("search_path", ("public", "MySchema", "x")),
    ),
    ('SET "HNSW".EF_Search = -1.5', u.SetStmt("HNSW.ef_search", (-1.5,))),
    ("SET enable_seqscan = off", u.SetStmt("enable_seqscan", ("off",))),
    ("SET x TO DEFAULT", u.SetStmt("x", None, is_default=True)),
    ("SET LOCAL x = DEFAULT", u.SetStmt("x", None, local=True, is_default=True)),
    ("SET TIME ZONE 'UTC'", u.SetStmt("timezone", ("UTC",))),
    ("SET TIME ZONE LOCAL", u.SetStmt("timezone", None, is_default=True)),
    ("SET NAMES 'UTF8'", u.SetStmt("client_encoding", ("UTF8",))),
    ("SET SCHEMA 'app'", u.SetStmt("search_path", ("app",))),
    ("SET ROLE admin", u.SetStmt("role", ("admin",))),
    (
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        u.SetTransactionStmt(session=True, isolation="serializable"),
    ),
    (
        "SET TRANSACTION READ ONLY, NOT DEFERRABLE",
        u.SetTransactionStmt(session=False, read_only=True, deferrable=False),
    ),
    # --- SHOW / RESET
    ("SHOW ALL", u.ShowStmt("all")),
    ("SHOW hnsw.ef_search", u.ShowStmt("hnsw.ef_search")),
    ("SHOW TIME ZONE", u.ShowStmt("timezone")),
    ("SHOW TRANSACTION ISOLATION LEVEL", u.ShowStmt("transaction_isolation")),
    ("RESET ALL", u.ResetStmt("all")),
    ("RESET hnsw.ef_search", u.ResetStmt("hnsw.ef_search")),
    # --- transactions
    ("BEGIN", u.TransactionStmt("begin")),
    ("begin work", u.TransactionStmt("begin")),
    ("BEGIN TRANSACTION READ WRITE", u.TransactionStmt("begin", read_only=False)),
    (
        "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
        u.TransactionStmt("begin", isolation="read committed", read_only=True),
    ),
    (
        "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, DEFERRABLE",
        u.TransactionStmt("begin", isolation="repeatable read", deferrable=True),
    ),
    ("START TRANSACTION", u.TransactionStmt("begin")),
    ("COMMIT", u.TransactionStmt("commit")),
    ("END TRANSACTION", u.TransactionStmt("commit")),
    ("COMMIT AND CHAIN", u.TransactionStmt("commit", chain=True)),
    ("COMMIT WORK AND NO CHAIN", u.TransactionStmt("commit")),
    ("ROLLBACK", u.TransactionStmt("rollback")),
    ("ABORT AND CHAIN", u.TransactionStmt("rollback", chain=True)),
    ("SAVEPOINT sp1", u.TransactionStmt("savepoint", name="sp1")),
    ("ROLLBACK TO SAVEPOINT sp1", u.TransactionStmt("rollback_to", name="sp1")),
    ("ROLLBACK WORK TO sp1", u.TransactionStmt("rollback_to", name="sp1")),
    ("RELEASE SAVEPOINT sp1", u.TransactionStmt("release", name="sp1")),
    ("RELEASE sp1", u.TransactionStmt("release", name="sp1")),
    # --- extensions, databases
    ("CREATE EXTENSION vector", u.CreateExtensionStmt("vector")),
    ("CREATE EXTENSION IF NOT EXISTS vector", u.CreateExtensionStmt("vector", if_not_exists=True)),
    (
        "CREATE EXTENSION pg_search WITH SCHEMA public VERSION '0.7.0' CASCADE",
        u.CreateExtensionStmt("pg_search", schema="public", version="0.7.0", cascade=True),
    ),
    ("DROP EXTENSION vector", u.DropExtensionStmt(("vector",))),
    (
        "DROP EXTENSION IF EXISTS vector, pg_search CASCADE",
        u.DropExtensionStmt(("vector", "pg_search"), if_exists=True, cascade=True),
    ),
    ("CREATE DATABASE app", u.CreateDatabaseStmt("app")),
    (
        "CREATE DATABASE app WITH OWNER = bob TEMPLATE template0 ENCODING 'UTF8' "
        "CONNECTION LIMIT = 5 LC_COLLATE 'C' TABLESPACE DEFAULT",
        u.CreateDatabaseStmt(
            "app",
            {
                "owner": "bob",
                "template": "template0",
                "encoding": "UTF8",
                "connection_limit": 5,
                "lc_collate": "C",
                "tablespace": None,
            },
        ),
    ),
    ("DROP DATABASE app", u.DropDatabaseStmt("app")),
    ("DROP DATABASE IF EXISTS app WITH (FORCE)", u.DropDatabaseStmt("app", True, True)),
    # --- roles
    (
        "CREATE ROLE bob WITH LOGIN SUPERUSER PASSWORD 'pw' CONNECTION LIMIT 3 VALID UNTIL 'infinity'",
        u.RoleStmt(
            "create",
            ("bob",),
            options={
                "login": True,
                "superuser": True,
                "password": "pw",
                "connection_limit": 3,
                "valid_until": "infinity",
            },
        ),
    ),
    (
        "CREATE USER bob PASSWORD NULL IN ROLE readers, writers",
        u.RoleStmt(
            "create",
            ("bob",),
            is_user=True,
            options={"password": None, "in_role": ("readers", "writers"), "login": True},
        ),
    ),
    ("CREATE USER bob NOLOGIN", u.RoleStmt("create", ("bob",), True, {"login": False})),
    (
        "ALTER ROLE bob NOSUPERUSER CREATEDB",
        u.RoleStmt("alter", ("bob",), False, {"superuser": False, "createdb": True}),
    ),
    (
        "ALTER USER bob WITH ENCRYPTED PASSWORD 'x'",
        u.RoleStmt("alter", ("bob",), True, {"password": "x"}),
    ),
    ("ALTER ROLE bob RENAME TO rob", u.RoleStmt("alter", ("bob",), new_name="rob")),
    ("DROP ROLE IF EXISTS a, b", u.RoleStmt("drop", ("a", "b"), if_exists=True)),
    ("DROP USER a", u.RoleStmt("drop", ("a",), is_user=True)),
    # --- COPY
    ("COPY t FROM STDIN", u.CopyStmt(Q("t"), None, None, True, "stdin")),
    (
        "COPY public.t (a, b) FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ',', NULL '', "
        "FORCE_NOT_NULL (a), FORCE_QUOTE *, FREEZE off)",
        u.CopyStmt(
            Q("t", "public"),
            ("a", "b"),
            None,
            True,
            "stdin",
            options={
                "format": "csv",
                "header": True,
                "delimiter": ",",
                "null": "",
                "force_not_null": ("a",),
                "force_quote": "*",
                "freeze": False,
            },
        ),
    ),
    (
        "COPY t TO STDOUT (FORMAT csv, HEADER match)",
        u.CopyStmt(
            Q("t"), None, None, False, "stdout", options={"format": "csv", "header": "match"}
        ),
    ),
    (
        "COPY t TO STDOUT WITH CSV HEADER",
        u.CopyStmt(Q("t"), None, None, False, "stdout", options={"format": "csv", "header": True}),
    ),
    (
        "COPY t FROM '/tmp/x.csv' DELIMITER AS ';' NULL 'N' CSV QUOTE '\"' ESCAPE '\\' FORCE NOT NULL a, b",
        u.CopyStmt(
            Q("t"),
            None,
            None,
            True,
            "file",
            "/tmp/x.csv",
            {
                "delimiter": ";",
                "null": "N",
                "format": "csv",
                "quote": '"',
                "escape": "\\",
                "force_not_null": ("a", "b"),
            },
        ),
    ),
    (
        "COPY t TO PROGRAM 'gzip > x' BINARY",
        u.CopyStmt(Q("t"), None, None, False, "program", "gzip > x", {"format": "binary"}),
    ),
    # --- misc
    ("DISCARD ALL", u.DiscardStmt("all")),
    ("DISCARD TEMPORARY", u.DiscardStmt("temp")),
    ("CHECKPOINT", u.CheckpointStmt()),
    ("DEALLOCATE q", u.DeallocateStmt("q")),
    ("DEALLOCATE PREPARE ALL", u.DeallocateStmt(None)),
    ("VACUUM", u.VacuumStmt(())),
    ("VACUUM FULL ANALYZE t, s.u", u.VacuumStmt((Q("t"), Q("u", "s")), full=True, analyze=True)),
    (
        "VACUUM (FULL, VERBOSE true, PARALLEL 2) t",
        u.VacuumStmt(
            (Q("t"),),
            full=True,
            verbose=True,
            options={"full": True, "verbose": "true", "parallel": 2},
        ),
    ),
    ("ANALYZE", u.AnalyzeStmt(())),
    ("ANALYSE VERBOSE t (a, b)", u.AnalyzeStmt((Q("t"),), verbose=True)),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_utility_statement(sql, expected):
    [stmt] = parse(sql)
    assert stmt.ast == expected
    assert stmt.text == sql and stmt.offset == 0 and stmt.param_count == 0


def test_dataclasses_are_frozen():
    stmt = parse("SHOW ALL")[0].ast
    with pytest.raises(dataclasses.FrozenInstanceError):
        stmt.name = "x"


def test_prepare():
    [stmt] = parse(
        "PREPARE q (int, vector(3), double precision) AS SELECT $1 + $2 FROM t WHERE e <-> $2 < 1"
    )
    ast = stmt.ast
    assert type(ast) is u.PrepareStmt and ast.name == "q"
    assert [t.this for t in ast.param_types] == [exp.DType.INT, exp.DType.VECTOR, exp.DType.DOUBLE]
    assert ast.param_types[1].expressions[0].this.to_py() == 3
    assert type(ast.statement) is exp.Select
    assert ast.text == "SELECT $1 + $2 FROM t WHERE e <-> $2 < 1"
    assert ast.param_count == 3  # three declared, two used
    assert stmt.param_count == 0  # the PREPARE itself takes no parameters


def test_prepare_without_types():
    ast = parse("PREPARE q AS INSERT INTO t VALUES ($1, $2)")[0].ast
    assert ast.param_types == () and ast.param_count == 2 and type(ast.statement) is exp.Insert


def test_execute():
    [stmt] = parse("EXECUTE q (1, '[1,2]', $1)")
    assert stmt.ast.name == "q"
    assert stmt.ast.args == (exp.Literal.number(1), exp.Literal.string("[1,2]"), Param.of(1))
    assert stmt.param_count == 1
    assert parse("EXECUTE q")[0].ast == u.ExecuteStmt("q")


def test_explain():
    ast = parse("EXPLAIN SELECT 1")[0].ast
    assert type(ast) is u.ExplainStmt and type(ast.statement) is exp.Select
    assert not ast.analyze and not ast.verbose and ast.options == {}
    ast = parse("EXPLAIN ANALYZE VERBOSE SELECT id FROM t ORDER BY e <-> $1 LIMIT 3")[0]
    assert ast.ast.analyze and ast.ast.verbose and ast.param_count == 1
    ast = parse("EXPLAIN (ANALYZE, COSTS off, FORMAT json) SELECT 1")[0].ast
    assert ast.analyze and not ast.verbose
    assert ast.options == {"analyze": True, "costs": "off", "format": "json"}


def test_copy_stdin_and_stdout_are_the_client():
    # As in PostgreSQL's grammar, which accepts either word in either direction.
    assert parse("COPY t FROM STDOUT")[0].ast.target == "stdin"
    assert parse("COPY t TO STDIN")[0].ast.target == "stdout"


def test_copy_query():
    ast = parse("COPY (SELECT id, emb FROM t WHERE id > 3) TO STDOUT WITH (FORMAT binary)")[0].ast
    assert ast.table is None and ast.is_from is False
    assert type(ast.query) is exp.Select and ast.options == {"format": "binary"}


def test_keywords_are_names_where_no_keyword_fits():
    # "work" and "all" are keywords in some positions only.
    assert parse("SAVEPOINT work")[0].ast == u.TransactionStmt("savepoint", name="work")
    assert parse("SET x TO all")[0].ast == u.SetStmt("x", ("all",))


def test_statement_with_comments():
    ast = parse("/* hi */ SET -- x\n hnsw.ef_search = 10")[0].ast
    assert ast == u.SetStmt("hnsw.ef_search", (10,))


def test_set_characteristics_needs_session():
    with pytest.raises(errors.SyntaxError):
        parse("SET LOCAL CHARACTERISTICS AS TRANSACTION READ ONLY")


def test_unknown_role_option():
    with pytest.raises(errors.SyntaxError) as info:
        parse("CREATE ROLE bob LOGIN FLY")
    assert info.value.message == 'unrecognized role option "fly"'
    assert info.value.position == 23


@pytest.mark.parametrize(
    ("sql", "message", "position"),
    [
        ("SET", "syntax error at end of input", 4),
        ("SET x =", "syntax error at end of input", 8),
        ("SET x = ; SELECT 1", 'syntax error at or near ";"', 9),
        ("BEGIN ISOLATION LEVEL SOMETIMES", 'syntax error at or near "SOMETIMES"', 23),
        ("SHOW", "syntax error at end of input", 5),
        ("COPY t FROM STDERR", 'syntax error at or near "STDERR"', 13),
        ("PREPARE q (int, ) AS SELECT 1", 'syntax error at or near ")"', 17),
        ("PREPARE q AS SELEC 1", 'syntax error at or near "SELEC"', 14),
        ("EXPLAIN SELECT * FORM t", 'syntax error at or near "FORM"', 18),
        ("COPY (SELECT 1 2) TO STDOUT", 'syntax error at or near "2"', 16),
        ("EXECUTE q (1 2)", 'syntax error at or near "2"', 14),
    ],
)
def test_utility_syntax_errors(sql, message, position):
    with pytest.raises(errors.SyntaxError) as info:
        parse(sql)
    assert info.value.message == message
    assert info.value.position == position
