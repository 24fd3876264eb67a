"""The Python examples in README.md and docs/embedded-api.md run as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "embedded-api.md"]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_the_runnable_examples_are_found():
    assert len(python_blocks(DOCS[0])) == 1
    assert any("executemany" in block for block in python_blocks(DOCS[1]))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_examples_run(doc, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the README writes ./sqlvec-data
    # The self-contained examples (they import numpy and build their own tables); the other
    # blocks are fragments that continue them.
    blocks = [b for b in python_blocks(doc) if "import numpy" in b]
    assert blocks
    for block in blocks:
        exec(compile("import sqlvec\n" + block, str(doc), "exec"), {})
