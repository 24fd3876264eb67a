"""node-postgres (the `pg` npm package) against the server: tests/wire/clients/node_client.js.

The script prints one JSON line per check; this test asserts each. It needs `node` and the
`pg` package in tests/wire/clients/node_modules (.ci/run installs it with `npm ci`; when it is
missing and npm is present the test installs it itself), and skips with the reason otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent / "clients"


def _dsn_field(dsn: str, key: str) -> str:
    return dict(part.split("=", 1) for part in dsn.split())[key]


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed")
    if not (CLIENTS / "node_modules" / "pg" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the pg package is not installed and npm is missing")
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CLIENTS)],
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci timed out")
        if done.returncode != 0:
            pytest.skip(f"npm ci failed: {done.stderr.strip()[-500:]}")
    return exe


def run_node(node: str, server, database: str) -> dict:
    done = subprocess.run(
        [node, str(CLIENTS / "node_client.js"), str(server.port), _dsn_field(database, "dbname")],
        capture_output=True, text=True, timeout=120, cwd=CLIENTS,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    results = {}
    for line in done.stdout.splitlines():
        item = json.loads(line)
        results[item["name"]] = item["value"]
    return results


def test_node_postgres(node, server, database):
    r = run_node(node, server, database)
    # simple protocol, two statements in one message
    assert r["simple"] == {
        "rows": [{"id": 1, "name": "one", "price": 1.5}, {"id": 2, "name": "two", "price": 2.5}],
        "command": "SELECT", "rowCount": 2, "fields": ["id", "name", "price"],
    }
    # extended protocol with untyped text parameters
    assert r["param"] == [{"name": "two", "total": 7.5}]
    assert r["conv"] == {"isnull": True, "flag": True, "arr": [1, 2, 3], "doc": {"a": 1},
                         "txt": "héllo"}
    assert r["insert"] == {"command": "INSERT", "rowCount": 1}
    assert r["vector"] == [[1, "[1,2,3]", 0], [2, "[4,5,6]", 5.1962]]
    assert r["named"] == ["one", "two", "three"]
    assert r["rowmode"] == [[1, "one"], [2, "two"]]
    # the rolled-back insert is gone, the committed update stays
    assert r["transaction"] == {"n": 3, "total": 8.5}
    assert r["error"] == {"code": "42703", "position": "8", "severity": "ERROR",
                          "message": 'column "nosuchcolumn" does not exist'}
    assert r["aborted"] == "25P02"
    assert r["unique"]["code"] == "23505"
    # PostgreSQL: syntax error at end of input, position one past the last character
    assert r["syntax"] == {"code": "42601", "position": "26"}
    assert r["after"] == {"one": 1}
