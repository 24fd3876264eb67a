"""A real PostgreSQL 16 + pgvector 0.6 (the ``pgserver`` package) for the whole session, and
the pass-rate summary of the differential run.

The summary is written to ``<pytest basetemp>/differential-summary.{json,md}`` and printed in
pytest's terminal summary, so it shows without ``-s``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_SQLLOGIC = str(_HERE.parent / "sqllogic")
if _SQLLOGIC not in sys.path:
    sys.path.insert(0, _SQLLOGIC)

from slt_diff import DiffStats  # noqa: E402

RESULTS = pytest.StashKey[dict[str, DiffStats]]()
SUMMARY_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = {}


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """The URI of a PostgreSQL server started from pgserver in a temporary directory."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (CI containers)
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError:
            pytest.skip(
                "pgserver is not installed (pip install -e '.[test]'): no PostgreSQL reference"
            )
    # As root, pgserver runs PostgreSQL as a system user "pgserver" that it creates with
    # useradd, and opens the data directory's parent folders to it (g+rx, o+rx). The data
    # directory is not under pytest's basetemp: pytest runs of other checkouts prune old
    # basetemps, and the postmaster shuts down when its data directory disappears.
    home = Path(tempfile.mkdtemp(prefix="sqlvec-pgref-"))
    srv = pgserver.get_server(home / "pgdata", cleanup_mode="stop")
    try:
        yield srv.get_uri()
    finally:
        srv.cleanup()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def diff_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    request.config.stash[SUMMARY_DIR] = tmp_path_factory.getbasetemp()
    return request.config.stash[RESULTS]


def summarize(results: dict[str, DiffStats]) -> tuple[dict, str]:
    """The pass rate as JSON-able data and as markdown."""
    total = DiffStats()
    for stats in results.values():
        total.add(stats)
    rate = 100.0 * total.passed / total.compared if total.compared else 0.0
    data = {
        "files": len(results),
        "records_compared": total.compared,
        "records_passed": total.passed,
        "pass_rate_percent": round(rate, 2),
        "skipped_by_reason": dict(total.skipped.most_common()),
        "per_file": {
            name: {"compared": s.compared, "passed": s.passed, "skipped": sum(s.skipped.values())}
            for name, s in sorted(results.items())
        },
    }
    lines = [
        f"differential run against PostgreSQL: {len(results)} files, "
        f"{total.passed}/{total.compared} records equal ({rate:.2f}%), "
        f"{sum(total.skipped.values())} skipped",
    ]
    # knownfail reasons are one per gap: one line here, each in the JSON file
    known = sum(n for reason, n in total.skipped.items() if reason.startswith("knownfail"))
    lines += [
        f"  skipped {n:4d}  {reason}"
        for reason, n in total.skipped.most_common()
        if not reason.startswith("knownfail")
    ]
    if known:
        lines.append(
            f"  skipped {known:4d}  knownfail: PostgreSQL behaviour sqlvec lacks (grep -r knownfail tests/sql)"
        )
    return data, "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, {})
    if not results:
        return
    data, text = summarize(results)
    out = config.stash.get(SUMMARY_DIR, None)
    if out is not None:
        (out / "differential-summary.json").write_text(json.dumps(data, indent=2))
        (out / "differential-summary.md").write_text(text + "\n")
        text += f"\n  (written to {out / 'differential-summary.json'})"
    terminalreporter.write_sep("-", "sqlvec vs PostgreSQL")
    terminalreporter.write_line(text)
