"""The compatibility directives (skipif/onlyif with a reason, require, knownfail on the
reference) and the lockstep differential runner, against scripted connections."""

from __future__ import annotations

import pytest
from slt_diff import run_lockstep
from slt_format import Require, SltSyntaxError, parse
from slt_runner import Rows, SltFailure, SqlFailure, labels_of, run_records
from test_slt_format import Scripted

FILE = """\
statement ok
CREATE TABLE t (a int)

query I rowsort
SELECT a FROM t
----
1
2

skipif postgres pgvector 0.6 has no <+>
query R
SELECT l1
----
7

knownfail sqlvec lacks gcd
query I
SELECT gcd(4, 6)
----
2

statement error 22012 division by zero
SELECT 1 / 0

require sqlvec EXPLAIN output is ours

query T
EXPLAIN SELECT 1
----
plan
"""

BASE = {
    "CREATE TABLE t (a int)": None,
    "SELECT a FROM t": Rows(1, [["2"], ["1"]]),
    "SELECT l1": Rows(1, [["7"]]),
    "SELECT gcd(4, 6)": Rows(1, [["2"]]),
    "SELECT 1 / 0": SqlFailure("22012", "division by zero"),
    "EXPLAIN SELECT 1": Rows(1, [["plan"]]),
}


def pg(answers: dict) -> Scripted:
    conn = Scripted(answers)
    conn.labels = {"server", "postgres"}
    return conn


def ours(answers: dict) -> Scripted:
    return Scripted(answers)


def test_reasons_are_required_for_the_reference_labels():
    recs = parse(FILE)
    assert recs[2].skip_if == ["postgres"] and recs[2].reason == "pgvector 0.6 has no <+>"
    assert isinstance(recs[5], Require) and (recs[5].label, recs[5].why) == (
        "sqlvec",
        "EXPLAIN output is ours",
    )
    for text in (
        "skipif postgres\nstatement ok\nSELECT 1\n",
        "onlyif sqlvec\nstatement ok\nSELECT 1\n",
        "require sqlvec\n",
        "skipif memory why\nstatement ok\nSELECT 1\n",
    ):
        with pytest.raises(SltSyntaxError):
            parse(text)


def test_every_non_reference_connection_is_sqlvec():
    assert "sqlvec" in labels_of(ours({})) and "sqlvec" not in labels_of(pg({}))


def test_the_reference_runs_knownfail_records_and_stops_at_require():
    ref = pg(BASE)
    assert run_records(parse(FILE), ref, "f.test") == 4  # knownfail checked, l1 and EXPLAIN not
    assert "SELECT gcd(4, 6)" in ref.ran and "EXPLAIN SELECT 1" not in ref.ran
    wrong = pg(BASE | {"SELECT gcd(4, 6)": Rows(1, [["3"]])})
    with pytest.raises(SltFailure, match="f.test:17: query result mismatch"):
        run_records(parse(FILE), wrong, "f.test")


def test_sqlvec_still_fails_knownfail_records_strictly():
    ours_conn = ours(BASE | {"SELECT gcd(4, 6)": SqlFailure("42883", "no gcd")})
    assert run_records(parse(FILE), ours_conn, "f.test") == 6
    with pytest.raises(SltFailure, match="now passes"):
        run_records(parse(FILE), ours(BASE), "f.test")


def test_lockstep_counts_compared_and_skipped_by_reason():
    mine = ours(BASE | {"SELECT gcd(4, 6)": SqlFailure("42883", "no gcd")})
    stats = run_lockstep(parse(FILE), pg(BASE), mine, "f.test")
    assert stats.failures == []
    assert (stats.compared, stats.passed) == (3, 3)
    assert stats.skipped == {
        "only sqlvec: pgvector 0.6 has no <+>": 1,
        "knownfail: sqlvec lacks gcd": 1,
        "require sqlvec: EXPLAIN output is ours": 1,
    }
    assert "SELECT l1" in mine.ran  # kept in step even though not compared


@pytest.mark.parametrize(
    ("sql", "theirs", "mine", "expected"),
    [
        # unordered compare: same rows in another order are equal, other rows are not
        ("SELECT a FROM t", None, Rows(1, [["1"], ["3"]]), "sqlvec differs from PostgreSQL"),
        ("SELECT 1 / 0", None, SqlFailure("22012", "division by zero!"), "sqlvec differs"),
        ("SELECT 1 / 0", None, SqlFailure("22003", "division by zero"), "sqlvec differs"),
        ("CREATE TABLE t (a int)", None, Rows(0, []), "sqlvec differs"),
        # the reference itself disagreeing with the file is reported as such
        (
            "SELECT a FROM t",
            Rows(1, [["5"]]),
            Rows(1, [["5"]]),
            "[postgres disagrees with the file]",
        ),
    ],
)
def test_lockstep_reports_differences(sql, theirs, mine, expected):
    ref_answers = BASE | ({sql: theirs} if theirs is not None else {})
    our_answers = BASE | {"SELECT gcd(4, 6)": SqlFailure("42883", "no gcd"), sql: mine}
    stats = run_lockstep(parse(FILE), pg(ref_answers), ours(our_answers), "f.test")
    assert len(stats.failures) == 1 and expected in stats.failures[0]
    assert stats.passed == stats.compared - (0 if "disagrees" in expected else 1)
