"""The cluster-level and maintenance half of ``UtilityBuilder``: extensions, databases,
roles, VACUUM / ANALYZE, EXPLAIN and COPY.  A mixin; the lark Transformer is assembled
in ``utility_builder.py``, which also holds the shared rules (names, values, options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lark import Token, Transformer, v_args

from . import utility as u
from .located import LocatedError
from .scan import fold_identifier

if TYPE_CHECKING:
    from .utility_builder import Embedded


_ROLE_BOOLEAN_OPTIONS = (
    "superuser",
    "createdb",
    "createrole",
    "inherit",
    "login",
    "replication",
    "bypassrls",
)
#: Role options written as one word -> (option, value): LOGIN -> ("login", True),
#: NOLOGIN -> ("login", False).
ROLE_FLAGS: dict[str, tuple[str, bool]] = {
    **{name: (name, True) for name in _ROLE_BOOLEAN_OPTIONS},
    **{"no" + name: (name, False) for name in _ROLE_BOOLEAN_OPTIONS},
}


@v_args(inline=True)
class AdminRules(Transformer):
    """Rules of admin.lark and copy.lark (see ``UtilityBuilder`` for the shared ones)."""

    text: str
    embedded: Embedded

    # ---- extensions, databases -------------------------------------------------------
    def if_not_exists(self) -> str:
        return "if_not_exists"

    def if_exists(self) -> str:
        return "if_exists"

    def cascade(self) -> str:
        return "cascade"

    def restrict(self) -> str:
        return "restrict"

    def create_extension_stmt(self, *args: Any) -> u.CreateExtensionStmt:
        flags = [a for a in args if isinstance(a, str)]
        opts = dict(a for a in args if isinstance(a, tuple))
        name = flags[-1]
        return u.CreateExtensionStmt(name, if_not_exists="if_not_exists" in flags[:-1], **opts)

    def ext_schema(self, name: str) -> tuple[str, Any]:
        return "schema", name

    def ext_version(self, version: str) -> tuple[str, Any]:
        return "version", version

    def ext_cascade(self) -> tuple[str, Any]:
        return "cascade", True

    def drop_extension_stmt(self, *args: Any) -> u.DropExtensionStmt:
        names = next(a for a in args if isinstance(a, tuple))
        return u.DropExtensionStmt(names, if_exists="if_exists" in args, cascade="cascade" in args)

    def create_database_stmt(self, name: str, *opts: tuple[str, Any]) -> u.CreateDatabaseStmt:
        return u.CreateDatabaseStmt(name, dict(opts))

    def database_option(self, name: str, value: Any) -> tuple[str, Any]:
        return name, value

    def database_option_name(self, name: str) -> str:
        return name

    def connection_limit(self) -> str:
        return "connection_limit"

    def default(self) -> None:
        return None

    def drop_database_stmt(self, *args: Any) -> u.DropDatabaseStmt:
        # Tokens are str too: skip the LPAR / RPAR around the options.
        words = [a for a in args if isinstance(a, str) and not isinstance(a, Token)]
        options = next((a for a in args if isinstance(a, tuple)), ())
        for option in options:
            if option != "force":
                raise LocatedError(0, None, f'unrecognized DROP DATABASE option "{option}"')
        return u.DropDatabaseStmt(
            words[-1], if_exists="if_exists" in words[:-1], force="force" in options
        )

    # ---- roles -----------------------------------------------------------------------
    def kind_role(self) -> bool:
        return False

    def kind_user(self) -> bool:
        return True

    def create_role_stmt(self, is_user: bool, name: str, *opts: tuple[str, Any]) -> u.RoleStmt:
        options = dict(opts)
        if is_user:
            options.setdefault("login", True)
        return u.RoleStmt("create", (name,), is_user=is_user, options=options)

    def alter_role_stmt(self, is_user: bool, name: str, *opts: tuple[str, Any]) -> u.RoleStmt:
        return u.RoleStmt("alter", (name,), is_user=is_user, options=dict(opts))

    def rename_role_stmt(self, is_user: bool, name: str, new_name: str) -> u.RoleStmt:
        return u.RoleStmt("alter", (name,), is_user=is_user, new_name=new_name)

    def drop_role_stmt(self, is_user: bool, *args: Any) -> u.RoleStmt:
        return u.RoleStmt("drop", args[-1], is_user=is_user, if_exists="if_exists" in args)

    def role_flag(self, tok: Token) -> tuple[str, Any]:
        flag = ROLE_FLAGS.get(fold_identifier(str(tok)))
        if flag is None:
            raise LocatedError(
                tok.start_pos, str(tok), f'unrecognized role option "{fold_identifier(str(tok))}"'
            )
        return flag

    def role_password(self, password: str) -> tuple[str, Any]:
        return "password", password

    def role_password_null(self) -> tuple[str, Any]:
        return "password", None

    def role_connection_limit(self, limit: int) -> tuple[str, Any]:
        return "connection_limit", limit

    def role_valid_until(self, when: str) -> tuple[str, Any]:
        return "valid_until", when

    def role_in_role(self, names: tuple[str, ...]) -> tuple[str, Any]:
        return "in_role", names

    def role_role(self, names: tuple[str, ...]) -> tuple[str, Any]:
        return "role", names

    def role_admin(self, names: tuple[str, ...]) -> tuple[str, Any]:
        return "admin", names

    def role_sysid(self, _sysid: int) -> tuple[str, Any]:
        return "sysid", _sysid  # accepted and ignored, as PostgreSQL does

    # ---- maintenance -----------------------------------------------------------------
    def vacuum_stmt(self, *args: Any) -> u.VacuumStmt:
        options = next((a for a in args if isinstance(a, dict)), {})
        flags = {a for a in args if isinstance(a, str)}
        tables = next((a for a in args if isinstance(a, list)), [])

        def flag(name: str) -> bool:
            return name in flags or _truthy(options.get(name, False))

        return u.VacuumStmt(
            tuple(tables),
            full=flag("full"),
            analyze=flag("analyze"),
            verbose=flag("verbose"),
            freeze=flag("freeze"),
            options=options,
        )

    def vac_full(self) -> str:
        return "full"

    def vac_freeze(self) -> str:
        return "freeze"

    def vac_verbose(self) -> str:
        return "verbose"

    def vac_analyze(self) -> str:
        return "analyze"

    def analyze_stmt(self, *args: Any) -> u.AnalyzeStmt:
        options = next((a for a in args if isinstance(a, dict)), {})
        tables = next((a for a in args if isinstance(a, list)), [])
        verbose = "verbose" in args or _truthy(options.get("verbose", False))
        return u.AnalyzeStmt(tuple(tables), verbose=verbose)

    def verbose(self) -> str:
        return "verbose"

    def table_list(self, *refs: u.QualifiedName) -> list[u.QualifiedName]:
        return list(refs)

    def table_ref(self, name: u.QualifiedName, *_columns: Any) -> u.QualifiedName:
        return name  # ANALYZE t (a, b): per-column statistics are refreshed for the table

    def explain_stmt(self, *args: Any) -> u.ExplainStmt:
        body = args[-1]
        options = next((a for a in args if isinstance(a, dict)), {})
        words = {t.type for t in args if isinstance(t, Token)}
        analyze = "EXPLAIN_ANALYZE" in words or _truthy(options.get("analyze", False))
        verbose = "EXPLAIN_VERBOSE" in words or _truthy(options.get("verbose", False))
        ast, _count = self.embedded("statement", str(body), body.start_pos)
        return u.ExplainStmt(ast, analyze=analyze, verbose=verbose, options=options)

    # ---- COPY ------------------------------------------------------------------------
    def copy_stmt(
        self, source: Any, is_from: bool, target: tuple[str, Any], *opts: Any
    ) -> u.CopyStmt:
        table, columns, query = source
        kind, filename = target
        if kind in ("stdin", "stdout"):
            # PostgreSQL's grammar takes STDIN and STDOUT as the same thing, the client.
            kind = "stdin" if is_from else "stdout"
        options = opts[0] if opts else {}
        return u.CopyStmt(table, columns, query, is_from, kind, filename, options)

    def copy_table(self, name: u.QualifiedName, *cols: Any) -> tuple[Any, ...]:
        columns = next((c for c in cols if isinstance(c, tuple)), None)
        return name, columns, None

    def copy_query(self, lpar: Token, rpar: Token) -> tuple[Any, ...]:
        inner = self.text[lpar.start_pos + 1 : rpar.start_pos]
        if not inner.strip():
            raise LocatedError(rpar.start_pos, ")")
        ast, _count = self.embedded("statement", inner, lpar.start_pos + 1)
        return None, None, ast

    def copy_from(self) -> bool:
        return True

    def copy_to(self) -> bool:
        return False

    def target_stdin(self) -> tuple[str, Any]:
        return "stdin", None

    def target_stdout(self) -> tuple[str, Any]:
        return "stdout", None

    def target_file(self, filename: str) -> tuple[str, Any]:
        return "file", filename

    def target_program(self, command: str) -> tuple[str, Any]:
        return "program", command

    def new_copy_options(self, *items: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for item in items:
            if isinstance(item, tuple):
                key, value = item
                options[key] = _copy_option_value(key, value)
        return options

    def copy_option(self, name: str, value: Any = True) -> tuple[str, Any]:
        return name, value

    def column_list(self, _lpar: Token, names: tuple[str, ...], _rpar: Token) -> tuple[str, ...]:
        return names

    def star(self) -> str:
        return "*"

    def names_or_star(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return names

    def old_copy_options(self, *items: tuple[str, Any]) -> dict[str, Any]:
        return dict(items)

    def old_binary(self) -> tuple[str, Any]:
        return "format", "binary"

    def old_csv(self) -> tuple[str, Any]:
        return "format", "csv"

    def old_header(self) -> tuple[str, Any]:
        return "header", True

    def old_delimiter(self, s: str) -> tuple[str, Any]:
        return "delimiter", s

    def old_null(self, s: str) -> tuple[str, Any]:
        return "null", s

    def old_quote(self, s: str) -> tuple[str, Any]:
        return "quote", s

    def old_escape(self, s: str) -> tuple[str, Any]:
        return "escape", s

    def old_encoding(self, s: str) -> tuple[str, Any]:
        return "encoding", s

    def old_force_quote(self, cols: Any) -> tuple[str, Any]:
        return "force_quote", cols

    def old_force_not_null(self, cols: tuple[str, ...]) -> tuple[str, Any]:
        return "force_not_null", cols


_TRUE_WORDS = {"true", "on", "yes", "1", 1}  # True == 1
_BOOLEAN_COPY_OPTIONS = {"freeze"}


def _truthy(value: Any) -> bool:
    return value in _TRUE_WORDS or (isinstance(value, str) and value.lower() in _TRUE_WORDS)


def _copy_option_value(key: str, value: Any) -> Any:
    # HEADER takes a boolean or MATCH; FREEZE a boolean; the rest keep their value.
    if key == "header":
        return "match" if value == "match" else _truthy(value)
    if key in _BOOLEAN_COPY_OPTIONS:
        return _truthy(value)
    return value
