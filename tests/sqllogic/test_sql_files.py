"""Every tests/sql/**/*.test file, run once per connection mode (see slt_runner.ADAPTERS).

Select one file with ``-k basic/select``; the failure report names file:line, the SQL, and
expected vs actual rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from slt_runner import ADAPTERS, SltFailure, run_file

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
FILES = sorted(SQL_DIR.rglob("*.test"))


@pytest.mark.parametrize("mode", sorted(ADAPTERS))
@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(SQL_DIR).as_posix() for p in FILES])
def test_sql_file(path: Path, mode: str, tmp_path: Path) -> None:
    conn = ADAPTERS[mode](tmp_path)
    try:
        run_file(path, conn, name=f"tests/sql/{path.relative_to(SQL_DIR).as_posix()}")
    except SltFailure as exc:
        pytest.fail(f"[{mode}] {exc}", pytrace=False)
    finally:
        conn.close()
