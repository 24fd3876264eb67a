"""Client-side placeholders: psycopg's ``%s`` / ``%(name)s`` rewritten to PostgreSQL's ``$n``.

The embedded DB-API accepts the placeholders psycopg users write; the engine only knows
``$n``.  Unlike psycopg, a ``%`` inside a string literal, quoted identifier, dollar-quoted
string or comment is left alone (psycopg wants ``'%%'`` there): the scanner sees quotes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlvec import errors

from .scan import CHAR, scan

# After a "%": "s" (psycopg's %b and %t, binary and text format, read as %s), "(name)s",
# or "%" for a literal percent sign.
_PLACEHOLDER = re.compile(r"%(?:([sbt])|\(([^)]*)\)([sbt])|(%))")


def convert_paramstyle(sql: str) -> tuple[str, list[str] | None]:
    """Rewrite ``%s`` / ``%(name)s`` placeholders to ``$1..$n``; ``%%`` becomes ``%``.

    Returns the new text and, for named placeholders, the names in ``$n`` order (the same
    name always gets the same number); None for positional ones or none at all.  Mixing
    the two styles, or a ``%`` followed by anything else, raises
    ``sqlvec.errors.ProgrammingError`` (a client-side error, as in psycopg).

    >>> convert_paramstyle("SELECT %(a)s, %(b)s, %(a)s, '%s'")
    ("SELECT $1, $2, $1, '%s'", ['a', 'b'])
    """
    if "%" not in sql:
        return sql, None
    text, names = _convert(sql)
    # A fresh list each call: the cached tuple must not be changed by a caller.
    return text, (list(names) if names is not None else None)


@lru_cache(maxsize=512)
def _convert(sql: str) -> tuple[str, tuple[str, ...] | None]:
    out: list[str] = []
    names: dict[str, int] = {}
    positional = 0
    last = 0
    for kind, start, _end in scan(sql, "%"):
        if kind != CHAR or start < last:  # start < last: the second "%" of "%%"
            continue
        m = _PLACEHOLDER.match(sql, start)
        if m is None and sql.startswith("<%>", start - 1):
            continue  # pgvector's Jaccard operator, not a placeholder ("<%%>" works too)
        if m is None:
            got = sql[start : start + 2]
            raise errors.ProgrammingError(
                f"only '%s', '%b', '%t' are allowed as placeholders, got {got!r}"
            )
        out.append(sql[last:start])
        last = m.end()
        if m.group(4):
            out.append("%")
            continue
        if m.group(1):
            positional += 1
            number = positional
        else:
            name = m.group(2)
            number = names.setdefault(name, len(names) + 1)
        if positional and names:
            raise errors.ProgrammingError("positional and named placeholders cannot be mixed")
        out.append(f"${number}")
    out.append(sql[last:])
    return "".join(out), (tuple(names) if names else None)
