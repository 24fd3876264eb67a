"""Fixtures for the wire server tests: a real ``sqlvec serve`` subprocess on a free port.

``server`` is shared by the whole test session (starting one costs about a second of
imports); ``database`` gives each test its own fresh database on it, so tests do not see
each other's tables. ``make_server`` starts extra servers with other options (auth, TLS).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# helpers beside this file (rawclient) and the sqllogictest runner, whatever the import mode
_HERE = Path(__file__).resolve().parent
for _p in (str(_HERE), str(_HERE.parent / "sqllogic")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from wireserver import ServerProcess  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("wire") / "data").start()
    try:
        yield srv
    finally:
        code = srv.stop()
        assert code == 0, f"server exited with {code}:\n{srv.log()}"
        # a connection that died of an exception is a protocol-layer bug (an engine bug reaches
        # the client as XX000 and fails the test that met it)
        assert "ERROR: connection" not in srv.log(), srv.log()


@pytest.fixture
def database(server: ServerProcess) -> str:
    """A fresh database on the shared server; returns its libpq connection string."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.dsn(name)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    started: list[ServerProcess] = []

    def make(*args: str, data_dir: Path | None = None) -> ServerProcess:
        srv = ServerProcess(data_dir or tmp_path / f"data{len(started)}", *args).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()

