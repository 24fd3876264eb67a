"""REINDEX: rebuild the stored indexes of an index, a table, a schema or the database.

What is rebuilt: vector indexes (hnsw / ivfflat, and the exact flat ones) on every sealed
segment, through :func:`sqlvec.index.rebuild.rebuild_index` (new files, one manifest
version, old files removed), and BM25 indexes (the tantivy index is rebuilt from the
table). btree and hash indexes store nothing (scans are columnar; UNIQUE is enforced by key
maps), so there is nothing to rebuild and nothing to say. Readers and writers never wait:
plain REINDEX and REINDEX CONCURRENTLY behave alike here; CONCURRENTLY keeps PostgreSQL's
rules (not inside a transaction block, not for system catalogs).

Errors and notices follow PostgreSQL 16 (checked against it): ``relation "x" does not
exist`` (42P01) for a missing index or table, ``"x" is not an index`` / ``"x" is not a table
or materialized view`` (42809), ``schema "x" does not exist`` (3F000), ``can only reindex
the currently open database`` (0A000), ``table "x" has no indexes to reindex`` (NOTICE), and
with (VERBOSE) ``index "x" was reindexed`` (INFO).
"""

from __future__ import annotations

from sqlvec import errors
from sqlvec.catalog.model import DatabaseDef, Index, Table
from sqlvec.grammar import utility as U
from sqlvec.index import progress
from sqlvec.result import Notice, Result

VECTOR_METHODS = ("hnsw", "ivfflat")


def run_reindex(session, st, values, many: bool) -> Result:
    """The handler of :class:`sqlvec.grammar.utility.ReindexStmt`."""
    node: U.ReindexStmt = st.ast
    if node.kind == "system" and node.concurrently:
        raise errors.FeatureNotSupported("cannot reindex system catalogs concurrently")
    if session.in_block:  # a BEGIN block or a multi-statement query string, as in PostgreSQL
        if node.kind in ("schema", "database", "system"):
            raise errors.ActiveSqlTransaction(
                f"REINDEX {node.kind.upper()} cannot run inside a transaction block")
        if node.concurrently:
            raise errors.ActiveSqlTransaction("REINDEX CONCURRENTLY cannot run inside a transaction block")
    cat = session.catalog()
    db = cat.database(session.database)
    notices: list[Notice] = []
    indexes = _targets(session, db, node, notices)
    sink = progress.session_sink(session)
    live = getattr(session, "notice_sink", None) is not None
    kept: list[Notice] = []

    def emit(n: Notice) -> None:  # live when the session has a sink, else with the result
        if live:
            sink(n)
        else:
            kept.append(n)

    for ix in indexes:
        table = db.tables.get(ix.table)
        if table is None:
            continue
        if ix.method in VECTOR_METHODS:
            _rebuild_vector(session, table, ix, emit)
        elif ix.method == "bm25":
            _rebuild_bm25(session, table, ix)
        if node.verbose:
            emit(Notice("INFO", f'index "{ix.name}" was reindexed'))
    return Result("REINDEX", notices=notices + kept)


def _targets(session, db: DatabaseDef, node: U.ReindexStmt, notices: list[Notice]) -> list[Index]:
    path = session.search_path()
    if node.kind == "index":
        return [_find_index(db, node.name, path)]
    if node.kind == "table":
        table = _find_table(db, node.name, path)
        found = _table_indexes(db, table)
        if not found:
            notices.append(Notice("NOTICE", f'table "{table.name}" has no indexes to reindex'))
        return found
    if node.kind == "schema":
        if node.name.name not in db.schemas:
            raise errors.InvalidSchemaName(f'schema "{node.name.name}" does not exist')
        return sorted((ix for ix in db.indexes.values() if ix.schema == node.name.name),
                      key=lambda ix: ix.oid)
    # DATABASE / SYSTEM: the current database only
    if node.name is not None and node.name.name != session.database:
        raise errors.FeatureNotSupported("can only reindex the currently open database")
    if node.kind == "system":
        return []  # the system catalogs are virtual: they have no stored index
    return sorted(db.indexes.values(), key=lambda ix: ix.oid)


def _qualified(name: U.QualifiedName) -> str:
    return f"{name.schema}.{name.name}" if name.schema else name.name


def _find_index(db: DatabaseDef, name: U.QualifiedName, path: list[str]) -> Index:
    schemas = [name.schema] if name.schema else path
    for schema in schemas:
        for ix in db.indexes.values():
            if ix.name == name.name and ix.schema == schema:
                return ix
        if db.relation_exists(name.name, schema):
            raise errors.WrongObjectType(f'"{name.name}" is not an index')
    raise errors.UndefinedTable(f'relation "{_qualified(name)}" does not exist')


def _find_table(db: DatabaseDef, name: U.QualifiedName, path: list[str]) -> Table:
    schemas = [name.schema] if name.schema else path
    for schema in schemas:
        table = db.find_table(name.name, schema, path)
        if table is not None:
            return table
        if db.relation_exists(name.name, schema):  # an index, a view, a sequence
            raise errors.WrongObjectType(f'"{name.name}" is not a table or materialized view')
    raise errors.UndefinedTable(f'relation "{_qualified(name)}" does not exist')


def _table_indexes(db: DatabaseDef, table: Table) -> list[Index]:
    """The table's indexes and, for a partitioned table, its partitions' (as PostgreSQL)."""
    from sqlvec.exec.partition_ddl import cascade

    oids = {table.oid} | {p.oid for p in cascade(db, table)}
    return sorted((ix for ix in db.indexes.values() if ix.table in oids), key=lambda ix: ix.oid)


def _rebuild_vector(session, table: Table, ix: Index, emit) -> None:
    from sqlvec.index.rebuild import rebuild_index

    engine = session.db.engine
    manager = engine._indexes
    if ix.oid not in manager.specs.get(table.oid, {}):
        return  # created in this (uncommitted) transaction: it is built at commit
    spec = manager.specs[table.oid][ix.oid]
    reporter = progress.BuildProgress(spec.kind, emit, table_oid=table.oid, index_oid=ix.oid,
                                      command="REINDEX", **progress.identity(session))
    try:
        if rebuild_index(manager, table.oid, ix.oid, reporter):
            reporter.finish()
    finally:
        reporter.abandon()


def _rebuild_bm25(session, table: Table, ix: Index) -> None:
    """The tantivy index rebuilt from the table: dropped and opened again (opening catches
    up from every row)."""
    from sqlvec.exec.fulltext_index import open_bm25
    from sqlvec.index.bm25_manager import fulltext_manager

    engine = session.db.engine
    fulltext_manager(engine).drop(ix.oid)
    open_bm25(engine, table, ix)


__all__ = ["run_reindex"]
