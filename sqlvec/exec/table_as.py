"""CREATE [TEMP] TABLE ... AS query [WITH [NO] DATA], and its older spelling SELECT ... INTO
[TEMP] [TABLE] name (Tableau's connect-time check uses it).

The query runs through the ordinary planner; its output columns (renamed by an optional
column list) become the new table's columns, an untyped literal column becoming text as in
PostgreSQL, and its rows fill the table in the current transaction. The command tag is
``SELECT n``, as PostgreSQL reports it for both statements.
"""

from __future__ import annotations

from sqlglot import exp

from sqlvec import errors
from sqlvec.catalog.model import Table
from sqlvec.grammar.sql_parser import max_param
from sqlvec.result import Result
from sqlvec.types import registry as T


def create_table_as(session, node: exp.Create) -> Result:
    from sqlvec.exec import temp_tables, views
    from sqlvec.exec.ddl import as_target, claim_name
    from sqlvec.exec.matviews import _fill, _plan

    props = node.args.get("properties")
    props = list(props.expressions) if props is not None else []
    target, aliases, with_data = as_target(node)
    if max_param(node.expression):
        raise errors.UndefinedParameter("there is no parameter $1")
    cat = session.mutable_catalog()
    db = cat.database(session.database)
    temporary = temp_tables.is_temp_create(node)
    if temporary:
        if target.db and target.db != "pg_temp":
            raise errors.InvalidTableDefinition("cannot create temporary relation in non-temporary schema")
    name = target.name
    schema = temp_tables.temp_schema(session, db, create=True) if temporary else target.db or None
    schema, skipped = claim_name(db, schema, name, session.search_path(), bool(node.args.get("exists")),
                                 "CREATE TABLE AS")
    if skipped is not None:
        return skipped
    plan = _plan(session, node.expression.copy())
    columns = views.output_columns(plan.columns, aliases, "too many column names were specified")
    for c in columns:
        if c.type.defn is T.UNKNOWN.defn:
            c.type = T.TEXT
    table = Table(cat.new_oid(), name, schema, columns, next_col=len(columns) + 1)
    on_commit = next((p for p in props if isinstance(p, exp.OnCommitProperty)), None)
    if temporary:
        table.temporary = True
        if on_commit is not None:
            table.options["on_commit"] = "delete" if on_commit.args.get("delete") else "preserve"
        temp_tables.register(session, table.oid)
    elif on_commit is not None:
        raise errors.InvalidTableDefinition("ON COMMIT can only be used on temporary tables")
    db.tables[table.oid] = table
    n = _fill(session, table, plan) if with_data else 0
    return Result(f"SELECT {n}", rowcount=n)


def select_into(session, node: exp.Select) -> Result:
    """``SELECT ... INTO [TEMP | UNLOGGED] [TABLE] name ...`` is CREATE TABLE name AS SELECT ..."""
    into: exp.Into = node.args["into"]
    query = node.copy()
    query.set("into", None)
    props = [exp.TemporaryProperty()] if into.args.get("temporary") else []
    create = exp.Create(this=into.this.copy(), kind="TABLE", expression=query,
                        properties=exp.Properties(expressions=props) if props else None)
    return create_table_as(session, create)
