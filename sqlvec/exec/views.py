"""Views: CREATE [OR REPLACE] [TEMP] VIEW, DROP VIEW, and their expansion at plan time.

A view stores its query as SQL text (with every table name it reads qualified by the schema it
resolved to at creation, so a later search_path change does not re-point it) and the columns
it produced then. A FROM item naming a view is planned as a derived table over that text:
the view is re-planned with each statement that uses it, so it always reads the current
definitions of the tables under it (plans are cached per catalog version anyway).

Dependencies are the OIDs of the tables and views the query names: DROP of one of them
fails with 2BP01 unless CASCADE, which drops the dependent views too (transitively).
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Column, DatabaseDef, Table, View
from sqlvec.grammar import parse, to_sql
from sqlvec.result import Notice, Result

# how deep views may nest before we call it a cycle (PostgreSQL forbids cycles at creation;
# this only guards against a corrupted catalog)
MAX_VIEW_DEPTH = 64


def _cte_names(query: exp.Expression) -> set[str]:
    return {c.alias_or_name for c in query.find_all(exp.CTE)}


def qualify_and_collect(db: DatabaseDef, query: exp.Expression, search_path: list[str]) -> list[int]:
    """Qualify the user tables and views ``query`` names (in place) and return their OIDs."""
    ctes = _cte_names(query)
    deps: list[int] = []
    for t in query.find_all(exp.Table):
        if isinstance(t.this, exp.Func) or (not t.db and t.name in ctes):
            continue
        schema = t.db or None
        hit = db.find_table(t.name, schema, search_path) or db.find_view(t.name, schema, search_path)
        if hit is None:
            continue  # a catalog relation, or an error the planner reports
        if hit.oid not in deps:
            deps.append(hit.oid)
        if not t.db and not getattr(hit, "temporary", False):
            t.set("db", exp.to_identifier(hit.schema))
    return deps


def create_view(session, node: exp.Create) -> Result:
    props = node.args.get("properties")
    kinds = {type(p).__name__ for p in (props.expressions if props is not None else [])}
    if "MaterializedProperty" in kinds:
        from sqlvec.exec.matviews import create_matview

        return create_matview(session, node)
    temporary = "TemporaryProperty" in kinds
    target = node.this
    aliases: list[str] | None = None
    if isinstance(target, exp.Schema):
        aliases = [c.name for c in target.expressions]
        target = target.this
    query = node.expression.copy()
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    path = session.search_path()
    from sqlvec.exec import temp_tables

    if temporary or target.db == "pg_temp":
        schema = temp_tables.temp_schema(session, db, create=True)
        temporary = True
    elif target.db:
        schema = target.db
        if schema not in db.schemas:
            raise errors.InvalidSchemaName(f'schema "{schema}" does not exist')
    else:
        from sqlvec.exec.ddl import _creation_schema

        schema = _creation_schema(db, path)
    deps = qualify_and_collect(db, query, path)
    if not temporary and any(_is_temporary(db, d) for d in deps):
        # PostgreSQL makes such a view temporary, with a NOTICE
        schema = temp_tables.temp_schema(session, db, create=True)
        temporary = True
    columns = _plan_columns(session, query, aliases)
    name = target.name
    existing = next((v for v in db.views.values() if v.name == name and v.schema == schema), None)
    if existing is not None and node.args.get("replace"):
        _check_replace(existing, columns)
        existing.query, existing.columns, existing.depends = to_sql(query), columns, deps
        return Result("CREATE VIEW")
    if db.relation_exists(name, schema):
        if node.args.get("exists"):
            return Result("CREATE VIEW", notices=[Notice("NOTICE", f'relation "{name}" already exists, skipping', "42P07")])
        raise errors.DuplicateTable(f'relation "{name}" already exists')
    view = View(cat.new_oid(), name, schema, to_sql(query), columns, False, temporary, deps)
    db.views[view.oid] = view
    if temporary:
        temp_tables.register(session, view.oid)
    return Result("CREATE VIEW")


def _is_temporary(db: DatabaseDef, oid: int) -> bool:
    obj = db.tables.get(oid) or db.views.get(oid)
    return bool(obj is not None and obj.temporary)


def _plan_columns(session, query: exp.Expression, aliases: list[str] | None) -> list[Column]:
    from sqlvec.statements import query_planner

    plan = query_planner(session, session.new_binder([])).plan_query(query)
    return output_columns(plan.columns, aliases, "CREATE VIEW specifies more column names than columns")


def output_columns(out: list, aliases: list[str] | None, too_many: str) -> list[Column]:
    """Catalog columns for a query's result columns, renamed by ``aliases`` (a view's or a
    materialized view's column list); ``too_many`` is the error when there are more names."""
    if aliases is not None and len(aliases) > len(out):
        raise errors.SyntaxError(too_many)
    names = [aliases[i] if aliases and i < len(aliases) else c.name for i, c in enumerate(out)]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise errors.DuplicateColumn(f'column "{n}" specified more than once')
        seen.add(n)
    return [Column(f"c{i + 1}", n, c.type, attnum=i + 1) for i, (n, c) in enumerate(zip(names, out))]


def _check_replace(old: View, new: list[Column]) -> None:
    """CREATE OR REPLACE VIEW may only add columns at the end (PostgreSQL's rule)."""
    if len(new) < len(old.columns):
        raise errors.InvalidTableDefinition("cannot drop columns from view")
    for o, n in zip(old.columns, new):
        if o.name != n.name:
            raise errors.InvalidTableDefinition(f'cannot change name of view column "{o.name}" to "{n.name}"',
                                                hint="Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.")
        if o.type != n.type:
            raise errors.InvalidTableDefinition(
                f'cannot change data type of view column "{o.name}" from {o.type.name} to {n.type.name}')


def dependents(db: DatabaseDef, oids: set[int]) -> list:
    """Views and materialized views (catalog Tables, see sqlvec.exec.matviews) that read any
    of ``oids``, directly or through other views (dependents first discovered first)."""
    from sqlvec.exec.matviews import depends_of, is_matview

    readers = [*db.views.values(), *(t for t in db.tables.values() if is_matview(t))]
    out: list = []
    frontier = set(oids)
    while frontier:
        found = [v for v in readers if v not in out and frontier & set(depends_of(v))]
        out.extend(found)
        frontier = {v.oid for v in found}
    return out


def check_drop(db: DatabaseDef, oids: set[int], what: str, cascade: bool, notices: list) -> list:
    """The views (and materialized views) a DROP of ``oids`` must take with it: 2BP01 unless
    CASCADE."""
    from sqlvec.exec.matviews import depends_of, describe_dependent

    deps = [v for v in dependents(db, oids) if v.oid not in oids]
    if not deps:
        return []
    # each names what it reads directly: the dropped object or an earlier dependent
    named = {v.oid: describe_dependent(v) for v in deps}
    lines = [f"{describe_dependent(v)} depends on "
             f"{next((named[d] for d in depends_of(v) if d in named), what)}" for v in deps]
    if not cascade:
        raise errors.DependentObjectsStillExist(
            f"cannot drop {what} because other objects depend on it", detail="\n".join(lines),
            hint="Use DROP ... CASCADE to drop the dependent objects too.")
    if len(deps) == 1:
        notices.append(Notice("NOTICE", f"drop cascades to {describe_dependent(deps[0])}"))
    else:
        notices.append(Notice("NOTICE", f"drop cascades to {len(deps)} other objects",
                              detail="\n".join(f"drop cascades to {describe_dependent(v)}" for v in deps)))
    return deps


def remove_views(db: DatabaseDef, views: list) -> None:
    """Remove views (and materialized views) from the catalog; the DROP that called this
    releases a materialized view's storage (sqlvec.exec.matviews.run_drop)."""
    for v in views:
        db.views.pop(v.oid, None)
        if isinstance(v, Table):
            db.tables.pop(v.oid, None)
        for key in [k for k in db.comments if k[1] == v.oid]:
            del db.comments[key]


def drop_view(session, node: exp.Drop) -> Result:
    if node.args.get("materialized"):
        from sqlvec.exec.matviews import drop_matviews

        return drop_matviews(session, node)
    db = session.mutable_catalog().database(session.database)
    notices: list[Notice] = []
    targets: list[View] = []
    for t in node.args.get("tables") or []:
        view = db.find_view(t.name, t.db or None, session.search_path())
        if view is None:
            if db.find_table(t.name, t.db or None, session.search_path()) is not None:
                raise errors.WrongObjectType(f'"{t.name}" is not a view', hint="Use DROP TABLE to remove a table.")
            if node.args.get("exists"):
                notices.append(Notice("NOTICE", f'view "{t.name}" does not exist, skipping'))
                continue
            raise errors.UndefinedTable(f'view "{t.name}" does not exist')
        targets.append(view)
    for view in targets:
        if view.oid in db.views:
            extra = check_drop(db, {x.oid for x in targets}, f"view {view.name}", bool(node.args.get("cascade")), notices)
            remove_views(db, [view, *extra])
    return Result("DROP VIEW", notices=notices)


def view_relation(session, node: exp.Table, depth: int = 0):
    """The FROM item ``node`` as a derived table over a view's query; None when it names no
    view."""
    if isinstance(node.this, exp.Func):
        return None
    from sqlvec.exec.matviews import unpopulated_scan

    scan = unpopulated_scan(session, node)  # one created WITH NO DATA fails when read
    if scan is not None:
        return scan
    db = session.catalog().database(session.database)
    if not db.views:
        return None
    view = db.find_view(node.name, node.db or None, session.search_path())
    if view is None:
        return None
    from sqlvec.exec.nodes import SubqueryScan
    from sqlvec.plan.scope import ScopeColumn
    from sqlvec.statements import query_planner

    query = parse(view.query)[0].ast
    from sqlvec.privileges import view_expansion

    with view_expansion(session, view):  # SELECT on the view; its tables as the view's owner
        plan = query_planner(session, session.new_binder([])).plan_query(query)
    alias = node.alias_or_name
    alias_node = node.args.get("alias")
    renames = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
    names = [renames[i] if i < len(renames) else c.name for i, c in enumerate(view.columns)]
    # a view's columns keep the types recorded at creation; the planned query gives the data
    scope = [ScopeColumn(n, c.type, i, alias, view.oid, i + 1) for i, (n, c) in enumerate(zip(names, plan.columns))]
    return SubqueryScan(plan, scope)
