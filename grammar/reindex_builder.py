"""The REINDEX half of ``UtilityBuilder`` (rules of ``reindex.lark``): a mixin, as
``admin_builder.AdminRules`` is."""

from __future__ import annotations

import re
from typing import Any

from lark import Transformer, v_args

from . import utility as u
from .located import LocatedError

#: REINDEX (option ...) names PostgreSQL 16 accepts; TABLESPACE takes a name.
REINDEX_OPTIONS = ("concurrently", "verbose", "tablespace")
_TRUE = ("true", "on", "yes", "1", 1, True)
_FALSE = ("false", "off", "no", "0", 0, False)


@v_args(inline=True)
class ReindexRules(Transformer):
    text: str  # the statement, set by UtilityBuilder

    def reindex_stmt(self, *args: Any) -> u.ReindexStmt:
        return self._stmt(args)

    def reindex_database_stmt(self, *args: Any) -> u.ReindexStmt:
        return self._stmt(args)

    def _stmt(self, args: tuple[Any, ...]) -> u.ReindexStmt:
        options = next((a for a in args if isinstance(a, dict)), {})
        kind = next(a.kind for a in args if isinstance(a, _Kind))
        concurrently = any(a is _CONCURRENTLY for a in args)
        name = next((a for a in args if isinstance(a, (u.QualifiedName, str))), None)
        if isinstance(name, str):
            name = u.QualifiedName(name)
        verbose = False
        for key, value in options.items():
            if key not in REINDEX_OPTIONS:
                raise LocatedError(self._option_at(key), key, f'unrecognized REINDEX option "{key}"')
            if key == "tablespace":
                continue  # one storage location: accepted and ignored
            flag = self._boolean(key, value)
            if key == "concurrently":
                concurrently = concurrently or flag
            else:
                verbose = flag
        return u.ReindexStmt(kind, name, concurrently=concurrently, verbose=verbose)

    def _option_at(self, key: str) -> int:
        m = re.search(r"\(\s*(?:[^)]*?[,\s])?(" + re.escape(key) + r")\b", self.text, re.IGNORECASE)
        return m.start(1) if m else 0

    def _boolean(self, key: str, value: Any) -> bool:
        v = value.lower() if isinstance(value, str) else value
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise LocatedError(self._option_at(key), key, f"{key} requires a Boolean value")

    def reindex_kind_index(self) -> _Kind:
        return _Kind("index")

    def reindex_kind_table(self) -> _Kind:
        return _Kind("table")

    def reindex_kind_schema(self) -> _Kind:
        return _Kind("schema")

    def reindex_kind_database(self) -> _Kind:
        return _Kind("database")

    def reindex_kind_system(self) -> _Kind:
        return _Kind("system")

    def reindex_concurrently(self) -> object:
        return _CONCURRENTLY


class _Kind:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


_CONCURRENTLY = object()
