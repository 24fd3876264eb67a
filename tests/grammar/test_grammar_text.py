"""Statement splitting, placeholder conversion and the quote-aware scanner."""

from __future__ import annotations

import pytest
from sqlvec.grammar import convert_paramstyle, parse, split_statements
from sqlvec.grammar.split import split_pieces

from sqlvec import errors

# --- split_statements ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", [("SELECT 1", 0)]),
        ("SELECT 1;", [("SELECT 1", 0)]),
        ("  SELECT 1 ;  SELECT 2  ", [("SELECT 1", 2), ("SELECT 2", 14)]),
        ("SELECT 1;;; ;SELECT 2", [("SELECT 1", 0), ("SELECT 2", 13)]),
        ("SELECT ';'; SELECT 2", [("SELECT ';'", 0), ("SELECT 2", 12)]),
        ("SELECT 'it''s;'; x", [("SELECT 'it''s;'", 0), ("x", 17)]),
        ("SELECT E'\\';'; x", [("SELECT E'\\';'", 0), ("x", 15)]),
        ('SELECT ";" FROM t; x', [('SELECT ";" FROM t', 0), ("x", 19)]),
        ("SELECT $$;$$; x", [("SELECT $$;$$", 0), ("x", 14)]),
        ("SELECT $a$ $$; $a$; x", [("SELECT $a$ $$; $a$", 0), ("x", 20)]),
        ("SELECT $1; SELECT a$b", [("SELECT $1", 0), ("SELECT a$b", 11)]),
        ("SELECT 1 -- ;\n; x", [("SELECT 1 -- ;", 0), ("x", 16)]),
        ("SELECT /* ; /* ; */ ; */ 1; x", [("SELECT /* ; /* ; */ ; */ 1", 0), ("x", 28)]),
        ("SELECT (1; 2); x", [("SELECT (1; 2)", 0), ("x", 15)]),
        ("SELECT f((1), (2;3)); x", [("SELECT f((1), (2;3))", 0), ("x", 22)]),
    ],
)
def test_split(sql, expected):
    assert split_statements(sql) == expected
    for text, offset in expected:
        assert sql[offset : offset + len(text)] == text


@pytest.mark.parametrize("sql", ["", "   ", ";", " ; ;\n", "-- only a comment", "/* c */ ; -- d"])
def test_split_empty(sql):
    assert split_statements(sql) == []
    assert parse(sql) == []


def test_split_keeps_comment_only_pieces_out_but_comments_inside():
    assert split_statements("-- a\nSELECT 1; -- b\n") == [("-- a\nSELECT 1", 0)]


def test_split_pieces_terminators():
    assert [p.terminator for p in split_pieces("SELECT 1 ; SELECT 2")] == [9, None]


# --- convert_paramstyle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", ("SELECT 1", None)),
        ("SELECT %s", ("SELECT $1", None)),
        ("SELECT %s, %s, %b, %t", ("SELECT $1, $2, $3, $4", None)),
        ("SELECT %s %% 2", ("SELECT $1 % 2", None)),
        ("SELECT 10 %% 3", ("SELECT 10 % 3", None)),
        ("SELECT %(a)s, %(b)s, %(a)s", ("SELECT $1, $2, $1", ["a", "b"])),
        ("SELECT %(a b)s", ("SELECT $1", ["a b"])),
        ("SELECT '%s', %s", ("SELECT '%s', $1", None)),
        ("SELECT '%%', E'\\'%s', %s", ("SELECT '%%', E'\\'%s', $1", None)),
        ("SELECT $$%s$$, $t$%(x)s$t$, %s", ("SELECT $$%s$$, $t$%(x)s$t$, $1", None)),
        ('SELECT "%s" FROM t WHERE a = %s', ('SELECT "%s" FROM t WHERE a = $1', None)),
        ("SELECT %s -- %s\n, /* %(x)s */ %s", ("SELECT $1 -- %s\n, /* %(x)s */ $2", None)),
        ("SELECT emb <%> %s", ("SELECT emb <%> $1", None)),
        ("SELECT emb <%%> %s", ("SELECT emb <%> $1", None)),
    ],
)
def test_convert_paramstyle(sql, expected):
    assert convert_paramstyle(sql) == expected


def test_convert_paramstyle_returns_fresh_names():
    names = convert_paramstyle("SELECT %(a)s")[1]
    names.append("mutated")
    assert convert_paramstyle("SELECT %(a)s")[1] == ["a"]


def test_mixed_placeholders_are_an_error():
    with pytest.raises(errors.ProgrammingError, match="cannot be mixed"):
        convert_paramstyle("SELECT %s, %(a)s")
    with pytest.raises(errors.ProgrammingError, match="cannot be mixed"):
        convert_paramstyle("SELECT %(a)s, %s")


@pytest.mark.parametrize("sql", ["SELECT %d", "SELECT %", "SELECT %(a)d"])
def test_bad_placeholder(sql):
    with pytest.raises(errors.ProgrammingError, match="only '%s', '%b', '%t'"):
        convert_paramstyle(sql)


def test_converted_text_parses():
    text, names = convert_paramstyle("SELECT id FROM t WHERE cat = %(c)s ORDER BY emb <-> %(q)s")
    assert names == ["c", "q"]
    assert parse(text)[0].param_count == 2


# --- unterminated quotes (PostgreSQL's lexer messages) --------------------------------------


@pytest.mark.parametrize(
    ("sql", "message", "position"),
    [
        ("SELECT 'abc", 'unterminated quoted string at or near "\'abc"', 8),
        ("SELECT E'ab\\'", "unterminated quoted string at or near \"E'ab\\'\"", 8),
        ('SELECT "abc', 'unterminated quoted identifier at or near ""abc"', 8),
        ("SELECT $x$abc$y$", 'unterminated dollar-quoted string at or near "$x$abc$y$"', 8),
        ("SELECT 1 /* a /* b */", 'unterminated /* comment at or near "/* a /* b */"', 10),
        ("SELECT 1; SELECT 'x", 'unterminated quoted string at or near "\'x"', 18),
    ],
)
def test_unterminated(sql, message, position):
    with pytest.raises(errors.SyntaxError) as info:
        parse(sql)
    assert info.value.message == message
    assert info.value.position == position
    assert info.value.sqlstate == "42601"
