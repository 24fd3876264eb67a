"""Ownership changes: ALTER { TABLE | VIEW | MATERIALIZED VIEW | SEQUENCE | INDEX | SCHEMA |
DATABASE } ... OWNER TO, REASSIGN OWNED BY and DROP OWNED BY.

As in PostgreSQL, changing an owner requires owning the object and being able to SET ROLE to
the new owner, who must be able to create in the object's schema; the ACL's entries for the
old owner become the new owner's (aclnewowner).
"""

from __future__ import annotations

from typing import Any

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.catalog import acl as A
from sqlvec.catalog.model import Catalog, DatabaseDef, Sequence
from sqlvec.exec.grants import role_name
from sqlvec.grammar.grants_builder import AlterOwnerStmt, DropOwnedStmt, ReassignOwnedStmt
from sqlvec.result import Notice, Result

_TAGS = {"table": "ALTER TABLE", "view": "ALTER VIEW", "materialized view": "ALTER MATERIALIZED VIEW",
         "sequence": "ALTER SEQUENCE", "index": "ALTER INDEX", "schema": "ALTER SCHEMA",
         "database": "ALTER DATABASE"}


def _new_owner_acl(acl: A.Acl | None, old: str, new: str) -> A.Acl | None:
    return A.rename_role(acl, old, new) if old != new else acl


def _check_new_owner(session, cat: Catalog, new: str) -> None:
    me = P.current_user(session)
    if not P.is_superuser(cat, me) and new not in P.member_closure(cat, me, "set"):
        raise errors.InsufficientPrivilege(f'must be able to SET ROLE "{new}"')


def set_relation_owner(db: DatabaseDef, obj: Any, new: str) -> None:
    old = P.owner_of(db, obj)
    obj.owner = new
    obj.acl = _new_owner_acl(obj.acl, old, new)
    if not isinstance(obj, Sequence):
        for seq in db.sequences.values():  # a serial column's sequence follows its table
            if seq.owned_by and seq.owned_by[0] == obj.oid:
                set_relation_owner(db, seq, new)


def run_alter_owner(session, st, values, many) -> Result:
    node: AlterOwnerStmt = st.ast
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    new = role_name(session, cat, node.owner, public_ok=False)
    tag = _TAGS[node.kind]
    if node.kind == "database":
        target = cat.database(node.name.name)
        P.require_owner(session, "database", target.name, target.owner, cat)
        _check_new_owner(session, cat, new)
        target.acl = _new_owner_acl(target.acl, target.owner, new)
        target.owner = new
        return Result(tag)
    if node.kind == "schema":
        name = node.name.name
        if name not in db.schemas:
            raise errors.InvalidSchemaName(f'schema "{name}" does not exist')
        old = P.schema_owner(db, name)
        P.require_owner(session, "schema", name, old, cat)
        _check_new_owner(session, cat, new)
        oid = db.schemas[name]
        db.schema_owners[oid] = new
        if oid in db.schema_acls:
            db.schema_acls[oid] = _new_owner_acl(db.schema_acls[oid], old, new)
        return Result(tag)
    obj = _find(session, db, node)
    if obj is None:
        if node.if_exists:
            return Result(tag, notices=[Notice("NOTICE", f'relation "{node.name}" does not exist, skipping')])
        raise errors.UndefinedTable(f'relation "{node.name}" does not exist')
    if node.kind == "index":
        # an index is owned by its table's owner: PostgreSQL ignores the request
        return Result(tag, notices=[Notice("WARNING", f'cannot change owner of index "{obj.name}"',
                                           "42809", hint="Change the ownership of the index's table instead.")])
    P.require_relation_owner(session, obj, cat)
    _check_new_owner(session, cat, new)
    if not P.is_superuser(cat, P.current_user(session)) and not P.has_all(cat, new, P.schema_acl(db, obj.schema), "C"):
        raise P.denied("schema", obj.schema)
    set_relation_owner(db, obj, new)
    return Result(tag)


def _find(session, db: DatabaseDef, node: AlterOwnerStmt) -> Any:
    name, schema, path = node.name.name, node.name.schema, session.search_path()
    if node.kind == "index":
        return next((i for i in db.indexes.values() if i.name == name and (schema is None or i.schema == schema)), None)
    return db.find_table(name, schema, path) or db.find_view(name, schema, path) or db.find_sequence(name, schema, path)


def _roles(session, cat: Catalog, grantees) -> list[str]:
    out = [role_name(session, cat, g, public_ok=False) for g in grantees]
    me = P.current_user(session)
    for r in out:
        if not P.is_superuser(cat, me) and r not in P.member_closure(cat, me, "set"):
            raise errors.InsufficientPrivilege("permission denied to reassign objects",
                                               detail=f'Only roles with privileges of role "{r}" may reassign objects owned by it.')
    return out


def run_reassign_owned(session, st, values, many) -> Result:
    node: ReassignOwnedStmt = st.ast
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    olds = _roles(session, cat, node.roles)
    new = role_name(session, cat, node.new_owner, public_ok=False)
    _check_new_owner(session, cat, new)
    for m in (db.tables, db.views, db.sequences):
        for key, raw in list(dict.items(m)):
            if P.owner_of(db, raw) in olds:
                set_relation_owner(db, m[key], new)
    for _name, oid in db.schemas.items():
        if db.schema_owners.get(oid) in olds:
            db.schema_owners[oid] = new
    for name, d in list(dict.items(cat.databases)):
        if d.owner in olds:
            cat.databases[name].owner = new
    return Result("REASSIGN OWNED")


def run_drop_owned(session, st, values, many) -> Result:
    """Drop what the roles own in this database and revoke what was granted to them."""
    node: DropOwnedStmt = st.ast
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    roles = _roles(session, cat, node.roles)
    for m in (db.tables, db.views, db.sequences):
        for key, raw in list(dict.items(m)):
            if raw.acl is not None and any(a.grantee in roles for a in raw.acl):
                obj = m[key]
                obj.acl = [a for a in obj.acl if a.grantee not in roles]
    db.acl = None if db.acl is None else [a for a in db.acl if a.grantee not in roles]
    db.schema_acls = {k: [a for a in v if a.grantee not in roles] for k, v in db.schema_acls.items()}
    cascade = " CASCADE" if node.cascade else ""
    stmts = []
    for kind, objs in (("VIEW", dict.values(db.views)), ("TABLE", dict.values(db.tables)),
                       ("SEQUENCE", dict.values(db.sequences))):
        for obj in objs:
            if obj.owner in roles and not (kind == "SEQUENCE" and obj.owned_by):
                stmts.append(f'DROP {kind} IF EXISTS "{obj.schema}"."{obj.name}"{cascade}')
    stmts += [f'DROP SCHEMA IF EXISTS "{s}"{cascade}' for s, oid in db.schemas.items()
              if db.schema_owners.get(oid) in roles]
    _run_nested(session, stmts)
    return Result("DROP OWNED")


def _run_nested(session, stmts: list[str]) -> None:
    """Run DROP statements inside the current transaction, as superuser-free handlers would."""
    from sqlvec import statements
    from sqlvec.extra_sql import parse

    for sql in stmts:
        for st in parse(sql):
            statements.run(session, st, None, False)
