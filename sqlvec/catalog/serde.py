"""Catalog <-> JSON, the form the storage engine persists."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlvec.catalog import acl as A
from sqlvec.catalog.cow import MISSING, CowMap, same_object
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
            "acl": A.to_json(db.acl),
            "schema_owners": [[k, v] for k, v in db.schema_owners.items()],
            "schema_acls": [[k, A.to_json(v)] for k, v in db.schema_acls.items()],
        }
    roles = [dataclasses.asdict(r) for r in cat.roles.values()]
    members = [dataclasses.asdict(m) for m in cat.members]
    defaults = [[*k, A.to_json(v)] for k, v in cat.default_acls.items()]
    return {"format": 1, "next_oid": cat.next_oid, "version": cat.version, "databases": dbs, "roles": roles,
            "members": members, "default_acls": defaults}


def from_json(blob: dict[str, Any]) -> Catalog:
    cat = Catalog(next_oid=blob["next_oid"], version=blob.get("version", 0))
    for r in blob.get("roles", []):
        cat.roles[r["name"]] = Role(**r)
    cat.members = [A.Membership(**m) for m in blob.get("members", [])]
    cat.default_acls = {(d[0], d[1], d[2]): A.from_json(d[3]) for d in blob.get("default_acls", [])}
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
                     vj["materialized"], False, list(vj["depends"]), vj.get("owner"), A.from_json(vj.get("acl")))
            db.views[v.oid] = v
        for c in d.get("comments", []):
            db.comments[(c[0], c[1], c[2])] = c[3]
        db.acl = A.from_json(d.get("acl"))
        db.schema_owners = {k: v for k, v in d.get("schema_owners", [])}
        db.schema_acls = {k: A.from_json(v) for k, v in d.get("schema_acls", [])}
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
        "owner": t.owner,
        "acl": A.to_json(t.acl),
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
            "depends": list(v.depends), "owner": v.owner, "acl": A.to_json(v.acl)}


def _table_from(j: dict) -> Table:
    cols = [_column_from(c) for c in j["columns"]]
    cons = [Constraint(**{**k, "columns": list(k["columns"]), "ref_columns": list(k.get("ref_columns", []))})
            for k in j["constraints"]]
    t = Table(j["oid"], j["name"], j["schema"], cols, cons, j["next_col"], dict(j["options"]))
    t.unique_indexes = [(u[0], list(u[1])) for u in j.get("unique_indexes", [])]
    t.owner, t.acl = j.get("owner"), A.from_json(j.get("acl"))
    return t


def _seq_json(s: Sequence) -> dict:
    return {
        "oid": s.oid, "name": s.name, "schema": s.schema, "start": s.start, "increment": s.increment,
        "min": s.min_value, "max": s.max_value, "cycle": s.cycle,
        "owned_by": list(s.owned_by) if s.owned_by else None, "type": s.type,
        "owner": s.owner, "acl": A.to_json(s.acl),
    }


def _seq_from(j: dict) -> Sequence:
    return Sequence(
        j["oid"], j["name"], j["schema"], j["start"], j["increment"], j["min"], j["max"], j["cycle"],
        tuple(j["owned_by"]) if j["owned_by"] else None, j.get("type", "bigint"),
        j.get("owner"), A.from_json(j.get("acl")),
    )


# -- deltas: what a DDL transaction changed ------------------------------------------------
# A transaction's private catalog is copy-on-write (sqlvec.catalog.cow): its maps know which
# objects it changed, added or removed. The commit persists only those, as a patch that the
# storage engine merges into the catalog JSON it holds (sqlvec.storage.records.merge_patch):
#   {"delta": 1, "set": {top-level field: value},
#    "lists": {name: {"key": field, "put": [object JSON], "drop": [key]}},
#    "maps": {name: {key: None (removed) | {"full": JSON} | {"patch": patch}}}}
# Every JSON piece comes from to_json itself (applied to a catalog holding only the changed
# objects), so the delta and a full catalog never disagree on the format.
_OBJECT_MAPS = ("tables", "sequences", "indexes", "views")


def catalog_delta(cat: Catalog) -> dict[str, Any]:
    """What ``cat`` (a private catalog from :meth:`Catalog.copy`) changed against the catalog
    it was copied from; the full JSON when it is not such a copy."""
    if not (isinstance(cat.databases, CowMap) and isinstance(cat.roles, CowMap)):
        return to_json(cat)
    puts, drops = _split(cat.roles)
    top = to_json(_shell(cat, {}, puts))
    dbs: dict[str, Any] = {}
    for name, origin, cur in cat.databases.changes():
        if cur is MISSING:
            dbs[name] = None
        elif (origin is MISSING or origin.oid != cur.oid
              or not all(isinstance(getattr(cur, k), CowMap) for k in _OBJECT_MAPS)):
            dbs[name] = {"full": to_json(_shell(cat, {name: cur}, {}))["databases"][name]}
        else:
            dbs[name] = {"patch": _db_patch(cat, name, cur)}
    return {
        "delta": 1,
        "set": {k: v for k, v in top.items() if k not in ("databases", "roles")},
        "lists": {"roles": {"key": "name", "put": top["roles"], "drop": drops}},
        "maps": {"databases": dbs},
    }


def _db_patch(cat: Catalog, name: str, db: DatabaseDef) -> dict[str, Any]:
    shell = object.__new__(DatabaseDef)
    shell.__dict__.update(db.__dict__)
    drops = {}
    for k in _OBJECT_MAPS:
        puts, drops[k] = _split(getattr(db, k))
        setattr(shell, k, puts)
    # temporary tables/views are never persisted: to_json leaves out them, their indexes
    # and comments when it sees them
    shell.tables = {**{o: t for o, t in dict.items(db.tables) if t.temporary}, **shell.tables}
    shell.views = {**{o: v for o, v in dict.items(db.views) if v.temporary}, **shell.views}
    j = to_json(_shell(cat, {name: shell}, {}))["databases"][name]
    return {
        "set": {k: v for k, v in j.items() if k not in _OBJECT_MAPS},
        "lists": {k: {"key": "oid", "put": j[k], "drop": drops[k]} for k in _OBJECT_MAPS},
    }


def _split(m: CowMap) -> tuple[dict, list]:
    """(changed objects by key, removed keys) of a copy-on-write map; objects handed out but
    left equal to the published ones are not changes."""
    puts, drops = {}, []
    for key, origin, cur in m.changes():
        if cur is MISSING:
            drops.append(key)
        elif origin is MISSING or not same_object(cur, origin):
            puts[key] = cur
    return puts, drops


def _shell(cat: Catalog, databases: dict, roles: dict) -> Catalog:
    """``cat`` with only the given databases and roles (for serialising a part of it)."""
    shell = object.__new__(Catalog)
    shell.__dict__.update(cat.__dict__)
    shell.databases, shell.roles = databases, roles
    return shell
