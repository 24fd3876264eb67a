"""Cluster-wide catalogs and activity: pg_database, pg_authid, pg_roles, pg_user,
pg_auth_members, pg_tablespace, pg_extension, pg_available_extensions, pg_settings,
pg_shdescription, pg_stat_*_tables, pg_locks, pg_stat_activity, pg_timezone_names.

ACL columns hold aclitems (sqlvec.catalog.acl), NULL while an object has its default
privileges, as in PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os

from sqlvec.catalog.acl import acl_texts
from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.core import live_rows
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.settings import SETTINGS, duration_ms
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import ACLITEM, NAME, OID, XID

BOOL, INT4, INT8, TEXT, TSTZ = R.BOOL, R.INT4, R.INT8, R.TEXT, R.TIMESTAMPTZ
T = O.CATALOG_TABLE_OIDS
V = O.SYSTEM_VIEW_BASE
ACL = R.array_of(ACLITEM)
TEXTS = R.array_of(TEXT)
STARTED = dt.datetime.now(dt.UTC)


def _cols(**kw):
    return list(kw.items())


@relation("pg_catalog", "pg_database", T["pg_database"], _cols(
    oid=OID, datname=NAME, datdba=OID, encoding=INT4, datlocprovider=R.type_by_name('"char"'),
    datistemplate=BOOL, datallowconn=BOOL, datconnlimit=INT4, datfrozenxid=XID,
    datminmxid=XID, dattablespace=OID, datcollate=TEXT, datctype=TEXT, daticulocale=TEXT,
    daticurules=TEXT, datcollversion=TEXT, datacl=ACL))
def pg_database(view: CatalogView, session) -> dict:
    dbs = sorted(view.cat.databases.values(), key=lambda d: d.oid)
    n = len(dbs)
    return {"oid": [d.oid for d in dbs], "datname": [d.name for d in dbs],
            "datdba": [view.role_oid(d.owner) for d in dbs], "encoding": [O.UTF8_ENCODING] * n,
            "datlocprovider": ["c"] * n,
            "datistemplate": [d.name in ("template0", "template1") for d in dbs],
            "datallowconn": [d.name != "template0" for d in dbs], "datconnlimit": [-1] * n,
            "datfrozenxid": [0] * n, "datminmxid": [1] * n,
            "dattablespace": [O.DEFAULT_TABLESPACE] * n, "datcollate": ["C"] * n,
            "datctype": ["C"] * n, "daticulocale": [None] * n, "daticurules": [None] * n,
            "datcollversion": [None] * n, "datacl": [acl_texts(d.acl) for d in dbs]}


_AUTHID = _cols(oid=OID, rolname=NAME, rolsuper=BOOL, rolinherit=BOOL, rolcreaterole=BOOL,
                rolcreatedb=BOOL, rolcanlogin=BOOL, rolreplication=BOOL, rolbypassrls=BOOL,
                rolconnlimit=INT4, rolpassword=TEXT, rolvaliduntil=TSTZ)


def _roles(view: CatalogView, hide_password: bool) -> dict:
    roles = sorted(view.cat.roles.values(), key=lambda r: r.oid)
    return {"oid": [r.oid for r in roles], "rolname": [r.name for r in roles],
            "rolsuper": [r.superuser for r in roles], "rolinherit": [r.inherit for r in roles],
            "rolcreaterole": [r.createrole for r in roles],
            "rolcreatedb": [r.createdb for r in roles], "rolcanlogin": [r.login for r in roles],
            "rolreplication": [r.replication for r in roles],
            "rolbypassrls": [r.bypassrls for r in roles],
            "rolconnlimit": [r.connection_limit for r in roles],
            "rolpassword": [("********" if r.password else None) if hide_password else r.password
                            for r in roles],
            "rolvaliduntil": [_ts(r.valid_until) for r in roles],
            "rolconfig": [None] * len(roles)}


def _ts(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    from sqlvec.types.datetimes import timestamptz_in

    return timestamptz_in(text)


@relation("pg_catalog", "pg_authid", T["pg_authid"], _AUTHID)
def pg_authid(view: CatalogView, session) -> dict:
    return _roles(view, hide_password=False)


@relation("pg_catalog", "pg_roles", V + 0, _cols(
    rolname=NAME, rolsuper=BOOL, rolinherit=BOOL, rolcreaterole=BOOL, rolcreatedb=BOOL,
    rolcanlogin=BOOL, rolreplication=BOOL, rolconnlimit=INT4, rolpassword=TEXT,
    rolvaliduntil=TSTZ, rolbypassrls=BOOL, rolconfig=TEXTS, oid=OID), relkind="v")
def pg_roles(view: CatalogView, session) -> dict:
    return _roles(view, hide_password=True)


@relation("pg_catalog", "pg_user", V + 1, _cols(
    usename=NAME, usesysid=OID, usecreatedb=BOOL, usesuper=BOOL, userepl=BOOL,
    usebypassrls=BOOL, passwd=TEXT, valuntil=TSTZ, useconfig=TEXTS), relkind="v")
def pg_user(view: CatalogView, session) -> dict:
    r = _roles(view, hide_password=True)
    keep = [i for i, login in enumerate(r["rolcanlogin"]) if login]

    def pick(k: str) -> list:
        return [r[k][i] for i in keep]

    return {"usename": pick("rolname"), "usesysid": pick("oid"), "usecreatedb": pick("rolcreatedb"),
            "usesuper": pick("rolsuper"), "userepl": pick("rolreplication"),
            "usebypassrls": pick("rolbypassrls"), "passwd": pick("rolpassword"),
            "valuntil": pick("rolvaliduntil"), "useconfig": [None] * len(keep)}


@relation("pg_catalog", "pg_auth_members", T["pg_auth_members"], _cols(
    oid=OID, roleid=OID, member=OID, grantor=OID, admin_option=BOOL, inherit_option=BOOL,
    set_option=BOOL))
def pg_auth_members(view: CatalogView, session) -> dict:
    ms = sorted(view.cat.members, key=lambda m: m.oid)
    return {"oid": [m.oid for m in ms], "roleid": [view.role_oid(m.role) for m in ms],
            "member": [view.role_oid(m.member) for m in ms],
            "grantor": [view.role_oid(m.grantor) for m in ms],
            "admin_option": [m.admin for m in ms], "inherit_option": [m.inherit for m in ms],
            "set_option": [m.set for m in ms]}


@relation("pg_catalog", "pg_tablespace", T["pg_tablespace"], _cols(
    oid=OID, spcname=NAME, spcowner=OID, spcacl=ACL, spcoptions=TEXTS))
def pg_tablespace(view: CatalogView, session) -> dict:
    return {"oid": [O.DEFAULT_TABLESPACE, O.GLOBAL_TABLESPACE], "spcname": ["pg_default", "pg_global"],
            "spcowner": [O.BOOTSTRAP_SUPERUSER] * 2, "spcacl": [None] * 2, "spcoptions": [None] * 2}


@relation("pg_catalog", "pg_shdescription", T["pg_shdescription"], _cols(
    objoid=OID, classoid=OID, description=TEXT))
def pg_shdescription(view: CatalogView, session) -> dict:
    dbs = [d for d in view.cat.databases.values() if d.name in ("postgres", "template1", "template0")]
    text = {"postgres": "default administrative connection database",
            "template1": "default template for new databases",
            "template0": "unmodifiable empty database"}
    return {"objoid": [d.oid for d in dbs], "classoid": [O.PG_DATABASE] * len(dbs),
            "description": [text[d.name] for d in dbs]}


_EXTENSIONS = {"plpgsql": ("1.0", "PL/pgSQL procedural language", O.PLPGSQL_EXTENSION_OID, 11),
               "vector": ("0.8.0", "vector data type and ivfflat and hnsw access methods",
                          O.VECTOR_EXTENSION_OID, 2200)}


@relation("pg_catalog", "pg_extension", T["pg_extension"], _cols(
    oid=OID, extname=NAME, extowner=OID, extnamespace=OID, extrelocatable=BOOL,
    extversion=TEXT, extconfig=R.array_of(OID), extcondition=TEXTS))
def pg_extension(view: CatalogView, session) -> dict:
    rows = [("plpgsql", "1.0")] + sorted((n, v) for n, v in view.db.extensions.items() if n != "plpgsql")
    oid = [_EXTENSIONS.get(n, ("", "", 17201 + i, 2200))[2] for i, (n, _) in enumerate(rows)]
    return {"oid": oid, "extname": [n for n, _ in rows], "extowner": [O.BOOTSTRAP_SUPERUSER] * len(rows),
            "extnamespace": [_EXTENSIONS.get(n, ("", "", 0, 2200))[3] for n, _ in rows],
            "extrelocatable": [n == "vector" for n, _ in rows], "extversion": [v for _, v in rows],
            "extconfig": [None] * len(rows), "extcondition": [None] * len(rows)}


@relation("pg_catalog", "pg_available_extensions", V + 2, _cols(
    name=NAME, default_version=TEXT, installed_version=TEXT, comment=TEXT), relkind="v")
def pg_available_extensions(view: CatalogView, session) -> dict:
    names = sorted(_EXTENSIONS)
    installed = {"plpgsql": "1.0", **view.db.extensions}
    return {"name": names, "default_version": [_EXTENSIONS[n][0] for n in names],
            "installed_version": [installed.get(n) for n in names],
            "comment": [_EXTENSIONS[n][1] for n in names]}


_SETTING_COLS = _cols(
    name=TEXT, setting=TEXT, unit=TEXT, category=TEXT, short_desc=TEXT, extra_desc=TEXT,
    context=TEXT, vartype=TEXT, source=TEXT, min_val=TEXT, max_val=TEXT, enumvals=TEXTS,
    boot_val=TEXT, reset_val=TEXT, sourcefile=TEXT, sourceline=INT4, pending_restart=BOOL)
_CATEGORY = {"search_path": "Client Connection Defaults / Statement Behavior",
             "statement_timeout": "Client Connection Defaults / Statement Behavior",
             "TimeZone": "Client Connection Defaults / Locale and Formatting",
             "DateStyle": "Client Connection Defaults / Locale and Formatting",
             "client_encoding": "Client Connection Defaults / Locale and Formatting",
             "synchronous_commit": "Write-Ahead Log / Settings"}


# Compile-time limits that PostgreSQL shows as read-only "Preset Options" and that clients
# read from pg_settings (pgJDBC's getImportedKeys fails without max_index_keys). They are not
# SET-table settings, so they live here as rows, with PostgreSQL's default builds' values.
_PRESETS = {"block_size": ("8192", "Shows the size of a disk block."),
            "max_function_args": ("100", "Shows the maximum number of function arguments."),
            "max_index_keys": ("32", "Shows the maximum number of index keys."),
            "segment_size": ("131072", "Shows the number of pages per disk file.")}


@relation("pg_catalog", "pg_settings", V + 3, _SETTING_COLS, relkind="v", cacheable=False)
def pg_settings(view: CatalogView, session) -> dict:
    """One row per setting in sqlvec/settings.py, with the session's current values."""
    rows = sorted(SETTINGS.values(), key=lambda s: s.name.lower())
    out: dict[str, list] = {n: [] for n, _ in _SETTING_COLS}
    for name, (value, desc) in _PRESETS.items():
        if name in SETTINGS:
            continue
        row = {"name": name, "setting": value, "unit": "8kB" if name == "segment_size" else None,
               "category": "Preset Options", "short_desc": desc, "extra_desc": None,
               "context": "internal", "vartype": "integer", "source": "default",
               "min_val": value, "max_val": value, "enumvals": None, "boot_val": value,
               "reset_val": value, "sourcefile": None, "sourceline": None,
               "pending_restart": False}
        for k, v in row.items():
            out[k].append(v)
    for s in rows:
        value = session.settings.get(s.name)
        kind, lo, hi, enum = _vartype(s)
        reset = session.settings.values.get(s.name.lower(), s.default)
        ms = s.check.__name__ == "_duration"
        if ms:  # shown as '5s', '1h'; pg_settings holds the number of milliseconds
            value, reset = str(duration_ms(value) or 0), str(duration_ms(reset) or 0)
            kind, lo, hi = "integer", "0", str(2**31 - 1)
        row = {"name": s.name, "setting": value, "unit": "ms" if ms else None,
               "category": _CATEGORY.get(s.name, "Preset Options" if s.read_only else
                                         "Client Connection Defaults / Other Defaults"),
               "short_desc": s.description, "extra_desc": None,
               "context": "internal" if s.read_only else "user", "vartype": kind,
               "source": "session" if s.name.lower() in session.settings.values else "default",
               "min_val": lo, "max_val": hi, "enumvals": enum, "boot_val": s.default,
               "reset_val": reset,
               "sourcefile": None, "sourceline": None, "pending_restart": False}
        for k, v in row.items():
            out[k].append(v)
    return out


def _vartype(s) -> tuple[str, str | None, str | None, list[str] | None]:
    """(vartype, min_val, max_val, enumvals), read from the setting's check function."""
    cells = {c.cell_contents for c in (s.check.__closure__ or ()) if True}
    if s.default in ("on", "off") and s.check.__name__ == "_bool":
        return "bool", None, None, None
    ints = sorted(v for v in cells if isinstance(v, int))
    if len(ints) == 2:
        return "integer", str(ints[0]), str(ints[1]), None
    choices = [v for v in cells if isinstance(v, tuple)]
    if choices:
        return "enum", None, None, list(choices[0])
    return "string", None, None, None


_STAT_COLS = _cols(
    relid=OID, schemaname=NAME, relname=NAME, seq_scan=INT8, last_seq_scan=TSTZ,
    seq_tup_read=INT8, idx_scan=INT8, last_idx_scan=TSTZ, idx_tup_fetch=INT8, n_tup_ins=INT8,
    n_tup_upd=INT8, n_tup_del=INT8, n_tup_hot_upd=INT8, n_tup_newpage_upd=INT8,
    n_live_tup=INT8, n_dead_tup=INT8, n_mod_since_analyze=INT8, n_ins_since_vacuum=INT8,
    last_vacuum=TSTZ, last_autovacuum=TSTZ, last_analyze=TSTZ, last_autoanalyze=TSTZ,
    vacuum_count=INT8, autovacuum_count=INT8, analyze_count=INT8, autoanalyze_count=INT8)


def _stats(view: CatalogView, session, user_only: bool) -> dict:
    tables = sorted(view.tables.values(), key=lambda t: t.oid)
    out: dict[str, list] = {n: [] for n, _ in _STAT_COLS}
    for t in tables:
        for n, typ in _STAT_COLS:
            out[n].append(0 if typ is INT8 else None)
        out["relid"][-1], out["schemaname"][-1], out["relname"][-1] = t.oid, t.schema, t.name
        out["n_live_tup"][-1] = live_rows(session, t.oid)
    return out


@relation("pg_catalog", "pg_stat_user_tables", V + 4, _STAT_COLS, relkind="v", cacheable=False)
def pg_stat_user_tables(view: CatalogView, session) -> dict:
    return _stats(view, session, True)


@relation("pg_catalog", "pg_stat_all_tables", V + 5, _STAT_COLS, relkind="v", cacheable=False)
def pg_stat_all_tables(view: CatalogView, session) -> dict:
    return _stats(view, session, False)


@relation("pg_catalog", "pg_locks", V + 6, _cols(
    locktype=TEXT, database=OID, relation=OID, page=INT4, tuple=R.INT2, virtualxid=TEXT,
    transactionid=XID, classid=OID, objid=OID, objsubid=R.INT2, virtualtransaction=TEXT,
    pid=INT4, mode=TEXT, granted=BOOL, fastpath=BOOL, waitstart=TSTZ), relkind="v")
def pg_locks(view: CatalogView, session) -> dict:
    return {k: [] for k in ("locktype", "database", "relation", "page", "tuple", "virtualxid",
                            "transactionid", "classid", "objid", "objsubid",
                            "virtualtransaction", "pid", "mode", "granted", "fastpath",
                            "waitstart")}


_ACTIVITY = _cols(
    datid=OID, datname=NAME, pid=INT4, leader_pid=INT4, usesysid=OID, usename=NAME,
    application_name=TEXT, client_addr=TEXT, client_hostname=TEXT, client_port=INT4,
    backend_start=TSTZ, xact_start=TSTZ, query_start=TSTZ, state_change=TSTZ,
    wait_event_type=TEXT, wait_event=TEXT, state=TEXT, backend_xid=XID, backend_xmin=XID,
    query_id=INT8, query=TEXT, backend_type=TEXT)


def backend_pid(session) -> int:
    """pg_backend_pid(): the wire server may set ``session.backend_pid``; embedded sessions
    report the process id (one process, as a single backend)."""
    return int(getattr(session, "backend_pid", 0) or os.getpid())


@relation("pg_catalog", "pg_stat_activity", V + 7, _ACTIVITY, relkind="v", cacheable=False)
def pg_stat_activity(view: CatalogView, session) -> dict:
    """The current session (other sessions are not tracked yet)."""
    now = dt.datetime.now(dt.UTC)
    row = {n: None for n, _ in _ACTIVITY}
    row.update(datid=view.db.oid, datname=view.db.name, pid=backend_pid(session),
               usesysid=view.role_oid(session.user), usename=session.user,
               application_name=session.settings.get("application_name"),
               backend_start=STARTED, query_start=now, state_change=now, state="active",
               backend_type="client backend")
    return {k: [v] for k, v in row.items()}


@relation("pg_catalog", "pg_timezone_names", V + 8, _cols(
    name=TEXT, abbrev=TEXT, utc_offset=R.INTERVAL, is_dst=BOOL), relkind="v")
def pg_timezone_names(view: CatalogView, session) -> dict:
    from sqlvec.types.values import Interval

    return {"name": ["UTC", "Etc/UTC"], "abbrev": ["UTC", "UTC"],
            "utc_offset": [Interval(0, 0, 0)] * 2, "is_dst": [False, False]}


@relation("pg_catalog", "pg_cursors", V + 40, _cols(
    name=TEXT, statement=TEXT, is_holdable=BOOL, is_binary=BOOL, is_scrollable=BOOL,
    creation_time=R.TIMESTAMPTZ), relkind="v", cacheable=False)
def pg_cursors(view: CatalogView, session) -> dict:
    """The session's open SQL cursors (DECLARE), as psycopg checks before CLOSE."""
    from sqlvec.cursors import all_cursors

    cs = all_cursors(session)
    return {"name": [c.name for c in cs], "statement": [c.statement for c in cs],
            "is_holdable": [c.hold for c in cs], "is_binary": [c.binary for c in cs],
            "is_scrollable": [c.scroll for c in cs], "creation_time": [c.created for c in cs]}
