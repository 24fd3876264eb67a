"""The utility statements that the lark grammars parse, one frozen dataclass each.

These are the PostgreSQL statements that sqlglot parses wrongly or only as ``exp.Command``:
session settings, transaction control, COPY, prepared statements, maintenance and the
cluster-level DDL (extensions, databases, roles).  Names follow PostgreSQL's rules: an
unquoted identifier is lower-cased, a quoted one is kept as written.  Sequences are tuples
and option maps are dicts; like every parse result they are cached and shared, so callers
must not mutate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: A value in SET, or in an option list: a string (identifiers lower-cased), int or float.
Value = str | int | float

#: The four isolation levels, spelt as ``SHOW transaction_isolation`` prints them.
Isolation = Literal["serializable", "repeatable read", "read committed", "read uncommitted"]


@dataclass(frozen=True, slots=True)
class QualifiedName:
    """A possibly schema-qualified object name: ``public.t`` is ``QualifiedName("t", "public")``."""

    name: str  #: the object's own name
    schema: str | None = None  #: the schema, if written

    def __str__(self) -> str:
        return self.name if self.schema is None else f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class SetStmt:
    """``SET [SESSION|LOCAL] name {TO|=} value[, ...] | DEFAULT``; also ``SET TIME ZONE``,
    ``SET NAMES``, ``SET SCHEMA`` and ``SET ROLE``, under their setting names."""

    name: str  #: setting name, dotted names kept whole (``hnsw.ef_search``)
    values: tuple[Value, ...] | None  #: the value list; None for DEFAULT (or TIME ZONE LOCAL)
    local: bool = False  #: SET LOCAL: lasts until the end of the transaction
    is_default: bool = False  #: the value is DEFAULT: same effect as RESET


@dataclass(frozen=True, slots=True)
class SetTransactionStmt:
    """``SET TRANSACTION ...`` (this transaction) or ``SET SESSION CHARACTERISTICS AS
    TRANSACTION ...`` (the session's default)."""

    session: bool  #: True for SESSION CHARACTERISTICS
    isolation: Isolation | None = None  #: ISOLATION LEVEL, if given
    read_only: bool | None = None  #: READ ONLY -> True, READ WRITE -> False, else None
    deferrable: bool | None = None  #: [NOT] DEFERRABLE, if given


@dataclass(frozen=True, slots=True)
class ShowStmt:
    """``SHOW name | ALL``; ``SHOW TIME ZONE`` is ``timezone`` and ``SHOW TRANSACTION
    ISOLATION LEVEL`` is ``transaction_isolation``, as in PostgreSQL."""

    name: str  #: setting name, or ``"all"``


@dataclass(frozen=True, slots=True)
class ResetStmt:
    """``RESET name | ALL``."""

    name: str  #: setting name, or ``"all"``


TransactionKind = Literal["begin", "commit", "rollback", "savepoint", "release", "rollback_to"]


@dataclass(frozen=True, slots=True)
class TransactionStmt:
    """BEGIN / START TRANSACTION, COMMIT / END, ROLLBACK / ABORT, SAVEPOINT, RELEASE
    [SAVEPOINT] and ROLLBACK TO [SAVEPOINT]."""

    kind: TransactionKind  #: which of the statements above
    name: str | None = None  #: the savepoint, for savepoint / release / rollback_to
    isolation: Isolation | None = None  #: BEGIN ... ISOLATION LEVEL
    read_only: bool | None = None  #: BEGIN ... READ ONLY -> True, READ WRITE -> False
    deferrable: bool | None = None  #: BEGIN ... [NOT] DEFERRABLE
    chain: bool = False  #: COMMIT / ROLLBACK AND CHAIN: start a new transaction at once


@dataclass(frozen=True, slots=True)
class CreateExtensionStmt:
    """``CREATE EXTENSION [IF NOT EXISTS] name [WITH] [SCHEMA s] [VERSION v] [CASCADE]``."""

    name: str  #: extension name (``vector``, ``pg_search``)
    if_not_exists: bool = False
    schema: str | None = None  #: SCHEMA clause
    version: str | None = None  #: VERSION clause
    cascade: bool = False  #: CASCADE: also install required extensions


@dataclass(frozen=True, slots=True)
class DropExtensionStmt:
    """``DROP EXTENSION [IF EXISTS] name[, ...] [CASCADE | RESTRICT]``."""

    names: tuple[str, ...]
    if_exists: bool = False
    cascade: bool = False  #: CASCADE; RESTRICT (the default) is False


@dataclass(frozen=True, slots=True)
class CreateDatabaseStmt:
    """``CREATE DATABASE name [WITH] [option [=] value] ...``."""

    name: str
    #: options keyed by lower-case name with spaces as underscores (``owner``, ``template``,
    #: ``encoding``, ``locale``, ``lc_collate``, ``connection_limit`` ...); value None for
    #: DEFAULT.
    options: dict[str, Value | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DropDatabaseStmt:
    """``DROP DATABASE [IF EXISTS] name [[WITH] (FORCE)]``."""

    name: str
    if_exists: bool = False
    force: bool = False  #: WITH (FORCE): terminate the database's connections first


RoleAction = Literal["create", "alter", "drop"]


@dataclass(frozen=True, slots=True)
class RoleStmt:
    """``CREATE | ALTER | DROP ROLE | USER`` with options.

    ``CREATE USER`` is ``CREATE ROLE ... LOGIN``: ``is_user`` records the spelling and, for
    create, ``options["login"]`` defaults to True as PostgreSQL does.
    """

    action: RoleAction
    names: tuple[str, ...]  #: one name for create/alter, one or more for drop
    is_user: bool = False  #: spelt USER rather than ROLE
    #: lower-case option -> value: ``superuser``, ``createdb``, ``createrole``, ``inherit``,
    #: ``login``, ``replication``, ``bypassrls`` -> bool; ``password`` -> str or None
    #: (PASSWORD NULL); ``connection_limit`` -> int; ``valid_until`` -> str;
    #: ``in_role``, ``role``, ``admin`` -> tuple of names; ``encrypted`` -> True.
    options: dict[str, Any] = field(default_factory=dict)
    if_exists: bool = False  #: DROP ... IF EXISTS
    new_name: str | None = None  #: ALTER ... RENAME TO


CopyTarget = Literal["stdin", "stdout", "file", "program"]


@dataclass(frozen=True, slots=True)
class CopyStmt:
    """``COPY table [(cols)] FROM|TO STDIN|STDOUT|'file'|PROGRAM 'cmd' [[WITH] (options)]``,
    ``COPY (query) TO ...``, and the pre-9.0 option syntax (``WITH CSV HEADER``).

    Options are normalised to the new syntax: ``format`` ('text', 'csv', 'binary'),
    ``header`` (bool or 'match'), ``delimiter``, ``null``, ``default``, ``quote``,
    ``escape``, ``encoding`` (str), ``freeze`` (bool), ``force_quote`` (tuple of columns or
    ``"*"``), ``force_not_null`` and ``force_null`` (tuple of columns or ``"*"``),
    ``on_error`` and ``log_verbosity`` (str).
    """

    table: QualifiedName | None  #: the table, or None for COPY (query)
    columns: tuple[str, ...] | None  #: column list, None if not written
    query: Any  #: the sqlglot AST of COPY (query) TO, else None
    is_from: bool  #: COPY ... FROM (load); False for COPY ... TO (unload)
    target: CopyTarget
    filename: str | None = None  #: the file name or the PROGRAM command
    options: dict[str, Any] = field(default_factory=dict)


DiscardWhat = Literal["all", "plans", "sequences", "temp"]


@dataclass(frozen=True, slots=True)
class DiscardStmt:
    """``DISCARD ALL | PLANS | SEQUENCES | TEMP | TEMPORARY``."""

    what: DiscardWhat  #: TEMPORARY is reported as "temp"


@dataclass(frozen=True, slots=True)
class PrepareStmt:
    """``PREPARE name [(type, ...)] AS statement``."""

    name: str
    param_types: tuple[Any, ...]  #: sqlglot ``exp.DataType`` per declared parameter
    statement: Any  #: the sqlglot AST of the prepared statement
    text: str  #: the prepared statement's own text
    param_count: int  #: highest $n used in the statement (at least len(param_types))


@dataclass(frozen=True, slots=True)
class ExecuteStmt:
    """``EXECUTE name [(arg, ...)]``."""

    name: str
    args: tuple[Any, ...] = ()  #: sqlglot expressions, one per argument


@dataclass(frozen=True, slots=True)
class DeallocateStmt:
    """``DEALLOCATE [PREPARE] name | ALL``."""

    name: str | None  #: None for ALL


@dataclass(frozen=True, slots=True)
class CheckpointStmt:
    """``CHECKPOINT``: flush the WAL and publish a manifest version now."""


@dataclass(frozen=True, slots=True)
class VacuumStmt:
    """``VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table, ...]`` and
    ``VACUUM (option [value], ...) [table, ...]``: for us, compaction."""

    tables: tuple[QualifiedName, ...]  #: empty: every table
    full: bool = False
    analyze: bool = False
    verbose: bool = False
    freeze: bool = False
    #: every option as written in the parenthesised form, lower-case -> value (True if bare)
    options: dict[str, Value | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnalyzeStmt:
    """``ANALYZE [VERBOSE] [table [(col, ...)], ...]``: refresh column statistics."""

    tables: tuple[QualifiedName, ...]  #: empty: every table
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class ExplainStmt:
    """``EXPLAIN [ANALYZE] [VERBOSE] statement`` and ``EXPLAIN (option [value], ...) statement``."""

    statement: Any  #: sqlglot AST of the explained statement
    analyze: bool = False
    verbose: bool = False
    #: every option, lower-case -> value (True when written bare): costs, buffers, format...
    options: dict[str, Value | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReindexStmt:
    """``REINDEX [(options)] {INDEX | TABLE | SCHEMA} [CONCURRENTLY] name`` and
    ``REINDEX [(options)] {DATABASE | SYSTEM} [CONCURRENTLY] [name]``."""

    kind: Literal["index", "table", "schema", "database", "system"]
    name: QualifiedName | None  #: None: DATABASE / SYSTEM without a name (the current one)
    concurrently: bool = False  #: CONCURRENTLY, or (CONCURRENTLY [true])
    verbose: bool = False  #: (VERBOSE): an INFO line per index


@dataclass(frozen=True, slots=True)
class RefreshMatViewStmt:
    """``REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH [NO] DATA]``."""

    name: QualifiedName
    concurrently: bool = False
    with_data: bool = True  #: False for WITH NO DATA (empty it, mark it unpopulated)


@dataclass(frozen=True, slots=True)
class AlterMatViewStmt:
    """``ALTER MATERIALIZED VIEW [IF EXISTS] name RENAME TO new_name`` and
    ``... RENAME [COLUMN] column TO new_name``."""

    name: QualifiedName
    if_exists: bool = False
    new_name: str = ""
    column: str | None = None  #: the column renamed (None: the view itself is)

#: Every utility statement class (the session dispatches on these).
UTILITY_STATEMENTS: tuple[type, ...] = (
    SetStmt,
    SetTransactionStmt,
    ShowStmt,
    ResetStmt,
    TransactionStmt,
    CreateExtensionStmt,
    DropExtensionStmt,
    CreateDatabaseStmt,
    DropDatabaseStmt,
    RoleStmt,
    CopyStmt,
    DiscardStmt,
    PrepareStmt,
    ExecuteStmt,
    DeallocateStmt,
    CheckpointStmt,
    VacuumStmt,
    AnalyzeStmt,
    ExplainStmt,
    ReindexStmt,
    RefreshMatViewStmt,
    AlterMatViewStmt,
)
