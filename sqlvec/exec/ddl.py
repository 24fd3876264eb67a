"""DDL: CREATE/DROP/ALTER TABLE, schemas, databases, extensions, TRUNCATE.

Every function here changes the transaction's private catalog copy (and, for data, the
storage transaction); the session publishes the catalog at commit.
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Catalog, Column, Constraint, DatabaseDef, Sequence, Table
from sqlvec.exec import foreign_keys
from sqlvec.grammar import to_sql
from sqlvec.result import Notice, Result
from sqlvec.types import registry as T
from sqlvec.types.base import SqlType

SERIAL_TYPES = {
    exp.DataType.Type.SMALLSERIAL: ("smallint", 32767),
    exp.DataType.Type.SERIAL: ("integer", 2**31 - 1),
    exp.DataType.Type.BIGSERIAL: ("bigint", 2**63 - 1),
}
KNOWN_EXTENSIONS = {"vector": "0.8.0", "plpgsql": "1.0"}


def qualified(node: exp.Table) -> tuple[str, str | None]:
    return node.name, (node.db or None)


def create_table(cat: Catalog, db: DatabaseDef, node: exp.Create, search_path: list[str], notices: list) -> Table | None:
    schema_node = node.this
    if not isinstance(schema_node, exp.Schema):
        raise errors.FeatureNotSupported("CREATE TABLE AS is not supported yet")
    tnode = schema_node.this
    name, schema = qualified(tnode)
    schema = schema or _creation_schema(db, search_path)
    if schema not in db.schemas:
        raise errors.InvalidSchemaName(f'schema "{schema}" does not exist')
    if db.relation_exists(name, schema):
        if node.args.get("exists"):
            notices.append(Notice("NOTICE", f'relation "{name}" already exists, skipping', "42P07"))
            return None
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    table = Table(cat.new_oid(), name, schema, [])
    pending: list = []
    for item in schema_node.expressions:
        if isinstance(item, exp.ColumnDef):
            _add_column(cat, db, table, item, pending)
        else:
            pending.append(item)
    fks = []
    for item in pending:
        if foreign_keys.fk_parts(item) is not None:
            fks.append(foreign_keys.fk_parts(item))  # after the keys they may reference
        else:
            _table_constraint(table, item)
    for cols, ref, cname in fks:
        foreign_keys.add_foreign_key(db, table, cols, ref, cname, search_path)
    props = node.args.get("properties")
    if props is not None:
        for p in props.expressions:
            if isinstance(p, exp.TemporaryProperty):
                raise errors.FeatureNotSupported("temporary tables are not supported yet")
            if isinstance(p, exp.Property) and p.name:
                v = p.args.get("value")
                # WITH (flag = true) parses as a Boolean, whose .name is empty
                table.options[check_option_name(p.name)] = (
                    str(v.this).lower() if isinstance(v, exp.Boolean)
                    else v.name if v is not None else None)
    if not table.columns:
        raise errors.FeatureNotSupported("tables without columns are not supported")
    db.tables[table.oid] = table
    return table


# table options the engine keeps for itself (partitioning, tenant isolation): never a user's
_INTERNAL_OPTIONS = frozenset({"partition_by", "partition_of", "partition_bound", "isolate_by"})


def check_option_name(name: str) -> str:
    """A storage parameter's name as kept in ``Table.options`` (lower case); the engine's own
    keys are refused as PostgreSQL refuses a parameter it does not know."""
    key = name.lower()
    if key in _INTERNAL_OPTIONS:
        raise errors.InvalidParameterValue(f'unrecognized parameter "{name}"')
    return key


def _creation_schema(db: DatabaseDef, search_path: list[str]) -> str:
    for s in search_path:
        if s in db.schemas and s != "pg_catalog" and not s.startswith("pg_temp_"):
            return s
    raise errors.InvalidSchemaName("no schema has been selected to create in")


def as_target(node: exp.Create) -> tuple[exp.Table, list[str] | None, bool]:
    """CREATE ... AS query (table or materialized view): the new relation, its column
    aliases, and whether it is filled now (WITH DATA, the default) or not (WITH NO DATA)."""
    props = node.args.get("properties")
    props = list(props.expressions) if props is not None else []
    with_data = not any(isinstance(p, exp.WithDataProperty) and p.args.get("no") for p in props)
    target, aliases = node.this, None
    if isinstance(target, exp.Schema):
        aliases = [c.name for c in target.expressions]
        target = target.this
    return target, aliases, with_data


def claim_name(db: DatabaseDef, schema: str | None, name: str, search_path: list[str],
               if_not_exists: bool, tag: str) -> tuple[str, Result | None]:
    """The schema a new relation ``name`` goes to; with IF NOT EXISTS and the name taken, also
    PostgreSQL's answer (a NOTICE, nothing created) for the caller to return."""
    schema = schema or _creation_schema(db, search_path)
    if schema not in db.schemas:
        raise errors.InvalidSchemaName(f'schema "{schema}" does not exist')
    if db.relation_exists(name, schema):
        if if_not_exists:
            return schema, Result(tag, notices=[Notice("NOTICE", f'relation "{name}" already exists, skipping', "42P07")])
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    return schema, None


def column_type(kind: exp.DataType) -> tuple[SqlType, tuple[str, int] | None]:
    serial = SERIAL_TYPES.get(kind.this)
    if serial is not None:
        return T.type_by_name(serial[0]), serial
    return T.from_sqlglot(kind), None


def _add_column(cat: Catalog, db: DatabaseDef, table: Table, node: exp.ColumnDef, pending: list) -> Column:
    name = node.name
    if table.column(name) is not None:
        raise errors.DuplicateColumn(f'column "{name}" specified more than once')
    kind = node.args.get("kind")
    if kind is None:
        raise errors.SyntaxError(f'column "{name}" has no type')
    typ, serial = column_type(kind)
    col = Column(f"c{table.next_col}", name, typ, attnum=table.next_col)
    table.next_col += 1
    if serial is not None:
        seq = _owned_sequence(cat, db, table, col, serial[0], serial[1])
        col.default = f"nextval('{seq.name}')"
        col.not_null = True
    for cc in node.args.get("constraints") or []:
        k = cc.args.get("kind")
        if isinstance(k, exp.NotNullColumnConstraint):
            col.not_null = not k.args.get("allow_null")
        elif isinstance(k, exp.PrimaryKeyColumnConstraint):
            col.not_null = True
            pending.append(("p", [name], _cname(cc)))
        elif isinstance(k, exp.UniqueColumnConstraint):
            if k.args.get("nulls"):
                raise errors.FeatureNotSupported("UNIQUE NULLS NOT DISTINCT is not supported yet")
            pending.append(("u", [name], _cname(cc)))
        elif isinstance(k, exp.DefaultColumnConstraint):
            col.default = to_sql(k.this)
        elif isinstance(k, exp.CheckColumnConstraint):
            pending.append(("c", [], _cname(cc), to_sql(k.this)))
        elif isinstance(k, exp.GeneratedAsIdentityColumnConstraint):
            if typ.name not in ("smallint", "integer", "bigint"):
                raise errors.InvalidTableDefinition('identity column type must be smallint, integer, or bigint')
            limit = {"smallint": 32767, "integer": 2**31 - 1, "bigint": 2**63 - 1}[typ.name]
            seq = _owned_sequence(cat, db, table, col, typ.name, limit)
            apply_sequence_options(seq, k.args)
            col.identity = "a" if k.this else "d"
            col.default = f"nextval('{seq.name}')"
            col.not_null = True
        elif isinstance(k, exp.Reference):
            pending.append(("f", [name], _cname(cc), k))
        elif k is None:
            continue
        else:
            raise errors.FeatureNotSupported(f"column constraint {to_sql(cc)} is not supported yet")
    table.columns.append(col)
    return col


def _cname(cc: exp.ColumnConstraint) -> str | None:
    n = cc.args.get("this")
    return n.name if n is not None else None


def _owned_sequence(cat: Catalog, db: DatabaseDef, table: Table, col: Column, typ: str, limit: int) -> Sequence:
    base = f"{table.name}_{col.name}_seq"
    name, i = base, 0
    while db.relation_exists(name, table.schema):
        i += 1
        name = f"{base}{i}"
    seq = Sequence(cat.new_oid(), name, table.schema, max_value=limit, owned_by=(table.oid, col.id), type=typ)
    db.sequences[seq.oid] = seq
    return seq


def _int_arg(v) -> int | None:
    if v is None:
        return None
    if isinstance(v, exp.Neg):
        return -int(v.this.name)
    return int(v.name)


def apply_sequence_options(seq: Sequence, args: dict) -> None:
    """START/INCREMENT/MINVALUE/MAXVALUE/CYCLE from a sqlglot SequenceProperties or identity."""
    inc = _int_arg(args.get("increment"))
    if inc is not None:
        if inc == 0:
            raise errors.InvalidParameterValue("INCREMENT must not be zero")
        seq.increment = inc
        if inc < 0:
            seq.max_value, seq.min_value = -1, -(2**63)
    lo, hi = _int_arg(args.get("minvalue")), _int_arg(args.get("maxvalue"))
    if lo is not None:
        seq.min_value = lo
    if hi is not None:
        seq.max_value = hi
    start = _int_arg(args.get("start"))
    seq.start = start if start is not None else (seq.min_value if seq.increment > 0 else seq.max_value)
    opts = args.get("options") or []
    if any(isinstance(o, exp.Var) and o.name.upper() == "CYCLE" for o in opts) or args.get("cycle"):
        seq.cycle = True
    if not seq.min_value <= seq.start <= seq.max_value:
        raise errors.InvalidParameterValue(
            f"START value ({seq.start}) cannot be {'less' if seq.start < seq.min_value else 'greater'} than "
            f"{'MINVALUE' if seq.start < seq.min_value else 'MAXVALUE'} ({seq.min_value if seq.start < seq.min_value else seq.max_value})"
        )


def create_sequence(cat: Catalog, db: DatabaseDef, node: exp.Create, search_path: list[str], notices: list) -> None:
    name, schema = qualified(node.this)
    schema = schema or _creation_schema(db, search_path)
    if db.relation_exists(name, schema):
        if node.args.get("exists"):
            notices.append(Notice("NOTICE", f'relation "{name}" already exists, skipping', "42P07"))
            return
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    seq = Sequence(cat.new_oid(), name, schema)
    props = node.args.get("properties")
    for p in props.expressions if props is not None else []:
        if isinstance(p, exp.SequenceProperties):
            apply_sequence_options(seq, p.args)
    db.sequences[seq.oid] = seq


def _table_constraint(table: Table, item) -> None:
    if isinstance(item, tuple):
        kind, cols, name = item[0], item[1], item[2]
        expr = item[3] if len(item) > 3 else None
    else:
        name = None
        node = item
        if isinstance(node, exp.Constraint):
            name = node.name
            node = node.expressions[0] if node.expressions else None
        expr = None
        if isinstance(node, exp.PrimaryKey):
            kind, cols = "p", [c.name for c in node.expressions]
        elif isinstance(node, exp.UniqueColumnConstraint):
            kind = "u"
            sch = node.this
            cols = [c.name for c in sch.expressions] if isinstance(sch, exp.Schema) else [sch.name]
        elif isinstance(node, exp.CheckColumnConstraint) or isinstance(node, exp.Check):
            kind, cols, expr = "c", [], to_sql(node.this)
        elif isinstance(node, exp.ForeignKey):
            raise errors.FeatureNotSupported("foreign keys are not supported yet")
        else:
            raise errors.FeatureNotSupported(f"table constraint {to_sql(item)} is not supported yet")
    ids = []
    for cname in cols:
        c = table.column(cname)
        if c is None:
            raise errors.UndefinedColumn(f'column "{cname}" named in key does not exist')
        if kind == "p":
            c.not_null = True
        ids.append(c.id)
    if kind == "p" and table.primary_key() is not None:
        raise errors.InvalidTableDefinition(f'multiple primary keys for table "{table.name}" are not allowed')
    if name is None:
        if kind == "c":
            # PostgreSQL names a CHECK after the one column it reads, if it reads exactly one
            from sqlvec.grammar import parse_expression

            used = {c.name for c in parse_expression(expr).find_all(exp.Column)}
            cols = sorted(used) if len(used) == 1 else []
        name = _default_constraint_name(table, kind, cols)
    if any(k.name == name for k in table.constraints):
        raise errors.DuplicateObject(f'constraint "{name}" for relation "{table.name}" already exists')
    table.constraints.append(Constraint(name, kind, ids if kind != "c" else ids, expr))


def _default_constraint_name(table: Table, kind: str, cols: list[str]) -> str:
    if kind == "p":
        return f"{table.name}_pkey"
    suffix = {"u": "key", "c": "check"}[kind]
    base = "_".join([table.name, *cols, suffix])
    name, i = base, 0
    while any(k.name == name for k in table.constraints):
        i += 1
        name = f"{base}{i}"
    return name


def drop_table(db: DatabaseDef, table: Table) -> None:
    del db.tables[table.oid]
    for seq in list(db.sequences.values()):
        if seq.owned_by and seq.owned_by[0] == table.oid:
            del db.sequences[seq.oid]


def check_identifier(name: str) -> None:
    if len(name.encode()) > 63:
        raise errors.NameTooLong(f'identifier "{name}" is too long')
