"""Every tests/sql/**/*.test file through the server, with psycopg (the third connection
mode beside the embedded memory and disk modes of tests/sqllogic/test_sql_files.py).

Each file gets a fresh database on the shared server; files with ``restart`` records get a
server of their own, which ``restart`` stops (SIGTERM) and starts again on the same data
directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from slt_runner import PsycopgConnection, SltFailure, run_file
from wireserver import ServerProcess

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
FILES = sorted(SQL_DIR.rglob("*.test"))
LABELS = {"server", "disk"}


def _restarts(path: Path) -> bool:
    return any(line.strip() == "restart" for line in path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(SQL_DIR).as_posix() for p in FILES])
def test_sql_file_through_server(path: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    name = f"tests/sql/{path.relative_to(SQL_DIR).as_posix()}"
    if _restarts(path):
        own = {"srv": ServerProcess(tmp_path / "data").start()}

        def restart() -> None:
            assert own["srv"].stop() == 0, own["srv"].log()
            own["srv"] = ServerProcess(tmp_path / "data").start()
            conn.conninfo = own["srv"].dsn()

        conn = PsycopgConnection(own["srv"].dsn(), LABELS, restart)
        request.addfinalizer(lambda: own["srv"].stop())
    else:
        conn = PsycopgConnection(request.getfixturevalue("database"), LABELS)
    try:
        run_file(path, conn, name=name)
    except SltFailure as exc:
        pytest.fail(f"[server] {exc}", pytrace=False)
    finally:
        conn.close()
