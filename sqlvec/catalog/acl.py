"""Access control lists as PostgreSQL keeps them (utils/acl.h): privilege letters, aclitems,
the default ACL an object has while its ACL column is NULL, and GRANT/REVOKE as list updates.

An object's ACL is ``None`` until the first GRANT or REVOKE on it, as PostgreSQL's relacl /
nspacl / datacl are NULL then; :func:`effective` gives what NULL stands for. Role names, not
OIDs, are stored (roles are keyed by name in the catalog; a rename rewrites them, see
:func:`rename_role`). The text form is PostgreSQL's ``grantee=privs/grantor``, an empty
grantee meaning PUBLIC and ``*`` after a letter a grant option::

    >>> AclItem("alice", "postgres", "ar", "a").text()
    'alice=a*r/postgres'
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# privilege name -> aclitem letter (PostgreSQL's ACL_*_CHR)
LETTERS: dict[str, str] = {
    "INSERT": "a", "SELECT": "r", "UPDATE": "w", "DELETE": "d", "TRUNCATE": "D",
    "REFERENCES": "x", "TRIGGER": "t", "EXECUTE": "X", "USAGE": "U", "CREATE": "C",
    "TEMPORARY": "T", "TEMP": "T", "CONNECT": "c",
}
NAMES: dict[str, str] = {v: k for k, v in LETTERS.items() if k != "TEMP"}
ORDER = "arwdDxtXUCTc"  # the order aclitemout prints letters in (ACL_ALL_RIGHTS_STR)
# what ALL [PRIVILEGES] means for each kind of object (ACL_ALL_RIGHTS_*)
ALL_RIGHTS: dict[str, str] = {
    "table": "arwdDxt", "sequence": "rwU", "database": "CTc", "schema": "UC", "function": "X",
}
# privileges PUBLIC has on an object whose ACL is NULL (acldefault)
PUBLIC_DEFAULT: dict[str, str] = {"database": "Tc", "function": "X"}
PUBLIC = ""  # the grantee name of PUBLIC


@dataclass(frozen=True)
class AclItem:
    """One aclitem: ``privs`` granted to ``grantee`` by ``grantor``; ``grantable`` is the
    subset held WITH GRANT OPTION."""

    grantee: str
    grantor: str
    privs: str
    grantable: str = ""

    def text(self) -> str:
        letters = "".join(c + ("*" if c in self.grantable else "") for c in ORDER if c in self.privs)
        return f"{quote_role(self.grantee) if self.grantee else ''}={letters}/{quote_role(self.grantor)}"


@dataclass
class Membership:
    """One pg_auth_members row: ``member`` is a member of ``role``."""

    oid: int
    role: str
    member: str
    grantor: str
    admin: bool = False
    inherit: bool = True
    set: bool = True


Acl = list[AclItem]


def quote_role(name: str) -> str:
    """A role name as aclitemout writes it (putid): quoted unless every character is
    alphanumeric or ``_``."""
    if name and all(c.isalnum() or c == "_" for c in name):
        return name
    return '"' + name.replace('"', '""') + '"'


def sort_letters(privs: str) -> str:
    return "".join(c for c in ORDER if c in privs)


def default_acl(kind: str, owner: str) -> Acl:
    """What a NULL ACL stands for (PostgreSQL's acldefault: PUBLIC's item first)."""
    out = [AclItem(PUBLIC, owner, PUBLIC_DEFAULT[kind])] if kind in PUBLIC_DEFAULT else []
    out.append(AclItem(owner, owner, ALL_RIGHTS[kind]))
    return out


def effective(acl: Acl | None, kind: str, owner: str) -> Acl:
    return default_acl(kind, owner) if acl is None else acl


def acl_texts(acl: Acl | None) -> list[str] | None:
    """The aclitem[] column value (None stays NULL)."""
    return None if acl is None else [a.text() for a in acl]


def grant(acl: Acl, grantee: str, grantor: str, privs: str, with_option: bool) -> Acl:
    """``acl`` with ``privs`` granted (aclupdate with ACL_MODECHG_ADD): merged into the item of
    the same grantee and grantor, else appended."""
    out = list(acl)
    for i, a in enumerate(out):
        if a.grantee == grantee and a.grantor == grantor:
            out[i] = AclItem(grantee, grantor, sort_letters(a.privs + privs),
                             sort_letters(a.grantable + (privs if with_option else "")))
            return out
    out.append(AclItem(grantee, grantor, sort_letters(privs), sort_letters(privs) if with_option else ""))
    return out


def revoke(acl: Acl, grantee: str, grantor: str, privs: str, option_only: bool) -> Acl:
    """``acl`` with ``privs`` (or only their grant option) taken from what ``grantor`` gave
    ``grantee``; items left without privileges disappear."""
    out = []
    for a in acl:
        if a.grantee == grantee and a.grantor == grantor:
            keep_grant = "".join(c for c in a.grantable if c not in privs)
            keep = a.privs if option_only else "".join(c for c in a.privs if c not in privs)
            if not keep:
                continue
            a = AclItem(grantee, grantor, keep, "".join(c for c in keep_grant if c in keep))
        out.append(a)
    return out


def rename_role(acl: Acl | None, old: str, new: str) -> Acl | None:
    if acl is None:
        return None
    return [replace(a, grantee=new if a.grantee == old else a.grantee,
                    grantor=new if a.grantor == old else a.grantor) for a in acl]


def mentions(acl: Acl | None, role: str) -> bool:
    return acl is not None and any(role in (a.grantee, a.grantor) for a in acl)


def privileges_of(acl: Acl, roles: frozenset[str] | set[str]) -> tuple[str, str]:
    """(privileges, grantable privileges) that ``roles`` (a role and those it inherits from)
    and PUBLIC hold in ``acl``."""
    privs, opts = "", ""
    for a in acl:
        if a.grantee == PUBLIC or a.grantee in roles:
            privs += a.privs
            opts += a.grantable
    return privs, opts


def to_json(acl: Acl | None) -> list | None:
    return None if acl is None else [[a.grantee, a.grantor, a.privs, a.grantable] for a in acl]


def from_json(v: list | None) -> Acl | None:
    return None if v is None else [AclItem(*x) for x in v]
