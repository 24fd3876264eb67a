"""Catalog <-> JSON, the form the storage engine persists."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlvec.catalog.model import (
    Catalog,
    Column,
    Constraint,
    DatabaseDef,
    Index,
    Sequence,
    Table,
    View,
)
from sqlvec.catalog.roles import Role
from sqlvec.types.registry import array_of, type_by_oid


def type_to_json(t) -> list:
    if t.elem is not None:
        return ["array", type_to_json(t.elem)]
    return [t.oid, t.typmod]


def type_from_json(v: list):
    if v[0] == "array":
        return array_of(type_from_json(v[1]))
    return type_by_oid(v[0], v[1])


def to_json(cat: Catalog) -> dict[str, Any]:
    dbs = {}
    for name, db in cat.databases.items():
        # temporary objects belong to one session and are never persisted
        temp = {t.oid for t in db.tables.values() if t.temporary} | {v.oid for v in db.views.values() if v.temporary}
        dbs[name] = {
            "oid": db.oid,
            "schemas": {k: v for k, v in db.schemas.items() if not k.startswith("pg_temp_")},
            "extensions": db.extensions,
            "owner": db.owner,
            "tables": [_table_json(t) for t in db.tables.values() if not t.temporary],
            "sequences": [_seq_json(s) for s in db.sequences.values()],
            "indexes": [dataclasses.asdict(i) for i in db.indexes.values() if i.table not in temp],
            "views": [_view_json(v) for v in db.views.values() if not v.temporary],
            "comments": [[*k, text] for k, text in db.comments.items() if k[1] not in temp],
        }
    roles = [dataclasses.asdict(r) for r in cat.roles.values()]
    return {"format": 1, "next_oid": cat.next_oid, "version": cat.version, "databases": dbs, "roles": roles}


def from_json(blob: dict[str, Any]) -> Catalog:
    cat = Catalog(next_oid=blob["next_oid"], version=blob.get("version", 0))
    for r in blob.get("roles", []):
        cat.roles[r["name"]] = Role(**r)
    for name, d in blob["databases"].items():
        db = DatabaseDef(d["oid"], name, schemas=dict(d["schemas"]), extensions=dict(d["extensions"]), owner=d.get("owner", "postgres"))
        for tj in d["tables"]:
            t = _table_from(tj)
            db.tables[t.oid] = t
        for sj in d["sequences"]:
            s = _seq_from(sj)
            db.sequences[s.oid] = s
        for ij in d.get("indexes", []):
            ix = Index(**ij)
            db.indexes[ix.oid] = ix
        for vj in d.get("views", []):
            v = View(vj["oid"], vj["name"], vj["schema"], vj["query"], [_column_from(c) for c in vj["columns"]],
                     vj["materialized"], False, list(vj["depends"]))
            db.views[v.oid] = v
        for c in d.get("comments", []):
            db.comments[(c[0], c[1], c[2])] = c[3]
        cat.databases[name] = db
    return cat


def _table_json(t: Table) -> dict:
    return {
        "oid": t.oid,
        "name": t.name,
        "schema": t.schema,
        "next_col": t.next_col,
        "options": t.options,
        "unique_indexes": [list(u) for u in t.unique_indexes],
        "columns": [_column_json(c) for c in t.columns],
        "constraints": [dataclasses.asdict(k) for k in t.constraints],
    }


def _column_json(c: Column) -> dict:
    return {
        "id": c.id, "name": c.name, "type": type_to_json(c.type), "not_null": c.not_null,
        "default": c.default, "identity": c.identity, "attnum": c.attnum, "missing": c.missing,
    }


def _column_from(c: dict) -> Column:
    return Column(c["id"], c["name"], type_from_json(c["type"]), c["not_null"], c["default"], c["identity"],
                  c["attnum"], c.get("missing"))


def _view_json(v: View) -> dict:
    return {"oid": v.oid, "name": v.name, "schema": v.schema, "query": v.query,
            "columns": [_column_json(c) for c in v.columns], "materialized": v.materialized,
            "depends": list(v.depends)}


def _table_from(j: dict) -> Table:
    cols = [_column_from(c) for c in j["columns"]]
    cons = [Constraint(**{**k, "columns": list(k["columns"]), "ref_columns": list(k.get("ref_columns", []))})
            for k in j["constraints"]]
    t = Table(j["oid"], j["name"], j["schema"], cols, cons, j["next_col"], dict(j["options"]))
    t.unique_indexes = [(u[0], list(u[1])) for u in j.get("unique_indexes", [])]
    return t


def _seq_json(s: Sequence) -> dict:
    return {
        "oid": s.oid, "name": s.name, "schema": s.schema, "start": s.start, "increment": s.increment,
        "min": s.min_value, "max": s.max_value, "cycle": s.cycle,
        "owned_by": list(s.owned_by) if s.owned_by else None, "type": s.type,
    }


def _seq_from(j: dict) -> Sequence:
    return Sequence(
        j["oid"], j["name"], j["schema"], j["start"], j["increment"], j["min"], j["max"], j["cycle"],
        tuple(j["owned_by"]) if j["owned_by"] else None, j.get("type", "bigint"),
    )
