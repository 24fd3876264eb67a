"""information_schema.table_privileges and role_table_grants: one row per privilege an ACL
item grants on a table, view or materialized view (the default ACL while relacl is NULL, as
PostgreSQL's aclexplode(coalesce(relacl, acldefault(...))) does), limited to the rows whose
grantor or grantee is a role the current user has the privileges of, or PUBLIC."""

from __future__ import annotations

from sqlvec import privileges as P
from sqlvec.catalog import acl as A
from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import NAME

IS = O.INFO_SCHEMA_VIEW_BASE
_TABLE_PRIVILEGES = ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_COLS = [("grantor", NAME), ("grantee", NAME), ("table_catalog", NAME), ("table_schema", NAME),
         ("table_name", NAME), ("privilege_type", R.VARCHAR), ("is_grantable", R.VARCHAR),
         ("with_hierarchy", R.VARCHAR)]


def _rows(view: CatalogView, session, public: bool) -> dict:
    cat, db = view.cat, view.db
    me = P.current_user(session)
    mine = P.member_closure(cat, me)
    superuser = P.is_superuser(cat, me)
    out: dict[str, list] = {n: [] for n, _ in _COLS}
    for rel in view.relations:
        if rel.kind not in "rvm" or hasattr(rel.obj, "producer"):
            continue
        owner = P.owner_of(db, rel.obj)
        for item in P.relation_acl(db, rel.obj):
            grantee = item.grantee or "PUBLIC"
            if not (superuser or item.grantor in mine or item.grantee in mine or (public and not item.grantee)):
                continue
            owner_side = bool(item.grantee) and owner in P.member_closure(cat, item.grantee)
            for word in _TABLE_PRIVILEGES:
                c = A.LETTERS[word]
                if c not in item.privs:
                    continue
                row = (item.grantor, grantee, db.name, rel.schema, rel.name, word,
                       "YES" if c in item.grantable or owner_side else "NO",
                       "YES" if word == "SELECT" else "NO")
                for (n, _), v in zip(_COLS, row):
                    out[n].append(v)
    return out


@relation("information_schema", "table_privileges", IS + 11, _COLS, relkind="v", cacheable=False)
def table_privileges(view: CatalogView, session) -> dict:
    return _rows(view, session, public=True)


@relation("information_schema", "role_table_grants", IS + 12, _COLS, relkind="v", cacheable=False)
def role_table_grants(view: CatalogView, session) -> dict:
    return _rows(view, session, public=False)
