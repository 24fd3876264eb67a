"""The parse cache, and that nothing from sqlglot leaks (warnings, log lines, Commands)."""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import pytest
import sqlglot.tokens
import sqlvec.grammar as grammar
from sqlglot import exp
from sqlvec.grammar import parse, to_sql

BENCH_SQL = "SELECT id FROM t WHERE cat = $1 ORDER BY emb <-> $2 LIMIT 10"


def test_cached_parse_returns_the_same_statements():
    grammar.clear_cache()
    first = parse(BENCH_SQL)
    second = parse(BENCH_SQL)
    assert first == second and first is not second  # a fresh list each call...
    assert first[0] is second[0]  # ...of the shared, cached statements
    info = grammar.cache_info()
    assert info.hits == 1 and info.misses == 1


def test_different_text_is_a_different_entry():
    a = parse("SELECT 1")[0]
    b = parse("SELECT  1")[0]
    assert a is not b and a.ast == b.ast


def test_long_statements_are_not_cached():
    vector = "[" + ",".join(["0.5"] * 20000) + "]"
    sql = f"INSERT INTO t VALUES (1, '{vector}')"
    assert len(sql) > grammar.CACHE_MAX_SQL_LENGTH
    assert parse(sql)[0] is not parse(sql)[0]


def test_statement_is_frozen():
    stmt = parse("SELECT 1")[0]
    with pytest.raises(AttributeError):
        stmt.text = "x"


def test_copy_before_changing_an_ast():
    stmt = parse("SELECT a FROM t")[0]
    changed = stmt.ast.copy().where("a > 1")
    assert to_sql(changed) == "SELECT a FROM t WHERE a > 1"
    assert to_sql(parse("SELECT a FROM t")[0].ast) == "SELECT a FROM t"


def test_errors_are_not_cached_as_results():
    for _ in range(2):
        with pytest.raises(grammar.errors.SyntaxError):
            parse("SELEC 1")


def test_no_sqlglot_warnings_or_commands(caplog):
    caplog.set_level(logging.DEBUG, logger="sqlglot")
    for sql in ("CREATE FOO x", "VACUUM t", "SHOW ALL", "SET a TO b, c", "EXPLAIN SELECT 1"):
        try:
            for stmt in parse(sql):
                assert not isinstance(stmt.ast, exp.Command)
        except grammar.errors.SyntaxError:
            pass
    assert caplog.records == []


def test_compiled_sqlglot_is_refused(monkeypatch):
    # Load a second copy of dialect.py as if sqlglotc were installed: it must refuse.
    monkeypatch.setattr(sqlglot.tokens, "SQLGLOTC_INSTALLED", True)
    path = Path(grammar.__file__).with_name("dialect.py")
    spec = importlib.util.spec_from_file_location("sqlvec.grammar._dialect_probe", path)
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ImportError, match="sqlglotc"):
        spec.loader.exec_module(module)


def test_measure_cached_and_uncached_parse(capsys):
    """Not an assertion on speed: prints the figures for the report (pytest -s)."""
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        grammar.clear_cache()
        parse(BENCH_SQL)
    uncached = (time.perf_counter() - start) / n
    parse(BENCH_SQL)
    start = time.perf_counter()
    for _ in range(n * 50):
        parse(BENCH_SQL)
    cached = (time.perf_counter() - start) / (n * 50)
    with capsys.disabled():
        print(f"\nparse uncached {uncached * 1e6:.1f} us, cached {cached * 1e6:.2f} us")
    assert cached > 0 and uncached > 0
