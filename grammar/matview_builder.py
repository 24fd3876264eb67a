"""The materialized-view half of ``UtilityBuilder`` (rules of ``matview.lark``): a mixin, as
``reindex_builder.ReindexRules`` is."""

from __future__ import annotations

from typing import Any

from lark import Transformer, v_args

from . import utility as u


@v_args(inline=True)
class MatviewRules(Transformer):
    def refresh_matview_stmt(self, *args: Any) -> u.RefreshMatViewStmt:
        name = next(a for a in args if isinstance(a, u.QualifiedName))
        with_data = next((a for a in args if isinstance(a, bool)), True)
        return u.RefreshMatViewStmt(name, concurrently=_CONCURRENTLY in args, with_data=with_data)

    def matview_concurrently(self) -> object:
        return _CONCURRENTLY

    def matview_with_data(self) -> bool:
        return True

    def matview_with_no_data(self) -> bool:
        return False

    def alter_matview_stmt(self, *args: Any) -> u.AlterMatViewStmt:
        name, new_name = args[-2], args[-1]
        return u.AlterMatViewStmt(name, if_exists="if_exists" in args, new_name=new_name)

    def alter_matview_column_stmt(self, *args: Any) -> u.AlterMatViewStmt:
        name, column, new_name = args[-3], args[-2], args[-1]
        return u.AlterMatViewStmt(name, if_exists="if_exists" in args, new_name=new_name, column=column)


_CONCURRENTLY = object()
