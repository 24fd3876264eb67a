"""Parser for our sqllogictest files (tests/sql/**/*.test), DuckDB/SQLite style.

Records are separated by blank lines::

    # a comment
    statement ok
    CREATE TABLE t (a integer, b text)

    statement error 42P01 relation "nope" does not exist
    SELECT * FROM nope

    query IT rowsort
    SELECT a, b FROM t
    ----
    1	one
    2	NULL

    restart
    halt

``statement error`` takes an optional 5-character SQLSTATE and/or a message substring (the
rest of the line); instead of the substring, the SQL may be followed by ``----`` and the
expected message text. ``query`` takes one letter per column (I integer, R real/numeric,
T text, B boolean, ... only their count is checked) and ``nosort`` (default), ``rowsort``
or ``valuesort``. Expected values are PostgreSQL's text output separated by tabs, ``NULL``
for NULL and ``(empty)`` for the empty string; a result may also be listed one value per
line (SQLite's layout). A value cannot contain a tab or a newline (select
``replace(col, E'\t', ' ')`` instead). ``skipif LABEL`` / ``onlyif LABEL`` before a record select it by
the connection's labels (``embedded``, ``memory``, ``disk``, ``server``; ``postgres`` for the
PostgreSQL reference of the differential test, ``sqlvec`` for every other connection); for
``postgres`` and ``sqlvec`` a reason must follow the label (``skipif postgres pgvector 0.6
has no <+>``), and the differential test reports skipped records by that reason.
``require LABEL REASON`` ends the file for a connection without LABEL (at the top of a file:
``require sqlvec HNSW recall`` makes the whole file sqlvec-only).
``restart`` closes and reopens the database (durability tests); ``halt`` ends the file.
``knownfail REASON`` before a record marks a PostgreSQL behaviour sqlvec does not have yet:
the record must still fail (strictly: when it starts passing, the file fails and asks for the
marker to go), and the file carries on after it. ``grep -r knownfail tests/sql`` is the list of
known gaps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
SORT_MODES = ("nosort", "rowsort", "valuesort")


class SltSyntaxError(ValueError):
    """A malformed .test file, reported with file:line."""


@dataclass
class Record:
    line: int  # 1-based line of the record's header in the file
    skip_if: list[str] = field(default_factory=list, kw_only=True)
    only_if: list[str] = field(default_factory=list, kw_only=True)
    known_fail: str | None = field(default=None, kw_only=True)  # reason, see the module doc
    reason: str | None = field(default=None, kw_only=True)  # why skipif/onlyif excludes it

    def applies_to(self, labels: set[str]) -> bool:
        if any(label in labels for label in self.skip_if):
            return False
        return all(label in labels for label in self.only_if)


@dataclass
class Statement(Record):
    sql: str
    expect_error: bool = False
    sqlstate: str | None = None  # expected SQLSTATE when expect_error
    message: str | None = None  # expected substring of the error message


@dataclass
class Query(Record):
    sql: str
    types: str
    sort: str = "nosort"
    expected: list[list[str]] = field(default_factory=list)


@dataclass
class Restart(Record):
    pass


@dataclass
class Halt(Record):
    pass


@dataclass
class Require(Record):
    """The rest of the file needs a connection labelled ``label`` (DuckDB's ``require``)."""

    label: str
    why: str


# Labels that split sqlvec from the PostgreSQL reference: excluding a record by them is a
# claim about compatibility, so it must say why.
REASON_LABELS = ("postgres", "sqlvec")


def parse_file(path: str | Path) -> list[Record]:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, name: str = "<string>") -> list[Record]:
    lines = text.split("\n")
    records: list[Record] = []
    skip_if: list[str] = []
    only_if: list[str] = []
    i = 0

    def fail(line_no: int, msg: str) -> SltSyntaxError:
        return SltSyntaxError(f"{name}:{line_no}: {msg}")

    def block(start: int) -> tuple[list[str], int]:
        """Lines from ``start`` up to a blank line (or EOF); returns them and the next index."""
        out = []
        j = start
        while j < len(lines) and lines[j].strip():
            out.append(lines[j])
            j += 1
        return out, j

    known_fail: str | None = None
    reason: str | None = None
    while i < len(lines):
        raw = lines[i]
        words = raw.split()
        if not words or raw.lstrip().startswith("#"):
            i += 1
            continue
        head, line_no = words[0], i + 1
        if head in ("skipif", "onlyif"):
            if len(words) < 2:
                raise fail(line_no, f"{head} takes a label")
            if len(words) > 2 and words[1] not in REASON_LABELS:
                raise fail(line_no, f"{head} {words[1]} takes one label")
            if words[1] in REASON_LABELS:
                if len(words) < 3:
                    raise fail(line_no, f"{head} {words[1]} needs a reason")
                why = raw.split(None, 2)[2].strip()
                reason = f"{reason}; {why}" if reason else why
            (skip_if if head == "skipif" else only_if).append(words[1])
            i += 1
            continue
        if head == "require":
            if len(words) < 3:
                raise fail(line_no, "require takes a label and a reason")
            records.append(Require(line_no, label=words[1], why=raw.split(None, 2)[2].strip()))
            i += 1
            continue
        if head == "knownfail":
            if len(words) < 2:
                raise fail(line_no, "knownfail needs a reason")
            known_fail = raw.split(None, 1)[1].strip()
            i += 1
            continue
        conds = {"skip_if": skip_if, "only_if": only_if, "known_fail": known_fail, "reason": reason}
        skip_if, only_if, known_fail, reason = [], [], None, None
        if head == "statement":
            body, i = block(i + 1)
            records.append(_statement(raw, words, body, line_no, fail, conds))
        elif head == "query":
            body, i = block(i + 1)
            records.append(_query(words, body, line_no, fail, conds))
        elif head == "restart":
            records.append(Restart(line_no, **conds))
            i += 1
        elif head == "halt":
            records.append(Halt(line_no, **conds))
            i += 1
        else:
            raise fail(line_no, f"unknown directive {head!r}")
    return records


def _split_sql(body: list[str]) -> tuple[str, list[str] | None]:
    """SQL lines up to an optional ``----`` separator, and the lines after it."""
    if "----" in body:
        k = body.index("----")
        return "\n".join(body[:k]), body[k + 1 :]
    return "\n".join(body), None


def _statement(raw, words, body, line_no, fail, conds) -> Statement:
    if len(words) < 2 or words[1] not in ("ok", "error"):
        raise fail(line_no, "expected 'statement ok' or 'statement error [SQLSTATE] [message]'")
    sql, after = _split_sql(body)
    if not sql.strip():
        raise fail(line_no, "statement without SQL")
    if words[1] == "ok":
        if len(words) > 2 or after is not None:
            raise fail(line_no, "'statement ok' takes nothing else")
        return Statement(line_no, sql=sql, **conds)
    rest = raw.split(None, 2)[2] if len(words) > 2 else ""
    sqlstate = None
    first = rest.split(None, 1)[0] if rest else ""
    if _SQLSTATE.match(first) and any(c.isdigit() for c in first):
        sqlstate = first
        rest = rest[len(first) :].strip()
    message = rest.strip() or None
    if after is not None:
        if message:
            raise fail(line_no, "error message given both on the header and after ----")
        message = "\n".join(after).strip() or None
    return Statement(
        line_no, sql=sql, expect_error=True, sqlstate=sqlstate, message=message, **conds
    )


def _query(words, body, line_no, fail, conds) -> Query:
    if len(words) < 2 or not words[1].isalpha() or not words[1].isupper():
        raise fail(line_no, "expected 'query <TYPES> [nosort|rowsort|valuesort]'")
    types = words[1]
    sort = words[2] if len(words) > 2 else "nosort"
    if sort not in SORT_MODES or len(words) > 3:
        raise fail(line_no, f"unknown sort mode {sort!r} (one of {', '.join(SORT_MODES)})")
    sql, after = _split_sql(body)
    if not sql.strip():
        raise fail(line_no, "query without SQL")
    if after is None:
        raise fail(line_no, "query without '----' and expected results")
    rows = [line.split("\t") for line in after]
    ncols = len(types)
    if ncols > 1 and rows and all(len(r) == 1 for r in rows):
        # SQLite's layout: one value per line, grouped into rows of ncols values.
        if len(rows) % ncols:
            raise fail(line_no, f"{len(rows)} values cannot fill rows of {ncols} columns")
        flat = [r[0] for r in rows]
        rows = [flat[k : k + ncols] for k in range(0, len(flat), ncols)]
    for k, row in enumerate(rows):
        if len(row) != ncols:
            raise fail(
                line_no,
                f"expected row {k + 1} has {len(row)} values, query declares {ncols} columns",
            )
    return Query(line_no, sql=sql, types=types, sort=sort, expected=rows, **conds)
