"""pg_type, pg_proc, pg_operator, pg_am, pg_opclass, pg_opfamily, pg_collation, pg_language,
pg_range and pg_enum.

Types come from the type registry (with their array types, the pseudo-types and one
composite row type per table); the vector extension's types, functions and operators live
in the schema of ``CREATE EXTENSION vector`` (public) once it is created, else in pg_catalog.
"""

from __future__ import annotations

from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg import routines as P
from sqlvec.catalog.pg.source import CatalogView
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.base import SqlType
from sqlvec.types.catalog_types import ACLITEM, CHAR, NAME, OID, OIDVECTOR, PG_NODE_TREE, REGPROC

BOOL, INT2, INT4, FLOAT4, TEXT = R.BOOL, R.INT2, R.INT4, R.FLOAT4, R.TEXT
T = O.CATALOG_TABLE_OIDS


def _cols(**kw):
    return list(kw.items())


def ext_namespace(view: CatalogView) -> int:
    """Where the vector extension's objects live: public once created (pgvector's default)."""
    return O.NAMESPACES["public"] if "vector" in view.db.extensions else O.NAMESPACES["pg_catalog"]


# -- operator classes ------------------------------------------------------------------------------

# (method, opclass name, input type name, default for the type)
_OPCLASS_SPECS = [
    *(("btree", f"{tn}_ops", tn, True) for tn in (
        "bool", "bytea", "char", "name", "int8", "int2", "int4", "text", "oid", "float4",
        "float8", "bpchar", "date", "time", "timestamp", "timestamptz", "interval", "numeric",
        "uuid", "jsonb", "bit", "varbit")),
    *(("hash", f"{tn}_ops", tn, True) for tn in ("int4", "int8", "text", "bpchar", "uuid", "oid")),
    ("btree", "vector_ops", "vector", True),
    # pgvector declares no DEFAULT operator class for hnsw (only ivfflat's vector_l2_ops)
    *(("hnsw", f"{t}_{d}_ops", t, False) for t in ("vector", "halfvec", "sparsevec")
      for d in ("l2", "ip", "cosine", "l1")),
    ("hnsw", "bit_hamming_ops", "bit", False), ("hnsw", "bit_jaccard_ops", "bit", False),
    *(("ivfflat", f"{t}_{d}_ops", t, t == "vector" and d == "l2") for t in ("vector", "halfvec")
      for d in ("l2", "ip", "cosine")),
    ("ivfflat", "bit_hamming_ops", "bit", False),
    ("bm25", "text_bm25_ops", "text", True),
]


def _opclasses() -> list[tuple[int, str, str, int, bool]]:
    out, builtin, ext = [], O.OPCLASS_BASE, 17010
    for method, name, tname, default in _OPCLASS_SPECS:
        if method in O.VECTOR_AMS or tname in ("vector", "halfvec", "sparsevec"):
            oid, ext = ext, ext + 1
        else:
            oid, builtin = builtin, builtin + 1
        out.append((oid, method, name, R.type_by_name(tname).oid, default))
    return out


OPCLASSES = _opclasses()
_OPC_BY_NAME = {(m, n): oid for oid, m, n, _, _ in OPCLASSES}
_OPC_DEFAULT = {(m, t): oid for oid, m, _, t, d in OPCLASSES if d}
# string types share text's operator class, as in PostgreSQL (varchar has none of its own)
_OPC_TYPE_ALIAS = {R.VARCHAR.oid: R.TEXT.oid}


def opclass_oid(method: str, name: str | None, t: SqlType) -> int:
    """The pg_opclass OID an index column uses (its named class, or the type's default)."""
    if name:
        return _OPC_BY_NAME.get((method, name), 0)
    toid = _OPC_TYPE_ALIAS.get(t.oid, t.oid)
    return _OPC_DEFAULT.get((method, toid), 0)


def _is_ext_type(oid: int) -> bool:
    return oid in P.VECTOR_TYPE_OIDS


@relation("pg_catalog", "pg_opclass", T["pg_opclass"], _cols(
    oid=OID, opcmethod=OID, opcname=NAME, opcnamespace=OID, opcowner=OID, opcfamily=OID,
    opcintype=OID, opcdefault=BOOL, opckeytype=OID))
def pg_opclass(view: CatalogView, session) -> dict:
    rows = OPCLASSES
    ns = [ext_namespace(view) if oid >= 17000 else O.NAMESPACES["pg_catalog"] for oid, *_ in rows]
    return {"oid": [r[0] for r in rows], "opcmethod": [O.AM_OID[r[1]] for r in rows],
            "opcname": [r[2] for r in rows], "opcnamespace": ns,
            "opcowner": [O.BOOTSTRAP_SUPERUSER] * len(rows), "opcfamily": [r[0] for r in rows],
            "opcintype": [r[3] for r in rows], "opcdefault": [r[4] for r in rows],
            "opckeytype": [0] * len(rows)}


@relation("pg_catalog", "pg_opfamily", T["pg_opfamily"], _cols(
    oid=OID, opfmethod=OID, opfname=NAME, opfnamespace=OID, opfowner=OID))
def pg_opfamily(view: CatalogView, session) -> dict:
    rows = OPCLASSES
    return {"oid": [r[0] for r in rows], "opfmethod": [O.AM_OID[r[1]] for r in rows],
            "opfname": [r[2] for r in rows],
            "opfnamespace": [ext_namespace(view) if r[0] >= 17000 else 11 for r in rows],
            "opfowner": [O.BOOTSTRAP_SUPERUSER] * len(rows)}


@relation("pg_catalog", "pg_am", T["pg_am"], _cols(
    oid=OID, amname=NAME, amhandler=REGPROC, amtype=CHAR))
def pg_am(view: CatalogView, session) -> dict:
    by_name = P.procs_by_name()
    rows = O.ACCESS_METHODS
    return {"oid": [r[0] for r in rows], "amname": [r[1] for r in rows],
            "amhandler": [by_name[r[3]][0].oid if r[3] in by_name else 0 for r in rows],
            "amtype": [r[2] for r in rows]}


# -- types ------------------------------------------------------------------------------------------

_TYPE_COLS = _cols(
    oid=OID, typname=NAME, typnamespace=OID, typowner=OID, typlen=INT2, typbyval=BOOL,
    typtype=CHAR, typcategory=CHAR, typispreferred=BOOL, typisdefined=BOOL, typdelim=CHAR,
    typrelid=OID, typsubscript=REGPROC, typelem=OID, typarray=OID, typinput=REGPROC,
    typoutput=REGPROC, typreceive=REGPROC, typsend=REGPROC, typmodin=REGPROC,
    typmodout=REGPROC, typanalyze=REGPROC, typalign=CHAR, typstorage=CHAR, typnotnull=BOOL,
    typbasetype=OID, typtypmod=INT4, typndims=INT4, typcollation=OID,
    typdefaultbin=PG_NODE_TREE, typdefault=TEXT, typacl=R.array_of(ACLITEM))
# int2vector and oidvector are arrays to clients (category A, element type) though the
# engine stores them as their own types
_VECTOR_LIKE = {22: 21, 30: 26}
_COLLATABLE = {R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid, NAME.oid}


def _type_row(view: CatalogView, d) -> dict:
    elem = d.elem_oid or _VECTOR_LIKE.get(d.oid, 0)
    ext = _is_ext_type(d.oid)
    io = P.io_proc_oids(d)
    collatable = d.oid in _COLLATABLE or R.typedef_by_oid(d.elem_oid) is not None and d.elem_oid in _COLLATABLE
    return {"oid": d.oid, "typname": d.typname,
            "typnamespace": ext_namespace(view) if ext else O.NAMESPACES["pg_catalog"],
            "typowner": O.BOOTSTRAP_SUPERUSER, "typlen": d.typlen,
            "typbyval": 0 < d.typlen <= 8 and d.category != "A", "typtype": "b",
            "typcategory": "A" if elem else d.category, "typispreferred": d.preferred,
            "typisdefined": True, "typdelim": ",", "typrelid": 0, "typsubscript": 0,
            "typelem": elem, "typarray": d.array_oid, "typinput": io[0], "typoutput": io[1],
            "typreceive": io[2], "typsend": io[3], "typmodin": 0, "typmodout": 0,
            "typanalyze": 0, "typalign": {1: "c", 2: "s", 4: "i", 8: "d"}.get(d.typlen, "i"),
            "typstorage": "p" if d.typlen > 0 else ("x" if d.typlen == -1 else "p"),
            "typnotnull": False, "typbasetype": 0, "typtypmod": -1, "typndims": 0,
            "typcollation": O.DEFAULT_COLLATION if collatable else 0, "typdefaultbin": None,
            "typdefault": None, "typacl": None}


def _pseudo_row(name: str, oid: int) -> dict:
    return {"oid": oid, "typname": name, "typnamespace": O.NAMESPACES["pg_catalog"],
            "typowner": O.BOOTSTRAP_SUPERUSER, "typlen": 4 if name != "cstring" else -2,
            "typbyval": name != "cstring", "typtype": "p", "typcategory": "P",
            "typispreferred": False, "typisdefined": True, "typdelim": ",", "typrelid": 0,
            "typsubscript": 0, "typelem": 0, "typarray": 0, "typinput": 0, "typoutput": 0,
            "typreceive": 0, "typsend": 0, "typmodin": 0, "typmodout": 0, "typanalyze": 0,
            "typalign": "i", "typstorage": "p", "typnotnull": False, "typbasetype": 0,
            "typtypmod": -1, "typndims": 0, "typcollation": 0, "typdefaultbin": None,
            "typdefault": None, "typacl": None}


@relation("pg_catalog", "pg_type", T["pg_type"], _TYPE_COLS)
def pg_type(view: CatalogView, session) -> dict:
    rows = [_type_row(view, d) for d in R.all_typedefs()]
    rows += [_pseudo_row(n, o) for n, o in sorted(P.PSEUDO_TYPES.items(), key=lambda kv: kv[1])]
    for rel in view.relations:  # composite row types of tables and materialized views
        if rel.kind in "rm" and not hasattr(rel.obj, "producer"):
            oid = O.derived_oid(rel.oid, O.DERIVED_ROWTYPE, 0)
            row = _pseudo_row(rel.name, oid)
            row.update(typnamespace=view.namespaces.get(rel.schema, 0), typlen=-1,
                       typbyval=False, typtype="c", typcategory="C", typrelid=rel.oid,
                       typarray=O.derived_oid(rel.oid, O.DERIVED_ROWTYPE, 1), typalign="d",
                       typstorage="x")
            arr = dict(row, oid=row["typarray"], typname="_" + rel.name, typtype="b",
                       typcategory="A", typrelid=0, typelem=oid, typarray=0)
            rows += [row, arr]
    return {n: [r[n] for r in rows] for n, _ in _TYPE_COLS}


# -- functions and operators --------------------------------------------------------------------------

_PROC_COLS = _cols(
    oid=OID, proname=NAME, pronamespace=OID, proowner=OID, prolang=OID, procost=FLOAT4,
    prorows=FLOAT4, provariadic=OID, prosupport=REGPROC, prokind=CHAR, prosecdef=BOOL,
    proleakproof=BOOL, proisstrict=BOOL, proretset=BOOL, provolatile=CHAR, proparallel=CHAR,
    pronargs=INT2, pronargdefaults=INT2, prorettype=OID, proargtypes=OIDVECTOR,
    proallargtypes=R.array_of(OID), proargmodes=R.array_of(CHAR), proargnames=R.array_of(TEXT),
    proargdefaults=PG_NODE_TREE, protrftypes=R.array_of(OID), prosrc=TEXT, probin=TEXT,
    prosqlbody=PG_NODE_TREE, proconfig=R.array_of(TEXT), proacl=R.array_of(ACLITEM))


@relation("pg_catalog", "pg_proc", T["pg_proc"], _PROC_COLS)
def pg_proc(view: CatalogView, session) -> dict:
    procs = P.catalog()[0]
    ext_ns = ext_namespace(view)
    n = len(procs)
    return {
        "oid": [p.oid for p in procs], "proname": [p.name for p in procs],
        "pronamespace": [ext_ns if p.extension else 11 for p in procs],
        "proowner": [O.BOOTSTRAP_SUPERUSER] * n,
        "prolang": [O.C_LANGUAGE_OID if p.extension else O.INTERNAL_LANGUAGE_OID for p in procs],
        "procost": [1.0] * n, "prorows": [0.0] * n, "provariadic": [p.variadic for p in procs],
        "prosupport": [0] * n, "prokind": [p.kind for p in procs], "prosecdef": [False] * n,
        "proleakproof": [False] * n, "proisstrict": [p.strict for p in procs],
        "proretset": [False] * n, "provolatile": [p.volatile for p in procs],
        "proparallel": ["s"] * n, "pronargs": [len(p.argtypes) for p in procs],
        "pronargdefaults": [0] * n, "prorettype": [p.rettype for p in procs],
        "proargtypes": [list(p.argtypes) for p in procs], "proallargtypes": [None] * n,
        "proargmodes": [None] * n, "proargnames": [None] * n, "proargdefaults": [None] * n,
        "protrftypes": [None] * n, "prosrc": [p.src for p in procs],
        "probin": ["$libdir/vector" if p.extension else None for p in procs],
        "prosqlbody": [None] * n, "proconfig": [None] * n, "proacl": [None] * n}


_OPER_COLS = _cols(
    oid=OID, oprname=NAME, oprnamespace=OID, oprowner=OID, oprkind=CHAR, oprcanmerge=BOOL,
    oprcanhash=BOOL, oprleft=OID, oprright=OID, oprresult=OID, oprcom=OID, oprnegate=OID,
    oprcode=REGPROC, oprrest=REGPROC, oprjoin=REGPROC)


@relation("pg_catalog", "pg_operator", T["pg_operator"], _OPER_COLS)
def pg_operator(view: CatalogView, session) -> dict:
    ops = P.catalog()[1]
    procs = {(p.name, p.argtypes): p.oid for p in P.catalog()[0]}
    ext_ns, n = ext_namespace(view), len(ops)
    by_key = {(o.name, o.left, o.right): o.oid for o in ops}
    neg = {"=": "<>", "<>": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
    com = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
    return {
        "oid": [o.oid for o in ops], "oprname": [o.name for o in ops],
        "oprnamespace": [ext_ns if o.extension else 11 for o in ops],
        "oprowner": [O.BOOTSTRAP_SUPERUSER] * n,
        "oprkind": ["l" if o.left == 0 else "b" for o in ops],
        "oprcanmerge": [o.name == "=" for o in ops], "oprcanhash": [o.name == "=" for o in ops],
        "oprleft": [o.left for o in ops], "oprright": [o.right for o in ops],
        "oprresult": [o.result for o in ops],
        "oprcom": [by_key.get((com.get(o.name, ""), o.right, o.left), 0) for o in ops],
        "oprnegate": [by_key.get((neg.get(o.name, ""), o.left, o.right), 0) for o in ops],
        "oprcode": [procs.get((o.proc, tuple(a for a in (o.left, o.right) if a)), 0) for o in ops],
        "oprrest": [0] * n, "oprjoin": [0] * n}


@relation("pg_catalog", "pg_collation", T["pg_collation"], _cols(
    oid=OID, collname=NAME, collnamespace=OID, collowner=OID, collprovider=CHAR,
    collisdeterministic=BOOL, collencoding=INT4, collcollate=TEXT, collctype=TEXT,
    colliculocale=TEXT, collicurules=TEXT, collversion=TEXT))
def pg_collation(view: CatalogView, session) -> dict:
    rows = [(O.DEFAULT_COLLATION, "default", "d", -1, None), (O.C_COLLATION, "C", "c", -1, "C"),
            (O.POSIX_COLLATION, "POSIX", "c", -1, "POSIX")]
    return {"oid": [r[0] for r in rows], "collname": [r[1] for r in rows],
            "collnamespace": [11] * 3, "collowner": [O.BOOTSTRAP_SUPERUSER] * 3,
            "collprovider": [r[2] for r in rows], "collisdeterministic": [True] * 3,
            "collencoding": [r[3] for r in rows], "collcollate": [r[4] for r in rows],
            "collctype": [r[4] for r in rows], "colliculocale": [None] * 3,
            "collicurules": [None] * 3, "collversion": [None] * 3}


@relation("pg_catalog", "pg_language", T["pg_language"], _cols(
    oid=OID, lanname=NAME, lanowner=OID, lanispl=BOOL, lanpltrusted=BOOL, lanplcallfoid=OID,
    laninline=OID, lanvalidator=OID, lanacl=R.array_of(ACLITEM)))
def pg_language(view: CatalogView, session) -> dict:
    rows = [(O.INTERNAL_LANGUAGE_OID, "internal", False, False),
            (O.C_LANGUAGE_OID, "c", False, False), (O.SQL_LANGUAGE_OID, "sql", False, True),
            (O.PLPGSQL_LANGUAGE_OID, "plpgsql", True, True)]
    return {"oid": [r[0] for r in rows], "lanname": [r[1] for r in rows],
            "lanowner": [O.BOOTSTRAP_SUPERUSER] * 4, "lanispl": [r[2] for r in rows],
            "lanpltrusted": [r[3] for r in rows], "lanplcallfoid": [0] * 4,
            "laninline": [0] * 4, "lanvalidator": [0] * 4, "lanacl": [None] * 4}


def _empty(name: str, cols) -> None:
    relation("pg_catalog", name, T[name], cols)(lambda view, session: {n: [] for n, _ in cols})


_empty("pg_range", _cols(rngtypid=OID, rngsubtype=OID, rngmultitypid=OID, rngcollation=OID,
                         rngsubopc=OID, rngcanonical=REGPROC, rngsubdiff=REGPROC))
_empty("pg_enum", _cols(oid=OID, enumtypid=OID, enumsortorder=FLOAT4, enumlabel=NAME))
