"""Role membership (GRANT role TO role, REVOKE, CREATE ROLE ... IN ROLE / ROLE / ADMIN) and what
happens to privileges when a role is renamed or dropped. Memberships are
``Catalog.members`` rows, shown as pg_auth_members."""

from __future__ import annotations

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.catalog import acl as A
from sqlvec.catalog.model import Catalog
from sqlvec.grammar.grants_builder import GrantStmt
from sqlvec.result import Notice, Result


def _bootstrap(cat: Catalog) -> str:
    return next((r.name for r in cat.roles.values() if r.oid == 10), "postgres")


def _require_admin(session, cat: Catalog, role: str, verb: str) -> None:
    me = P.current_user(session)
    if P.is_superuser(cat, me):
        return
    if any(m.role == role and m.member in P.member_closure(cat, me, "member") and m.admin for m in cat.members):
        return
    raise errors.InsufficientPrivilege(
        f'permission denied to {verb} role "{role}"',
        detail=f'Only roles with the ADMIN option on role "{role}" may {verb} this role.')


def add_member(cat: Catalog, role: str, member: str, grantor: str, options: dict[str, bool]) -> Notice | None:
    """Make ``member`` a member of ``role`` (or update the options of an existing grant)."""
    if member == role or member in P.member_closure(cat, role, "member"):
        raise errors.Error(f'role "{role}" is a member of role "{member}"', sqlstate="0LP01")
    for m in cat.members:
        if m.role == role and m.member == member and m.grantor == grantor:
            if not options:
                return Notice("NOTICE", f'role "{member}" has already been granted membership in role '
                                        f'"{role}" by role "{grantor}"')
            m.admin = options.get("admin", m.admin)
            m.inherit = options.get("inherit", m.inherit)
            m.set = options.get("set", m.set)
            return None
    inherit = options.get("inherit", cat.roles[member].inherit)
    cat.members.append(A.Membership(cat.new_oid(), role, member, grantor, options.get("admin", False),
                                    inherit, options.get("set", True)))
    return None


def grant_roles(session, node: GrantStmt) -> Result:
    cat = session.mutable_catalog()
    from sqlvec.exec.grants import role_name

    roles = []
    for p in node.privileges:
        if p.name == "all" or p.columns is not None:
            raise errors.SyntaxError('syntax error at or near "TO"' if node.grant else 'syntax error at or near "FROM"')
        if p.name not in cat.roles:
            raise errors.UndefinedObject(f'role "{p.name}" does not exist')
        roles.append(p.name)
    members = [role_name(session, cat, g, public_ok=False) for g in node.grantees]
    me = P.current_user(session)
    grantor = _bootstrap(cat) if P.is_superuser(cat, me) else me
    if node.granted_by is not None:
        grantor = role_name(session, cat, node.granted_by, public_ok=False)
    notices = []
    for role in roles:
        _require_admin(session, cat, role, "grant" if node.grant else "revoke")
        for member in members:
            if node.grant:
                n = add_member(cat, role, member, grantor, node.role_options)
                if n is not None:
                    notices.append(n)
                continue
            hits = [m for m in cat.members if m.role == role and m.member == member]
            if not hits:
                notices.append(Notice("WARNING", f'role "{member}" has not been granted membership in role '
                                                 f'"{role}" by role "{grantor}"'))
                continue
            for m in hits:
                if node.option_for is None:
                    cat.members.remove(m)
                else:
                    setattr(m, node.option_for, False)
    return Result("GRANT ROLE" if node.grant else "REVOKE ROLE", notices=notices)


def apply_role_options(session, cat: Catalog, name: str, options: dict) -> None:
    """CREATE ROLE ... IN ROLE a (member of a), ROLE b (b becomes a member), ADMIN c (c a
    member with the admin option)."""
    me = P.current_user(session)
    grantor = _bootstrap(cat) if P.is_superuser(cat, me) else me
    for key, admin in (("in_role", False), ("role", False), ("admin", True)):
        for other in options.get(key, ()):
            if other not in cat.roles:
                raise errors.UndefinedObject(f'role "{other}" does not exist')
            if key == "in_role":
                add_member(cat, other, name, grantor, {})
            else:
                add_member(cat, name, other, grantor, {"admin": admin} if admin else {})


def rename_role(cat: Catalog, old: str, new: str) -> None:
    """ALTER ROLE ... RENAME TO: owners, ACLs and memberships name roles, so they follow."""
    for m in cat.members:
        m.role = new if m.role == old else m.role
        m.member = new if m.member == old else m.member
        m.grantor = new if m.grantor == old else m.grantor
    cat.default_acls = {(new if k[0] == old else k[0], k[1], k[2]): A.rename_role(v, old, new)
                        for k, v in cat.default_acls.items()}
    for db in cat.databases.values():
        db.owner = new if db.owner == old else db.owner
        db.acl = A.rename_role(db.acl, old, new)
        db.schema_owners = {k: new if v == old else v for k, v in db.schema_owners.items()}
        db.schema_acls = {k: A.rename_role(v, old, new) for k, v in db.schema_acls.items()}
        for m in (db.tables, db.views, db.sequences):
            for key, raw in list(dict.items(m)):
                if raw.owner == old or A.mentions(raw.acl, old):
                    obj = m[key]  # fetched to change (a private copy)
                    obj.owner = new if obj.owner == old else obj.owner
                    obj.acl = A.rename_role(obj.acl, old, new)


def before_drop_role(cat: Catalog, name: str) -> None:
    """DROP ROLE refuses a role that owns objects or holds privileges (2BP01, as PostgreSQL);
    its memberships go with it."""
    deps = []
    for db in dict.values(cat.databases):
        if db.owner == name:
            deps.append(f"owner of database {db.name}")
        if A.mentions(db.acl, name):
            deps.append(f"privileges for database {db.name}")
        for s, oid in db.schemas.items():
            if db.schema_owners.get(oid) == name:
                deps.append(f"owner of schema {s}")
            if A.mentions(db.schema_acls.get(oid), name):
                deps.append(f"privileges for schema {s}")
        for obj in (*dict.values(db.tables), *dict.values(db.views), *dict.values(db.sequences)):
            word = P._RELATION_WORDS[P.relkind(obj)]
            if obj.owner == name:
                deps.append(f"owner of {word} {obj.name}")
            if A.mentions(obj.acl, name):
                deps.append(f"privileges for {word} {obj.name}")
    if any(k[0] == name or A.mentions(v, name) for k, v in cat.default_acls.items()):
        deps.append("privileges for default privileges")
    if deps:
        raise errors.DependentObjectsStillExist(
            f'role "{name}" cannot be dropped because some objects depend on it', detail="\n".join(deps))
    cat.members = [m for m in cat.members if name not in (m.role, m.member)]
