"""Fixtures shared by every test area (lancedb's mem_db / tmp_db idea).

``mem_conn`` and ``tmp_conn`` are embedded PEP 249 connections in autocommit mode (as psql
and most tests want); ``tmp_db_path`` is a fresh data directory for tests that reopen it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tmp_db_path(tmp_path: Path) -> Path:
    return tmp_path / "sqlvec-data"


@pytest.fixture
def mem_conn() -> Iterator:
    import sqlvec

    conn = sqlvec.connect(":memory:", autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def tmp_conn(tmp_db_path: Path) -> Iterator:
    import sqlvec

    conn = sqlvec.connect(str(tmp_db_path), autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
