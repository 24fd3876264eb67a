"""DDL of partitioned tables: PARTITION BY, WITH (partition_key = ...), PARTITION OF,
ATTACH / DETACH PARTITION, and the partitions that DROP and CREATE INDEX reach through a parent.

The catalog shape is described in :mod:`sqlvec.plan.partitions`. Bounds are validated as
PostgreSQL does (same SQLSTATEs and wording): a bound of the wrong kind for the parent's
strategy, an empty range, and a bound overlapping an existing partition are errors.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Catalog, DatabaseDef, Index, Table
from sqlvec.exec import isolation
from sqlvec.grammar import to_sql
from sqlvec.plan import partitions as P
from sqlvec.result import Result

MAX_PARTITIONS = 2048  # a parent scan's row ids hold the partition position in 11 bits
_STRATEGIES = {"HASH": "hash", "LIST": "list", "RANGE": "range"}


def declare(cat: Catalog, db: DatabaseDef, table: Table, node: exp.Create) -> list[Table]:
    """Make a just-created table a partitioned parent if it says so; returns partitions created
    with it (Milvus-style ``WITH (partition_key = 'col', num_partitions = N)``)."""
    props = node.args.get("properties")
    by = next((p for p in (props.expressions if props else []) if isinstance(p, exp.PartitionedByProperty)), None)
    if by is not None:
        fn = by.this
        # HASH (...) and RANGE (...) parse as anonymous calls, LIST (...) as exp.List
        word = fn.name if isinstance(fn, exp.Anonymous) else fn.key if isinstance(fn, exp.Func) else ""
        strategy = _STRATEGIES.get(word.upper())
        cols = fn.expressions if isinstance(fn, exp.Func) else []
        if strategy is None:
            raise errors.SyntaxError("syntax error at or near \"PARTITION\"")
        if len(cols) != 1 or not isinstance(cols[0], exp.Column):
            raise errors.FeatureNotSupported("partitioning by more than one column or by an expression is not supported yet")
        _make_parent(table, cols[0].name, strategy)
        isolation.declare(table, [])  # isolation needs partition_key: raises if asked for
        return []
    key = table.options.get("partition_key")
    if key is None:
        if "num_partitions" in table.options:
            raise errors.InvalidParameterValue("num_partitions requires partition_key")
        isolation.declare(table, [])
        return []
    n = _int_option(table.options.get("num_partitions") or "16", "num_partitions")
    if not 1 <= n <= 1024:
        raise errors.InvalidParameterValue("num_partitions must be between 1 and 1024")
    _make_parent(table, key, "hash")
    table.options["num_partitions"] = str(n)
    children = [_new_child(cat, db, table, f"{table.name}_p{i}", {"kind": "hash", "modulus": n, "remainder": i}) for i in range(n)]
    isolation.declare(table, children)  # WITH (partition_key_isolation = true)
    return children


def _int_option(v: str, name: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise errors.InvalidParameterValue(f'invalid value for integer option "{name}": {v}') from None


def _make_parent(table: Table, column: str, strategy: str) -> None:
    col = table.column(column)
    if col is None:
        raise errors.UndefinedColumn(f'column "{column}" named in partition key does not exist')
    for c in table.unique_constraints():
        if col.id not in c.columns:
            kind = "PRIMARY KEY" if c.kind == "p" else "UNIQUE"
            raise errors.FeatureNotSupported(
                "unique constraint on partitioned table must include all partitioning columns",
                detail=f'{kind} constraint on table "{table.name}" lacks column "{column}" which is part of the partition key.',
            )
    table.options["partition_by"] = {"strategy": strategy, "column": col.id}


def _new_child(cat: Catalog, db: DatabaseDef, parent: Table, name: str, bound: dict) -> Table:
    if db.relation_exists(name, parent.schema):
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    child = Table(cat.new_oid(), name, parent.schema, copy.deepcopy(parent.columns), next_col=parent.next_col)
    for c in parent.constraints:
        if c.kind in "pu":  # each partition enforces the key for its own rows (it holds the key)
            cc = copy.deepcopy(c)
            cc.name = re.sub(f"^{re.escape(parent.name)}", name, c.name)
            cc.oid = cc.index_oid = 0
            child.constraints.append(cc)
        elif c.kind == "c":
            child.constraints.append(copy.deepcopy(c))
    _attach(db, parent, child, bound)
    db.tables[child.oid] = child
    return child


def _attach(db: DatabaseDef, parent: Table, child: Table, bound: dict) -> None:
    _check_overlap(db, parent, child.name, bound)
    if len(P.children(db, parent)) >= MAX_PARTITIONS:
        raise errors.ProgramLimitExceeded(f"a table may have at most {MAX_PARTITIONS} partitions")
    child.options["partition_of"] = parent.oid
    child.options["partition_bound"] = bound


# -- CREATE TABLE p PARTITION OF t ... ----------------------------------------------------------
def partition_of(node: exp.Create) -> exp.PartitionedOfProperty | None:
    props = node.args.get("properties")
    return next((p for p in (props.expressions if props else []) if isinstance(p, exp.PartitionedOfProperty)), None)


def create_partition(session, cat: Catalog, db: DatabaseDef, node: exp.Create) -> Table | None:
    search_path = session.search_path()
    prop = partition_of(node)
    parent = _find(db, prop.this, search_path)
    tnode = node.this.this if isinstance(node.this, exp.Schema) else node.this
    if isinstance(node.this, exp.Schema) and node.this.expressions:
        raise errors.FeatureNotSupported("column definitions in CREATE TABLE ... PARTITION OF are not supported yet")
    if db.relation_exists(tnode.name, tnode.db or parent.schema):
        if node.args.get("exists"):
            return None
        raise errors.DuplicateTable(f'relation "{tnode.name}" already exists')
    bound = parse_bound(parent, prop.expression)
    child = _new_child(cat, db, parent, tnode.name, bound)
    _check_default(session, db, parent)
    return child


def _find(db: DatabaseDef, tnode: exp.Table, search_path: list[str]) -> Table:
    t = db.find_table(tnode.name, tnode.db or None, search_path)
    if t is None:
        raise errors.UndefinedTable(f'relation "{tnode.name}" does not exist')
    return t


def _value_text(e: exp.Expression) -> str | None:
    if isinstance(e, exp.Null):
        return None
    if isinstance(e, exp.Literal):
        return e.name
    if isinstance(e, exp.Cast):
        return _value_text(e.this)
    if isinstance(e, exp.Neg) and isinstance(e.this, exp.Literal):
        return "-" + e.this.name
    if isinstance(e, exp.Boolean):
        return "true" if e.this else "false"
    raise errors.FeatureNotSupported(f"partition bound {to_sql(e)} is not supported yet: use a literal")


def parse_bound(parent: Table, spec: exp.Expression) -> dict:
    strategy = P.spec(parent)
    if strategy is None:
        raise errors.WrongObjectType(f'"{parent.name}" is not partitioned')
    strategy = strategy["strategy"]
    if isinstance(spec, exp.Var) and spec.name.upper() == "DEFAULT":
        if strategy == "hash":
            raise errors.InvalidTableDefinition("a hash-partitioned table may not have a default partition")
        return {"kind": "default"}
    a = spec.args
    if a.get("from_expressions") is not None:
        kind = "range"
    elif isinstance(a.get("this"), list):
        kind = "list"
    else:
        kind = "hash"
    if kind != strategy:
        raise errors.InvalidTableDefinition(f"invalid bound specification for a {strategy} partition")
    ktype = parent.columns[P.key_position(parent)].type.arrow_type()
    if kind == "hash":
        m, r = int(a["this"].name), int(a["expression"].name)
        if m <= 0:
            raise errors.InvalidTableDefinition("modulus for hash partition must be an integer value greater than zero")
        if not 0 <= r < m:
            raise errors.InvalidTableDefinition("remainder for hash partition must be less than modulus")
        return {"kind": "hash", "modulus": m, "remainder": r}
    if kind == "list":
        vals = [_value_text(v) for v in a["this"]]
        _castable(vals, ktype)
        return {"kind": "list", "values": vals}
    lo, hi = (_range_value(a[k]) for k in ("from_expressions", "to_expressions"))
    _castable([v for v in lo + hi if v is not None], ktype)
    return {"kind": "range", "from": lo, "to": hi}


def _range_value(items: list) -> list:
    if len(items) != 1:
        raise errors.InvalidTableDefinition("FROM must specify exactly one value per partitioning column")
    e = items[0]
    if isinstance(e, exp.Var) and e.name.upper() in ("MINVALUE", "MAXVALUE"):
        return [None]
    return [_value_text(e)]


def _castable(vals: list, ktype) -> None:
    try:
        P.bound_array(vals, ktype)
    except Exception as exc:  # the literal does not fit the key type
        raise errors.InvalidTextRepresentation(f"invalid partition bound value: {exc}") from None


# -- overlap -----------------------------------------------------------------------------------
def _check_overlap(db: DatabaseDef, parent: Table, name: str, bound: dict) -> None:
    ktype = parent.columns[P.key_position(parent)].type.arrow_type()
    if bound["kind"] == "range":
        lo, hi = bound["from"][0], bound["to"][0]
        if lo is not None and hi is not None and not _lt(lo, hi, ktype):
            raise errors.InvalidObjectDefinition(
                f'empty range bound specified for partition "{name}"',
                detail=f"Specified lower bound ({lo}) is greater than or equal to upper bound ({hi}).",
            )
    for other in P.children(db, parent):
        ob = other.options["partition_bound"]
        if bound["kind"] == "default" and ob["kind"] == "default":
            raise errors.InvalidObjectDefinition(
                f'partition "{name}" conflicts with existing default partition "{other.name}"')
        if bound["kind"] != ob["kind"] or bound["kind"] == "default":
            continue
        if bound["kind"] == "hash":
            small, big = sorted([bound, ob], key=lambda b: b["modulus"])
            if big["modulus"] % small["modulus"]:
                mine, theirs = bound["modulus"], ob["modulus"]
                detail = (f'The new modulus {mine} is not divisible by {theirs}, the modulus of existing partition "{other.name}".'
                          if mine > theirs else
                          f'The new modulus {mine} is not a factor of {theirs}, the modulus of existing partition "{other.name}".')
                raise errors.InvalidObjectDefinition(
                    "every hash partition modulus must be a factor of the next larger modulus", detail=detail)
            hit = big["remainder"] % small["modulus"] == small["remainder"]
        elif bound["kind"] == "list":
            hit = _list_equal(bound["values"], ob["values"], ktype)
        else:
            hit = _before(bound["from"][0], ob["to"][0], ktype) and _before(ob["from"][0], bound["to"][0], ktype)
        if hit:
            raise errors.InvalidObjectDefinition(f'partition "{name}" would overlap partition "{other.name}"')


def _lt(a: str, b: str, ktype) -> bool:
    x, y = P.bound_array([a, b], ktype).to_pylist()
    return x < y


def _before(lo: str | None, hi: str | None, ktype) -> bool:
    """lo < hi where lo None is MINVALUE and hi None is MAXVALUE."""
    return lo is None or hi is None or _lt(lo, hi, ktype)


def _list_equal(a: list, b: list, ktype) -> bool:
    """Values equal after casting ('1' and '01' for an integer key)."""
    x = set(P.bound_array(a, ktype).to_pylist())
    return bool(x & set(P.bound_array(b, ktype).to_pylist()))


# -- ATTACH / DETACH ---------------------------------------------------------------------------
def attach(db: DatabaseDef, parent: Table, child: Table, spec: exp.Expression) -> None:
    if child.options.get("partition_of") is not None:
        raise errors.ObjectInUse(f'"{child.name}" is already a partition')
    if P.is_partitioned(child):
        raise errors.FeatureNotSupported("sub-partitioning is not supported yet")
    def shape(t: Table) -> list:
        return [(c.id, c.name, c.type.name, c.type.typmod) for c in t.columns]

    same = shape(child) == shape(parent)
    if not same:
        raise errors.DatatypeMismatch(
            f'table "{child.name}" contains columns that do not match the columns of "{parent.name}"'
            " (sqlvec requires the same columns in the same order)")
    _attach(db, parent, child, parse_bound(parent, spec))


def detach(db: DatabaseDef, parent: Table, child: Table) -> None:
    if child.options.get("partition_of") != parent.oid:
        raise errors.UndefinedTable(f'relation "{child.name}" is not a partition of relation "{parent.name}"')
    del child.options["partition_of"]
    del child.options["partition_bound"]


def cascade(db: DatabaseDef, table: Table) -> list[Table]:
    """Partitions that go with ``table`` when it is dropped (and that CREATE INDEX reaches)."""
    return P.children(db, table) if P.is_partitioned(table) else []


def index_partitions(cat: Catalog, db: DatabaseDef, ix: Index) -> list[tuple[Table, Index]]:
    """CREATE INDEX on a parent: the same index on every partition (as PostgreSQL does), each
    built over that partition's own segments. Returns (partition, index) pairs to build."""
    parent = db.tables[ix.table]
    out = []
    for part in cascade(db, parent):
        names = [part.column_by_id(c).name for c in ix.columns]
        base = "_".join([part.name, *names, "key" if ix.unique else "idx"])
        name, i = base, 0
        while db.relation_exists(name, part.schema):
            i += 1
            name = f"{base}{i}"
        pix = copy.deepcopy(ix)
        pix.oid, pix.name, pix.table = cat.new_oid(), name, part.oid
        db.indexes[pix.oid] = pix
        if pix.unique:
            part.unique_indexes.append((pix.name, list(pix.columns)))
        out.append((part, pix))
    return out


# -- ALTER TABLE t ATTACH | DETACH PARTITION p ---------------------------------------------------
@dataclass(frozen=True)
class AlterPartitionStmt:
    """``ALTER TABLE t ATTACH PARTITION p FOR VALUES ... | DEFAULT`` or ``... DETACH PARTITION p``
    (the grammar does not parse these; :func:`parse_alter` does, reusing the grammar for the
    bound through the equivalent ``CREATE TABLE p PARTITION OF t <bound>``)."""

    table: exp.Table
    partition: exp.Table
    bound: exp.Expression | None  # None: DETACH


_NAME = r'(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*)(?:\s*\.\s*(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*))?'
_ALTER = re.compile(
    rf"^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<t>{_NAME})\s+(?P<op>ATTACH|DETACH)\s+PARTITION\s+(?P<p>{_NAME})"
    r"\s*(?P<rest>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


def parse_alter(text: str) -> AlterPartitionStmt | None:
    """The statement, or None when ``text`` is not an ATTACH/DETACH PARTITION."""
    from sqlvec.grammar import parse

    m = _ALTER.match(text)
    if m is None:
        return None
    t, p, rest = m.group("t"), m.group("p"), m.group("rest")
    if m.group("op").upper() == "DETACH":
        if rest:
            raise errors.FeatureNotSupported(f"DETACH PARTITION {rest} is not supported yet")
        node = parse(f"CREATE TABLE {p} PARTITION OF {t} DEFAULT")[0].ast
        return AlterPartitionStmt(partition_of(node).this, node.this, None)
    node = parse(f"CREATE TABLE {p} PARTITION OF {t} {rest}")[0].ast
    prop = partition_of(node)
    return AlterPartitionStmt(prop.this, node.this, prop.expression)


def run_alter_partition(session, st, values, many) -> Result:
    node: AlterPartitionStmt = st.ast
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    path = session.search_path()
    parent, child = _find(db, node.table, path), _find(db, node.partition, path)
    if node.bound is None:
        detach(db, parent, child)
        return Result("ALTER TABLE")
    if not P.is_partitioned(parent):
        raise errors.WrongObjectType(f'"{parent.name}" is not partitioned')
    attach(db, parent, child, node.bound)
    _validate_rows(session, parent, child)
    _check_default(session, db, parent)
    return Result("ALTER TABLE")


def _misplaced(session, db: DatabaseDef, parent: Table, child: Table) -> bool:
    """Whether some row stored in ``child`` now routes to another partition."""
    from sqlvec.exec.relation import ExecContext, scan_table

    ctx = ExecContext(session.txn, [], {"engine": session.db.engine, "session": session})
    pos = P.key_position(parent)
    rel = scan_table(ctx, child, {pos}, None)
    if rel.n == 0:
        return False
    parts = P.children(db, parent)
    return bool((P.route(parent, parts, rel.columns[pos]) != parts.index(child)).any())


def _validate_rows(session, parent: Table, child: Table) -> None:
    """Every row already in the attached table must satisfy its new bound (23514, as PostgreSQL)."""
    if _misplaced(session, session.catalog().database(session.database), parent, child):
        raise errors.CheckViolation(f'partition constraint of relation "{child.name}" is violated by some row')


def _check_default(session, db: DatabaseDef, parent: Table) -> None:
    """A new partition must not claim rows the default partition already holds: pruning would
    then skip them (PostgreSQL refuses the same way)."""
    for d in P.children(db, parent):
        if d.options["partition_bound"]["kind"] == "default" and _misplaced(session, db, parent, d):
            raise errors.CheckViolation(
                f'updated partition constraint for default partition "{d.name}" would be violated by some row')


# ALTER TABLE actions that change columns: applied to the parent and then to every partition,
# so partitions keep the parent's column ids and order (scans rely on it)
_COLUMN_ACTIONS = (exp.ColumnDef, exp.AlterColumn, exp.RenameColumn)


def cascade_alter(db: DatabaseDef, table: Table, action: exp.Expression) -> list[Table]:
    column_drop = isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN"
    if not (isinstance(action, _COLUMN_ACTIONS) or column_drop):
        return []
    if P.is_partitioned(table) and isinstance(action, (exp.AlterColumn, exp.Drop)):
        key = table.column_by_id(P.spec(table)["column"]).name
        named = (action.args.get("tables") or []) if column_drop else [action.this]
        if any(n is not None and n.name == key for n in named):
            verb = "drop" if column_drop else "alter"
            raise errors.InvalidTableDefinition(
                f'cannot {verb} column "{key}" because it is part of the partition key of relation "{table.name}"')
    if table.options.get("partition_of") is not None:
        raise errors.WrongObjectType(f'cannot change the columns of partition "{table.name}": alter the partitioned table')
    return cascade(db, table)
