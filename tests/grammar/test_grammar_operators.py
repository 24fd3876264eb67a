"""The pgvector / ParadeDB operators, their precedence, and $n parameters."""

from __future__ import annotations

import pytest
from sqlglot import exp
from sqlvec.grammar import (
    Bm25Match,
    CosineDistance,
    HammingDistance,
    JaccardDistance,
    L1Distance,
    L2Distance,
    NegInnerProduct,
    Param,
    parse,
    parse_expression,
    to_sql,
)

OPERATORS = [
    ("<->", L2Distance),
    ("<#>", NegInnerProduct),
    ("<=>", CosineDistance),
    ("<+>", L1Distance),
    ("<~>", HammingDistance),
    ("<%>", JaccardDistance),
    ("@@@", Bm25Match),
]


def select_item(sql: str) -> exp.Expr:
    return parse(sql)[0].ast.selects[0]


@pytest.mark.parametrize(("op", "cls"), OPERATORS)
def test_operator_parses_into_its_class(op, cls):
    node = parse_expression(f"a {op} b")
    assert type(node) is cls
    assert isinstance(node, exp.Binary)
    assert node.left == exp.column("a") and node.right == exp.column("b")
    assert cls.symbol == op


@pytest.mark.parametrize(("op", "cls"), OPERATORS)
def test_operator_without_spaces(op, cls):
    assert type(parse_expression(f"a{op}b")) is cls


@pytest.mark.parametrize(("op", "cls"), OPERATORS)
def test_operator_round_trip(op, cls):
    sql = f"SELECT id FROM t WHERE emb {op} '[1,2]' < 0.5 ORDER BY emb {op} $1 LIMIT 3"
    ast = parse(sql)[0].ast
    printed = to_sql(ast)
    assert printed == f"SELECT id FROM t WHERE emb {op} '[1,2]' < 0.5 ORDER BY emb {op} $1 LIMIT 3"
    assert parse(printed)[0].ast == ast


@pytest.mark.parametrize(("op", "cls"), OPERATORS)
def test_arithmetic_binds_tighter(op, cls):
    for arith, arith_cls in (("+", exp.Add), ("-", exp.Sub), ("*", exp.Mul), ("/", exp.Div)):
        node = parse_expression(f"a {op} b {arith} c")
        assert type(node) is cls, arith
        assert type(node.right) is arith_cls
        node = parse_expression(f"a {arith} b {op} c")
        assert type(node) is cls
        assert type(node.left) is arith_cls


def test_modulo_binds_tighter():
    node = parse_expression("a <-> b % c")
    assert type(node) is L2Distance and type(node.right) is exp.Mod


@pytest.mark.parametrize(("op", "cls"), OPERATORS)
@pytest.mark.parametrize(
    ("tail", "outer"),
    [
        ("< 5", exp.LT),
        ("<= 5", exp.LTE),
        ("> 5", exp.GT),
        ("= 5", exp.EQ),
        ("<> 5", exp.NEQ),
        ("BETWEEN 1 AND 2", exp.Between),
        ("IN (1, 2)", exp.In),
        ("IS NULL", exp.Is),
    ],
)
def test_comparisons_bind_looser(op, cls, tail, outer):
    node = parse_expression(f"a {op} b {tail}")
    assert type(node) is outer
    assert type(node.this) is cls


def test_like_binds_looser():
    node = parse_expression("a @@@ b LIKE 'x'")
    assert type(node) is exp.Like and type(node.this) is Bm25Match


def test_same_level_operators_are_left_associative():
    node = parse_expression("a <-> b <=> c")
    assert type(node) is CosineDistance and type(node.left) is L2Distance
    node = parse_expression("a || b <-> c")  # || is another "other operator"
    assert type(node) is L2Distance and type(node.left) is exp.DPipe


def test_boolean_connectives_are_loosest():
    node = parse_expression("body @@@ 'q' AND cat = $1")
    assert type(node) is exp.And
    assert type(node.this) is Bm25Match and type(node.expression) is exp.EQ


def test_unary_minus_inside_operator():
    node = parse_expression("-a <-> -b")
    assert type(node) is L2Distance
    assert type(node.left) is exp.Neg and type(node.right) is exp.Neg


def test_null_safe_equality_is_gone():
    # Stock sqlglot reads <=> as MySQL's null-safe equality; we never produce it.
    assert not list(parse_expression("a <=> b").find_all(exp.NullSafeEQ))
    assert not list(parse_expression("a <-> b").find_all(exp.Distance))


def test_jaccard_is_not_a_placeholder():
    node = parse_expression("b <%> '101'")
    assert type(node) is JaccardDistance
    assert not list(node.find_all(exp.Placeholder))


# --- parameters ----------------------------------------------------------------------------


def params(node: exp.Expr) -> list[int]:
    return sorted(p.number for p in node.find_all(Param))


@pytest.mark.parametrize(
    ("sql", "numbers", "count"),
    [
        ("SELECT $1", [1], 1),
        ("SELECT $1,$2", [1, 2], 2),
        ("SELECT $1::vector", [1], 1),
        ("SELECT ARRAY[$1,$2]", [1, 2], 2),
        ("SELECT 1 LIMIT $1 OFFSET $2", [1, 2], 2),
        ("SELECT id FROM t WHERE cat = $1 ORDER BY emb <-> $2 LIMIT 10", [1, 2], 2),
        ("INSERT INTO t VALUES ($1, $2::vector(3)) RETURNING id", [1, 2], 2),
        ("UPDATE t SET emb = $2 WHERE id = $1", [1, 2], 2),
        ("SELECT $10", [10], 10),
        ("SELECT $2", [2], 2),
        ("SELECT $1 WHERE x = ANY($1::oid[])", [1, 1], 1),
    ],
)
def test_parameters(sql, numbers, count):
    stmt = parse(sql)[0]
    assert params(stmt.ast) == numbers
    assert stmt.param_count == count


def test_parameter_node():
    p = select_item("SELECT $3")
    assert type(p) is Param and p.number == 3 and p.name == ""
    assert p == Param.of(3) and p != Param.of(4)
    assert Param(index=2, name="x").name == "x"
    assert to_sql(Param.of(7)) == "$7"
    with pytest.raises(ValueError):
        Param.of(0)


def test_parameter_inside_cast_and_array():
    cast = select_item("SELECT $1::vector(3)")
    assert type(cast) is exp.Cast and type(cast.this) is Param
    assert cast.to.this == exp.DType.VECTOR
    arr = select_item("SELECT ARRAY[$1, $2]")
    assert type(arr) is exp.Array and [type(e) for e in arr.expressions] == [Param, Param]


def test_dollar_quotes_still_work_next_to_parameters():
    stmt = parse("SELECT $$a$$, $tag$b$tag$, $1")[0].ast
    assert [type(e) for e in stmt.selects] == [exp.Literal, exp.Literal, Param]
    assert [e.this for e in stmt.selects[:2]] == ["a", "b"]
