import pyarrow as pa
import pytest

from sqlvec import errors
from sqlvec.types import registry as T

I4 = pa.int32()


def test_int_arithmetic_nulls_and_division(op):
    assert op("+", T.INT4, T.INT8, pa.array([1, None], I4), pa.scalar(5, pa.int64())) == [6, None]
    assert op("/", T.INT4, T.INT4, pa.array([7, -7], I4), pa.scalar(2, I4)) == [3, -3]
    assert op("%", T.INT4, T.INT4, pa.array([7, -7], I4), pa.scalar(3, I4)) == [1, -1]


def test_int_errors(op):
    with pytest.raises(errors.NumericValueOutOfRange, match="^integer out of range$"):
        op("+", T.INT4, T.INT4, pa.array([2**31 - 1], I4), pa.scalar(1, I4))
    with pytest.raises(errors.DivisionByZero, match="^division by zero$") as e:
        op("/", T.INT4, T.INT4, pa.array([1], I4), pa.scalar(0, I4))
    assert e.value.sqlstate == "22012"
    # a NULL row never divides
    assert op("/", T.INT4, T.INT4, pa.array([None, 4], I4), pa.array([0, 2], I4)) == [None, 2]


def test_float_overflow(op):
    with pytest.raises(errors.NumericValueOutOfRange, match="overflow"):
        op("*", T.FLOAT8, T.FLOAT8, pa.scalar(1e300), pa.scalar(1e300))


def test_numeric_scale_rules(op):
    assert op("+", T.NUMERIC, T.NUMERIC, pa.scalar("0.1"), pa.scalar("0.2")) == "0.3"
    assert op("/", T.NUMERIC, T.NUMERIC, pa.scalar("1.0"), pa.scalar("3")) == "0.33333333333333333333"
    assert op("*", T.NUMERIC, T.NUMERIC, pa.scalar("1.50"), pa.scalar("2")) == "3.00"
    assert op("/", T.NUMERIC, T.NUMERIC, pa.scalar("10"), pa.scalar("4")) == "2.5000000000000000"


def test_comparisons(op):
    assert op("<", T.INT4, T.INT4, pa.array([1, 5, None], I4), pa.scalar(3, I4)) == [True, False, None]
    nan = float("nan")
    assert op("=", T.FLOAT8, T.FLOAT8, pa.array([nan, 1.0]), pa.scalar(nan)) == [True, False]
    assert op(">", T.FLOAT8, T.FLOAT8, pa.array([nan]), pa.scalar(1e308)) == [True]
    assert op("<", T.NUMERIC, T.NUMERIC, pa.array(["9", "10"]), pa.scalar("10")) == [True, False]
    assert op("=", T.TEXT, T.TEXT, pa.array(["a", None]), pa.scalar("a")) == [True, None]


def test_text_concat_and_like(op):
    assert op("||", T.TEXT, T.TEXT, pa.array(["a", None]), pa.scalar("b")) == ["ab", None]
    assert op("||", T.TEXT, T.INT4, pa.scalar("abc"), pa.scalar(1, I4)) == "abc1"
    assert op("~~", T.TEXT, T.TEXT, pa.array(["abc", "xbc", None]), pa.scalar("a%")) == [True, False, None]
    assert op("~~*", T.TEXT, T.TEXT, pa.array(["ABC"]), pa.scalar("a_c")) == [True]
    assert op("!~~", T.TEXT, T.TEXT, pa.array(["a%"]), pa.scalar("a\\%")) == [False]
    assert op("~", T.TEXT, T.TEXT, pa.array(["foo1", "bar"]), pa.scalar("o[0-9]$")) == [True, False]
    with pytest.raises(errors.InvalidEscapeSequence):
        op("~~", T.TEXT, T.TEXT, pa.array(["a"]), pa.scalar("a\\"))


def test_like_escape(fn):
    assert fn("like_escape", [T.TEXT, T.TEXT], pa.scalar("a#%"), pa.scalar("#")) == "a\\%"


def test_math(fn):
    assert fn("sqrt", [T.FLOAT8], pa.array([4.0, None])) == [2.0, None]
    with pytest.raises(errors.DataException, match="square root of a negative number") as e:
        fn("sqrt", [T.FLOAT8], pa.array([-1.0]))
    assert e.value.sqlstate == "2201F"
    with pytest.raises(errors.DataException, match="logarithm of zero"):
        fn("ln", [T.FLOAT8], pa.array([0.0]))
    assert fn("round", [T.FLOAT8], pa.array([2.5, 3.5])) == [2.0, 4.0]  # rint
    assert fn("round", [T.NUMERIC, T.INT4], pa.scalar("2.345"), pa.scalar(2, I4)) == "2.35"
    assert fn("round", [T.NUMERIC], pa.scalar("-2.5")) == "-3"
    assert fn("abs", [T.INT4], pa.array([-3, None], I4)) == [3, None]
    assert fn("greatest", [T.INT4, T.INT4], pa.array([1, None], I4), pa.array([None, None], I4)) == [1, None]
    assert fn("mod", [T.INT4, T.INT4], pa.scalar(-7, I4), pa.scalar(3, I4)) == -1
    assert fn("div", [T.NUMERIC, T.NUMERIC], pa.scalar("7"), pa.scalar("2")) == "3"


def test_strings(fn):
    s = pa.array(["hello", None])
    assert fn("length", [T.TEXT], s) == [5, None]
    assert fn("upper", [T.TEXT], s) == ["HELLO", None]
    assert fn("substr", [T.TEXT, T.INT4, T.INT4], s, pa.scalar(0, I4), pa.scalar(3, I4)) == ["he", None]
    assert fn("substring", [T.TEXT, T.INT4], pa.scalar("hello"), pa.scalar(-1, I4)) == "hello"
    with pytest.raises(errors.DataException, match="negative substring length"):
        fn("substr", [T.TEXT, T.INT4, T.INT4], s, pa.scalar(1, I4), pa.scalar(-1, I4))
    assert fn("split_part", [T.TEXT, T.TEXT, T.INT4], pa.scalar("a,b,c"), pa.scalar(","), pa.scalar(2, I4)) == "b"
    assert fn("lpad", [T.TEXT, T.INT4, T.TEXT], pa.scalar("hi"), pa.scalar(5, I4), pa.scalar("xy")) == "xyxhi"
    assert fn("lpad", [T.TEXT, T.INT4], pa.scalar("hello"), pa.scalar(2, I4)) == "he"
    assert fn("concat", [T.TEXT, T.INT4, T.TEXT], pa.scalar("a"), pa.scalar(1, I4), pa.scalar(None, pa.string())) == "a1"
    assert fn("concat_ws", [T.TEXT, T.TEXT, T.TEXT], pa.scalar(","), pa.scalar("a"), pa.scalar(None, pa.string())) == "a"
    assert fn("format", [T.TEXT, T.TEXT, T.TEXT], pa.scalar("%I = %L"), pa.scalar("Col"), pa.scalar("it's")) == "\"Col\" = 'it''s'"
    assert fn("md5", [T.TEXT], pa.scalar("abc")) == "900150983cd24fb0d6963f7d28e17f72"
    assert fn("regexp_replace", [T.TEXT, T.TEXT, T.TEXT, T.TEXT], pa.scalar("aXbX"), pa.scalar("x"), pa.scalar("-"), pa.scalar("gi")) == "a-b-"
    assert fn("initcap", [T.TEXT], pa.scalar("hello wORLD")) == "Hello World"
    assert fn("translate", [T.TEXT, T.TEXT, T.TEXT], pa.scalar("12345"), pa.scalar("143"), pa.scalar("ax")) == "a2x5"
    assert fn("repeat", [T.TEXT, T.INT4], pa.array(["ab"]), pa.scalar(-1, I4)) == [""]


def test_datetime(fn, op):
    import datetime as dt

    from sqlvec.exec.functions.datetime import pin_now

    ts = pa.array([dt.datetime(2024, 1, 31, 10, 30, 15, 500000), None], pa.timestamp("us"))
    assert fn("date_part", [T.TEXT, T.TIMESTAMP], pa.scalar("second"), ts) == [15.5, None]
    assert fn("extract", [T.TEXT, T.TIMESTAMP], pa.scalar("second"), ts) == ["15.500000", None]
    assert fn("date_trunc", [T.TEXT, T.TIMESTAMP], pa.scalar("month"), ts)[0] == dt.datetime(2024, 1, 1)
    month = pa.scalar(pa.MonthDayNano([1, 0, 0]), pa.month_day_nano_interval())
    assert op("+", T.TIMESTAMP, T.INTERVAL, ts, month)[0] == dt.datetime(2024, 2, 29, 10, 30, 15, 500000)
    d = pa.array([dt.date(2024, 3, 1)], pa.date32())
    assert op("-", T.DATE, T.DATE, d, pa.scalar(dt.date(2024, 2, 1), pa.date32())) == [29]
    assert op("+", T.DATE, T.INT4, d, pa.scalar(1, I4)) == [dt.date(2024, 3, 2)]
    pinned = dt.datetime(2020, 5, 5, tzinfo=dt.UTC)
    token = pin_now(pinned)
    try:
        assert fn("now", []) == pinned
    finally:
        from sqlvec.exec.functions.datetime import _NOW

        _NOW.reset(token)
