"""current_setting and set_config: run-time settings through the current session.

The session makes itself current around each statement (sqlvec.exec.functions.context), so
these read and write exactly what SET and SHOW do. Both are volatile: the planner must not fold
them, since SET may change the value between executions of one plan.
"""

from __future__ import annotations

from typing import Any

from sqlvec import errors
from sqlvec.exec.functions.context import get_session
from sqlvec.exec.functions.pyrows import rows_typed
from sqlvec.exec.functions.registry import Overload

T, B = "text", "boolean"


def _current_setting(name: str, missing_ok: bool = False) -> str | None:
    settings = get_session().settings
    try:
        return settings.get(name)
    except errors.UndefinedObject:
        if missing_ok:
            return None
        raise


def _set_config(name: str | None, value: str | None, is_local: Any) -> str:
    if name is None:
        raise errors.NullValueNotAllowed("SET requires parameter name")
    settings = get_session().settings
    session = get_session()
    # SET LOCAL outside a transaction block lasts only for the statement's implicit
    # transaction, which is what the local overlay gives.
    local = bool(is_local) and getattr(session, "in_block", True)
    settings.set(name, value, local=bool(is_local) and local)
    if bool(is_local) and not local:
        settings.end_transaction()  # no block: the value is gone when the statement ends
    return settings.get(name)


FUNCTIONS: list[Overload] = [
    Overload("current_setting", (T,), T, rows_typed(_current_setting, T), volatile=True),
    Overload("current_setting", (T, B), T, rows_typed(_current_setting, T), volatile=True),
    Overload("set_config", (T, T, B), T, rows_typed(_set_config, T, strict=False),
             strict=False, volatile=True),
]
