"""CREATE INDEX / DROP INDEX: the catalog side, and the storage engine's vector index builds.

Vector indexes (``USING hnsw`` / ``ivfflat``) are built per sealed segment by the storage
engine (sqlvec/index/) after the CREATE INDEX commits; the growing segment is always searched
exactly. Other access methods (btree, hash) are recorded in the catalog: a UNIQUE index is
enforced like a UNIQUE constraint, and scans need no B-tree because they run over columns.
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Catalog, DatabaseDef, Index, Table
from sqlvec.grammar import to_sql
from sqlvec.index.options import check_dimensions, validate_options
from sqlvec.result import Notice

VECTOR_METHODS = ("hnsw", "ivfflat")
# operator class -> (element type name, metric), as pgvector declares them
OPCLASSES = {
    "vector_l2_ops": ("vector", "l2"), "vector_ip_ops": ("vector", "ip"),
    "vector_cosine_ops": ("vector", "cosine"), "vector_l1_ops": ("vector", "l1"),
    "halfvec_l2_ops": ("halfvec", "l2"), "halfvec_ip_ops": ("halfvec", "ip"),
    "halfvec_cosine_ops": ("halfvec", "cosine"), "halfvec_l1_ops": ("halfvec", "l1"),
    "bit_hamming_ops": ("bit", "hamming"), "bit_jaccard_ops": ("bit", "jaccard"),
}
# the distance operator each metric's ORDER BY uses
METRIC_OPERATORS = {"l2": "<->", "ip": "<#>", "cosine": "<=>", "l1": "<+>", "hamming": "<~>", "jaccard": "<%>"}


def create_index(cat: Catalog, db: DatabaseDef, node: exp.Create, search_path: list[str], resolve_table,
                 notices: list) -> Index | None:
    ix_node: exp.Index = node.this
    table: Table = resolve_table(ix_node.args["table"])
    params = ix_node.args.get("params")
    method = (params.args.get("using").name.lower() if params is not None and params.args.get("using") else "btree")
    if method not in ("btree", "hash", "bm25", *VECTOR_METHODS):
        raise errors.UndefinedObject(f'access method "{method}" does not exist')
    cols, opclasses = [], []
    for o in (params.args.get("columns") or []) if params is not None else []:
        target = o.this if isinstance(o, exp.Ordered) else o
        opclass = None
        if isinstance(target, exp.Opclass):
            opclass = target.expression.name.lower()
            target = target.this
        if not isinstance(target, exp.Column):
            raise errors.FeatureNotSupported("indexes on expressions are not supported yet")
        c = table.column(target.name)
        if c is None:
            raise errors.UndefinedColumn(f'column "{target.name}" does not exist')
        cols.append(c)
        opclasses.append(opclass)
    if not cols:
        raise errors.SyntaxError("syntax error at or near \")\"")
    options = {}
    for p in (params.args.get("with_storage") or []) if params is not None else []:
        v = p.args.get("value")
        options[p.name.lower()] = v.name if v is not None else None
    metric = None
    if method in VECTOR_METHODS:
        if len(cols) != 1:
            raise errors.FeatureNotSupported(f"access method \"{method}\" does not support multicolumn indexes")
        col, opclass = cols[0], opclasses[0]
        if opclass is None and method == "ivfflat" and col.type.name == "vector":
            opclass = "vector_l2_ops"  # pgvector's one DEFAULT operator class (none for hnsw)
        if opclass is None:
            raise errors.UndefinedObject(
                f'data type {col.type.name} has no default operator class for access method "{method}"',
                hint="You must specify an operator class for the index or define a default operator class for the data type.",
            )
        spec = OPCLASSES.get(opclass)
        if spec is None or spec[0] != col.type.name:
            raise errors.UndefinedObject(
                f'operator class "{opclass}" does not exist for access method "{method}"'
            )
        metric = spec[1]
        if method == "ivfflat" and metric in ("l1", "jaccard"):
            raise errors.UndefinedObject(f'operator class "{opclass}" does not exist for access method "{method}"')
        if col.type.typmod <= 0:
            raise errors.DataException("column does not have dimensions")
        check_dimensions(method, col.type.typmod)
        options = validate_options(method, options)
        if col.type.name == "bit":
            options["nbits"] = col.type.typmod
    elif method == "bm25":
        from sqlvec.exec.fulltext_index import bm25_catalog_options

        options = bm25_catalog_options(cols, options)
    elif options:
        raise errors.InvalidParameterValue(f'unrecognized parameter "{next(iter(options))}"')
    name = ix_node.name
    if not name:
        base = "_".join([table.name, *[c.name for c in cols], "idx"])
        name, i = base, 0
        while db.relation_exists(name, table.schema):
            i += 1
            name = f"{base}{i}"
    elif db.relation_exists(name, table.schema):
        if node.args.get("exists"):
            notices.append(Notice("NOTICE", f'relation "{name}" already exists, skipping', "42P07"))
            return None
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    ix = Index(cat.new_oid(), name, table.schema, table.oid, [c.id for c in cols], method, opclasses,
               options, bool(node.args.get("unique")), metric,
               _predicate(ix_node, table, bool(node.args.get("unique"))))
    db.indexes[ix.oid] = ix
    if ix.unique:
        table.unique_indexes.append((ix.name, list(ix.columns)))
    return ix


def _predicate(ix_node: exp.Index, table: Table, unique: bool) -> str | None:
    """A partial index's WHERE as text. Scans read columns, so the index covering more rows
    than its predicate changes no result; a UNIQUE one would enforce uniqueness on rows it
    must not, so it is refused rather than silently widened."""
    params = ix_node.args.get("params")
    where = params.args.get("where") if params is not None else None
    if where is None:
        return None
    if unique:
        raise errors.FeatureNotSupported("partial unique indexes are not supported yet")
    for col in where.find_all(exp.Column):
        if table.column(col.name) is None:
            raise errors.UndefinedColumn(f'column "{col.name}" does not exist')
    return to_sql(where.this)


def build_vector_index(engine, table: Table, ix: Index, *, wait: bool = True):
    """Ask the storage engine to build (or keep) the per-segment index of a committed CREATE INDEX."""
    if ix.method == "bm25":
        from sqlvec.exec.fulltext_index import open_bm25

        return open_bm25(engine, table, ix)
    if ix.method not in VECTOR_METHODS:
        return None
    col = table.column_by_id(ix.columns[0])
    from sqlvec.exec import isolation

    if isolation.involved(engine, table, ix):  # a partition of a tenant-isolated table
        return isolation.build_index(engine, table, ix, col.id, wait=wait)
    return engine.create_vector_index(table.oid, ix.oid, col.id, ix.method, ix.metric, dict(ix.options), wait=wait)


def vector_index_for(db: DatabaseDef, table_oid: int, column_id: str, metric: str) -> Index | None:
    """The vector index serving ORDER BY <column> <metric's operator>, if there is one."""
    for ix in db.indexes.values():
        if ix.table == table_oid and ix.method in VECTOR_METHODS and ix.columns == [column_id] and ix.metric == metric:
            return ix
    return None
