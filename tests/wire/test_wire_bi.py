"""The metadata queries that BI tools send when they connect and browse a database.

Each query below is the SQL text that the tool's public source sends (placeholders filled in
as the tool would); they run through psycopg against the server on a small schema with two
tables, a foreign key, an index and a view, and must return the expected names.
- Metabase: its startup statements, the pgJDBC getSchemas query it uses, its table-privileges
  query (pg_tables/pg_views/pg_matviews + has_any_column_privilege) and describe-database.
- Grafana (PostgreSQL data source): version, TimescaleDB probe, table and column pickers
  (information_schema with the search_path subquery, parse_ident).
- DBeaver (PostgreSchema/PostgreDataSource): pg_database, pg_settings, pg_get_keywords,
  namespaces, classes, attributes, constraints and indexes by namespace.
- Superset: the SQLAlchemy 2 inspector calls it makes for a PostgreSQL database.
"""

from __future__ import annotations

import psycopg
import pytest

SCHEMA = """
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id int PRIMARY KEY, author_id int REFERENCES authors (id),
                    title varchar(100), emb vector(3));
CREATE INDEX books_title_idx ON books (title);
CREATE VIEW book_titles AS SELECT id, title FROM books;
COMMENT ON TABLE books IS 'all the books';
"""


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute(SCHEMA)
        yield c


def rows(conn, sql: str, params=None) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def oid_of(conn, relname: str) -> int:
    return rows(conn, "SELECT %s::regclass::oid", (relname,))[0][0]


# ---------------------------------------------------------------- Metabase ----------------

def test_metabase_startup_and_schemas(conn):
    for sql in ["SET extra_float_digits = 2",
                "SET application_name = 'Metabase v0.55.1'",
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"]:
        conn.execute(sql)
    assert rows(conn, "SHOW default_transaction_isolation") == [("read committed",)]
    # transaction_isolation follows the session default outside BEGIN ISOLATION LEVEL
    assert rows(conn, "SHOW TRANSACTION ISOLATION LEVEL") == [("read committed",)]
    assert rows(conn, "show timezone") == [("UTC",)]
    got = rows(conn, """SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG"
        FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'
        OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'
        OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))
        ORDER BY "TABLE_SCHEM" """)
    assert [r[0] for r in got] == ["information_schema", "pg_catalog", "public"]


METABASE_PRIVILEGES = """with table_privileges as (
         select
           NULL as role,
           t.schemaname as schema,
           t.objectname as table,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
           pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
           pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
         from (
           select schemaname, tablename as objectname from pg_catalog.pg_tables
           union
           select schemaname, viewname as objectname from pg_catalog.pg_views
           union
           select schemaname, matviewname as objectname from pg_catalog.pg_matviews
         ) t
         where t.schemaname !~ '^pg_'
           and t.schemaname <> 'information_schema'
           and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
        )
        select t.*
        from table_privileges t"""
PRIVILEGES = [(None, "public", name, True, True, True, True)
              for name in ("authors", "book_titles", "books")]


def test_metabase_table_privileges_quoted_labels(conn):
    # the same query with its reserved-word labels quoted: everything but the parser's
    # handling of `AS select` / `AS insert`
    sql = METABASE_PRIVILEGES
    for word in ("select", "insert", "update", "delete", "table"):
        sql = sql.replace(f" as {word}\n", f' as "{word}"\n').replace(f" as {word},", f' as "{word}",')
    assert sorted(rows(conn, sql)) == PRIVILEGES


# PostgreSQL accepts any key word as a column label after AS (ColLabel): `AS select`
def test_metabase_table_privileges(conn):
    assert sorted(rows(conn, METABASE_PRIVILEGES)) == PRIVILEGES


def test_metabase_describe_database(conn):
    got = rows(conn, """SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = '0') AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('public')) ORDER BY "type" ASC, "schema" ASC, "name" ASC""")
    assert [r[:4] for r in got] == [("public", "authors", "TABLE", None),
                                    ("public", "books", "TABLE", "all the books"),
                                    ("public", "book_titles", "VIEW", None)]


# ---------------------------------------------------------------- Grafana -----------------

GRAFANA_SCHEMA = """
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"""


def test_grafana_health_and_version(conn):
    assert rows(conn, "SELECT 1") == [(1,)]
    assert rows(conn, "SELECT current_setting('server_version_num')::int/100 as version") == [(1600,)]
    assert rows(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") == []


def test_grafana_tables(conn):
    got = rows(conn, f"""SELECT
    CASE WHEN {GRAFANA_SCHEMA}
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN {GRAFANA_SCHEMA} THEN 0 ELSE 1 END, 1""")
    assert [r[0] for r in got] == ["authors", "book_titles", "books"]
    # the older (angular) editor's table list
    got = rows(conn, "SELECT quote_ident(table_name) FROM information_schema.tables WHERE "
               + GRAFANA_SCHEMA + " ORDER BY table_name")
    assert [r[0] for r in got] == ["authors", "book_titles", "books"]


def test_grafana_columns(conn):
    table = "'books'"
    got = rows(conn, f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident({table}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({table}))[1]
          AND quote_ident(table_name) = (parse_ident({table}))[2]
        ELSE quote_ident(table_name) = {table}
          AND {GRAFANA_SCHEMA}
      END""")
    assert sorted(got) == sorted([("id", "integer"), ("author_id", "integer"),
                                  ("title", "character varying"), ("emb", "USER-DEFINED")])
    table = "'public.authors'"
    got = rows(conn, f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident({table}),1) = 2
        THEN quote_ident(table_schema) = (parse_ident({table}))[1]
          AND quote_ident(table_name) = (parse_ident({table}))[2]
        ELSE quote_ident(table_name) = {table}
          AND {GRAFANA_SCHEMA}
      END""")
    assert sorted(got) == [("id", "integer"), ("name", "text")]


# ---------------------------------------------------------------- DBeaver -----------------

def test_dbeaver_connect(conn):
    name = rows(conn, "SELECT current_database()")[0][0]
    got = rows(conn, "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=%s", (name,))
    assert len(got) == 1
    got = rows(conn, "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND "
               "datallowconn AND NOT datistemplate OR db.datname =%s ORDER BY db.datname", (name,))
    assert name in [r[2] for r in got] and "postgres" in [r[2] for r in got]
    got = rows(conn, "select * from pg_catalog.pg_settings where name='standard_conforming_strings'")
    assert got[0][:2] == ("standard_conforming_strings", "on")
    words = rows(conn, "select string_agg(word, ',') from pg_catalog.pg_get_keywords() "
                 "where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after}'::text[])")[0][0]
    assert "select" in words.split(",") and "add" not in words.split(",")
    got = rows(conn, "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n "
               "left outer join pg_catalog.pg_description d on d.objoid=n.oid and d.objsubid=0 "
               "and d.classoid='pg_namespace'::regclass ORDER BY nspname")
    assert "public" in [r[2] for r in got]


def test_dbeaver_tables_columns_constraints_indexes(conn):
    ns = rows(conn, "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'")[0][0]
    cur = conn.execute(
        "SELECT c.oid,c.*,d.description, case when c.relpartbound is not null then "
        "pg_get_expr(c.relpartbound, c.oid, true) end as partition_expr, case when "
        "c.relpartbound is not null then pg_get_partkeydef(c.oid) end as partition_key "
        "FROM pg_catalog.pg_class c "
        "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND "
        "d.classoid='pg_class'::regclass "
        "WHERE c.relnamespace=%s AND c.relkind not in ('i','I','c') ORDER BY c.oid", (ns,))
    names = [d.name for d in cur.description]
    got = {r[names.index("relname")]: r[names.index("description")] for r in cur.fetchall()}
    assert got == {"authors": None, "books": "all the books", "book_titles": None}

    books = oid_of(conn, "books")
    cur = conn.execute(
        "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,"
        "dsc.description FROM pg_catalog.pg_attribute a INNER JOIN pg_catalog.pg_class c ON "
        "(a.attrelid=c.oid) LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid "
        "AND a.attnum = ad.adnum) LEFT OUTER JOIN pg_catalog.pg_description dsc ON "
        "(c.oid=dsc.objoid AND a.attnum = dsc.objsubid) WHERE NOT a.attisdropped AND "
        "c.relkind not in ('i','I','c') AND c.oid=%s ORDER BY a.attnum", (books,))
    names = [d.name for d in cur.description]
    got = [r[names.index("attname")] for r in cur.fetchall() if r[names.index("attnum")] > 0]
    assert got == ["id", "author_id", "title", "emb"]

    cur = conn.execute(
        "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, "
        "case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) end as "
        "consrc_copy FROM pg_catalog.pg_constraint c INNER JOIN pg_catalog.pg_class t ON "
        "t.oid=c.conrelid LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid "
        "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND "
        "d.classoid='pg_constraint'::regclass WHERE t.relnamespace=%s ORDER BY c.oid", (ns,))
    names = [d.name for d in cur.description]
    got = sorted((r[names.index("conname")], r[names.index("contype")],
                  r[names.index("tabrelname")]) for r in cur.fetchall())
    assert got == [("authors_pkey", "p", "authors"), ("books_author_id_fkey", "f", "books"),
                   ("books_pkey", "p", "books")]

    cur = conn.execute(
        "SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,"
        "tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) "
        "as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,"
        "pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,"
        "pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans "
        "FROM pg_catalog.pg_index i INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid "
        "INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid LEFT OUTER JOIN "
        "pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid "
        "WHERE c.relnamespace=%s ORDER BY tabrelname, c.relname", (ns,))
    names = [d.name for d in cur.description]
    got = [(r[names.index("tabrelname")], r[names.index("relname")], str(r[names.index("keys")]))
           for r in cur.fetchall()]
    assert got == [("authors", "authors_pkey", "1"), ("books", "books_pkey", "1"),
                   ("books", "books_title_idx", "3")]


# ---------------------------------------------------------------- Superset ----------------

def test_superset_inspector(database):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    # Superset with pgvector installed: the Vector type is registered for reflection
    pytest.importorskip("pgvector.sqlalchemy")
    with psycopg.connect(database, autocommit=True) as c:
        c.execute(SCHEMA)
    parts = dict(p.split("=", 1) for p in database.split())
    url = (f"postgresql+psycopg://{parts['user']}@{parts['host']}:{parts['port']}/"
           f"{parts['dbname']}")
    engine = sqlalchemy.create_engine(url)
    try:
        insp = sqlalchemy.inspect(engine)
        assert "public" in insp.get_schema_names()
        assert insp.get_table_names("public") == ["authors", "books"]
        assert insp.get_view_names("public") == ["book_titles"]
        assert [c["name"] for c in insp.get_columns("books", "public")] == [
            "id", "author_id", "title", "emb"]
        assert insp.get_pk_constraint("books", "public")["constrained_columns"] == ["id"]
        fks = insp.get_foreign_keys("books", "public")
        assert [(f["constrained_columns"], f["referred_table"], f["referred_columns"])
                for f in fks] == [(["author_id"], "authors", ["id"])]
        assert [(i["name"], i["column_names"]) for i in insp.get_indexes("books", "public")] == [
            ("books_title_idx", ["title"])]
        assert insp.get_table_comment("books", "public")["text"] == "all the books"
        assert "SELECT" in insp.get_view_definition("book_titles", "public").upper()
    finally:
        engine.dispose()
