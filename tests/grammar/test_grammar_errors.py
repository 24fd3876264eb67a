"""Syntax errors: PostgreSQL's wording, and the 1-based position in the whole string."""

from __future__ import annotations

import pytest
from sqlvec.grammar import parse, parse_expression

from sqlvec import errors


@pytest.mark.parametrize(
    ("sql", "message", "position"),
    [
        ("SELEC 1", 'syntax error at or near "SELEC"', 1),
        ("  selec 1", 'syntax error at or near "selec"', 3),
        ("SELECT * FORM t", 'syntax error at or near "FORM"', 10),
        ("SELECT t.* x FROM t", 'syntax error at or near "x"', 12),
        ("SELECT (1", "syntax error at end of input", 10),
        ("SELECT (1   ", "syntax error at end of input", 13),
        ("SELECT 1 FROM", "syntax error at end of input", 14),
        ("SELECT a FROM t WHERE", "syntax error at end of input", 22),
        ("SELECT 1; SELEC 2", 'syntax error at or near "SELEC"', 11),
        ("SELECT 1;\n  SELECT * FORM t", 'syntax error at or near "FORM"', 22),
        ("SELECT (1; SELECT 2", 'syntax error at or near ";"', 10),
        ("SELECT (1;", 'syntax error at or near ";"', 10),
        ("SELECT 1 2", 'syntax error at or near "2"', 10),
        ("SELECT 'a' FROM", "syntax error at end of input", 16),
        ("SELECT 'a' FROM t WHERE 'x' 'y", 'unterminated quoted string at or near "\'y"', 29),
        ("FOO BAR", 'syntax error at or near "FOO"', 1),
        ("1", 'syntax error at or near "1"', 1),
        ("CREATE FOO x", 'syntax error at or near "FOO"', 8),
        ("SELECT $ 1", 'syntax error at or near "$"', 8),
        ("DO $$ BEGIN END $$", 'syntax error at or near "DO"', 1),
        ("SELECT 1; LISTEN x", 'syntax error at or near "LISTEN"', 11),
    ],
)
def test_syntax_error(sql, message, position):
    with pytest.raises(errors.SyntaxError) as info:
        parse(sql)
    assert info.value.message == message
    assert info.value.position == position
    assert info.value.sqlstate == "42601"
    assert isinstance(info.value, errors.ProgrammingError)


def test_an_error_in_a_later_statement_fails_the_whole_string():
    with pytest.raises(errors.SyntaxError):
        parse("SET x = 1; SELEC 2")


def test_parse_expression():
    assert parse_expression("a + 1").sql() == "a + 1"
    assert parse_expression("now()") is parse_expression("now()")  # cached
    with pytest.raises(errors.SyntaxError) as info:
        parse_expression("a +")
    assert info.value.message == "syntax error at end of input" and info.value.position == 4
    with pytest.raises(errors.SyntaxError) as info:
        parse_expression("a b c")
    assert info.value.message == 'syntax error at or near "c"' and info.value.position == 5
    for not_one_expression in ("1, 2", "1 AS x", "1 FROM t"):
        with pytest.raises(errors.SyntaxError):
            parse_expression(not_one_expression)
