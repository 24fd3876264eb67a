"""Every tests/sql/**/*.test file against sqlvec (embedded, in memory) and a real PostgreSQL
with pgvector (pgserver), record by record: the results must be equal.

Records that cannot be compared say so in the file, with a reason: ``skipif postgres ...``,
``onlyif sqlvec ...``, ``require sqlvec ...`` (sqlvec-only features, timing, OIDs, physical
order, pgvector features newer than pgserver's 0.6.2) and ``knownfail ...`` (PostgreSQL
behaviour sqlvec lacks; PostgreSQL must still pass it). The pass rate is printed in the
terminal summary (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from slt_diff import DiffStats, run_file_lockstep
from slt_runner import EmbeddedConnection, postgres_database

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
FILES = sorted(SQL_DIR.rglob("*.test"))
MAX_REPORTED = 80  # differences shown per file; the rest are counted


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(SQL_DIR).as_posix() for p in FILES])
def test_file_matches_postgres(path: Path, pg_uri: str, diff_results: dict[str, DiffStats]) -> None:
    name = f"tests/sql/{path.relative_to(SQL_DIR).as_posix()}"
    ref = postgres_database(pg_uri)
    ours = EmbeddedConnection(None)
    try:
        stats = run_file_lockstep(path, ref, ours, name)
    finally:
        ours.close()
        ref.close()
    diff_results[name] = stats
    if stats.failures:
        shown = stats.failures[:MAX_REPORTED]
        more = len(stats.failures) - len(shown)
        tail = f"\n... and {more} more" if more else ""
        pytest.fail("\n\n".join(shown) + tail, pytrace=False)
