"""The statements of ``grants.lark`` (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES, ALTER ... OWNER
TO, REASSIGN OWNED, DROP OWNED, SET SESSION AUTHORIZATION) and the ``UtilityBuilder`` mixin that
builds them, as ``reindex_builder.ReindexRules`` does for REINDEX.

Privilege words are kept as written (lower-cased unless quoted): ``GRANT a, b TO c`` grants
roles and ``GRANT select ON t TO c`` privileges, and only the executor knows which words are
privilege types, so it reports unknown ones with PostgreSQL's message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lark import Transformer, v_args

from . import utility as u

GranteeKind = Literal["role", "public", "current_user", "session_user"]
TargetKind = Literal["table", "sequence", "schema", "database", "all_tables", "all_sequences",
                     "tables", "sequences", "functions", "schemas"]


@dataclass(frozen=True, slots=True)
class Privilege:
    """One item of the privilege list: a word (``select``; a role name in GRANT role) or
    ``all``, with an optional column list."""

    name: str
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Grantee:
    """A role specification: a name, PUBLIC, CURRENT_USER / CURRENT_ROLE or SESSION_USER."""

    kind: GranteeKind
    name: str = ""


@dataclass(frozen=True, slots=True)
class GrantTarget:
    """What ON names: tables/sequences (QualifiedName), schemas/databases (names), every table
    or sequence of some schemas, or (ALTER DEFAULT PRIVILEGES) a kind of future object."""

    kind: TargetKind
    names: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class GrantStmt:
    """GRANT (``grant`` True) or REVOKE of privileges on ``target``, or of role membership
    when ``target`` is None."""

    grant: bool
    privileges: tuple[Privilege, ...]
    target: GrantTarget | None
    grantees: tuple[Grantee, ...]
    #: GRANT ... WITH GRANT OPTION; for REVOKE, the X of ``REVOKE X OPTION FOR``
    grant_option: bool = False
    option_for: str | None = None
    #: GRANT role ... WITH ADMIN / INHERIT / SET {TRUE | FALSE}: option -> value
    role_options: dict[str, bool] = field(default_factory=dict)
    granted_by: Grantee | None = None
    cascade: bool = False


@dataclass(frozen=True, slots=True)
class AlterDefaultPrivilegesStmt:
    roles: tuple[str, ...]  #: FOR ROLE (empty: the current role)
    schemas: tuple[str, ...]  #: IN SCHEMA (empty: every schema)
    action: GrantStmt  #: its target kind is tables, sequences, functions or schemas


@dataclass(frozen=True, slots=True)
class AlterOwnerStmt:
    kind: Literal["table", "view", "materialized view", "sequence", "index", "schema", "database"]
    name: u.QualifiedName
    owner: Grantee
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class ReassignOwnedStmt:
    roles: tuple[Grantee, ...]
    new_owner: Grantee


@dataclass(frozen=True, slots=True)
class DropOwnedStmt:
    roles: tuple[Grantee, ...]
    cascade: bool = False


GRANT_STATEMENTS = (GrantStmt, AlterDefaultPrivilegesStmt, AlterOwnerStmt, ReassignOwnedStmt,
                    DropOwnedStmt)


class _Tag:
    """A marker among a rule's children (names are plain strings too)."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any = True) -> None:
        self.key, self.value = key, value


def _tags(args: tuple[Any, ...]) -> dict[str, Any]:
    flat = [t for a in args for t in (a if isinstance(a, list) else [a])]
    return {a.key: a.value for a in flat if isinstance(a, _Tag)}


def _grant_parts(args: tuple[Any, ...]) -> tuple[tuple[Privilege, ...], GrantTarget | None, tuple[Grantee, ...]]:
    privs = next(a for a in args if isinstance(a, tuple) and a and isinstance(a[0], Privilege))
    target = next((a for a in args if isinstance(a, GrantTarget)), None)
    grantees = next(a for a in args if isinstance(a, tuple) and a and isinstance(a[0], Grantee))
    return privs, target, grantees


@v_args(inline=True)
class GrantRules(Transformer):
    """Rules of grants.lark (a mixin of ``UtilityBuilder``)."""

    def grant_stmt(self, *args: Any) -> GrantStmt:
        privs, target, grantees = _grant_parts(args)
        tags = _tags(args)
        role_options = {k: tags[k] for k in ("admin", "inherit", "set") if k in tags}
        granted_by = tags.get("granted_by")
        return GrantStmt(True, privs, target, grantees, bool(tags.get("grant_option")),
                         None, role_options, granted_by)

    def revoke_stmt(self, *args: Any) -> GrantStmt:
        privs, target, grantees = _grant_parts(args)
        tags = _tags(args)
        option_for = tags.get("option_for")
        return GrantStmt(False, privs, target, grantees, option_for == "grant", option_for,
                         {}, tags.get("granted_by"), "cascade" in args)

    def option_for_grant(self) -> _Tag:
        return _Tag("option_for", "grant")

    def option_for_admin(self) -> _Tag:
        return _Tag("option_for", "admin")

    def option_for_inherit(self) -> _Tag:
        return _Tag("option_for", "inherit")

    def option_for_set(self) -> _Tag:
        return _Tag("option_for", "set")

    def grant_items(self, *items: Privilege) -> tuple[Privilege, ...]:
        return items

    def grant_word(self, name: str, columns: tuple[str, ...] | None = None) -> Privilege:
        return Privilege(name, columns)

    def grant_all(self, columns: tuple[str, ...] | None = None) -> Privilege:
        return Privilege("all", columns)

    def grant_columns(self, _lpar: Any, names: tuple[str, ...], _rpar: Any) -> tuple[str, ...]:
        return names

    def grant_on(self, target: GrantTarget) -> GrantTarget:
        return target

    def grant_names(self, *names: u.QualifiedName) -> tuple[u.QualifiedName, ...]:
        return names

    def target_tables(self, names: tuple) -> GrantTarget:
        return GrantTarget("table", names)

    def target_sequences(self, names: tuple) -> GrantTarget:
        return GrantTarget("sequence", names)

    def target_schemas(self, names: tuple) -> GrantTarget:
        return GrantTarget("schema", names)

    def target_databases(self, names: tuple) -> GrantTarget:
        return GrantTarget("database", names)

    def target_all_tables(self, names: tuple) -> GrantTarget:
        return GrantTarget("all_tables", names)

    def target_all_sequences(self, names: tuple) -> GrantTarget:
        return GrantTarget("all_sequences", names)

    def grantee_list(self, *grantees: Grantee) -> tuple[Grantee, ...]:
        return grantees

    def grantee_name(self, name: str) -> Grantee:
        return Grantee("role", name)

    def grantee_public(self) -> Grantee:
        return Grantee("public")

    def grantee_current_user(self) -> Grantee:
        return Grantee("current_user")

    def grantee_session_user(self) -> Grantee:
        return Grantee("session_user")

    def grant_with(self, *items: _Tag) -> list[_Tag]:
        return list(items)

    def with_grant_option(self) -> _Tag:
        return _Tag("grant_option")

    def with_admin(self, flag: bool) -> _Tag:
        return _Tag("admin", flag)

    def with_inherit(self, flag: bool) -> _Tag:
        return _Tag("inherit", flag)

    def with_set(self, flag: bool) -> _Tag:
        return _Tag("set", flag)

    def flag_true(self) -> bool:
        return True

    def flag_false(self) -> bool:
        return False

    def granted_by(self, grantee: Grantee) -> _Tag:
        return _Tag("granted_by", grantee)

    # ---- ALTER DEFAULT PRIVILEGES --------------------------------------------------------
    def alter_default_privileges_stmt(self, *args: Any) -> AlterDefaultPrivilegesStmt:
        tags = _tags(args)
        return AlterDefaultPrivilegesStmt(tags.get("for_role", ()), tags.get("in_schema", ()), args[-1])

    def defpriv_for_role(self, names: tuple[str, ...]) -> _Tag:
        return _Tag("for_role", names)

    def defpriv_in_schema(self, names: tuple[str, ...]) -> _Tag:
        return _Tag("in_schema", names)

    def defpriv_grant(self, *args: Any) -> GrantStmt:
        return self.grant_stmt(*args)

    def defpriv_revoke(self, *args: Any) -> GrantStmt:
        return self.revoke_stmt(*args)

    def defkind_tables(self) -> GrantTarget:
        return GrantTarget("tables")

    def defkind_sequences(self) -> GrantTarget:
        return GrantTarget("sequences")

    def defkind_functions(self) -> GrantTarget:
        return GrantTarget("functions")

    def defkind_schemas(self) -> GrantTarget:
        return GrantTarget("schemas")

    # ---- ownership -----------------------------------------------------------------------
    def _owner(self, kind: Any, args: tuple[Any, ...]) -> AlterOwnerStmt:
        name = next(a for a in args if isinstance(a, (u.QualifiedName, str)) and a != "if_exists")
        if isinstance(name, str):
            name = u.QualifiedName(name)
        return AlterOwnerStmt(kind, name, args[-1], "if_exists" in args[:-1])

    def owner_table(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("table", args)

    def owner_view(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("view", args)

    def owner_matview(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("materialized view", args)

    def owner_sequence(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("sequence", args)

    def owner_index(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("index", args)

    def owner_schema(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("schema", args)

    def owner_database(self, *args: Any) -> AlterOwnerStmt:
        return self._owner("database", args)

    def reassign_owned_stmt(self, roles: tuple[Grantee, ...], new_owner: Grantee) -> ReassignOwnedStmt:
        return ReassignOwnedStmt(roles, new_owner)

    def drop_owned_stmt(self, roles: tuple[Grantee, ...], *rest: str) -> DropOwnedStmt:
        return DropOwnedStmt(roles, "cascade" in rest)

    # ---- SET SESSION AUTHORIZATION ----------------------------------------------------------
    def set_session_auth_stmt(self, value: Any) -> u.SetStmt:
        if value is None:
            return u.SetStmt("session_authorization", None, is_default=True)
        return u.SetStmt("session_authorization", (value,))

    def session_auth_value(self, value: str) -> str:
        return value

    def session_auth_default(self) -> None:
        return None
