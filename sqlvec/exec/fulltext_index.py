"""Catalog glue of BM25 indexes: CREATE INDEX options, opening the engine's index, finding the
index that serves a column."""

from __future__ import annotations

import json

from sqlvec import errors
from sqlvec.index.bm25 import Bm25Index, Bm25Spec
from sqlvec.index.bm25_manager import fulltext_manager
from sqlvec.index.bm25_options import validate


def bm25_catalog_options(cols: list, options: dict) -> dict:
    """Validated WITH options of ``USING bm25`` as the catalog keeps them (strings)."""
    norm = validate([(c.name, c.type.name) for c in cols], options)
    return {"key_field": norm["key_field"], "text_fields": json.dumps(norm["text_fields"])}


def spec_of(table, ix) -> Bm25Spec:
    fields = json.loads(ix.options["text_fields"])
    key = table.column(ix.options["key_field"])
    return Bm25Spec(ix.oid, table.oid, key.id,
                    {n: {"column": table.column(n).id, "settings": s} for n, s in fields.items()})


def open_bm25(engine, table, ix) -> Bm25Index:
    """Open (create, catch up) the tantivy index of a committed bm25 index."""
    return fulltext_manager(engine).open(spec_of(table, ix))


def bm25_index_for(session, table_oid: int):
    """(catalog Index, catalog Table) of the table's bm25 index; raises when it has none."""
    db = session.catalog().database(session.database)
    for ix in db.indexes.values():
        if ix.table == table_oid and ix.method == "bm25":
            return ix, db.tables[table_oid]
    name = db.tables[table_oid].name if table_oid in db.tables else str(table_oid)
    raise errors.ObjectNotInPrerequisiteState(
        f'relation "{name}" has no bm25 index',
        hint="CREATE INDEX ON ... USING bm25 (key, text columns) WITH (key_field = 'key')")


def live_index(session, table_oid: int, snapshot_ts: int) -> tuple[Bm25Index, object, object]:
    """The engine's open index for the table, synced to the reader's snapshot."""
    ix, table = bm25_index_for(session, table_oid)
    m = fulltext_manager(session.db.engine)
    live = m.get(ix.oid)
    if live is None or live.writer is None:
        live = open_bm25(session.db.engine, table, ix)
    m.ensure(live, snapshot_ts)
    return live, ix, table
