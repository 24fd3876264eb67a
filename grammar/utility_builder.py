"""Turns the lark trees of the utility grammars into the dataclasses of ``utility.py``.

One method per grammar rule or alias, as lark's Transformer wants.  Embedded SQL (the
statement after PREPARE ... AS or EXPLAIN, COPY's query, EXECUTE's arguments, PREPARE's
types) is handed to ``embedded``, a callback into the sqlglot side, with its offset in the
statement so that its errors point at the right character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Token, v_args

from . import utility as u
from .admin_builder import AdminRules
from .grants_builder import GrantRules
from .located import LocatedError
from .matview_builder import MatviewRules
from .reindex_builder import ReindexRules
from .scan import fold_identifier

#: (kind, text, offset in the statement) -> parsed thing; kind is "statement", "args" or
#: "types".  For "statement" it returns (ast, param_count).
Embedded = Callable[[str, str, int], Any]

_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(match: re.Match[str]) -> str:
    esc = match.group(1)
    if esc[0] in "xuU" and len(esc) > 1:
        return chr(int(esc[1:], 16))
    if esc[0].isdigit():
        return chr(int(esc, 8))
    return _SIMPLE_ESCAPES.get(esc, esc)


def string_value(text: str) -> str:
    """The value of a ``'...'`` or ``E'...'`` literal as written in SQL."""
    if text[0] in "eE":
        return _ESCAPE.sub(_unescape, text[2:-1].replace("''", "'"))
    return text[1:-1].replace("''", "'")


@v_args(inline=True)
class UtilityBuilder(AdminRules, ReindexRules, MatviewRules, GrantRules):
    """Build one utility dataclass from a parse tree of ``common.lark`` + friends."""

    def __init__(self, text: str, embedded: Embedded) -> None:
        super().__init__()
        self.text = text
        self.embedded = embedded

    # ---- shared ----------------------------------------------------------------------
    def start(self, stmt: Any) -> Any:
        return stmt

    def ident(self, tok: Token) -> str:
        return fold_identifier(str(tok))

    def quoted_ident(self, tok: Token) -> str:
        return str(tok)[1:-1].replace('""', '"')

    def option_name(self, tok: Token) -> str:
        return fold_identifier(str(tok))

    def string(self, tok: Token) -> str:
        return string_value(str(tok))

    def number(self, tok: Token) -> int | float:
        text = str(tok)
        try:
            return int(text)
        except ValueError:
            return float(text)

    def value(self, v: Any) -> Any:
        return v

    def dotted_name(self, *parts: str) -> str:
        return ".".join(parts)

    def qualified_name(self, first: str, second: str | None = None) -> u.QualifiedName:
        return u.QualifiedName(first) if second is None else u.QualifiedName(second, first)

    def name_list(self, *names: str) -> tuple[str, ...]:
        return names

    def paren_option(self, name: str, value: Any = True) -> tuple[str, Any]:
        return name, value

    def paren_options(self, _lpar: Token, *items: Any) -> dict[str, Any]:
        return dict(item for item in items if isinstance(item, tuple))

    explain_options = paren_options

    # ---- SET / SHOW / RESET ----------------------------------------------------------
    def set_stmt(self, *args: Any) -> u.SetStmt | u.SetTransactionStmt:
        scope = args[0] if len(args) == 2 else None
        rest = args[-1]
        if isinstance(rest, u.SetTransactionStmt):
            return rest
        if isinstance(rest, _Characteristics):
            if scope != "session":
                raise LocatedError(0, "CHARACTERISTICS")
            return rest.stmt
        name, values = rest
        return u.SetStmt(name, values, local=scope == "local", is_default=values is None)

    def scope_session(self) -> str:
        return "session"

    def scope_local(self) -> str:
        return "local"

    def set_var(self, name: str, *values: Any) -> tuple[str, tuple[Any, ...]]:
        return name, values

    def set_default(self, name: str) -> tuple[str, None]:
        return name, None

    def set_time_zone(self, value: Any = None) -> tuple[str, tuple[Any, ...] | None]:
        return "timezone", None if value is None else (value,)

    def set_time_zone_interval(self, text: str) -> tuple[str, tuple[Any, ...]]:
        # SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE: an offset east of UTC, which the
        # TimeZone setting takes as a number of hours (shown as <+05:30>-05:30); an interval
        # with days is passed on as written, for the setting to reject as PostgreSQL does
        from sqlvec import errors
        from sqlvec.types.datetimes import interval_in

        try:
            iv = interval_in(text)
        except errors.Error:
            iv = None
        if iv is None or iv.months or iv.days:
            return "timezone", (f"INTERVAL '{text}'",)
        return "timezone", (repr(iv.microseconds / 3_600_000_000),)

    def set_names(self, value: Any = None) -> tuple[str, tuple[Any, ...] | None]:
        return "client_encoding", None if value is None else (value,)

    def set_schema(self, value: str) -> tuple[str, tuple[Any, ...]]:
        return "search_path", (value,)

    def set_role(self, value: Any = "none") -> tuple[str, tuple[Any, ...]]:
        return "role", (value,)

    def set_transaction(self, modes: dict[str, Any]) -> u.SetTransactionStmt:
        return u.SetTransactionStmt(session=False, **modes)

    def set_characteristics(self, modes: dict[str, Any]) -> _Characteristics:
        return _Characteristics(u.SetTransactionStmt(session=True, **modes))

    def txn_modes(self, *modes: tuple[str, Any]) -> dict[str, Any]:
        return dict(modes)

    def txn_isolation(self, level: str) -> tuple[str, Any]:
        return "isolation", level

    def txn_read_only(self) -> tuple[str, Any]:
        return "read_only", True

    def txn_read_write(self) -> tuple[str, Any]:
        return "read_only", False

    def txn_deferrable(self) -> tuple[str, Any]:
        return "deferrable", True

    def txn_not_deferrable(self) -> tuple[str, Any]:
        return "deferrable", False

    def iso_serializable(self) -> str:
        return "serializable"

    def iso_repeatable_read(self) -> str:
        return "repeatable read"

    def iso_read_committed(self) -> str:
        return "read committed"

    def iso_read_uncommitted(self) -> str:
        return "read uncommitted"

    def show_stmt(self, name: str) -> u.ShowStmt:
        return u.ShowStmt(name)

    def reset_stmt(self, name: str) -> u.ResetStmt:
        return u.ResetStmt(name)

    def ref_all(self) -> str:
        return "all"

    def ref_time_zone(self) -> str:
        return "timezone"

    def ref_isolation(self) -> str:
        return "transaction_isolation"

    def ref_session_authorization(self) -> str:
        return "session_authorization"

    # ---- transactions ----------------------------------------------------------------
    def begin_stmt(self, *args: Any) -> u.TransactionStmt:
        modes = next((a for a in args if isinstance(a, dict)), {})
        return u.TransactionStmt("begin", **modes)

    def commit_stmt(self, *args: Any) -> u.TransactionStmt:
        return u.TransactionStmt("commit", chain=True in args)

    def rollback_stmt(self, *args: Any) -> u.TransactionStmt:
        return u.TransactionStmt("rollback", chain=True in args)

    def rollback_to_stmt(self, *args: Any) -> u.TransactionStmt:
        return u.TransactionStmt("rollback_to", name=args[-1])

    def savepoint_stmt(self, name: str) -> u.TransactionStmt:
        return u.TransactionStmt("savepoint", name=name)

    def release_stmt(self, name: str) -> u.TransactionStmt:
        return u.TransactionStmt("release", name=name)

    def work(self) -> None:
        return None

    def chain(self) -> bool:
        return True

    def no_chain(self) -> bool:
        return False

    # ---- misc ------------------------------------------------------------------------
    def discard_stmt(self, what: str) -> u.DiscardStmt:
        return u.DiscardStmt(what)  # type: ignore[arg-type]

    def discard_all(self) -> str:
        return "all"

    def discard_plans(self) -> str:
        return "plans"

    def discard_sequences(self) -> str:
        return "sequences"

    def discard_temp(self) -> str:
        return "temp"

    def checkpoint_stmt(self) -> u.CheckpointStmt:
        return u.CheckpointStmt()

    def prepare_stmt(self, name: str, *rest: Token) -> u.PrepareStmt:
        body = rest[-1]
        types: tuple[Any, ...] = ()
        if len(rest) == 3:
            types = self._inside("types", rest[0], rest[1])
        ast, count = self.embedded("statement", str(body), body.start_pos)
        return u.PrepareStmt(name, types, ast, str(body), max(count, len(types)))

    def execute_stmt(
        self, name: str, lpar: Token | None = None, rpar: Token | None = None
    ) -> u.ExecuteStmt:
        args = self._inside("args", lpar, rpar) if lpar is not None else ()
        return u.ExecuteStmt(name, args)

    def deallocate_stmt(self, what: str | None) -> u.DeallocateStmt:
        return u.DeallocateStmt(what)

    def all(self) -> None:
        return None

    def _inside(self, kind: str, lpar: Token, rpar: Token) -> tuple[Any, ...]:
        start = lpar.start_pos + 1
        inner = self.text[start : rpar.start_pos]
        if not inner.strip():
            return ()
        return tuple(self.embedded(kind, inner, start))


class _Characteristics:
    """SET ... CHARACTERISTICS, which is valid only after SESSION: checked in set_stmt."""

    def __init__(self, stmt: u.SetTransactionStmt) -> None:
        self.stmt = stmt
