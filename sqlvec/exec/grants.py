"""GRANT and REVOKE: privileges on tables, views, sequences, schemas and databases, and role
membership; ALTER DEFAULT PRIVILEGES. The ACL arithmetic is sqlvec.catalog.acl's; who may
grant is PostgreSQL's rule: the owner (grants recorded as the owner's), a superuser (likewise),
or a role holding the grant option (recorded as its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.catalog import acl as A
from sqlvec.catalog.model import Catalog, DatabaseDef, Sequence
from sqlvec.grammar.grants_builder import AlterDefaultPrivilegesStmt, Grantee, GrantStmt
from sqlvec.result import Notice, Result

# object kind -> the word of "invalid privilege type X for <word>"
_KIND_WORDS = {"table": "table", "sequence": "sequence", "schema": "schema", "database": "database"}


class _Target:
    """One object a GRANT names: how to read and write its ACL, and its owner."""

    def __init__(self, kind: str, word: str, name: str, owner: str, get: Callable[[], A.Acl | None],
                 put: Callable[[A.Acl], None]) -> None:
        self.kind, self.word, self.name, self.owner = kind, word, name, owner
        self.get, self.put = get, put


def _relation_target(db: DatabaseDef, obj: Any) -> _Target:
    kind = "sequence" if isinstance(obj, Sequence) else "table"

    def put(acl: A.Acl, obj=obj) -> None:
        obj.acl = acl

    return _Target(kind, P._RELATION_WORDS[P.relkind(obj)], obj.name, P.owner_of(db, obj),
                   lambda obj=obj: obj.acl, put)


def _schema_target(db: DatabaseDef, name: str) -> _Target:
    oid = db.schemas[name]

    def put(acl: A.Acl) -> None:
        db.schema_acls[oid] = acl

    return _Target("schema", "schema", name, P.schema_owner(db, name),
                   lambda: db.schema_acls.get(oid) if oid in db.schema_acls else _implicit_schema_acl(db, name), put)


def _implicit_schema_acl(db: DatabaseDef, name: str) -> A.Acl | None:
    # public's default ACL is a real one in PostgreSQL 15+ (not NULL): start from it
    return P.schema_acl(db, name) if name == "public" else None


def _database_target(cat: Catalog, name: str) -> _Target:
    db = cat.databases.get(name)
    if db is None:
        raise errors.InvalidCatalogName(f'database "{name}" does not exist')

    def put(acl: A.Acl) -> None:
        db.acl = acl

    return _Target("database", "database", name, db.owner, lambda: db.acl, put)


def _targets(session, cat: Catalog, db: DatabaseDef, node: GrantStmt) -> list[_Target]:
    t = node.target
    path = session.search_path()
    out = []
    if t.kind in ("table", "sequence"):
        for q in t.names:
            if q.schema is not None and q.schema not in db.schemas:
                raise errors.InvalidSchemaName(f'schema "{q.schema}" does not exist')
            obj = (db.find_table(q.name, q.schema, path) or db.find_view(q.name, q.schema, path)
                   or db.find_sequence(q.name, q.schema, path))
            if obj is None:
                raise errors.UndefinedTable(f'relation "{q}" does not exist')
            if t.kind == "sequence" and not isinstance(obj, Sequence):
                raise errors.WrongObjectType(f'"{q.name}" is not a sequence')
            out.append(_relation_target(db, obj))
    elif t.kind in ("all_tables", "all_sequences"):
        for s in t.names:
            if s not in db.schemas:
                raise errors.InvalidSchemaName(f'schema "{s}" does not exist')
            maps = (db.tables, db.views) if t.kind == "all_tables" else (db.sequences,)
            # raw reads pick the schema's objects; only those are fetched (copied) to change
            keys = sorted((k, m) for m in maps for k, x in dict.items(m)
                          if x.schema == s and not getattr(x, "temporary", False))
            out.extend(_relation_target(db, m[k]) for k, m in keys)
    elif t.kind == "schema":
        for s in t.names:
            if s not in db.schemas:
                raise errors.InvalidSchemaName(f'schema "{s}" does not exist')
            out.append(_schema_target(db, s))
    else:
        out.extend(_database_target(cat, n) for n in t.names)
    return out


def privilege_letters(privs, kind: str) -> str:
    """The letters of a privilege list for one kind of object, with PostgreSQL's errors."""
    letters = ""
    for p in privs:
        if p.columns is not None:
            raise errors.FeatureNotSupported("column privileges are not supported yet")
        if p.name == "all":
            letters += A.ALL_RIGHTS[kind]
            continue
        word = p.name.upper()
        c = A.LETTERS.get(word)
        if c is None:
            raise errors.SyntaxError(f'unrecognized privilege type "{p.name}"')
        if c not in A.ALL_RIGHTS[kind]:
            raise errors.Error(f"invalid privilege type {A.NAMES[c]} for {_KIND_WORDS[kind]}", sqlstate="0LP01")
        letters += c
    return A.sort_letters(letters)


def role_name(session, cat: Catalog, g: Grantee, *, public_ok: bool = True) -> str:
    """The role a grantee names ("" for PUBLIC)."""
    if g.kind == "public":
        if not public_ok:
            raise errors.UndefinedObject('role "public" does not exist')
        return A.PUBLIC
    if g.kind == "current_user":
        return P.current_user(session)
    if g.kind == "session_user":
        return P.session_user(session)
    if g.name not in cat.roles:
        raise errors.UndefinedObject(f'role "{g.name}" does not exist')
    return g.name


def _grantor(cat: Catalog, role: str, target: _Target, acl: A.Acl) -> tuple[str, str]:
    """(grantor, the privileges it may grant) for ``role`` acting on ``target``."""
    if P.owns(cat, role, target.owner):
        return target.owner, A.ORDER
    best, best_opts = role, ""
    for r in sorted(P.member_closure(cat, role), key=lambda r: r != role):
        _, opts = A.privileges_of([a for a in acl if a.grantee == r], {r})
        if len(opts) > len(best_opts):
            best, best_opts = r, opts
    return best, best_opts


def run_grant(session, st, values, many) -> Result:
    node: GrantStmt = st.ast
    if node.target is None:
        from sqlvec.exec.role_grants import grant_roles

        return grant_roles(session, node)
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    role = P.current_user(session)
    grantees = [role_name(session, cat, g) for g in node.grantees]
    notices: list[Notice] = []
    verb = "granted" if node.grant else "could be revoked"
    for target in _targets(session, cat, db, node):
        letters = privilege_letters(node.privileges, target.kind)
        acl = A.effective(target.get(), target.kind, target.owner)
        grantor, may = _grantor(cat, role, target, acl)
        allowed = "".join(c for c in letters if c in may)
        if not may:
            held, _ = P.privileges_held(cat, role, acl)
            if not held:
                raise P.denied(target.word, target.name)
        if allowed != letters:
            what = "no privileges were" if not allowed else "not all privileges were"
            if not node.grant:
                what = "no privileges" if not allowed else "not all privileges"
            notices.append(Notice("WARNING", f'{what} {verb} for "{target.name}"', "01007"))
        if not allowed:
            continue
        for g in grantees:
            if node.grant:
                acl = A.grant(acl, g, grantor, allowed, node.grant_option)
            else:
                acl = _revoke(acl, g, grantor, allowed, node.grant_option, node.cascade)
        target.put(acl)
    return Result("GRANT" if node.grant else "REVOKE", notices=notices)


def _revoke(acl: A.Acl, grantee: str, grantor: str, letters: str, option_only: bool, cascade: bool) -> A.Acl:
    """REVOKE, refusing (or with CASCADE following) grants the grantee made with an option it
    loses (PostgreSQL's recursive_revoke)."""
    before = {a.grantee: a for a in acl if a.grantor == grantor}.get(grantee)
    acl = A.revoke(acl, grantee, grantor, letters, option_only)
    if before is None or not grantee:
        return acl
    lost = "".join(c for c in before.grantable if c in letters)
    still = "".join(a.grantable for a in acl if a.grantee == grantee)
    lost = "".join(c for c in lost if c not in still)
    dependents = [a for a in acl if a.grantor == grantee and any(c in a.privs for c in lost)]
    if not dependents:
        return acl
    if not cascade:
        raise errors.DependentObjectsStillExist("dependent privileges exist",
                                                hint="Use CASCADE to revoke them too.")
    for d in dependents:
        acl = _revoke(acl, d.grantee, grantee, lost, False, True)
    return acl


# -- ALTER DEFAULT PRIVILEGES ---------------------------------------------------------------------

_DEFAULT_KINDS = {"tables": "table", "sequences": "sequence", "functions": "function", "schemas": "schema"}


def run_alter_default_privileges(session, st, values, many) -> Result:
    node: AlterDefaultPrivilegesStmt = st.ast
    action = node.action
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    me = P.current_user(session)
    roles = list(node.roles) or [me]
    for r in roles:
        if r not in cat.roles:
            raise errors.UndefinedObject(f'role "{r}" does not exist')
        if not P.is_superuser(cat, me) and r not in P.member_closure(cat, me, "set"):
            raise errors.InsufficientPrivilege("permission denied to change default privileges")
    kind = action.target.kind
    if node.schemas and kind == "schemas":
        raise errors.Error("cannot use IN SCHEMA clause when using GRANT/REVOKE ON SCHEMAS", sqlstate="0LP01")
    for s in node.schemas:
        if s not in db.schemas:
            raise errors.InvalidSchemaName(f'schema "{s}" does not exist')
    objkind = _DEFAULT_KINDS[kind]
    letters = privilege_letters(action.privileges, objkind)
    grantees = [role_name(session, cat, g) for g in action.grantees]
    for r in roles:
        for s in node.schemas or ("",):
            key = (r, s, kind)
            acl = cat.default_acls.get(key)
            if acl is None:
                acl = A.default_acl(objkind, r) if not s else []
            for g in grantees:
                if action.grant:
                    acl = A.grant(acl, g, r, letters, action.grant_option)
                else:
                    acl = A.revoke(acl, g, r, letters, action.grant_option)
            if (not s and acl == A.default_acl(objkind, r)) or (s and not acl):
                cat.default_acls.pop(key, None)
            else:
                cat.default_acls[key] = acl
    return Result("ALTER DEFAULT PRIVILEGES")


