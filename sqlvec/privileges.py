"""Who may do what: the current role, role membership, and the privilege checks the planner and
the statement handlers call (PostgreSQL's aclchk.c, in small).

Checks run once per plan, when a relation is resolved (:func:`resolver`), not per row: plans
are cached per session and invalidated by the catalog version and by the current role (part
of the session's plan key). A superuser passes every check without looking at an ACL, as in
PostgreSQL, so sessions of the bootstrap superuser pay nothing.

Owners: an object's ``owner`` is a role name, None meaning the database owner (objects created
before roles were tracked). :func:`after_statement` stamps the creating role on every object
a statement created, and applies ALTER DEFAULT PRIVILEGES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlvec import errors
from sqlvec.catalog import acl as A
from sqlvec.catalog.model import MATVIEW, Catalog, DatabaseDef, Sequence, Table, View

# relkind word PostgreSQL's messages use ("permission denied for view v")
_RELATION_WORDS = {"r": "table", "v": "view", "m": "materialized view", "S": "sequence", "i": "index"}


# -- the current role ---------------------------------------------------------------------------


def session_user(session) -> str:
    """SESSION_USER: the authenticated role, or the one SET SESSION AUTHORIZATION chose."""
    return session.settings.values.get("session_authorization") or session.user


def current_user(session) -> str:
    """CURRENT_USER: the role privileges are checked for (SET ROLE, or the view owner while
    a view's query is planned)."""
    acting = session.__dict__.get("_acting_as")
    if acting:
        return acting[-1]
    role = session.settings.get("role")
    return role if role != "none" else session_user(session)


@contextmanager
def acting_as(session, role: str) -> Iterator[None]:
    """Check privileges as ``role`` inside the block (a view's query runs with its owner's
    rights)."""
    stack = session.__dict__.setdefault("_acting_as", [])
    stack.append(role)
    try:
        yield
    finally:
        stack.pop()


def is_superuser(cat: Catalog, role: str) -> bool:
    r = cat.roles.get(role)
    return r is not None and r.superuser


def member_closure(cat: Catalog, role: str, mode: str = "usage") -> set[str]:
    """``role`` and every role it is a member of, directly or not. ``usage``: only through
    memberships that inherit privileges (pg_has_role USAGE, and every privilege check);
    ``member``: any membership; ``set``: memberships with the SET option."""
    out = {role}
    todo = [role]
    while todo:
        r = todo.pop()
        if mode == "usage":
            me = cat.roles.get(r)
            if me is not None and not me.inherit and r != role:
                continue
        for m in cat.members:
            if m.member == r and m.role not in out:
                if mode == "usage" and not m.inherit:
                    continue
                if mode == "set" and not m.set:
                    continue
                out.add(m.role)
                todo.append(m.role)
    return out


def owns(cat: Catalog, role: str, owner: str) -> bool:
    """Whether ``role`` has the owner's rights: superuser, the owner, or a member of it."""
    return is_superuser(cat, role) or owner in member_closure(cat, role)


# -- objects: kind, owner, ACL -------------------------------------------------------------------


def relkind(obj: Any) -> str:
    if isinstance(obj, Sequence):
        return "S"
    if isinstance(obj, View):
        return "m" if obj.materialized else "v"
    if isinstance(obj, Table) and MATVIEW in obj.options:
        return "m"
    return "r"


def owner_of(db: DatabaseDef, obj: Any) -> str:
    return getattr(obj, "owner", None) or db.owner


def schema_owner(db: DatabaseDef, schema: str) -> str:
    return db.schema_owners.get(db.schemas.get(schema, 0)) or db.owner


def schema_acl(db: DatabaseDef, schema: str) -> A.Acl:
    """nspacl, or what NULL stands for. ``public`` has PostgreSQL 15's default: its owner
    may create in it, everyone may use it, nobody else may create."""
    acl = db.schema_acls.get(db.schemas.get(schema, 0))
    if acl is not None:
        return acl
    owner = schema_owner(db, schema)
    if schema == "public":
        return [A.AclItem(owner, owner, "UC"), A.AclItem(A.PUBLIC, owner, "U")]
    if schema in ("pg_catalog", "information_schema") or schema.startswith("pg_temp"):
        return [A.AclItem(owner, owner, "UC"), A.AclItem(A.PUBLIC, owner, "U")]
    return A.default_acl("schema", owner)


def schema_acl_column(db: DatabaseDef, schema: str) -> list[str] | None:
    """nspacl as pg_namespace shows it (NULL while default, except public's)."""
    acl = db.schema_acls.get(db.schemas.get(schema, 0))
    if acl is None and schema in ("public", "pg_catalog", "information_schema"):
        acl = schema_acl(db, schema)
    return A.acl_texts(acl)


def relation_acl(db: DatabaseDef, obj: Any) -> A.Acl:
    kind = "sequence" if isinstance(obj, Sequence) else "table"
    return A.effective(getattr(obj, "acl", None), kind, owner_of(db, obj))


def database_acl(db: DatabaseDef) -> A.Acl:
    return A.effective(db.acl, "database", db.owner)


def privileges_held(cat: Catalog, role: str, acl: A.Acl) -> tuple[str, str]:
    """(privileges, grant options) ``role`` holds in ``acl``, with what it inherits."""
    if is_superuser(cat, role):
        return A.ORDER, A.ORDER
    return A.privileges_of(acl, member_closure(cat, role))


def has_any(cat: Catalog, role: str, acl: A.Acl, privs: str, grant_option: bool = False) -> bool:
    """Whether ``role`` holds at least one of ``privs`` (with grant option if asked)."""
    held, opts = privileges_held(cat, role, acl)
    have = opts if grant_option else held
    return any(c in have for c in privs)


def has_all(cat: Catalog, role: str, acl: A.Acl, privs: str) -> bool:
    held, _ = privileges_held(cat, role, acl)
    return all(c in held for c in privs)


# -- checks that raise PostgreSQL's errors --------------------------------------------------------


def denied(word: str, name: str, node=None) -> errors.InsufficientPrivilege:
    exc = errors.InsufficientPrivilege(f"permission denied for {word} {name}")
    if node is not None:
        from sqlvec.plan.binder import locate

        locate(exc, node)
    return exc


def require_schema_usage(session, cat: Catalog, db: DatabaseDef, schema: str, node=None) -> None:
    role = current_user(session)
    if not has_all(cat, role, schema_acl(db, schema), "U"):
        raise denied("schema", schema, node)


def require_relation(session, obj: Any, privs: str, node=None, cat: Catalog | None = None) -> None:
    """Every privilege in ``privs`` (letters) on a table, view or sequence, and USAGE on its
    schema; 42501 ``permission denied for <kind> <name>`` otherwise."""
    cat = cat or session.catalog()
    role = current_user(session)
    if is_superuser(cat, role):
        return
    db = cat.database(session.database)
    require_schema_usage(session, cat, db, obj.schema, node)
    if not has_all(cat, role, relation_acl(db, obj), privs):
        raise denied(_RELATION_WORDS[relkind(obj)], obj.name)


def require_owner(session, word: str, name: str, owner: str, cat: Catalog | None = None) -> None:
    """42501 ``must be owner of <word> <name>`` unless the current role has the owner's rights."""
    cat = cat or session.catalog()
    if not owns(cat, current_user(session), owner):
        raise errors.InsufficientPrivilege(f"must be owner of {word} {name}")


def require_relation_owner(session, obj: Any, cat: Catalog | None = None) -> None:
    cat = cat or session.catalog()
    db = cat.database(session.database)
    require_owner(session, _RELATION_WORDS[relkind(obj)], obj.name, owner_of(db, obj), cat)


def resolver(session, privs: str = "r") -> Callable:
    """``session.resolve_table`` that also checks ``privs`` on what it resolves (the query
    planners' table look-up). Superusers get the plain look-up."""
    cat = session.catalog()
    if is_superuser(cat, current_user(session)):
        return session.resolve_table

    def resolve(node, cat=None):
        table = session.resolve_table(node, cat)
        require_relation(session, table, privs, node, cat)
        return table

    return resolve


def dml_privileges(node) -> str:
    """The privileges an INSERT / UPDATE / DELETE needs on its target: its own, plus SELECT
    when it reads the target's columns (WHERE, RETURNING, SET x = x + 1)."""
    from sqlglot import exp

    if isinstance(node, exp.Insert):
        privs = "a"
        conflict = node.args.get("conflict")
        if conflict is not None and conflict.args.get("expressions"):
            privs += "w"  # ON CONFLICT DO UPDATE
        reads = node.args.get("returning") is not None
    elif isinstance(node, exp.Update):
        privs = "w"
        reads = node.args.get("where") is not None or node.args.get("returning") is not None or any(
            e.expression is not None and e.expression.find(exp.Column) is not None for e in node.expressions)
    else:
        privs = "d"
        reads = node.args.get("where") is not None or node.args.get("returning") is not None
    return privs + ("r" if reads else "")


@contextmanager
def view_expansion(session, view: Any) -> Iterator[None]:
    """Plan a view's query: SELECT on the view is checked for the current role, the tables it
    reads for the view's owner (PostgreSQL's default, security_invoker off)."""
    cat = session.catalog()
    db = cat.database(session.database)
    require_relation(session, view, "r", cat=cat)
    with acting_as(session, owner_of(db, view)):
        yield


def require_sequence_call(session, seq: Sequence, fn: str) -> None:
    """nextval needs USAGE or UPDATE, currval/lastval USAGE or SELECT, setval UPDATE."""
    cat = session.catalog()
    role = current_user(session)
    if is_superuser(cat, role):
        return
    need = {"nextval": "Uw", "currval": "Ur", "setval": "w"}.get(fn, "Ur")
    db = cat.database(session.database)
    if not has_any(cat, role, relation_acl(db, seq), need):
        raise denied("sequence", seq.name)


# -- ownership of new objects ---------------------------------------------------------------------


def oid_mark(session) -> int:
    """The next OID before a statement runs: objects with an OID at or above it are new."""
    return session.catalog().next_oid


def after_statement(session, mark: int) -> None:
    """Stamp the current role as owner of every object the statement created, with the
    default privileges ALTER DEFAULT PRIVILEGES set for it."""
    cat = session.txn_catalog
    if cat is None or cat.next_oid <= mark:
        return
    db = cat.databases.get(session.database)
    if db is None:
        return
    role = current_user(session)
    # raw reads (dict.items: no copy-on-write clone); only the new objects are fetched to change
    for kind, objs in (("tables", db.tables), ("sequences", db.sequences), ("tables", db.views)):
        for key, raw in list(dict.items(objs)):
            if raw.oid >= mark and raw.owner is None:
                obj = objs[key]
                obj.owner = role
                if obj.acl is None:
                    obj.acl = _default_for(cat, role, obj.schema, kind)
    for name, raw in list(dict.items(cat.databases)):
        if raw.oid >= mark and name != session.database:
            cat.databases[name].owner = role  # CREATE DATABASE: the creator owns it
    for oid in db.schemas.values():
        if oid >= mark and oid not in db.schema_owners:
            db.schema_owners[oid] = role
            acl = _default_for(cat, role, "", "schemas")
            if acl is not None:
                db.schema_acls[oid] = acl


def _default_for(cat: Catalog, role: str, schema: str, kind: str) -> A.Acl | None:
    """The ACL a new object gets from ALTER DEFAULT PRIVILEGES (None: no defaults apply).
    The global entry replaces the built-in default; per-schema entries add to it."""
    base = cat.default_acls.get((role, "", kind))
    extra = cat.default_acls.get((role, schema, kind)) if schema else None
    if base is None and extra is None:
        return None
    objkind = {"tables": "table", "sequences": "sequence", "schemas": "schema", "functions": "function"}[kind]
    acl = list(base) if base is not None else A.default_acl(objkind, role)
    for item in extra or []:
        acl = A.grant(acl, item.grantee, role, item.privs, False)
        if item.grantable:
            acl = A.grant(acl, item.grantee, role, item.grantable, True)
    return acl
