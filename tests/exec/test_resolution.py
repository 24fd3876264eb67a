import pytest

from sqlvec import errors
from sqlvec.exec.functions import is_aggregate, resolve_function, resolve_operator
from sqlvec.types import registry as T


def names(ts):
    return [str(t) for t in ts]


@pytest.mark.parametrize(
    "left,right,targets,ret",
    [
        (T.INT4, T.INT8, ["bigint", "bigint"], "bigint"),
        (T.INT4, T.NUMERIC, ["numeric", "numeric"], "numeric"),
        (T.INT4, T.FLOAT8, ["double precision", "double precision"], "double precision"),
        (T.FLOAT4, T.INT4, ["real", "double precision"], "double precision"),
        (T.INT2, T.INT2, ["smallint", "smallint"], "smallint"),
        (T.INT4, T.UNKNOWN, ["integer", "integer"], "integer"),
    ],
)
def test_arithmetic_resolution(left, right, targets, ret):
    ov, ts, rt = resolve_operator("+", left, right)
    assert names(ts) == targets and str(rt) == ret


def test_unknown_concat_uses_textanycat():
    ov, ts, rt = resolve_operator("||", T.UNKNOWN, T.INT4)
    assert names(ts) == ["text", "integer"] and str(rt) == "text"
    ov, ts, rt = resolve_operator("||", T.UNKNOWN, T.UNKNOWN)
    assert names(ts) == ["text", "text"]


def test_vector_operator_keeps_typmod_and_adapts_literal():
    ov, ts, rt = resolve_operator("<->", T.vector(3), T.UNKNOWN)
    assert names(ts) == ["vector(3)", "vector"] and str(rt) == "double precision"


def test_missing_operator_message():
    with pytest.raises(errors.UndefinedFunction) as e:
        resolve_operator("+", T.TEXT, T.INT4)
    assert e.value.sqlstate == "42883"
    assert str(e.value) == "operator does not exist: text + integer"
    assert e.value.hint.startswith("No operator matches the given name and argument types.")


def test_missing_function_message():
    with pytest.raises(errors.UndefinedFunction) as e:
        resolve_function("foo", [T.INT4])
    assert str(e.value) == "function foo(integer) does not exist"
    assert "You might need to add explicit type casts." in e.value.hint
    with pytest.raises(errors.UndefinedFunction):
        resolve_function("sqrt", [T.TEXT])


def test_numeric_literal_picks_numeric_and_float_functions():
    assert str(resolve_function("round", [T.NUMERIC, T.INT4])[2]) == "numeric"
    assert str(resolve_function("sqrt", [T.INT4])[2]) == "double precision"
    assert str(resolve_function("sqrt", [T.NUMERIC])[2]) == "numeric"


def test_variadic_and_polymorphic():
    ov, ts, rt = resolve_function("greatest", [T.INT4, T.INT8, T.INT2])
    assert str(rt) == "bigint" and names(ts) == ["bigint"] * 3
    ov, ts, rt = resolve_function("concat", [T.TEXT, T.INT4, T.UNKNOWN])
    assert str(rt) == "text"


def test_is_aggregate():
    assert is_aggregate("count") and is_aggregate("SUM") and not is_aggregate("lower")
