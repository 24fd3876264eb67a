"""docs/queries.md runs: every SQL block, in order, in one fresh database; each `--> ` line
is what fetchall() must return for the statement above it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sqlvec

DOC = Path(__file__).resolve().parents[2] / "docs" / "queries.md"


def _examples() -> list[tuple[str, str | None]]:
    """(statement, expected fetchall() repr or None) pairs from the ```sql blocks."""
    out: list[tuple[str, str | None]] = []
    for block in re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S):
        stmt: list[str] = []
        for line in block.splitlines():
            if line.startswith("--> "):
                out[-1] = (out[-1][0], line[4:])
                continue
            stmt.append(line)
            if line.rstrip().endswith(";"):
                out.append(("\n".join(stmt), None))
                stmt = []
    return out


def test_queries_doc_examples():
    examples = _examples()
    assert len(examples) > 15
    conn = sqlvec.connect(":memory:", autocommit=True)
    for sql, expected in examples:
        cur = conn.execute(sql)
        if expected is not None:
            assert cur.fetchall() == ast.literal_eval(expected), sql
    conn.close()
