"""pg_namespace, pg_class, pg_attribute, pg_attrdef, pg_index, pg_constraint, pg_description,
pg_sequence, pg_depend and the catalogs we have no objects for (always empty)."""

from __future__ import annotations

import pyarrow as pa

from sqlvec.catalog.acl import acl_texts
from sqlvec.catalog.model import MATVIEW
from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg import partitions as pg_partitions
from sqlvec.catalog.pg.describe import default_text
from sqlvec.catalog.pg.source import CatalogView, attnum_of
from sqlvec.catalog.virtual import relation
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import (
    ACLITEM,
    CHAR,
    INT2VECTOR,
    NAME,
    OID,
    OIDVECTOR,
    PG_NODE_TREE,
    XID,
)

BOOL, INT2, INT4, INT8, FLOAT4, TEXT = R.BOOL, R.INT2, R.INT4, R.INT8, R.FLOAT4, R.TEXT
ACL = R.array_of(ACLITEM)
TEXTS = R.array_of(TEXT)
INT2S = R.array_of(INT2)
OIDS = R.array_of(OID)
T = O.CATALOG_TABLE_OIDS


def _cols(**kw):
    return list(kw.items())


@relation("pg_catalog", "pg_namespace", T["pg_namespace"], _cols(
    oid=OID, nspname=NAME, nspowner=OID, nspacl=ACL))
def pg_namespace(view: CatalogView, session) -> dict:
    from sqlvec.privileges import schema_acl_column, schema_owner

    items = sorted(view.namespaces.items(), key=lambda kv: kv[1])
    return {"oid": [v for _, v in items], "nspname": [k for k, _ in items],
            "nspowner": [view.role_oid(schema_owner(view.db, k)) for k, _ in items],
            "nspacl": [schema_acl_column(view.db, k) for k, _ in items]}


_CLASS_COLS = _cols(
    oid=OID, relname=NAME, relnamespace=OID, reltype=OID, reloftype=OID, relowner=OID,
    relam=OID, relfilenode=OID, reltablespace=OID, relpages=INT4, reltuples=FLOAT4,
    relallvisible=INT4, reltoastrelid=OID, relhasindex=BOOL, relisshared=BOOL,
    relpersistence=CHAR, relkind=CHAR, relnatts=INT2, relchecks=INT2, relhasrules=BOOL,
    relhastriggers=BOOL, relhassubclass=BOOL, relrowsecurity=BOOL, relforcerowsecurity=BOOL,
    relispopulated=BOOL, relreplident=CHAR, relispartition=BOOL, relrewrite=OID,
    relfrozenxid=XID, relminmxid=XID, relacl=ACL, reloptions=TEXTS, relpartbound=PG_NODE_TREE)


def live_rows(session, oid: int) -> int:
    """Rows the storage engine holds for a table (0 when it has none, or for views)."""
    try:
        return int(session.db.engine.stats(oid)["rows"])
    except (AttributeError, KeyError):
        return 0


def _natts(rel) -> int:
    if rel.kind in ("r", "v", "m"):
        return len(getattr(rel.obj, "columns", []) or [])
    if rel.kind == "i":
        return len(rel.obj.attnums)
    if rel.kind == "S":
        return 3  # last_value, log_cnt, is_called
    return len(rel.obj.columns)  # a virtual relation


def _fresh_reltuples(view: CatalogView, session, table: pa.Table) -> pa.Table:
    """pg_class with reltuples as storage counts them now: rows change without a catalog
    change, but only at a commit, so the counts are kept until the engine's visible commit
    timestamp moves (reading them walks every table's segments, on disk too)."""
    engine = getattr(getattr(session, "db", None), "engine", None)
    stamp = getattr(engine, "visible_ts", None)
    cached = view.__dict__.get("_pg_class_counted")
    if cached is not None and cached[0] is table and stamp is not None and cached[1] == stamp:
        return cached[2]
    pos = table.schema.get_field_index("reltuples")
    kinds = table.column("relkind").to_pylist()
    oids = table.column("oid").to_pylist()
    counts = [float(live_rows(session, o)) if k in "rm" and o in view.tables else -1.0
              for k, o in zip(kinds, oids)]
    field = table.schema.field(pos)
    out = table.set_column(pos, field, pa.array(counts, field.type))
    view.__dict__["_pg_class_counted"] = (table, stamp, out)
    return out


@relation("pg_catalog", "pg_class", T["pg_class"], _CLASS_COLS, refresh=_fresh_reltuples)
def pg_class(view: CatalogView, session) -> dict:
    out: dict[str, list] = {n: [] for n, _ in _CLASS_COLS}
    indexed = {ix.table.oid for ix in view.indexes}
    parents = {t.options.get("partition_of") for t in view.tables.values()}
    # PostgreSQL enforces foreign keys with triggers, so both tables of a foreign key have
    # relhastriggers (psql reads it to decide whether to list foreign keys)
    fk_tables: set[int] = set()
    for rel in view.relations:
        if rel.kind == "r" and not hasattr(rel.obj, "producer"):
            for k in rel.obj.constraints:
                if k.kind == "f":
                    fk_tables.add(rel.oid)
                    fk_tables.add(getattr(k, "ref_table", 0) or 0)
    for rel in view.relations:
        virtual = hasattr(rel.obj, "producer")
        is_table = rel.kind == "r" and not virtual
        stored = rel.kind in "rm" and not virtual  # a materialized view is a stored Table
        mv = rel.obj.matview if rel.kind == "m" else None
        checks = sum(k.kind == "c" for k in rel.obj.constraints) if is_table else 0
        ix = rel.obj if rel.kind == "i" else None
        row = {
            "oid": rel.oid, "relname": rel.name, "relnamespace": view.namespaces.get(rel.schema, 0),
            "reltype": O.derived_oid(rel.oid, O.DERIVED_ROWTYPE, 0) if stored else 0,
            "reloftype": 0, "relowner": view.role_oid(rel.owner),
            "relam": (O.AM_OID.get(ix.method, 403) if ix else (2 if rel.kind in "rSm" else 0)),
            "relfilenode": rel.oid if rel.kind != "v" else 0, "reltablespace": 0,
            "relpages": 0,
            "reltuples": float(live_rows(session, rel.oid)) if stored else -1.0,
            "relallvisible": 0, "reltoastrelid": 0,
            "relhasindex": rel.oid in indexed, "relisshared": False,
            "relpersistence": rel.persistence, "relkind": rel.kind, "relnatts": _natts(rel),
            "relchecks": checks, "relhasrules": rel.kind in "vm", "relhastriggers": rel.oid in fk_tables,
            "relhassubclass": False, "relrowsecurity": False, "relforcerowsecurity": False,
            "relispopulated": mv is None or mv["populated"], "relreplident": "d" if rel.kind in "rm" else "n",
            "relispartition": False, "relrewrite": 0, "relfrozenxid": 0, "relminmxid": 0,
            "relacl": acl_texts(getattr(rel.obj, "acl", None)) if not virtual and rel.kind != "i" else None,
            "reloptions": ([f"{k}={v}" for k, v in ix.options.items()] or None) if ix else (
                [f"{k}={v}" for k, v in rel.obj.options.items() if k != MATVIEW] or None if stored else None),
            "relpartbound": None,
        }
        if is_table:  # a partitioned parent (relkind p) or a partition
            row.update(pg_partitions.class_fields(rel.obj, rel.oid in parents))
        for k, v in row.items():
            out[k].append(v)
    return out


_ATT_COLS = _cols(
    attrelid=OID, attname=NAME, atttypid=OID, attlen=INT2, attnum=INT2, attcacheoff=INT4,
    atttypmod=INT4, attndims=INT2, attbyval=BOOL, attalign=CHAR, attstorage=CHAR,
    attcompression=CHAR, attnotnull=BOOL, atthasdef=BOOL, atthasmissing=BOOL,
    attidentity=CHAR, attgenerated=CHAR, attisdropped=BOOL, attislocal=BOOL, attinhcount=INT2,
    attstattarget=INT2, attcollation=OID, attacl=ACL, attoptions=TEXTS, attfdwoptions=TEXTS,
    attmissingval=TEXT)
_COLLATABLE = {R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid, NAME.oid}
_SEQ_COLS = [("last_value", INT8), ("log_cnt", INT8), ("is_called", BOOL)]


def _att_row(relid: int, name: str, t, num: int, not_null: bool = False, has_def: bool = False,
             identity: str = "", missing: str | None = None) -> dict:
    d = t.defn
    byval = 0 < d.typlen <= 8
    elem = t.elem if t.elem is not None else t
    return {"attrelid": relid, "attname": name, "atttypid": R.array_of(t.elem).oid if t.elem else t.oid,
            "attlen": d.typlen if not t.elem else -1, "attnum": num, "attcacheoff": -1,
            "atttypmod": t.typmod, "attndims": 1 if t.elem else 0, "attbyval": byval and not t.elem,
            "attalign": {1: "c", 2: "s", 4: "i", 8: "d"}.get(d.typlen, "i") if not t.elem else "i",
            "attstorage": "p" if d.typlen > 0 and not t.elem else "x", "attcompression": "",
            "attnotnull": not_null, "atthasdef": has_def, "atthasmissing": missing is not None,
            "attidentity": identity, "attgenerated": "", "attisdropped": False,
            "attislocal": True, "attinhcount": 0, "attstattarget": -1,
            "attcollation": O.DEFAULT_COLLATION if elem.oid in _COLLATABLE else 0,
            "attacl": None, "attoptions": None, "attfdwoptions": None,
            "attmissingval": None if missing is None else "{" + missing + "}"}


@relation("pg_catalog", "pg_attribute", T["pg_attribute"], _ATT_COLS)
def pg_attribute(view: CatalogView, session) -> dict:
    rows = []
    for rel in view.relations:
        if rel.kind == "S":
            rows += [_att_row(rel.oid, n, t, i + 1, True) for i, (n, t) in enumerate(_SEQ_COLS)]
        elif rel.kind == "i":
            cols = {attnum_of(rel.obj.table, c): c for c in rel.obj.table.columns}
            for i, a in enumerate(rel.obj.attnums):
                c = cols.get(a)
                if c is not None:
                    rows.append(_att_row(rel.oid, c.name, c.type, i + 1))
        elif hasattr(rel.obj, "producer"):  # a virtual relation
            rows += [_att_row(rel.oid, n, t, i + 1) for i, (n, t) in enumerate(rel.obj.columns)]
        else:
            for c in rel.obj.columns:
                rows.append(_att_row(rel.oid, c.name, c.type, attnum_of(rel.obj, c),
                                     getattr(c, "not_null", False),
                                     default_text(c) is not None,
                                     getattr(c, "identity", None) or "",
                                     getattr(c, "missing", None)))
    return {n: [r[n] for r in rows] for n, _ in _ATT_COLS}


@relation("pg_catalog", "pg_attrdef", T["pg_attrdef"], _cols(
    oid=OID, adrelid=OID, adnum=INT2, adbin=PG_NODE_TREE))
def pg_attrdef(view: CatalogView, session) -> dict:
    out: dict[str, list] = {"oid": [], "adrelid": [], "adnum": [], "adbin": []}
    for t in view.tables.values():
        for c in t.columns:
            text = default_text(c)
            if text is not None:
                num = attnum_of(t, c)
                out["oid"].append(O.derived_oid(t.oid, O.DERIVED_ATTRDEF, num))
                out["adrelid"].append(t.oid)
                out["adnum"].append(num)
                out["adbin"].append(text)  # pg_get_expr returns it as it is
    return out


_INDEX_COLS = _cols(
    indexrelid=OID, indrelid=OID, indnatts=INT2, indnkeyatts=INT2, indisunique=BOOL,
    indnullsnotdistinct=BOOL, indisprimary=BOOL, indisexclusion=BOOL, indimmediate=BOOL,
    indisclustered=BOOL, indisvalid=BOOL, indcheckxmin=BOOL, indisready=BOOL, indislive=BOOL,
    indisreplident=BOOL, indkey=INT2VECTOR, indcollation=OIDVECTOR, indclass=OIDVECTOR,
    indoption=INT2VECTOR, indexprs=PG_NODE_TREE, indpred=PG_NODE_TREE)


@relation("pg_catalog", "pg_index", T["pg_index"], _INDEX_COLS)
def pg_index(view: CatalogView, session) -> dict:
    from sqlvec.catalog.pg.types import opclass_oid

    out: dict[str, list] = {n: [] for n, _ in _INDEX_COLS}
    for ix in view.indexes:
        n = len(ix.attnums)
        types = {attnum_of(ix.table, c): c.type for c in ix.table.columns}
        row = {"indexrelid": ix.oid, "indrelid": ix.table.oid, "indnatts": n, "indnkeyatts": n,
               "indisunique": ix.unique, "indnullsnotdistinct": False,
               "indisprimary": ix.primary, "indisexclusion": False, "indimmediate": True,
               "indisclustered": False, "indisvalid": True, "indcheckxmin": False,
               "indisready": True, "indislive": True, "indisreplident": False,
               "indkey": list(ix.attnums),
               "indcollation": [O.DEFAULT_COLLATION if types[a].oid in _COLLATABLE else 0
                                for a in ix.attnums],
               "indclass": [opclass_oid(ix.method, opc, types[a]) for a, opc in
                            zip(ix.attnums, ix.opclasses)],
               "indoption": [0] * n, "indexprs": None,
               "indpred": f"({ix.predicate})" if ix.predicate else None}
        for k, v in row.items():
            out[k].append(v)
    return out


_CON_COLS = _cols(
    oid=OID, conname=NAME, connamespace=OID, contype=CHAR, condeferrable=BOOL,
    condeferred=BOOL, convalidated=BOOL, conrelid=OID, contypid=OID, conindid=OID,
    conparentid=OID, confrelid=OID, confupdtype=CHAR, confdeltype=CHAR, confmatchtype=CHAR,
    conislocal=BOOL, coninhcount=INT2, connoinherit=BOOL, conkey=INT2S, confkey=INT2S,
    conpfeqop=OIDS, conppeqop=OIDS, conffeqop=OIDS, confdelsetcols=INT2S, conexclop=OIDS,
    conbin=PG_NODE_TREE)


@relation("pg_catalog", "pg_constraint", T["pg_constraint"], _CON_COLS)
def pg_constraint(view: CatalogView, session) -> dict:
    out: dict[str, list] = {n: [] for n, _ in _CON_COLS}
    for c in view.constraints:
        fk = c.kind == "f"
        ref_index = 0
        if fk and c.ref_table is not None:
            ref_index = next((i.oid for i in view.indexes if i.table is c.ref_table
                              and i.unique and i.attnums == c.ref_attnums), 0)
        row = {"oid": c.oid, "conname": c.name, "connamespace": view.namespaces.get(c.table.schema, 0),
               "contype": c.kind, "condeferrable": False, "condeferred": False,
               "convalidated": True, "conrelid": c.table.oid, "contypid": 0,
               "conindid": c.index_oid or ref_index, "conparentid": 0,
               "confrelid": c.ref_table.oid if fk and c.ref_table else 0,
               "confupdtype": c.on_update if fk else " ", "confdeltype": c.on_delete if fk else " ",
               "confmatchtype": c.match if fk else " ", "conislocal": True, "coninhcount": 0,
               "connoinherit": c.kind == "c" and False, "conkey": c.attnums or None,
               "confkey": c.ref_attnums if fk else None, "conpfeqop": None, "conppeqop": None,
               "conffeqop": None, "confdelsetcols": None, "conexclop": None,
               "conbin": f"({c.expr})" if c.kind == "c" else None}
        for k, v in row.items():
            out[k].append(v)
    return out


@relation("pg_catalog", "pg_description", T["pg_description"], _cols(
    objoid=OID, classoid=OID, objsubid=INT4, description=TEXT))
def pg_description(view: CatalogView, session) -> dict:
    rows = view.comment_rows()
    return {"objoid": [r[0] for r in rows], "classoid": [r[1] for r in rows],
            "objsubid": [r[2] for r in rows], "description": [r[3] for r in rows]}


@relation("pg_catalog", "pg_sequence", T["pg_sequence"], _cols(
    seqrelid=OID, seqtypid=OID, seqstart=INT8, seqincrement=INT8, seqmax=INT8, seqmin=INT8,
    seqcache=INT8, seqcycle=BOOL))
def pg_sequence(view: CatalogView, session) -> dict:
    seqs = view.sequences()
    return {"seqrelid": [s.oid for s in seqs],
            "seqtypid": [R.type_by_name(s.type).oid for s in seqs],
            "seqstart": [s.start for s in seqs], "seqincrement": [s.increment for s in seqs],
            "seqmax": [s.max_value for s in seqs], "seqmin": [s.min_value for s in seqs],
            "seqcache": [1] * len(seqs), "seqcycle": [s.cycle for s in seqs]}


@relation("pg_catalog", "pg_depend", T["pg_depend"], _cols(
    classid=OID, objid=OID, objsubid=INT4, refclassid=OID, refobjid=OID, refobjsubid=INT4,
    deptype=CHAR))
def pg_depend(view: CatalogView, session) -> dict:
    """Owned sequences ('a': auto) and constraint indexes ('i': internal) — what
    pg_get_serial_sequence, psql and SQLAlchemy look for."""
    rows = []
    for s in view.sequences():
        if s.owned_by is not None and s.owned_by[0] in view.tables:
            t = view.tables[s.owned_by[0]]
            num = attnum_of(t, t.column_by_id(s.owned_by[1]))
            rows.append((O.PG_CLASS, s.oid, 0, O.PG_CLASS, t.oid, num, "a"))
    for ix in view.indexes:
        if ix.constraint_oid:
            rows.append((O.PG_CLASS, ix.oid, 0, O.PG_CONSTRAINT, ix.constraint_oid, 0, "i"))
    names = ["classid", "objid", "objsubid", "refclassid", "refobjid", "refobjsubid", "deptype"]
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


def _empty(schema: str, name: str, oid: int, cols) -> None:
    relation(schema, name, oid, cols)(lambda view, session: {n: [] for n, _ in cols})


# catalogs of features sqlvec does not have: present (clients join them) and empty
# pg_inherits: catalog/pg/partitions.py
_empty("pg_catalog", "pg_trigger", T["pg_trigger"], _cols(
    oid=OID, tgrelid=OID, tgparentid=OID, tgname=NAME, tgfoid=OID, tgtype=INT2, tgenabled=CHAR,
    tgisinternal=BOOL, tgconstrrelid=OID, tgconstrindid=OID, tgconstraint=OID,
    tgdeferrable=BOOL, tginitdeferred=BOOL, tgnargs=INT2, tgattr=INT2VECTOR, tgargs=R.BYTEA,
    tgqual=PG_NODE_TREE, tgoldtable=NAME, tgnewtable=NAME))
_empty("pg_catalog", "pg_rewrite", T["pg_rewrite"], _cols(
    oid=OID, rulename=NAME, ev_class=OID, ev_type=CHAR, ev_enabled=CHAR, is_instead=BOOL,
    ev_qual=PG_NODE_TREE, ev_action=PG_NODE_TREE))
_empty("pg_catalog", "pg_policy", T["pg_policy"], _cols(
    oid=OID, polname=NAME, polrelid=OID, polcmd=CHAR, polpermissive=BOOL, polroles=OIDS,
    polqual=PG_NODE_TREE, polwithcheck=PG_NODE_TREE))
_empty("pg_catalog", "pg_foreign_table", T["pg_foreign_table"], _cols(
    ftrelid=OID, ftserver=OID, ftoptions=TEXTS))
# psql's \d <table> joins these (publications, extended statistics)
_empty("pg_catalog", "pg_publication", T["pg_publication"], _cols(
    oid=OID, pubname=NAME, pubowner=OID, puballtables=BOOL, pubinsert=BOOL, pubupdate=BOOL,
    pubdelete=BOOL, pubtruncate=BOOL, pubviaroot=BOOL))
_empty("pg_catalog", "pg_publication_rel", 6106, _cols(
    oid=OID, prpubid=OID, prrelid=OID, prqual=PG_NODE_TREE, prattrs=INT2VECTOR))
_empty("pg_catalog", "pg_publication_namespace", 6237, _cols(
    oid=OID, pnpubid=OID, pnnspid=OID))
_empty("pg_catalog", "pg_statistic_ext", T["pg_statistic_ext"], _cols(
    oid=OID, stxrelid=OID, stxname=NAME, stxnamespace=OID, stxowner=OID, stxstattarget=INT4,
    stxkeys=INT2VECTOR, stxkind=R.array_of(CHAR), stxexprs=PG_NODE_TREE))
_empty("pg_catalog", "pg_statistic_ext_data", 3429, _cols(
    stxoid=OID, stxdinherit=BOOL))
_empty("pg_catalog", "pg_partitioned_table", T["pg_partitioned_table"], _cols(
    partrelid=OID, partstrat=CHAR, partnatts=INT2, partdefid=OID, partattrs=INT2VECTOR,
    partclass=OIDVECTOR, partcollation=OIDVECTOR, partexprs=PG_NODE_TREE))
_empty("pg_catalog", "pg_statistic_ext", T["pg_statistic_ext"], _cols(
    oid=OID, stxrelid=OID, stxname=NAME, stxnamespace=OID, stxowner=OID, stxstattarget=INT4,
    stxkeys=INT2VECTOR, stxkind=R.array_of(CHAR), stxexprs=PG_NODE_TREE))
_empty("pg_catalog", "pg_event_trigger", T["pg_event_trigger"], _cols(
    oid=OID, evtname=NAME, evtevent=NAME, evtowner=OID, evtfoid=OID, evtenabled=CHAR,
    evttags=TEXTS))
_empty("pg_catalog", "pg_init_privs", T["pg_init_privs"], _cols(
    objoid=OID, classoid=OID, objsubid=INT4, privtype=CHAR, initprivs=ACL))
_empty("pg_catalog", "pg_publication", T["pg_publication"], _cols(
    oid=OID, pubname=NAME, pubowner=OID, puballtables=BOOL, pubinsert=BOOL, pubupdate=BOOL,
    pubdelete=BOOL, pubtruncate=BOOL, pubviaroot=BOOL))
_empty("pg_catalog", "pg_default_acl", T["pg_default_acl"], _cols(
    oid=OID, defaclrole=OID, defaclnamespace=OID, defaclobjtype=CHAR, defaclacl=ACL))
