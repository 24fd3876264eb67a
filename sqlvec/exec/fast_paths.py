"""Short paths of prepared statements, by statement kind.

A session that ran a statement through the general path offers its plan here once; a kind's
builder returns an object with ``run(session, values) -> Result | None`` (None: the general
path must answer this execution) or None when the plan's shape has no short path. The
session keeps it by statement text (and, from the wire, parameter types) and tries it first
on the next executions, after checking that the plan is still the cached one
(``Session._run_fast``).
"""

from __future__ import annotations

from sqlvec.exec import fast_insert, fast_topk

BUILDERS = {
    "select": fast_topk.build,  # SELECT ... ORDER BY v <op> $1 LIMIT k
    "insert": fast_insert.build,  # INSERT INTO t VALUES ($1, ...), one row
}


def build(session, prepared):
    """The short path of ``prepared`` (a sqlvec.session._Prepared), or None."""
    builder = BUILDERS.get(prepared.kind)
    return None if builder is None else builder(session, prepared, prepared.key, prepared.statement)
