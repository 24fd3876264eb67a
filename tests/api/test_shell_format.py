"""The shell prints what psql 15 prints. Expected strings in psql15_outputs.json were
captured from psql 15.18 against PostgreSQL 16 (tables with their column type OIDs and text
values; errors with their position), so these tests compare with the real program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlvec import errors
from sqlvec.result import Result
from sqlvec.shell import (
    RIGHT_ALIGNED_OIDS,
    cell_lines,
    display_width,
    error_position_lines,
    format_error,
    format_result,
    format_table,
    format_timing,
    row_footer,
)

CAPTURED = json.loads((Path(__file__).parent / "psql15_outputs.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CAPTURED["tables"], ids=lambda c: c["sql"][:40])
def test_table_layout_matches_psql(case):
    rows = [["" if v is None else v for v in row] for row in case["rows"]]
    text = format_table(
        case["headers"],
        [oid in RIGHT_ALIGNED_OIDS for oid in case["oids"]],
        rows,
        row_footer(len(rows)),
    )
    assert text == case["psql"]


@pytest.mark.parametrize("case", CAPTURED["errors"], ids=lambda c: c["sql"][:40])
def test_error_report_matches_psql(case):
    exc = errors.error_for(case["sqlstate"], case["message"], position=case["position"])
    assert format_error(exc, case["sql"]) == case["psql"]


def test_error_with_detail_and_hint():
    exc = errors.UndefinedFunction(
        "function nofunc(integer) does not exist",
        hint="No function matches the given name and argument types. "
        "You might need to add explicit type casts.",
        position=8,
    )
    assert format_error(exc, "select nofunc(1);") == (
        "ERROR:  function nofunc(integer) does not exist\n"
        "LINE 1: select nofunc(1);\n"
        "               ^\n"
        "HINT:  No function matches the given name and argument types. "
        "You might need to add explicit type casts.\n"
    )
    dup = errors.UniqueViolation(
        'duplicate key value violates unique constraint "u_pkey"',
        detail="Key (a)=(1) already exists.",
    )
    assert format_error(dup, "insert into u values (1);") == (
        'ERROR:  duplicate key value violates unique constraint "u_pkey"\n'
        "DETAIL:  Key (a)=(1) already exists.\n"
    )


def test_error_position_out_of_range_prints_no_line():
    assert error_position_lines("select 1", 0) == []
    assert error_position_lines("select 1", 50) == []


def test_long_line_is_cut_on_both_sides():
    # Output of psql 15.18 for this statement (column "bad" does not exist).
    sql = (
        "select "
        + ", ".join(f"1 as c{i}" for i in range(30))
        + ", bad, 1 as more_stuff_after_it_here, 2 as and_more from pg_class"
    )
    assert error_position_lines(sql, sql.index("bad") + 1) == [
        "LINE 1: ...1 as c25, 1 as c26, 1 as c27, 1 as c28, 1 as c29, bad, 1 as ...",
        "                                                             ^",
    ]


def test_cells_and_widths():
    assert display_width("日本") == 4 and display_width("abc") == 3
    assert cell_lines("a\tb") == [("a       b", 9)]
    assert cell_lines("x\ny") == [("x", 1), ("y", 1)]
    assert cell_lines("\x7f") == [("\\x7F", 4)]


def test_command_tags_print_as_psql_does():
    assert format_result(Result("CREATE TABLE")) == "CREATE TABLE\n"
    assert format_result(Result("INSERT 0 1", rowcount=1)) == "INSERT 0 1\n"
    assert format_result(Result("")) == ""


def test_timing_lines():
    assert format_timing(0.1234) == "Time: 0.123 ms"
    assert format_timing(61_234.5) == "Time: 61234.500 ms (01:01.234)"
    assert format_timing(3_723_000.0) == "Time: 3723000.000 ms (01:02:03.000)"
