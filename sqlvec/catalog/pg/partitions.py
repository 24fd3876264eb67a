"""Partitioned tables in pg_catalog: pg_inherits rows, and the pg_class fields that mark a
partitioned parent (relkind 'p', reltuples -1 as PostgreSQL 14+ reports it) and its partitions
(relispartition, relpartbound as the ``FOR VALUES ...`` text ``pg_get_expr`` prints).

The catalog shape is described in :mod:`sqlvec.plan.partitions`.
"""

from __future__ import annotations

import re
from typing import Any

from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import OID

T = O.CATALOG_TABLE_OIDS


def bound_sql(bound: dict) -> str:
    """A partition bound as PostgreSQL prints it (pg_get_expr(relpartbound, oid))."""
    kind = bound["kind"]
    if kind == "default":
        return "DEFAULT"
    if kind == "hash":
        return f"FOR VALUES WITH (modulus {bound['modulus']}, remainder {bound['remainder']})"
    if kind == "list":
        return "FOR VALUES IN (" + ", ".join(_lit(v) for v in bound["values"]) + ")"
    lo = "MINVALUE" if bound["from"][0] is None else _lit(bound["from"][0])
    hi = "MAXVALUE" if bound["to"][0] is None else _lit(bound["to"][0])
    return f"FOR VALUES FROM ({lo}) TO ({hi})"


def _lit(v: str | None) -> str:
    if v is None:
        return "NULL"
    if re.fullmatch(r"-?\d+(\.\d+)?", v):  # numbers print bare, as PostgreSQL does
        return v
    return "'" + v.replace("'", "''") + "'"


def class_fields(table: Any, has_children: bool) -> dict:
    """pg_class fields that differ for a partitioned parent or a partition."""
    opts = getattr(table, "options", None) or {}
    if "partition_by" in opts:
        return {"relkind": "p", "reltuples": -1.0, "relhassubclass": has_children, "relam": 0}
    if "partition_of" in opts:
        return {"relispartition": True, "relpartbound": bound_sql(opts["partition_bound"])}
    return {}


@relation("pg_catalog", "pg_inherits", T["pg_inherits"], [
    ("inhrelid", OID), ("inhparent", OID), ("inhseqno", R.INT4), ("inhdetachpending", R.BOOL)])
def _pg_inherits(view: CatalogView, session) -> dict:
    rows = sorted((t.oid, t.options["partition_of"]) for t in view.tables.values()
                  if "partition_of" in (t.options or {}))
    return {"inhrelid": [r[0] for r in rows], "inhparent": [r[1] for r in rows],
            "inhseqno": [1] * len(rows), "inhdetachpending": [False] * len(rows)}
