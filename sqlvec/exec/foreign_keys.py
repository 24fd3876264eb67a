"""Foreign keys: definition (REFERENCES / FOREIGN KEY) and enforcement.

Enforcement runs after the statement's own writes are in the transaction (so a row may
reference a row inserted by the same statement, and a DELETE of parent and child together
passes), once per statement and vectorised: the referenced keys are read as columns and the
new keys are tested against them as a set (``group_ids`` over both), never row by row.
RESTRICT and NO ACTION both check at the end of the statement (constraints are not
deferrable here). MATCH SIMPLE and MATCH FULL: a key with a NULL is not checked (FULL
rejects a partly NULL key).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Constraint, DatabaseDef, Table
from sqlvec.exec.relation import ExecContext, group_ids, scan_table
from sqlvec.types.arrow import text_out_array

ACTIONS = {"NO ACTION": "a", "RESTRICT": "r", "CASCADE": "c", "SET NULL": "n", "SET DEFAULT": "d"}
MATCHES = {"FULL": "f", "PARTIAL": "p", "SIMPLE": "s"}


# -- definition -----------------------------------------------------------------------------------


def fk_parts(item) -> tuple[list[str], exp.Expression, str | None] | None:
    """(local column names, Reference node, constraint name) of a FOREIGN KEY item, or None.

    Column constraints arrive as ("f", [column], name, Reference) tuples from ddl.py."""
    if isinstance(item, tuple) and item[0] == "f":
        return item[1], item[3], item[2]
    name = None
    node = item
    if isinstance(node, exp.Constraint):
        name = node.name
        node = node.expressions[0] if node.expressions else None
    if isinstance(node, exp.ForeignKey):
        return [c.name for c in node.expressions], node.args["reference"], name
    return None


def add_foreign_key(db: DatabaseDef, table: Table, cols: list[str], ref: exp.Expression, name: str | None,
                    search_path: list[str]) -> Constraint:
    """Add the constraint to ``table`` (which may be the table being created)."""
    target = ref.this
    ref_names = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
    tnode = target.this if isinstance(target, exp.Schema) else target
    if tnode.name == table.name and (not tnode.db or tnode.db == table.schema) and table.oid not in db.tables:
        parent = table  # self-reference in CREATE TABLE
    else:
        parent = db.find_table(tnode.name, tnode.db or None, search_path)
        if parent is None:
            raise errors.UndefinedTable(f'relation "{tnode.name}" does not exist')
    if parent.temporary and not table.temporary:
        raise errors.InvalidTableDefinition("constraints on permanent tables may reference only permanent tables")
    local = []
    for c in cols:
        col = table.column(c)
        if col is None:
            raise errors.UndefinedColumn(f'column "{c}" referenced in foreign key constraint does not exist')
        local.append(col)
    if not ref_names:
        pk = parent.primary_key()
        if pk is None:
            raise errors.InvalidForeignKey(f'there is no primary key for referenced table "{parent.name}"')
        ref_ids = list(pk.columns)
    else:
        ref_ids = []
        for c in ref_names:
            col = parent.column(c)
            if col is None:
                raise errors.UndefinedColumn(f'column "{c}" referenced in foreign key constraint does not exist')
            ref_ids.append(col.id)
    if len(ref_ids) != len(local):
        raise errors.InvalidForeignKey("number of referencing and referenced columns for foreign key disagree")
    keys = [set(k.columns) for k in parent.unique_constraints()] + [set(u[1]) for u in parent.unique_indexes]
    if set(ref_ids) not in keys:
        raise errors.InvalidForeignKey(
            f'there is no unique constraint matching given keys for referenced table "{parent.name}"')
    for lc, rid in zip(local, ref_ids):
        rc = parent.column_by_id(rid)
        if lc.type.arrow_type() != rc.type.arrow_type() and not (
                pa.types.is_integer(lc.type.arrow_type()) and pa.types.is_integer(rc.type.arrow_type())):
            raise errors.DatatypeMismatch(
                f'foreign key constraint "{name or "fkey"}" cannot be implemented',
                detail=f'Key columns "{lc.name}" and "{rc.name}" are of incompatible types: {lc.type.name} and {rc.type.name}.')
    on_update, on_delete, match = "a", "a", "s"
    for opt in ref.args.get("options") or []:
        text = " ".join(str(opt).upper().split())
        if text.startswith("ON DELETE "):
            on_delete = ACTIONS[text[10:]]
        elif text.startswith("ON UPDATE "):
            on_update = ACTIONS[text[10:]]
        elif text.startswith("MATCH "):
            match = MATCHES[text[6:]]
    if match == "p":
        raise errors.FeatureNotSupported("MATCH PARTIAL not yet implemented")
    if name is None:
        base = "_".join([table.name, *[c.name for c in local], "fkey"])
        name, i = base, 0
        while any(k.name == name for k in table.constraints):
            i += 1
            name = f"{base}{i}"
    elif any(k.name == name for k in table.constraints):
        raise errors.DuplicateObject(f'constraint "{name}" for relation "{table.name}" already exists')
    con = Constraint(name, "f", [c.id for c in local], None, ref_table=parent.oid, ref_columns=ref_ids,
                     on_update=on_update, on_delete=on_delete, match=match)
    table.constraints.append(con)
    return con


def referencing(db: DatabaseDef, oids: set[int]) -> list[tuple[Table, Constraint]]:
    """(child table, FK constraint) pairs whose referenced table is in ``oids``."""
    return [(t, k) for t in db.tables.values() for k in t.constraints if k.kind == "f" and k.ref_table in oids]


# -- enforcement ----------------------------------------------------------------------------------


def _db(ctx: ExecContext) -> DatabaseDef | None:
    session = ctx.stmt.get("session")
    if session is None:
        return None
    return session.catalog().database(session.database)


def _positions(table: Table, ids: list[str]) -> list[int]:
    return [table.columns.index(table.column_by_id(c)) for c in ids]


def _valid(keys: list[pa.Array], n: int, match: str, table: Table, k: Constraint) -> np.ndarray:
    nulls = np.zeros((len(keys), n), dtype=bool)
    for j, a in enumerate(keys):
        nulls[j] = np.asarray(a.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if match == "f":
        partial = nulls.any(axis=0) & ~nulls.all(axis=0)
        if partial.any():
            raise errors.ForeignKeyViolation(
                f'insert or update on table "{table.name}" violates foreign key constraint "{k.name}"',
                detail="MATCH FULL does not allow mixing of null and nonnull key values.",
            ).about(schema=table.schema, table=table.name, constraint=k.name)
    return ~nulls.any(axis=0)


def _member(probe: list[pa.Array], n: int, against: list[pa.Array], m: int) -> np.ndarray:
    """For each of the n probe keys: is it among the m keys of ``against``? (one hash pass)"""
    if m == 0:
        return np.zeros(n, dtype=bool)
    both = []
    for p, a in zip(probe, against):
        if p.type != a.type:
            p = p.cast(a.type)
        both.append(pa.concat_arrays([p, a]))
    g, _, _ = group_ids(both, n + m)
    return np.isin(g[:n], g[n:])


def _key_text(table: Table, ids: list[str], keys: list[pa.Array], i: int) -> str:
    names = ", ".join(table.column_by_id(c).name for c in ids)
    vals = []
    for c, a in zip(ids, keys):
        v = text_out_array(a.slice(i, 1), table.column_by_id(c).type)[0]
        vals.append("null" if v is None else v)
    return f"Key ({names})=({', '.join(vals)})"


def check_new_rows(ctx: ExecContext, table: Table, cols: list[pa.Array], n: int, only: Constraint | None = None) -> None:
    """Rows just written to ``table`` must reference existing rows (INSERT, UPDATE)."""
    fks = [k for k in table.constraints if k.kind == "f" and (only is None or k is only)]
    if not fks or n == 0:
        return
    db = _db(ctx)
    for k in fks:
        parent = table if k.ref_table == table.oid else (db.tables.get(k.ref_table) if db else None)
        if parent is None:
            continue
        keys = [cols[i] for i in _positions(table, k.columns)]
        valid = _valid(keys, n, k.match, table, k)
        rows = np.flatnonzero(valid)
        if len(rows) == 0:
            continue
        idx = pa.array(rows, pa.int64())
        probe = [a.take(idx) for a in keys]
        ppos = _positions(parent, k.ref_columns)
        rel = scan_table(ctx, parent, set(ppos), None)
        found = _member(probe, len(rows), [rel.columns[i] for i in ppos], rel.n)
        if not found.all():
            bad = int(np.flatnonzero(~found)[0])
            raise errors.ForeignKeyViolation(
                f'insert or update on table "{table.name}" violates foreign key constraint "{k.name}"',
                detail=f'{_key_text(table, k.columns, probe, bad)} is not present in table "{parent.name}".',
            ).about(schema=table.schema, table=table.name, constraint=k.name)


def check_removed_keys(ctx: ExecContext, table: Table, old: list[pa.Array], n: int,
                       new: list[pa.Array] | None = None) -> None:
    """Rows of ``table`` were deleted (``new`` None) or updated from ``old`` to ``new``: apply
    each referencing constraint's action to the child rows that pointed at a vanished key."""
    db = _db(ctx)
    if db is None or n == 0:
        return
    for child, k in referencing(db, {table.oid}):
        ppos = _positions(table, k.ref_columns)
        if any(old[i] is None for i in ppos):
            continue
        okeys = [old[i] for i in ppos]
        gone = ~np.zeros(n, dtype=bool)
        if new is not None:
            # an UPDATE that keeps a key (or moves it to another row) removes nothing
            same = np.ones(n, dtype=bool)
            for i in ppos:
                eq = pc.equal(old[i], new[i]).fill_null(False)
                same &= np.asarray(eq.to_numpy(zero_copy_only=False), dtype=bool)
            gone &= ~same
        if not gone.any():
            continue
        # keys still present in the table (re-inserted by the same statement) are not gone
        now = scan_table(ctx, table, set(ppos), None)
        gone &= ~_member(okeys, n, [now.columns[i] for i in ppos], now.n)
        sel = np.flatnonzero(gone)
        if len(sel) == 0:
            continue
        idx = pa.array(sel, pa.int64())
        removed = [a.take(idx) for a in okeys]
        cpos = _positions(child, k.columns)
        rel = scan_table(ctx, child, set(range(len(child.columns))), None, with_rowids=True)
        if rel.n == 0:
            continue
        hits = _member([rel.columns[i] for i in cpos], rel.n, removed, len(sel))
        if not hits.any():
            continue
        action = k.on_delete if new is None else k.on_update
        rows = np.flatnonzero(hits)
        if action in "ar":
            first = int(rows[0])
            child_keys = [rel.columns[i] for i in cpos]
            key = _key_text(table, k.ref_columns, [a.take(pa.array([first])) for a in child_keys], 0)
            raise errors.ForeignKeyViolation(
                f'update or delete on table "{table.name}" violates foreign key constraint "{k.name}" on table "{child.name}"',
                detail=f'{key} is still referenced from table "{child.name}".',
            ).about(schema=child.schema, table=child.name, constraint=k.name)
        _apply_action(ctx, child, k, rel, rows, action, removed, None if new is None else [
            new[i].take(idx) for i in ppos])


def _apply_action(ctx: ExecContext, child: Table, k: Constraint, rel, rows: np.ndarray, action: str,
                  removed: list[pa.Array], replaced: list[pa.Array] | None) -> None:
    from sqlvec.exec.writer import check_rows, to_storage, unique_specs

    idx = pa.array(rows, pa.int64())
    cols = [c.take(idx) for c in rel.columns]
    rowids = rel.rowids[rows]
    m = len(rows)
    cpos = _positions(child, k.columns)
    if action == "c" and replaced is None:
        ctx.txn.delete(child.oid, rowids)
        check_removed_keys(ctx, child, cols, m)  # cascades further down
        return
    new = list(cols)
    if action == "c":
        # ON UPDATE CASCADE: each child key takes the new value of the parent row it matched
        g, _, _ = group_ids([pa.concat_arrays([cols[i].cast(r.type), r]) for i, r in zip(cpos, removed)],
                            m + len(removed[0]))
        first_of = {int(gid): j for j, gid in enumerate(g[m:])}
        take = pa.array([first_of[int(x)] for x in g[:m]], pa.int64())
        for i, r in zip(cpos, replaced):
            new[i] = r.take(take).cast(cols[i].type)
    elif action == "n":
        for i in cpos:
            new[i] = pa.nulls(m, cols[i].type)
    else:
        raise errors.FeatureNotSupported("ON DELETE/UPDATE SET DEFAULT is not supported yet")
    check_rows(child, new, m, [], ctx)
    ctx.txn.delete(child.oid, rowids)
    ctx.txn.insert(child.oid, to_storage(child, new), unique=unique_specs(child))
    check_removed_keys(ctx, child, cols, m, new)


def check_truncate(db: DatabaseDef, oids: set[int]) -> None:
    """TRUNCATE of a referenced table needs its referencing tables truncated with it."""
    for child, _k in referencing(db, oids):
        if child.oid not in oids:
            parent = db.tables[_k.ref_table]
            raise errors.FeatureNotSupported(
                "cannot truncate a table referenced in a foreign key constraint",
                detail=f'Table "{child.name}" references "{parent.name}".',
                hint=f'Truncate table "{child.name}" at the same time, or use TRUNCATE ... CASCADE.')


def drop_referencing(db: DatabaseDef, oids: set[int], cascade: bool, notices: list) -> None:
    """DROP TABLE of referenced tables: 2BP01, or with CASCADE drop the child constraints."""
    from sqlvec.result import Notice

    deps = [(c, k) for c, k in referencing(db, oids) if c.oid not in oids]
    if not deps:
        return
    if not cascade:
        parent = db.tables[deps[0][1].ref_table]
        raise errors.DependentObjectsStillExist(
            f"cannot drop table {parent.name} because other objects depend on it",
            detail="\n".join(f"constraint {k.name} on table {c.name} depends on table {db.tables[k.ref_table].name}"
                             for c, k in deps),
            hint="Use DROP ... CASCADE to drop the dependent objects too.")
    for c, k in deps:
        notices.append(Notice("NOTICE", f"drop cascades to constraint {k.name} on table {c.name}"))
        c.constraints = [x for x in c.constraints if x is not k]


def validate_existing(session, table: Table, k: Constraint) -> None:
    """ALTER TABLE ... ADD FOREIGN KEY: the rows already there must reference existing keys."""
    ctx = ExecContext(session.txn, [], {"engine": session.db.engine, "session": session})
    pos = _positions(table, k.columns)
    rel = scan_table(ctx, table, set(pos), None)
    cols = [rel.columns[i] if i in pos else pa.nulls(rel.n, c.type.arrow_type()) for i, c in enumerate(table.columns)]
    check_new_rows(ctx, table, cols, rel.n, only=k)


def referenced_positions(ctx: ExecContext, table: Table) -> set[int]:
    """Positions of ``table``'s columns that foreign keys reference (a DELETE must read them)."""
    db = _db(ctx)
    if db is None:
        return set()
    return {p for _c, k in referencing(db, {table.oid}) for p in _positions(table, k.ref_columns)}
