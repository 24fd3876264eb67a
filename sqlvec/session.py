"""Database and Session: the one interface the embedded API and the wire server both call.

A :class:`Database` is one data directory opened in this process (shared by every session on
it). A :class:`Session` is one connection's state: settings, the current transaction, the
transaction-block status PostgreSQL reports (I, T, E), and the cache of planned statements.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from sqlvec import consistency, errors
from sqlvec.catalog.model import Catalog, Table
from sqlvec.catalog.serde import catalog_delta, from_json, to_json
from sqlvec.exec.functions.context import current_session, peek_session
from sqlvec.extra_sql import parse  # the grammar's parse, plus cursors and LISTEN/NOTIFY
from sqlvec.grammar import convert_paramstyle, parse_expression
from sqlvec.grammar import utility as U
from sqlvec.plan import expr as E
from sqlvec.plan.binder import Binder, locate
from sqlvec.plan.scope import Scope
from sqlvec.result import Notice, Result, ResultColumn
from sqlvec.settings import SessionSettings
from sqlvec.storage import StorageEngine
from sqlvec.types import registry as T
from sqlvec.types.arrow import adapt_param, infer_param_type, to_arrow
from sqlvec.types.base import SqlType
from sqlvec.types.params import param_column

_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.Lock()
MAX_SERIALIZATION_RETRIES = 40


class Database:
    """One data directory (or an in-memory database) opened by this process."""

    def __init__(self, key: str, engine: StorageEngine) -> None:
        self.key = key
        self.engine = engine
        self.refs = 0
        self.lock = threading.RLock()
        blob = engine.catalog
        if blob:
            self.catalog = from_json(blob)
            self._register_vector_indexes()
            from sqlvec.exec.temp_tables import drop_orphans

            drop_orphans(engine, self.catalog)  # rows of temp tables left by a crash
        else:
            self.catalog = Catalog.bootstrap()
            txn = engine.begin()
            txn.set_catalog(to_json(self.catalog))
            txn.commit()

    def _register_vector_indexes(self) -> None:
        """Tell the storage engine about every vector index in the catalog (idempotent):
        segments sealed while no build ran get theirs in the background."""
        from sqlvec.exec.indexes import build_vector_index

        for db in self.catalog.databases.values():
            for ix in db.indexes.values():
                table = db.tables.get(ix.table)
                if table is not None:
                    build_vector_index(self.engine, table, ix, wait=False)

    @classmethod
    def open(cls, path: str | None) -> Database:
        if path is None or path == ":memory:":
            db = cls(":memory:", StorageEngine.open(None))
            db.refs = 1
            return db
        key = os.path.realpath(path)
        with _OPEN_LOCK:
            db = _OPEN.get(key)
            if db is None:
                db = cls(key, StorageEngine.open(key))
                _OPEN[key] = db
            db.refs += 1
            return db

    def close(self) -> None:
        with _OPEN_LOCK:
            self.refs -= 1
            if self.refs > 0:
                return
            _OPEN.pop(self.key, None)
        self.engine.close()

    def role(self, name: str):
        """The role called ``name`` (latest committed catalog), or None."""
        return self.catalog.roles.get(name)

    def publish(self, cat: Catalog) -> None:
        cat.seal()  # plain dicts: readers of the published catalog pay no copy-on-write
        with self.lock:
            if cat.version >= self.catalog.version:
                self.catalog = cat


_UNSET = object()


class StatementErrors:
    """How every path ends a statement that failed: an engine error gets its position in the
    whole query string; an Arrow error becomes the SQL error it stands for; anything else is
    an engine bug, which the client sees as XX000 with a usable connection, never a Python
    traceback (the transaction is already rolled back or marked failed)."""

    __slots__ = ("st",)

    def __init__(self, st) -> None:
        self.st = st

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # success, or KeyboardInterrupt/SystemExit: as they are
        if isinstance(exc, errors.Error):
            pos = getattr(exc, "stmt_position", None)
            if exc.position is None and pos is not None:
                exc.position = self.st.offset + pos + 1  # 1-based, in the whole query string
            return False
        if isinstance(exc, (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)):
            raise E.raise_for_arrow(exc) from exc
        raise errors.InternalError_(f"internal error: {type(exc).__name__}: {exc}") from exc


@dataclass
class _Prepared:
    """A planned statement: what to run, and the parameter types binding settled on."""

    kind: str
    plan: Any
    params: list[SqlType]
    columns: list[ResultColumn] | None = None
    catalog_version: int = 0
    const_table: Any = None  # the rows of a SELECT made only of literals (see run_select)
    constant: bool | None = None  # whether it is such a SELECT (decided at the first run)
    # TimeZone and DateStyle when planned: literals such as '2020-01-01'::timestamptz are
    # folded with them, so a plan made under other values is planned again
    input_key: tuple = ()
    key: tuple = ()  # its plan-cache key
    statement: Any = None  # the parsed statement it was planned from
    fast: Any = _UNSET  # its short path (sqlvec.exec.fast_topk), None when it has none


# settings a plan depends on (literals folded in the zone and date style; privileges checked;
# names resolved along the search path)
_PLAN_INPUTS = ("TimeZone", "DateStyle", "role", "session_authorization", "search_path")


# parameter types whose Python value converts with pa.scalar as to_arrow would convert it
_SCALAR_PARAMS = frozenset(t.oid for t in (T.INT2, T.INT4, T.INT8, T.FLOAT4, T.FLOAT8, T.TEXT,
                                            T.VARCHAR, T.BOOL))


class Session:
    """One connection's state. Not thread-safe: one thread uses a session at a time."""

    def __init__(self, db: Database, *, database: str = "postgres", user: str = "postgres") -> None:
        self.db = db
        self.user = user
        self.settings = SessionSettings()
        db.catalog.database(database)  # raises 3D000 if missing
        self.database = database
        self.txn = None  # storage transaction of an open block (or of the running statement)
        self.txn_catalog: Catalog | None = None  # private catalog after DDL in this transaction
        self.in_block = False
        self.failed = False
        self.savepoints: list[tuple[str, Any, Catalog | None, dict]] = []
        self.implicit = False  # the block is a multi-statement query string's, not BEGIN's
        self._after_commit: list = []  # actions for the storage engine once a commit is durable
        self.seq_last: dict[int, int] = {}  # currval() per sequence
        self.seq_lastval: int | None = None
        self.read_only = False  # BEGIN READ ONLY / SET TRANSACTION READ ONLY
        self._settings_at_begin: dict | None = None
        self.closed = False
        # set from any thread (CancelRequest, statement_timeout); the running statement
        # notices it at its next check and fails with 57014
        self._cancel_reason: str | None = None
        self._plans: OrderedDict[tuple, _Prepared] = OrderedDict()
        # statement text (or, from the wire, text and parameter types) -> the short path of
        # its plan (sqlvec.exec.fast_topk); last_prepared: the plan the last SELECT ran
        self._fast: dict = {}
        self.last_prepared: _Prepared | None = None

    # -- public API ---------------------------------------------------------------------------
    @property
    def transaction_status(self) -> str:
        if not self.in_block:
            return "I"
        return "E" if self.failed else "T"

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> Result:
        if params is not None and type(params) in (list, tuple):
            fast = self._fast.get(sql)
            if fast is not None:
                res = self._run_fast(sql, fast, params)
                if res is not None:
                    return res
        last = None
        for r in self.execute_iter(sql, params):
            last = r
        if last is None:
            return Result("", None)
        return last

    def execute_iter(self, sql: str, params: Sequence | Mapping | None = None) -> Iterator[Result]:
        self._check_open()
        values, text = None, sql
        if params is not None:
            text, values = _convert(sql, params)
        try:
            stmts = parse(text)
        except errors.Error:
            if self.in_block:
                self.failed = True  # a syntax error aborts the block like any other error
            raise
        if values is not None and len(stmts) > 1:
            raise errors.SyntaxError("cannot insert multiple commands into a prepared statement", sqlstate="42601")
        if len(stmts) > 1 and not self.in_block:
            yield from self._implicit_block(stmts)
            return
        if len(stmts) == 1 and values is not None and type(params) in (list, tuple):
            self.last_prepared = None
            res = self._run_statement(stmts[0], values)
            self._offer_fast(sql, self.last_prepared, stmts[0])
            yield res
            return
        for st in stmts:
            yield self._run_statement(st, values)

    def implicit_begin(self) -> None:
        """Start PostgreSQL's implicit transaction of the extended protocol: the statements
        up to the next Sync run as one transaction (unless they are in a BEGIN block)."""
        if not self.in_block:
            self._begin_block(implicit=True)

    def implicit_end(self) -> None:
        """At Sync: commit the implicit transaction, or roll it back after an error."""
        if self.in_block and self.implicit:
            failed = self.failed
            self.in_block, self.failed, self.implicit = False, False, False
            if failed:
                self._abort(restore_settings=True)
            else:
                self._commit()

    def _implicit_block(self, stmts) -> Iterator[Result]:
        """Several statements in one query string run as one transaction, as PostgreSQL runs
        a multi-statement Query message, unless they contain transaction control."""
        self._begin_block(implicit=True)
        try:
            for st in stmts:
                if self.implicit and self.failed:
                    break
                yield self._run_statement(st, None)
        except BaseException:
            if self.implicit and self.in_block:
                self.in_block, self.failed, self.implicit = False, False, False
                self._abort(restore_settings=True)
            raise
        if self.implicit and self.in_block:
            self.in_block, self.implicit = False, False
            self._commit()

    def describe(self, sql: str, param_types: Sequence[SqlType | None] = ()) -> tuple[list[SqlType], list[ResultColumn] | None]:
        """Parameter types (declared or inferred) and result columns of one statement, without
        running it: the wire protocol's Parse + Describe."""
        self._check_open()
        from sqlvec import statements

        stmts = parse(sql)
        if not stmts:
            return [], None
        if len(stmts) > 1:
            raise errors.SyntaxError("cannot insert multiple commands into a prepared statement")
        types = [t if t is not None else T.UNKNOWN for t in param_types]
        types += [T.UNKNOWN] * (stmts[0].param_count - len(types))
        if self.failed:
            raise errors.InFailedSqlTransaction(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        with current_session(self):
            return statements.describe(self, stmts[0], types)

    def execute_typed(self, sql: str, param_types: Sequence[SqlType | None], values: Sequence) -> Result:
        """Run one statement whose parameter types the client declared (wire Bind/Execute);
        ``values`` are Python values already decoded from text or binary."""
        self._check_open()
        stmts = parse(sql)
        if not stmts:
            return Result("", None)
        if len(stmts) > 1:
            raise errors.SyntaxError("cannot insert multiple commands into a prepared statement")
        types = [t if t is not None else T.UNKNOWN for t in param_types]
        types += [T.UNKNOWN] * (stmts[0].param_count - len(types))
        self.last_prepared = None
        res = self._run_statement(stmts[0], list(values), types=types)
        if values:
            self._offer_fast((sql, tuple(param_types)), self.last_prepared, stmts[0])
        return res

    def execute_prepared(self, sql: str, param_types: Sequence[SqlType | None], values: Sequence) -> Result:
        """:meth:`execute_typed` through the statement's short path when it has one (the wire's
        Bind/Execute of a prepared top-k)."""
        fast = self._fast.get((sql, tuple(param_types))) if values else None
        if fast is not None:
            res = self._run_fast((sql, tuple(param_types)), fast, values)
            if res is not None:
                return res
        return self.execute_typed(sql, param_types, values)

    # -- the short path of prepared top-k statements (sqlvec.exec.fast_topk) --------------------
    def _offer_fast(self, key, p: _Prepared | None, st) -> None:
        if p is None or p.statement is None or p.statement.text != st.text:
            return  # (a statement run inside this one, by a function, planned last)
        if p.fast is _UNSET:
            from sqlvec.exec import fast_paths

            p.fast = fast_paths.build(self, p)
        if p.fast is not None:
            self._fast[key] = p.fast
            if len(self._fast) > 256:
                self._fast.pop(next(iter(self._fast)))

    def _run_fast(self, key, fast, values) -> Result | None:
        if self.failed or self.closed or self.txn_catalog is not None:
            return None
        at = (self.db.catalog.version, self.settings.version)
        if fast.valid_at != at:  # something changed since: is the plan still the cached one?
            if self.cached_plan(fast.key) is not fast.prepared:
                self._fast.pop(key, None)  # planned again since (DDL, a plan input changed)
                return None
            fast.valid_at = at
        return fast.run(self, values)

    def run_fast_read(self, st, levels, search, *args) -> Result | None:
        """``search(reader, *args)`` as a read-only statement: in the open transaction block
        (``reader`` is its Txn), or alone on the snapshot the consistency ``levels`` pick (a
        Snapshot, or a Txn for the weak levels; None: read them now). Errors end the
        statement as :meth:`_run_statement` ends it. None: ``search`` declined."""
        self._cancel_reason = None
        with StatementErrors(st):
            if self.in_block:
                return self._in_open_block(st, search, args)
            reader = consistency.read_begin(self, st, levels)
            try:
                return search(reader, *args)
            finally:
                consistency.read_end(self, reader)  # it wrote nothing: release the snapshot

    def run_fast_write(self, st, write, *args) -> Result | None:
        """``write(txn, *args)`` as a statement that writes (the short path of a prepared
        INSERT, sqlvec.exec.fast_insert): in the open transaction block, or in a transaction
        of its own committed before returning, with :meth:`_in_transaction`'s retry of
        serialization failures. Errors end the statement as :meth:`_run_statement` ends it.
        None: ``write`` declined (it wrote nothing)."""
        self._cancel_reason = None
        with StatementErrors(st):
            if peek_session() is self:  # a wire connection's thread runs in its session
                return self._fast_write(st, write, args)
            with current_session(self):
                return self._fast_write(st, write, args)

    def _fast_write(self, st, write, args: tuple) -> Result | None:
        if self.in_block:
            return self._in_open_block(st, write, args)
        return self._autocommit(st, lambda: write(self.txn, *args))

    def _in_open_block(self, st, run, args: tuple) -> Result | None:
        """``run(txn, *args)`` in the open transaction block: a failure fails the block."""
        try:
            consistency.in_block(self, st)  # READ COMMITTED + a weak level: a new snapshot
            return run(self.txn, *args)
        except Exception:
            self.failed = True
            raise

    def constant_result(self, sql: str) -> Result | None:
        """The rows of a parameterless SELECT made only of literals (a pool's ``SELECT 1``)
        that already ran in this session: its plan holds them, so it is answered without a
        transaction. None when that does not apply (the caller runs the statement)."""
        p = self._plans.get(("select", sql, ()))
        if (p is None or p.const_table is None or self.failed or self.closed
                or p.input_key != self._input_key()
                or self.txn_catalog is not None or p.catalog_version != self.db.catalog.version):
            return None
        t = p.const_table
        return Result(f"SELECT {t.num_rows}", p.plan.columns, t, t.num_rows)

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence | Mapping]) -> Result:
        self._check_open()
        rows = list(seq_of_params)
        if not rows:
            return Result("", None, rowcount=0)
        converted, names = convert_paramstyle(sql)
        if names is not None:
            rows = [[r[n] for n in names] for r in rows]
        stmts = parse(converted)
        if len(stmts) != 1:
            raise errors.SyntaxError("cannot insert multiple commands into a prepared statement")
        st = stmts[0]
        if isinstance(st.ast, exp.Insert) and isinstance(st.ast.expression, exp.Values) and len(st.ast.expression.expressions) == 1:
            return self._run_statement(st, [list(r) for r in rows], many=True)
        total = 0
        last = None
        for r in rows:
            last = self._run_statement(st, list(r))
            total += max(last.rowcount, 0)
        last.rowcount = total
        return last

    def close(self) -> None:
        if self.closed:
            return
        if self.txn is not None:
            self.txn.rollback()
            self.txn = None
        if self.__dict__.get("_temp_schema"):
            from sqlvec.exec.temp_tables import drop_all

            drop_all(self)
        self.closed = True

    def cancel(self, reason: str = "user request") -> None:
        """Cancel the running statement (thread-safe); a no-op when none runs."""
        self._cancel_reason = reason

    def check_interrupt(self) -> None:
        reason = self._cancel_reason
        if reason is not None:
            self._cancel_reason = None
            raise errors.QueryCanceled(f"canceling statement due to {reason}")

    # -- statement dispatch -----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise errors.InterfaceError("session is closed")

    def _run_statement(self, st, values, many: bool = False, types=None) -> Result:
        node = st.ast
        if isinstance(node, U.TransactionStmt):
            return self._transaction(node)
        if self.failed:
            raise errors.InFailedSqlTransaction(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        self._cancel_reason = None
        timeout_ms = self.settings.timeout_ms()
        timer = None
        if timeout_ms > 0:
            timer = threading.Timer(timeout_ms / 1000.0, self.cancel, args=("statement timeout",))
            timer.daemon = True
            timer.start()
        try:
            with StatementErrors(st):
                if peek_session() is self:  # a wire connection's thread runs in its session
                    return self._in_transaction(st, values, many, types)
                with current_session(self):
                    return self._in_transaction(st, values, many, types)
        finally:
            if timer is not None:
                timer.cancel()
            self._cancel_reason = None

    def _in_transaction(self, st, values, many: bool, types=None) -> Result:
        node = st.ast
        if isinstance(node, (U.SetStmt, U.ShowStmt, U.ResetStmt, U.SetTransactionStmt, U.DiscardStmt)):
            return self._utility_no_txn(node)
        if isinstance(node, (U.CreateDatabaseStmt, U.DropDatabaseStmt)) and self.in_block:
            word = "CREATE DATABASE" if isinstance(node, U.CreateDatabaseStmt) else "DROP DATABASE"
            raise errors.ActiveSqlTransaction(f"{word} cannot run inside a transaction block")
        if self.in_block:
            try:
                consistency.in_block(self, st)  # READ COMMITTED + a weak level: new snapshot
                return self._dispatch(st, values, many, types)
            except Exception:
                self.failed = True
                raise
        return self._autocommit(st, self._dispatch, st, values, many, types)

    def _autocommit(self, st, run, *args) -> Result | None:
        """``run(*args)`` in a transaction of its own (statement ``st`` run alone), committed
        before returning. None from ``run`` (a short path that declined: it wrote nothing)
        rolls back and returns None."""
        # implicit transaction around one statement; a serialization failure at commit is
        # retried with a fresh snapshot, as PostgreSQL's row locks would have made it wait
        for attempt in range(MAX_SERIALIZATION_RETRIES):
            self.txn = consistency.begin(self, st)  # sqlvec.consistency picks the snapshot
            self.txn_catalog = None
            try:
                result = run(*args)
                if result is None:
                    self._abort()
                    return None
                self._commit()
                return result
            except errors.SerializationFailure:
                self._abort()
                if attempt == MAX_SERIALIZATION_RETRIES - 1:
                    raise
                # the winner's commit becomes visible once its WAL record is flushed: back off
                # briefly (with jitter, so that retrying writers do not collide again in step)
                time.sleep(min(0.05, 0.0005 * 2**attempt) * (0.5 + random.random()))
            except BaseException:
                self._abort()
                raise
        raise AssertionError("unreachable")

    def check_writable(self, what: str) -> None:
        """Writes in a READ ONLY transaction fail as in PostgreSQL."""
        if self.read_only or (not self.in_block and self.settings.get("default_transaction_read_only") == "on"):
            raise errors.ReadOnlySqlTransaction(f"cannot execute {what} in a read-only transaction")

    def _begin_block(self, implicit: bool) -> None:
        self.txn = consistency.begin(self, None)
        self.txn_catalog = None
        self.in_block, self.failed, self.implicit = True, False, implicit
        self.savepoints = []
        self.read_only = self.settings.get("default_transaction_read_only") == "on"
        # SET inside a transaction is undone if it rolls back
        self._settings_at_begin = dict(self.settings.values)

    def _commit(self) -> None:
        if self.__dict__.get("_temp_oids"):
            from sqlvec.exec.temp_tables import before_commit

            before_commit(self)  # ON COMMIT DELETE ROWS / DROP
        txn, cat = self.txn, self.txn_catalog
        if cat is not None:
            cat.version = self.db.catalog.version + 1
            txn.set_catalog(catalog_delta(cat))  # only what this transaction changed
        try:
            txn.commit(synchronous=self.settings.get("synchronous_commit") != "off")
        finally:
            self.txn = None
            self.txn_catalog = None
            self.read_only = False
            self._settings_at_begin = None
            self.settings.end_transaction()
        if cat is not None:
            self.db.publish(cat)
            self._plans.clear()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def after_commit(self, action) -> None:
        """Run ``action`` once the current transaction has committed (dropped on rollback)."""
        self._after_commit.append(action)

    def _abort(self, restore_settings: bool = False) -> None:
        self._after_commit = []
        if self.txn is not None:
            self.txn.rollback()
        self.txn = None
        self.txn_catalog = None
        self.read_only = False
        if restore_settings and self._settings_at_begin is not None:
            self.settings.values = dict(self._settings_at_begin)
        self._settings_at_begin = None
        self.settings.end_transaction()

    def _transaction(self, node: U.TransactionStmt) -> Result:
        k = node.kind
        notices: list[Notice] = []
        if k == "begin":
            if self.in_block and self.implicit:
                self.implicit = False  # BEGIN turns the implicit block into an explicit one
            elif self.in_block:
                notices.append(Notice("WARNING", "there is already a transaction in progress", "25001"))
            else:
                self._begin_block(implicit=False)
            if node.read_only is not None:
                self.read_only = node.read_only
            if node.isolation:
                self.settings.set("transaction_isolation", node.isolation, local=True)
            return Result("BEGIN", notices=notices)
        if k == "commit":
            if not self.in_block:
                notices.append(Notice("WARNING", "there is no transaction in progress", "25P01"))
                return Result("COMMIT", notices=notices)
            failed = self.failed
            self.in_block, self.failed, self.savepoints, self.implicit = False, False, [], False
            if failed:
                self._abort(restore_settings=True)
                return Result("ROLLBACK")
            self._commit()
            if node.chain:
                return self._transaction(U.TransactionStmt("begin"))
            return Result("COMMIT")
        if k == "rollback":
            if not self.in_block:
                notices.append(Notice("WARNING", "there is no transaction in progress", "25P01"))
                return Result("ROLLBACK", notices=notices)
            self.in_block, self.failed, self.savepoints = False, False, []
            self._abort(restore_settings=True)
            if node.chain:
                return self._transaction(U.TransactionStmt("begin"))
            return Result("ROLLBACK")
        if not self.in_block:
            word = {"savepoint": "SAVEPOINT", "release": "RELEASE SAVEPOINT", "rollback_to": "ROLLBACK TO SAVEPOINT"}[k]
            raise errors.NoActiveSqlTransaction(f"{word} can only be used in transaction blocks")
        if k == "savepoint":
            if self.failed:
                raise errors.InFailedSqlTransaction(
                    "current transaction is aborted, commands ignored until end of transaction block"
                )
            cat = self.txn_catalog.copy() if self.txn_catalog is not None else None
            self.savepoints.append((node.name, self.txn.savepoint(), cat, dict(self.settings.values)))
            return Result("SAVEPOINT")
        pos = next((i for i in range(len(self.savepoints) - 1, -1, -1) if self.savepoints[i][0] == node.name), None)
        if pos is None:
            if self.failed:
                raise errors.InFailedSqlTransaction(
                    "current transaction is aborted, commands ignored until end of transaction block"
                )
            raise errors.InvalidSavepointSpecification(f'savepoint "{node.name}" does not exist')
        if k == "release":
            if self.failed:
                raise errors.InFailedSqlTransaction(
                    "current transaction is aborted, commands ignored until end of transaction block"
                )
            del self.savepoints[pos:]
            return Result("RELEASE")
        name, token, cat, settings = self.savepoints[pos]
        del self.savepoints[pos + 1 :]
        self.txn.rollback_to(token)
        self.settings.values = dict(settings)
        self.txn_catalog = cat.copy() if cat is not None else None
        self.failed = False
        return Result("ROLLBACK")

    # -- catalog access ---------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        return self.txn_catalog if self.txn_catalog is not None else self.db.catalog

    def mutable_catalog(self) -> Catalog:
        if self.txn_catalog is None:
            self.txn_catalog = self.db.catalog.copy()
            self._plans.clear()
        return self.txn_catalog

    def search_path(self) -> list[str]:
        raw = self.settings.get("search_path")
        out = ["pg_catalog"]
        for part in raw.split(","):
            p = part.strip().strip('"')
            if p == "$user":
                p = self.user
            if p and p not in out:
                out.append(p)
        temp = self.__dict__.get("_temp_schema")
        if temp is not None:
            out.insert(1, temp)  # pg_temp: searched before the user's schemas
        return out

    def resolve_table(self, node: exp.Table, cat: Catalog | None = None) -> Table:
        cat = cat or self.catalog()
        db = cat.database(self.database)
        name, schema = node.name, (node.db or None)
        t = db.find_table(name, schema, self.search_path())
        if t is None:
            exc = errors.UndefinedTable(f'relation "{schema + "." if schema else ""}{name}" does not exist')
            locate(exc, node)
            raise exc
        return t

    def virtual_relation(self, node: exp.Table):
        """A pg_catalog / information_schema relation named by a FROM item, as a scan node;
        None when the name is not one (or a user table of that name comes first)."""
        from sqlvec.catalog import virtual
        from sqlvec.exec.nodes import MaterializedScan
        from sqlvec.exec.views import view_relation
        from sqlvec.plan.scope import ScopeColumn

        view = view_relation(self, node)
        if view is not None:
            return view
        schema = node.db or None
        path = self.search_path()
        if schema is None:
            # pg_catalog is searched first, as in PostgreSQL, but a user table named like a
            # catalog relation in a schema that precedes it on the path wins
            db = self.catalog().database(self.database)
            if db.find_table(node.name, None, [s for s in path if s != "pg_catalog"]) is not None and "pg_catalog" not in path[:1]:
                return None
        vt = virtual.lookup(schema, node.name, path)
        if vt is None:
            return None
        alias = node.alias_or_name
        scope = [ScopeColumn(n, t, i, alias, vt.oid, i + 1) for i, (n, t) in enumerate(vt.columns)]
        return MaterializedScan(lambda ctx, vt=vt: vt.build(self), scope)

    # -- planning ---------------------------------------------------------------------------------
    def _dispatch(self, st, values, many: bool, types=None) -> Result:
        from sqlvec import statements

        return statements.run(self, st, values, many, types)

    def _utility_no_txn(self, node) -> Result:
        from sqlvec import statements

        return statements.utility(self, node)

    def cached_plan(self, key: tuple) -> _Prepared | None:
        p = self._plans.get(key)
        if p is not None:
            if (p.catalog_version != self.catalog().version or self.txn_catalog is not None
                    or p.input_key != self._input_key()):
                del self._plans[key]
                return None
            self._plans.move_to_end(key)
        return p

    def _input_key(self) -> tuple:
        # the role too: privileges are checked when a statement is planned (sqlvec.privileges)
        return self.settings.tuple_of(_PLAN_INPUTS)

    def store_plan(self, key: tuple, p: _Prepared) -> None:
        if self.txn_catalog is not None:
            return  # plans made against uncommitted DDL are not shared
        p.catalog_version = self.catalog().version
        p.input_key = self._input_key()
        p.key = key
        self._plans[key] = p
        if len(self._plans) > 256:
            self._plans.popitem(last=False)

    def bind_param_values(self, types: list[SqlType], values: list | None, many: bool) -> list:
        """Parameter values as Arrow scalars (or, for executemany, Arrow columns)."""
        if not types:
            return []
        if values is None:
            raise errors.UndefinedParameter(f"there is no parameter ${1}")
        if many:
            return [param_column([r[i] for r in values], t) for i, t in enumerate(types)]
        if len(values) < len(types):
            raise errors.UndefinedParameter(f"there is no parameter ${len(values) + 1}")
        out = []
        for v, t in zip(values, types):
            if v is None:
                out.append(pa.nulls(1, t.arrow_type())[0])
            elif t.oid in _SCALAR_PARAMS:
                # a plain number, string or boolean: an Arrow scalar straight away (to_arrow
                # builds a one-element array first, several times slower)
                out.append(pa.scalar(adapt_param(v, t), t.arrow_type()))
            else:
                out.append(to_arrow([adapt_param(v, t)], t)[0])
        return out

    def param_types_for(self, values: list | None, many: bool) -> list[SqlType]:
        if values is None:
            return []
        if many:
            first = values[0]
            out = []
            for i in range(len(first)):
                t = T.UNKNOWN
                for r in values:
                    if r[i] is not None:
                        t = _param_type(r[i])
                        break
                if t.defn in (T.INT2.defn, T.INT4.defn):
                    t = T.INT8  # the first row's value must not fix the width for all rows
                out.append(t)
            return out
        return [_param_type(v) for v in values]

    def new_binder(self, param_types: list[SqlType]) -> Binder:
        from sqlvec.exec.sequences import bind_sequence_call

        b = Binder(param_types)
        b.sequence_call = lambda name, args: bind_sequence_call(self, b, name, args)
        return b

    def default_exprs(self, table: Table, binder: Binder) -> list[E.Expr]:
        from sqlvec.exec.sequences import SequenceCall

        out = []
        db = self.catalog().database(self.database)
        for c in table.columns:
            if c.default is None:
                out.append(E.Const(pa.nulls(1, c.type.arrow_type())[0], c.type))
                continue
            node = parse_expression(c.default)
            if isinstance(node, exp.Anonymous) and node.name.lower() == "nextval":
                # the owned sequence lives in the table's schema, whatever the search path
                seqname = node.expressions[0].name
                seq = next((s for s in db.sequences.values() if s.name == seqname and s.schema == table.schema), None)
                if seq is None:
                    raise errors.UndefinedTable(f'relation "{seqname}" does not exist')
                from sqlvec.privileges import require_sequence_call

                require_sequence_call(self, seq, "nextval")  # USAGE on a serial's sequence
                e: E.Expr = SequenceCall("nextval", seq, [])
                out.append(binder.coerce(e, c.type, "a", column=c.name))
                continue
            e = binder.bind(node, Scope())
            out.append(binder.coerce(e, c.type, "a", column=c.name))
        return out

    def check_exprs(self, table: Table, binder: Binder):
        from sqlvec.exec.dml import table_scope
        from sqlvec.exec.writer import BoundCheck

        scope = table_scope(table)
        out = []
        for k in table.constraints:
            if k.kind == "c":
                out.append(BoundCheck(k.name, binder.bind_bool(parse_expression(k.expr), scope, "CHECK")))
        return out


def _param_type(v: Any) -> SqlType:
    """The type a Python parameter brings. Sequences and numpy arrays stay untyped, so the
    context decides: a list is a vector next to a vector column, an array elsewhere."""
    if v is None or isinstance(v, (list, tuple, np.ndarray)):
        return T.UNKNOWN
    return infer_param_type(v)


def _convert(sql: str, params: Sequence | Mapping) -> tuple[str, list]:
    converted, names = convert_paramstyle(sql)
    if names is not None:
        if not isinstance(params, Mapping):
            raise errors.ProgrammingError("query parameters should be a mapping when using %(name)s placeholders")
        try:
            return converted, [params[n] for n in names]
        except KeyError as exc:
            raise errors.ProgrammingError(f"query parameter missing: {exc.args[0]}") from None
    if isinstance(params, Mapping):
        raise errors.ProgrammingError("query parameters should be a sequence when using %s or $n placeholders")
    return converted, list(params)


__all__ = ["Database", "Session"]
