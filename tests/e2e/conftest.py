"""Helpers for the end-to-end tests: they drive the engine only through ``sqlvec.connect``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import sqlvec


@contextmanager
def opened(path: str | Path, *, autocommit: bool = False) -> Iterator[sqlvec.Connection]:
    """A connection that is closed (not committed) at the end, whatever happens."""
    conn = sqlvec.connect(str(path), autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def sql_string(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: only quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")
