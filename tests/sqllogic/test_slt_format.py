"""The .test parser and the runner's checks, against a scripted connection."""

from __future__ import annotations

import pytest
from slt_format import Halt, Query, Restart, SltSyntaxError, Statement, parse
from slt_runner import Rows, SltFailure, SqlFailure, render, run_records

SAMPLE = """\
# comment
statement ok
CREATE TABLE t (a integer)

statement error 42P01 relation "nope" does not exist
SELECT *
FROM nope

statement error 22012
SELECT 1 / 0

statement error
SELECT bad
----
column "bad" does not exist

skipif memory
query IT rowsort
SELECT a, b FROM t
----
2\tNULL
1\t(empty)

onlyif server
query II
SELECT 1, 2
----
1
2

restart

halt

statement ok
never parsed as run
"""


def test_parse_records():
    recs = parse(SAMPLE, "x.test")
    assert [type(r) for r in recs] == [
        Statement,
        Statement,
        Statement,
        Statement,
        Query,
        Query,
        Restart,
        Halt,
        Statement,
    ]
    ok, err, state_only, after = recs[:4]
    assert ok.line == 2 and not ok.expect_error and ok.sql == "CREATE TABLE t (a integer)"
    assert (err.sqlstate, err.message, err.sql) == (
        "42P01",
        'relation "nope" does not exist',
        "SELECT *\nFROM nope",
    )
    assert (state_only.sqlstate, state_only.message) == ("22012", None)
    assert (after.sqlstate, after.message) == (None, 'column "bad" does not exist')
    q = recs[4]
    assert (q.types, q.sort, q.expected) == ("IT", "rowsort", [["2", "NULL"], ["1", "(empty)"]])
    assert q.skip_if == ["memory"] and not q.applies_to({"embedded", "memory"})
    one_per_line = recs[5]
    assert one_per_line.expected == [["1", "2"]] and one_per_line.only_if == ["server"]


@pytest.mark.parametrize(
    "text",
    [
        "statement maybe\nSELECT 1\n",
        "query IT\nSELECT 1\n",
        "query I sideways\nSELECT 1\n----\n1\n",
        "query II\nSELECT 1, 2\n----\n1\t2\t3\n",
        "frobnicate\n",
        "statement ok\n",
    ],
)
def test_malformed_files_are_rejected_with_a_line(text):
    with pytest.raises(SltSyntaxError, match=r"^bad\.test:1: "):
        parse(text, "bad.test")


class Scripted:
    """Answers from a dict sql -> Rows | SqlFailure | None; counts restarts."""

    labels = {"embedded", "memory"}

    def __init__(self, answers):
        self.answers = answers
        self.restarts = 0
        self.ran: list[str] = []

    def run(self, sql):
        self.ran.append(sql)
        answer = self.answers.get(sql)
        if isinstance(answer, SqlFailure):
            raise answer
        return answer

    def restart(self):
        self.restarts += 1

    def close(self):
        pass


def answers(**overrides):
    base = {
        "CREATE TABLE t (a integer)": None,
        "SELECT *\nFROM nope": SqlFailure("42P01", 'relation "nope" does not exist'),
        "SELECT 1 / 0": SqlFailure("22012", "division by zero"),
        "SELECT bad": SqlFailure("42703", 'column "bad" does not exist'),
        "SELECT a, b FROM t": Rows(2, [["1", ""], ["2", None]]),
    }
    base.update(overrides)
    return base


def test_runner_passes_a_matching_file_and_stops_at_halt():
    conn = Scripted(answers())
    # the rowsort query is skipped for "memory", the onlyif-server query too
    assert run_records(parse(SAMPLE), conn, "x.test") == 5
    assert conn.restarts == 1
    assert "never parsed as run" not in conn.ran


def test_runner_checks_sorted_rows_when_not_skipped():
    conn = Scripted(answers())
    conn.labels = {"embedded", "disk"}
    run_records(parse(SAMPLE), conn, "x.test")
    assert "SELECT a, b FROM t" in conn.ran


@pytest.mark.parametrize(
    ("override", "labels", "expected"),
    [
        (
            {"CREATE TABLE t (a integer)": SqlFailure("42601", "syntax error")},
            set(),
            "x.test:2: statement failed",
        ),
        (
            {"SELECT *\nFROM nope": SqlFailure("42P02", 'relation "nope" does not exist')},
            set(),
            "x.test:5: wrong error (SQLSTATE 42P02, expected 42P01)",
        ),
        (
            {"SELECT bad": SqlFailure("42703", "something else")},
            set(),
            "x.test:12: wrong error (message does not contain",
        ),
        ({"SELECT 1 / 0": None}, set(), "x.test:9: statement succeeded, expected error 22012"),
        (
            {"SELECT a, b FROM t": Rows(2, [["1", ""], ["3", None]])},
            {"disk"},
            "x.test:18: query result mismatch (rowsort)",
        ),
        (
            {"SELECT a, b FROM t": Rows(1, [["1"]])},
            {"disk"},
            "x.test:18: query returned 1 columns, the record declares 2",
        ),
        ({"SELECT a, b FROM t": None}, {"disk"}, "x.test:18: query returned no result set"),
    ],
)
def test_runner_reports_the_first_mismatch(override, labels, expected):
    conn = Scripted(answers(**{}) | override)
    conn.labels = labels or conn.labels
    with pytest.raises(SltFailure) as info:
        run_records(parse(SAMPLE), conn, "x.test")
    assert str(info.value).startswith(expected)


def test_mismatch_report_shows_sql_expected_and_actual():
    conn = Scripted(answers(**{"SELECT a, b FROM t": Rows(2, [["5", "x"]])}))
    conn.labels = {"disk"}
    with pytest.raises(SltFailure) as info:
        run_records(parse(SAMPLE), conn, "x.test")
    assert str(info.value) == (
        "x.test:18: query result mismatch (rowsort)\nSQL:\n    SELECT a, b FROM t\n"
        "expected:\n    1\t(empty)\n    2\tNULL\nactual:\n    5\tx"
    )


def test_render_and_valuesort():
    assert [render(v) for v in (None, "", "x")] == ["NULL", "(empty)", "x"]
    recs = parse("query II valuesort\nSELECT 1\n----\n1\t2\n3\t4\n")
    run_records(recs, Scripted({"SELECT 1": Rows(2, [["4", "3"], ["2", "1"]])}), "v.test")
