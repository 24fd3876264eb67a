"""Access privilege inquiry functions: has_table_privilege, has_sequence_privilege,
has_column_privilege, has_any_column_privilege, has_schema_privilege, has_database_privilege,
has_function_privilege and pg_has_role, every overload (object by name or OID, with or
without the role), answering from the catalog's ACLs as PostgreSQL's acl.c does.

The privilege argument is a comma-separated list, each item optionally ``WITH GRANT OPTION``
(``WITH ADMIN OPTION`` for pg_has_role); the answer is whether the role holds any of them. An
object named by text must exist (42P01 / 3F000 / 3D000); one given by OID that does not
exist gives NULL. Calls over catalog scans (``has_table_privilege(c.oid, 'SELECT')``) are
per row in Python: catalog-sized inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.catalog import acl as A
from sqlvec.catalog.model import Sequence
from sqlvec.exec.functions.common import Datum, map_rows
from sqlvec.exec.functions.context import get_session
from sqlvec.exec.functions.registry import Overload
from sqlvec.types.base import SqlType

# function -> privilege names it accepts -> letter (convert_*_priv_string's tables)
_ACCEPTS: dict[str, dict[str, str]] = {
    "table": {k: A.LETTERS[k] for k in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE",
                                          "REFERENCES", "TRIGGER")},
    "sequence": {k: A.LETTERS[k] for k in ("USAGE", "SELECT", "UPDATE")},
    "column": {k: A.LETTERS[k] for k in ("SELECT", "INSERT", "UPDATE", "REFERENCES")},
    "schema": {k: A.LETTERS[k] for k in ("CREATE", "USAGE")},
    "database": {k: A.LETTERS[k] for k in ("CREATE", "CONNECT", "TEMPORARY", "TEMP")},
    "function": {"EXECUTE": "X"},
    "role": {"MEMBER": "m", "USAGE": "u", "SET": "s"},
}


def parse_privileges(text: str, kind: str) -> list[tuple[str, bool]]:
    """(letter, with grant option) of each item of a privilege string."""
    out = []
    accepts = _ACCEPTS[kind]
    for item in text.split(","):
        words = item.strip().upper().split()
        option = False
        if len(words) > 3 and words[-3:] in (["WITH", "GRANT", "OPTION"], ["WITH", "ADMIN", "OPTION"]):
            words, option = words[:-3], True
        letter = accepts.get(" ".join(words))
        if letter is None:
            raise errors.InvalidParameterValue(f'unrecognized privilege type: "{item.strip()}"')
        out.append((letter, option))
    return out


def _role_by_name(cat, name: str) -> str:
    if name not in cat.roles:
        raise errors.UndefinedObject(f'role "{name}" does not exist')
    return name


def _role_by_oid(cat, oid: int) -> str | None:
    return next((r.name for r in cat.roles.values() if r.oid == oid), None)


def _holds(cat, role: str, acl: A.Acl, wanted: list[tuple[str, bool]]) -> bool:
    held, opts = P.privileges_held(cat, role, acl)
    return any(c in (opts if option else held) for c, option in wanted)


# -- what an object argument names: (acl, owner) or None ------------------------------------------


def _relation(view, arg: Any, kind: str) -> Any:
    from sqlvec.catalog.pg.names import regclass_in

    oid = regclass_in(arg) if isinstance(arg, str) else int(arg)
    rel = view.relation(oid)
    if rel is None:
        return None
    obj = rel.obj
    if kind == "sequence" and not isinstance(obj, Sequence):
        raise errors.WrongObjectType(f'"{rel.name}" is not a sequence')
    if rel.kind == "i" or hasattr(obj, "producer"):
        # catalog relations: the bootstrap superuser's, readable by everyone
        return [A.AclItem("postgres", "postgres", A.ALL_RIGHTS["table"]), A.AclItem(A.PUBLIC, "postgres", "r")]
    return P.relation_acl(view.db, obj)


def _schema(view, arg: Any, kind: str) -> Any:
    if isinstance(arg, str):
        if arg not in view.namespaces:
            raise errors.InvalidSchemaName(f'schema "{arg}" does not exist')
        name = arg
    else:
        name = view.ns_name.get(int(arg))
        if name is None:
            return None
    return P.schema_acl(view.db, name)


def _database(view, arg: Any, kind: str) -> Any:
    dbs = view.cat.databases
    if isinstance(arg, str):
        db = dbs.get(arg)
        if db is None:
            raise errors.InvalidCatalogName(f'database "{arg}" does not exist')
    else:
        db = next((d for d in dict.values(dbs) if d.oid == int(arg)), None)
        if db is None:
            return None
    return P.database_acl(db)


def _function(view, arg: Any, kind: str) -> Any:
    # functions are built in, owned by the bootstrap superuser, EXECUTE granted to PUBLIC
    if isinstance(arg, str):
        from sqlvec.exec.functions.registry import functions

        name = arg.split("(")[0].strip().split(".")[-1].strip('"').lower()
        if name not in functions():
            raise errors.UndefinedFunction(f"function {arg.strip()} does not exist")
    return A.default_acl("function", "postgres")


_OBJECTS: dict[str, Callable] = {"table": _relation, "sequence": _relation, "schema": _schema,
                                 "database": _database, "function": _function}


def _privilege_fn(kind: str, has_user: bool) -> Callable:
    """The implementation of has_<kind>_privilege([user,] object, privilege)."""

    def row(*vals: Any) -> bool | None:
        from sqlvec.catalog.pg.source import view_for

        s = get_session()
        view = view_for(s)
        cat = view.cat
        if has_user:
            user, obj, text = vals
            role = _role_by_name(cat, user) if isinstance(user, str) else _role_by_oid(cat, int(user))
        else:
            (obj, text), role = vals, P.current_user(s)
        wanted = parse_privileges(text, "column" if kind == "any_column" else kind)
        acl = _OBJECTS["table" if kind == "any_column" else kind](view, obj, kind)
        if acl is None or role is None:
            return None
        return _holds(cat, role, acl, wanted)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(row, args, n, pa.bool_())

    return impl


def _column_fn(has_user: bool) -> Callable:
    """has_column_privilege([user,] table, column, privilege): no column ACLs are kept, so a
    column privilege is the table's (after checking that the column exists)."""

    def row(*vals: Any) -> bool | None:
        from sqlvec.catalog.pg.names import regclass_in
        from sqlvec.catalog.pg.source import view_for

        s = get_session()
        view = view_for(s)
        cat = view.cat
        if has_user:
            user, table, column, text = vals
            role = _role_by_name(cat, user) if isinstance(user, str) else _role_by_oid(cat, int(user))
        else:
            (table, column, text), role = vals, P.current_user(s)
        wanted = parse_privileges(text, "column")
        oid = regclass_in(table) if isinstance(table, str) else int(table)
        rel = view.relation(oid)
        if rel is None or role is None:
            return None
        cols = [c.name for c in getattr(rel.obj, "columns", [])] or getattr(rel.obj, "column_names", [])
        if isinstance(column, str):
            if column not in cols:
                raise errors.UndefinedColumn(f'column "{column}" of relation "{rel.name}" does not exist')
        elif not 1 <= int(column) <= len(cols):
            return None
        acl = _relation(view, oid, "table")
        return _holds(cat, role, acl, wanted)

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(row, args, n, pa.bool_())

    return impl


def _has_role(has_user: bool) -> Callable:
    """pg_has_role([user,] role, 'MEMBER' | 'USAGE' | 'SET' [WITH ADMIN OPTION])."""

    def row(*vals: Any) -> bool | None:
        s = get_session()
        cat = s.catalog()
        if has_user:
            user, target, text = vals
            who = _role_by_name(cat, user) if isinstance(user, str) else _role_by_oid(cat, int(user))
        else:
            (target, text), who = vals, P.current_user(s)
        role = _role_by_name(cat, target) if isinstance(target, str) else _role_by_oid(cat, int(target))
        if who is None or role is None:
            return None
        for mode, admin in parse_privileges(text, "role"):
            if P.is_superuser(cat, who):
                return True
            if admin:
                if any(m.role == role and m.admin and m.member in P.member_closure(cat, who, "member")
                       for m in cat.members):
                    return True
                continue
            closure = P.member_closure(cat, who, {"m": "member", "u": "usage", "s": "set"}[mode])
            if role in closure:
                return True
        return False

    def impl(args: list[Datum], types: list[SqlType], n: int) -> Datum:
        return map_rows(row, args, n, pa.bool_())

    return impl


def _sigs(obj: str, extra: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], bool]]:
    """(argument types, has a user argument) of the six overloads of one inquiry function."""
    out = []
    for o in ("text", "oid"):
        out.append(((o, *extra, "text"), False))
        for u in ("name", "oid"):
            out.append(((u, o, *extra, "text"), True))
    return out


def _ov(name: str, args: tuple[str, ...], impl: Callable) -> Overload:
    # volatile: the answer depends on the session's role and catalog, never folded into a plan
    return Overload(name, args, "boolean", impl, strict=True, volatile=True)


FUNCTIONS: list[Overload] = [
    *(_ov(f"has_{kind}_privilege", args, _privilege_fn(kind, user))
      for kind in ("table", "sequence", "schema", "database", "function", "any_column")
      for args, user in _sigs(kind)),
    *(_ov("has_column_privilege", args, _column_fn(user))
      for col in ("text", "int2") for args, user in _sigs("table", (col,))),
    *(_ov("pg_has_role", (*(("name",) if user else ()), r, "text"), _has_role(user))
      for user in (False, True) for r in ("name", "oid")),
    *(_ov("pg_has_role", ("oid", r, "text"), _has_role(True)) for r in ("name", "oid")),
]
