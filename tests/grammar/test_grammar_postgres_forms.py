"""Common PostgreSQL forms of vector workloads: pinned to the sqlglot nodes they parse into."""

from __future__ import annotations

import pytest
from sqlglot import exp
from sqlvec.grammar import L2Distance, Param, parse, to_sql


def one(sql: str) -> exp.Expr:
    statements = parse(sql)
    assert len(statements) == 1
    return statements[0].ast


def item(sql: str) -> exp.Expr:
    return one(f"SELECT {sql}").selects[0]


def round_trips(sql: str) -> None:
    ast = one(sql)
    assert one(to_sql(ast)) == ast


def test_vector_literal_cast():
    cast = item("'[1,2,3]'::vector(3)")
    assert type(cast) is exp.Cast
    assert cast.this == exp.Literal.string("[1,2,3]")
    assert cast.to.this == exp.DType.VECTOR
    assert [p.this.to_py() for p in cast.to.expressions] == [3]


def test_array_constructor():
    arr = item("ARRAY[1, 2, 3]")
    assert type(arr) is exp.Array and [e.to_py() for e in arr.expressions] == [1, 2, 3]


def column_kinds(sql: str) -> dict[str, exp.DataType]:
    create = one(sql)
    assert type(create) is exp.Create and create.kind == "TABLE"
    return {c.name: c.args["kind"] for c in create.this.expressions if type(c) is exp.ColumnDef}


def test_create_table_with_vector_types():
    kinds = column_kinds(
        "CREATE TABLE t (id bigserial primary key, emb vector(3), v halfvec(4), "
        "s sparsevec(5), b bit(8))"
    )
    assert kinds["id"].this == exp.DType.BIGSERIAL
    assert kinds["emb"].this == exp.DType.VECTOR
    for name, udt, size in (("v", "halfvec", 4), ("s", "sparsevec", 5)):
        assert kinds[name].this == exp.DType.USERDEFINED
        assert kinds[name].args["kind"].name == udt
        assert kinds[name].expressions[0].this.to_py() == size
    assert kinds["b"].this == exp.DType.BIT
    pk = one("CREATE TABLE t (id bigserial primary key)").this.expressions[0]
    assert pk.find(exp.PrimaryKeyColumnConstraint) is not None
    round_trips("CREATE TABLE t (id bigserial primary key, emb vector(3), v halfvec(4))")
    assert "BIGSERIAL" in to_sql(one("CREATE TABLE t (id bigserial)"))


@pytest.mark.parametrize(
    ("type_sql", "dtype", "params"),
    [
        ("double precision", exp.DType.DOUBLE, []),
        ("timestamp with time zone", exp.DType.TIMESTAMPTZ, []),
        ("character varying(10)", exp.DType.VARCHAR, [10]),
        ("numeric(10,2)", exp.DType.DECIMAL, [10, 2]),
        ("int", exp.DType.INT, []),
    ],
)
def test_multi_word_and_parameterised_types(type_sql, dtype, params):
    kind = column_kinds(f"CREATE TABLE t (c {type_sql})")["c"]
    assert kind.this == dtype
    assert [p.this.to_py() for p in kind.expressions] == params


def test_bit_varying_is_varbit():
    # Stock sqlglot 30 fails on "bit varying(8)".
    kind = column_kinds("CREATE TABLE t (c bit varying(8))")["c"]
    assert kind.this == exp.DType.USERDEFINED and kind.args["kind"].name == "varbit"
    assert kind.expressions[0].this.to_py() == 8
    assert item("x::bit varying(3)").to == item("x::varbit(3)").to


def test_int_array_type():
    kind = column_kinds("CREATE TABLE t (c int[])")["c"]
    assert kind.this == exp.DType.ARRAY and kind.expressions[0].this == exp.DType.INT


def test_oid_array_cast():
    # asyncpg's type introspection sends "$1::oid[]"; stock sqlglot fails on it.
    cast = item("$1::oid[]")
    assert type(cast.this) is Param
    assert cast.to.this == exp.DType.ARRAY
    assert type(cast.to.expressions[0]) is exp.ObjectIdentifier
    round_trips("SELECT t.oid FROM pg_type AS t WHERE t.oid = ANY($1::oid[])")


def test_create_hnsw_index():
    create = one("CREATE INDEX ON t USING hnsw (emb vector_cosine_ops) WITH (m = 16)")
    assert type(create) is exp.Create and create.kind == "INDEX"
    params = create.this.args["params"]
    assert params.args["using"].name == "hnsw"
    opclass = params.args["columns"][0].this
    assert type(opclass) is exp.Opclass
    assert opclass.this.name == "emb" and opclass.expression.name == "vector_cosine_ops"
    props = params.args["with_storage"]
    assert [(p.this.name, p.args["value"].to_py()) for p in props] == [("m", 16)]
    round_trips(
        "CREATE INDEX idx ON t USING hnsw (emb vector_l2_ops) WITH (m = 16, ef_construction = 64)"
    )


def test_insert_on_conflict_returning():
    insert = one(
        "INSERT INTO t (id, x) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET x = excluded.x RETURNING *"
    )
    assert type(insert) is exp.Insert
    conflict = insert.args["conflict"]
    assert [c.name for c in conflict.args["conflict_keys"]] == ["id"]
    assert conflict.args["action"] is not None
    assert insert.args["returning"] is not None
    round_trips("INSERT INTO t (id, x) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")


def test_top_k_select():
    select = one("SELECT id FROM t ORDER BY emb <-> $1 LIMIT 5")
    order = select.args["order"].expressions[0]
    assert type(order.this) is L2Distance and type(order.this.right) is Param
    assert select.args["limit"].expression.to_py() == 5


def test_delete_and_update_returning():
    delete = one("DELETE FROM t WHERE id = $1 RETURNING id, emb")
    assert type(delete) is exp.Delete and len(delete.args["returning"].expressions) == 2
    update = one("UPDATE t SET emb = $1 WHERE id = $2 RETURNING *")
    assert type(update) is exp.Update and update.args["returning"] is not None


@pytest.mark.parametrize(
    ("sql", "cls"),
    [
        ("j -> 'a'", exp.JSONExtract),
        ("j ->> 'a'", exp.JSONExtractScalar),
        ("j #> '{a,b}'", exp.JSONBExtract),
        ("j #>> '{a}'", exp.JSONBExtractScalar),
        ("j @> '{}'", exp.ArrayContainsAll),
        ("j <@ '{}'", exp.ArrayContainedBy),
        ("j ? 'k'", exp.JSONBContainsTopKey),
        ("a ~ 'x'", exp.RegexpLike),
        ("a ~* 'x'", exp.RegexpILike),
        ("a && b", exp.ArrayOverlaps),
        ("a IS DISTINCT FROM b", exp.NullSafeNEQ),
        ("a IS NOT DISTINCT FROM b", exp.NullSafeEQ),
        ("a ILIKE 'x%'", exp.ILike),
        ("a BETWEEN 1 AND 2", exp.Between),
    ],
)
def test_operators_of_other_extensions(sql, cls):
    node = item(sql)
    assert type(node) is cls
    round_trips(f"SELECT {sql} FROM t")


def test_negated_regex():
    node = item("a !~ 'x'")
    assert type(node) is exp.Not and type(node.this) is exp.RegexpLike


def test_nulls_first():
    ordered = one("SELECT a FROM t ORDER BY a DESC NULLS FIRST").args["order"].expressions[0]
    assert ordered.args["desc"] is True and ordered.args["nulls_first"] is True


def test_dollar_quoted_string_is_a_string_literal():
    assert item("$$it's$$") == exp.Literal.string("it's")
    assert item("$t$x$t$") == exp.Literal.string("x")


@pytest.mark.parametrize(
    ("sql", "cls"),
    [
        ("TRUNCATE TABLE a, b RESTART IDENTITY CASCADE", exp.TruncateTable),
        ("TRUNCATE a", exp.TruncateTable),
        ("CREATE SCHEMA IF NOT EXISTS s", exp.Create),
        ("DROP SCHEMA IF EXISTS s CASCADE", exp.Drop),
        ("ALTER TABLE t RENAME COLUMN a TO b", exp.Alter),
        ("ALTER TABLE t RENAME TO u", exp.Alter),
        ("ALTER TABLE t ADD COLUMN c vector(3)", exp.Alter),
        ("ALTER TABLE t DROP COLUMN c", exp.Alter),
        ("DROP INDEX IF EXISTS i", exp.Drop),
        ("DROP TABLE t, u CASCADE", exp.Drop),
    ],
)
def test_ddl_that_sqlglot_gets_right(sql, cls):
    assert type(one(sql)) is cls
    round_trips(sql)


def test_truncate_options():
    truncate = one("TRUNCATE TABLE a, b RESTART IDENTITY CASCADE")
    assert [t.name for t in truncate.expressions] == ["a", "b"]
    assert truncate.args["identity"] == "RESTART" and truncate.args["option"] == "CASCADE"


def test_alter_table_actions():
    rename = one("ALTER TABLE t RENAME COLUMN a TO b").args["actions"][0]
    assert type(rename) is exp.RenameColumn
    assert rename.this.name == "a" and rename.args["to"].name == "b"
    add = one("ALTER TABLE t ADD COLUMN c vector(3)").args["actions"][0]
    assert type(add) is exp.ColumnDef and add.args["kind"].this == exp.DType.VECTOR
    drop = one("ALTER TABLE t DROP COLUMN c").args["actions"][0]
    assert type(drop) is exp.Drop and drop.kind == "COLUMN"
