"""The convenience system views: pg_tables, pg_views, pg_matviews, pg_indexes, pg_sequences."""

from __future__ import annotations

from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.describe import index_def, view_def
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import NAME, REGTYPE

BOOL, INT8, TEXT = R.BOOL, R.INT8, R.TEXT
V = O.SYSTEM_VIEW_BASE


def _cols(**kw):
    return list(kw.items())


def _user_rels(view: CatalogView, kinds: str) -> list:
    return sorted((r for r in view.relations if r.kind in kinds and not hasattr(r.obj, "producer")),
                  key=lambda r: (r.schema, r.name))


@relation("pg_catalog", "pg_tables", V + 20, _cols(
    schemaname=NAME, tablename=NAME, tableowner=NAME, tablespace=NAME, hasindexes=BOOL,
    hasrules=BOOL, hastriggers=BOOL, rowsecurity=BOOL), relkind="v")
def pg_tables(view: CatalogView, session) -> dict:
    rels = _user_rels(view, "r")
    indexed = {ix.table.oid for ix in view.indexes}
    n = len(rels)
    return {"schemaname": [r.schema for r in rels], "tablename": [r.name for r in rels],
            "tableowner": [r.owner for r in rels], "tablespace": [None] * n,
            "hasindexes": [r.oid in indexed for r in rels], "hasrules": [False] * n,
            "hastriggers": [False] * n, "rowsecurity": [False] * n}


@relation("pg_catalog", "pg_views", V + 21, _cols(
    schemaname=NAME, viewname=NAME, viewowner=NAME, definition=TEXT), relkind="v")
def pg_views(view: CatalogView, session) -> dict:
    rels = _user_rels(view, "v")
    return {"schemaname": [r.schema for r in rels], "viewname": [r.name for r in rels],
            "viewowner": [r.owner for r in rels], "definition": [view_def(r.obj) for r in rels]}


@relation("pg_catalog", "pg_matviews", V + 22, _cols(
    schemaname=NAME, matviewname=NAME, matviewowner=NAME, tablespace=NAME, hasindexes=BOOL,
    ispopulated=BOOL, definition=TEXT), relkind="v")
def pg_matviews(view: CatalogView, session) -> dict:
    rels = _user_rels(view, "m")  # catalog Tables with a matview record
    indexed = {ix.table.oid for ix in view.indexes}
    return {"schemaname": [r.schema for r in rels], "matviewname": [r.name for r in rels],
            "matviewowner": [r.owner for r in rels], "tablespace": [None] * len(rels),
            "hasindexes": [r.oid in indexed for r in rels],
            "ispopulated": [bool(r.obj.matview["populated"]) for r in rels],
            "definition": [view_def(r.obj) for r in rels]}


@relation("pg_catalog", "pg_indexes", V + 23, _cols(
    schemaname=NAME, tablename=NAME, indexname=NAME, tablespace=NAME, indexdef=TEXT),
    relkind="v")
def pg_indexes(view: CatalogView, session) -> dict:
    ixs = sorted(view.indexes, key=lambda i: (i.schema, i.table.name, i.name))
    return {"schemaname": [i.schema for i in ixs], "tablename": [i.table.name for i in ixs],
            "indexname": [i.name for i in ixs], "tablespace": [None] * len(ixs),
            "indexdef": [index_def(view, i) for i in ixs]}


@relation("pg_catalog", "pg_sequences", V + 24, _cols(
    schemaname=NAME, sequencename=NAME, sequenceowner=NAME, data_type=REGTYPE,
    start_value=INT8, min_value=INT8, max_value=INT8, increment_by=INT8, cycle=BOOL,
    cache_size=INT8, last_value=INT8), relkind="v")
def pg_sequences(view: CatalogView, session) -> dict:
    seqs = sorted(view.sequences(), key=lambda s: (s.schema, s.name))
    return {"schemaname": [s.schema for s in seqs], "sequencename": [s.name for s in seqs],
            "sequenceowner": [view.db.owner] * len(seqs),
            "data_type": [R.type_by_name(s.type).oid for s in seqs],
            "start_value": [s.start for s in seqs], "min_value": [s.min_value for s in seqs],
            "max_value": [s.max_value for s in seqs], "increment_by": [s.increment for s in seqs],
            "cycle": [s.cycle for s in seqs], "cache_size": [1] * len(seqs),
            # the storage engine does not expose a sequence's last value yet: NULL, which
            # pg_sequences also shows before the first nextval
            "last_value": [None] * len(seqs)}

