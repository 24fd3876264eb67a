"""pg_stat_progress_create_index: the vector index builds running now (CREATE INDEX and
REINDEX that report progress, see :mod:`sqlvec.index.progress`).

Columns as PostgreSQL 16 has them. A build's unit of work is a sealed segment: PostgreSQL's
``blocks`` count segments here, ``tuples`` count rows, ``partitions`` stay 0, and there are
no lockers (builds never wait for other transactions).
"""

from __future__ import annotations

from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import NAME, OID

INT4, INT8, TEXT = R.INT4, R.INT8, R.TEXT
V = O.SYSTEM_VIEW_BASE

_COLUMNS = [
    ("pid", INT4), ("datid", OID), ("datname", NAME), ("relid", OID), ("index_relid", OID),
    ("command", TEXT), ("phase", TEXT), ("lockers_total", INT8), ("lockers_done", INT8),
    ("current_locker_pid", INT8), ("blocks_total", INT8), ("blocks_done", INT8),
    ("tuples_total", INT8), ("tuples_done", INT8), ("partitions_total", INT8),
    ("partitions_done", INT8),
]


@relation("pg_catalog", "pg_stat_progress_create_index", V + 60, _COLUMNS, relkind="v",
          cacheable=False)
def pg_stat_progress_create_index(view: CatalogView, session) -> dict:
    from sqlvec.index.progress import active_builds

    out: dict[str, list] = {name: [] for name, _ in _COLUMNS}
    for b in active_builds():
        if b.datname not in (None, view.db.name):
            continue
        if b.refresh is not None:
            b.refresh(b)
        row = {
            "pid": b.pid, "datid": view.db.oid, "datname": view.db.name, "relid": b.table_oid,
            "index_relid": b.index_oid, "command": b.command,
            "phase": "building index",
            "lockers_total": 0, "lockers_done": 0, "current_locker_pid": 0,
            "blocks_total": b.segments_total, "blocks_done": b.segments_done,
            "tuples_total": b.rows_total, "tuples_done": b.rows_done,
            "partitions_total": 0, "partitions_done": 0,
        }
        for name, _ in _COLUMNS:
            out[name].append(row[name])
    return out
