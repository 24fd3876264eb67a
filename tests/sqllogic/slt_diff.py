"""Differential run: one .test file against sqlvec and the PostgreSQL reference in lockstep.

Every record runs on both connections in file order. PostgreSQL must satisfy the file (the
corpus says what PostgreSQL does), and sqlvec's outcome must equal PostgreSQL's: the same
rows (sorted as the record's sort mode says), or the same error SQLSTATE and message.
Records the file excludes for one side (``skipif postgres``/``onlyif sqlvec`` with a reason,
``require sqlvec``, ``knownfail``) still run where they apply, to keep both databases in the
same state, and are counted as skipped under their reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from slt_format import Halt, Query, Record, Require, Restart, Statement, parse_file
from slt_runner import (
    Rows,
    SltFailure,
    SqlConnection,
    SqlFailure,
    _check_query,
    _check_statement,
    _indent,
    _sorted,
    _table,
    knownfail_applies,
    labels_of,
    render,
)


@dataclass
class DiffStats:
    """What one file (or, summed, the corpus) contributed to the pass rate."""

    compared: int = 0
    passed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    failures: list[str] = field(default_factory=list)

    def add(self, other: DiffStats) -> None:
        self.compared += other.compared
        self.passed += other.passed
        self.skipped.update(other.skipped)
        self.failures.extend(other.failures)


# The outcome of one record on one connection: rows, a statement without rows, or an error.
Outcome = Rows | None | SqlFailure


def _outcome(conn: SqlConnection, sql: str) -> Outcome:
    try:
        return conn.run(sql)
    except SqlFailure as exc:
        return exc


class _Replay:
    """A connection that answers with a recorded outcome, so that the single-connection
    checks of slt_runner can judge an outcome without running the SQL twice."""

    def __init__(self, outcome: Outcome, labels: set[str]) -> None:
        self.outcome = outcome
        self.labels = labels

    def run(self, sql: str) -> Rows | None:
        if isinstance(self.outcome, SqlFailure):
            raise self.outcome
        return self.outcome


def _short(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


def _describe(outcome: Outcome, sort: str) -> str:
    if isinstance(outcome, SqlFailure):
        return f"    error {outcome.sqlstate}: {_short(outcome.message)}"
    if outcome is None:
        return "    (statement without rows)"
    rows = [[_short(render(v)) for v in row] for row in outcome.rows]
    return f"    ({outcome.ncols} columns)\n" + _table(_sorted(rows, sort, outcome.ncols))


def _same(ref: Outcome, ours: Outcome, sort: str) -> bool:
    if isinstance(ref, SqlFailure) or isinstance(ours, SqlFailure):
        return (
            isinstance(ref, SqlFailure)
            and isinstance(ours, SqlFailure)
            and (ref.sqlstate, ref.message) == (ours.sqlstate, ours.message)
        )
    if ref is None or ours is None:
        return ref is None and ours is None
    if ref.ncols != ours.ncols:
        return False

    def norm(res: Rows) -> list[list[str]]:
        return _sorted([[render(v) for v in row] for row in res.rows], sort, res.ncols)

    return norm(ref) == norm(ours)


def _judge(rec: Record, outcome: Outcome, labels: set[str], loc: str) -> str | None:
    """The file's verdict on an outcome: None when it is what the record expects."""
    try:
        if isinstance(rec, Statement):
            _check_statement(rec, _Replay(outcome, labels), loc)
        elif isinstance(rec, Query):
            _check_query(rec, _Replay(outcome, labels), loc)
    except SltFailure as exc:
        return str(exc)
    return None


def run_lockstep(
    records: list[Record], ref: SqlConnection, ours: SqlConnection, where: str
) -> DiffStats:
    """Run ``records`` on the reference (PostgreSQL) and on sqlvec; count and collect
    every disagreement instead of stopping at the first one."""
    stats = DiffStats()
    ref_labels, our_labels = labels_of(ref), labels_of(ours)
    for pos, rec in enumerate(records):
        loc = f"{where}:{rec.line}"
        on_ref, on_ours = rec.applies_to(ref_labels), rec.applies_to(our_labels)
        if isinstance(rec, Halt) and (on_ref or on_ours):
            break
        if isinstance(rec, Require):
            if rec.label not in ref_labels or rec.label not in our_labels:
                rest = [r for r in records[pos + 1 :] if isinstance(r, Statement | Query)]
                stats.skipped[f"require {rec.label}: {rec.why}"] += len(rest)
                break
            continue
        if isinstance(rec, Restart):
            for conn, applies in ((ref, on_ref), (ours, on_ours)):
                if applies:
                    conn.restart()
            continue
        if not on_ref and not on_ours:
            continue  # e.g. ``onlyif disk``: neither connection of this run
        ref_out = _outcome(ref, rec.sql) if on_ref else None
        our_out = _outcome(ours, rec.sql) if on_ours else None
        if on_ref:
            verdict = _judge(rec, ref_out, ref_labels, loc)
            if verdict is not None:
                stats.failures.append(f"[postgres disagrees with the file] {_short(verdict, 2000)}")
        if not (on_ref and on_ours):
            side = "postgres" if on_ref else "sqlvec"
            stats.skipped[f"only {side}: {rec.reason or 'no reason given'}"] += 1
            continue
        if knownfail_applies(rec, our_labels):
            stats.skipped[f"knownfail: {rec.known_fail}"] += 1
            continue
        stats.compared += 1
        sort = rec.sort if isinstance(rec, Query) else "nosort"
        if _same(ref_out, our_out, sort):
            stats.passed += 1
            continue
        stats.failures.append(
            f"{loc}: sqlvec differs from PostgreSQL\nSQL:\n{_indent(rec.sql)}\n"
            f"postgres:\n{_describe(ref_out, sort)}\nsqlvec:\n{_describe(our_out, sort)}"
        )
    return stats


def run_file_lockstep(path, ref: SqlConnection, ours: SqlConnection, name: str) -> DiffStats:
    return run_lockstep(parse_file(path), ref, ours, name)
