"""What Tableau sends to a PostgreSQL data source, through psycopg and psql.

Tableau's PostgreSQL connector is psqlODBC with declare/fetch on (its traces, and the issues
other PostgreSQL-compatible servers got from Tableau users, show the statements):
- connect: ``SET DateStyle = 'ISO';SET extra_float_digits = 2;show transaction_isolation`` in
  one Query message, psqlODBC's large-object probe, ``show max_identifier_length``, the
  isolation level; then Tableau's capability checks, a ``SELECT ... INTO TEMPORARY TABLE`` and
  a ``CREATE LOCAL TEMPORARY TABLE "#Tableau_..." (...) ON COMMIT PRESERVE ROWS``;
- browsing: psqlODBC's SQLTables / SQLColumns / SQLPrimaryKeys catalog queries, and
  ``SELECT ... LIMIT 0`` for a relation's columns;
- data: every query runs as ``BEGIN;declare "SQL_CUR<address>" cursor with hold for
  <query>;fetch 2048 in "SQL_CUR<address>"``, then more fetches, ``close`` and ``COMMIT``;
  the queries group by ordinal (``GROUP BY 1, 2``), and a filter with many values becomes a
  temporary table joined to the data; psqlODBC wraps statements in transactions with its
  ``_per_query_svp_`` savepoint.
Expected values are computed here from the rows inserted.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections import defaultdict

import psycopg
import pytest

REGIONS = ["Central", "East", "West"]
REPS = ["Ann", "Bob", "Cid", "Dee", "Eve"]
ITEMS = ["Binder", "Desk", "Pen", "Pencil"]
N_ROWS = 3000  # more than one FETCH 2048


def _rows() -> list[tuple]:
    out = []
    for i in range(1, N_ROWS + 1):
        out.append((i, REGIONS[i % 3], REPS[i % 5], ITEMS[i % 4], i % 97, 1.5 + (i % 7),
                    dt.date(2024, 1, 1) + dt.timedelta(days=i % 365)))
    return out


ROWS = _rows()
SCHEMA = """
CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, rep varchar(50), item text,
                     units int DEFAULT 0, unit_price double precision, order_date date);
CREATE VIEW east_orders AS SELECT id, units FROM orders WHERE region = 'East';
"""


@pytest.fixture
def conn(database):
    with psycopg.connect(database, autocommit=True) as c:
        c.execute(SCHEMA)
        with c.cursor().copy("COPY orders FROM STDIN") as cp:
            for r in ROWS:
                cp.write_row(r)
        yield c


def results(conn, sql: str) -> list[tuple[str, list | None]]:
    """Each statement's command tag and rows, for a Query message holding several."""
    cur = conn.cursor()
    cur.execute(sql)
    out = []
    while True:
        out.append((cur.statusmessage, cur.fetchall() if cur.description else None))
        if not cur.nextset():
            return out


# ---------------------------------------------------------------- connecting --------------

def test_psqlodbc_connect_handshake(conn):
    got = results(conn, "SET DateStyle = 'ISO';SET extra_float_digits = 2;show transaction_isolation")
    isolation = conn.execute("SHOW default_transaction_isolation").fetchone()[0]
    assert got == [("SET", None), ("SET", None), ("SHOW", [(isolation,)])]
    assert conn.execute("SHOW DateStyle").fetchone() == ("ISO, MDY",)
    assert conn.execute("SHOW extra_float_digits").fetchone() == ("2",)
    assert conn.execute("select oid, typbasetype from pg_type where typname = 'lo'").fetchall() == []
    assert conn.execute("show max_identifier_length").fetchone() == ("63",)
    assert conn.execute("select NULL, NULL, NULL").fetchone() == (None, None, None)
    got = results(conn, "show transaction_isolation;SET SESSION CHARACTERISTICS AS TRANSACTION "
                        "ISOLATION LEVEL READ COMMITTED")
    assert [tag for tag, _ in got] == ["SHOW", "SET"]
    assert conn.execute("show transaction_isolation").fetchone() == ("read committed",)


def test_tableau_temp_table_capability_checks(conn):
    results(conn, 'SELECT * INTO TEMPORARY TABLE "#Tableau_1_1_Connect_CheckSelectIntoCap" '
                  "FROM (SELECT 1 AS COL) AS CHECKTEMP LIMIT 1")
    assert conn.execute('SELECT col FROM "#Tableau_1_1_Connect_CheckSelectIntoCap"').fetchall() == [(1,)]
    got = results(conn, 'CREATE LOCAL TEMPORARY TABLE "#Tableau_1_2_Connect_CheckCreateTempTableCap" '
                        "(\n\tCOL INTEGER\n\t) ON COMMIT PRESERVE ROWS")
    assert got == [("CREATE TABLE", None)]
    # ON COMMIT PRESERVE ROWS: the rows outlive their transaction
    with conn.transaction():
        conn.execute('INSERT INTO "#Tableau_1_2_Connect_CheckCreateTempTableCap" VALUES (7)')
    assert conn.execute('SELECT * FROM "#Tableau_1_2_Connect_CheckCreateTempTableCap"').fetchall() == [(7,)]
    # temporary tables live in the session's pg_temp schema, invisible to other sessions
    schema = conn.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE c.relname = '#Tableau_1_2_Connect_CheckCreateTempTableCap'").fetchone()[0]
    assert schema.startswith("pg_temp")
    with psycopg.connect(conn.info.dsn, autocommit=True) as other:
        with pytest.raises(psycopg.errors.UndefinedTable):
            other.execute('SELECT * FROM "#Tableau_1_2_Connect_CheckCreateTempTableCap"')
    results(conn, 'DROP TABLE "#Tableau_1_1_Connect_CheckSelectIntoCap";'
                  'DROP TABLE "#Tableau_1_2_Connect_CheckCreateTempTableCap"')
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute('SELECT * FROM "#Tableau_1_2_Connect_CheckCreateTempTableCap"')


# ---------------------------------------------------------------- browsing ----------------

def test_psqlodbc_schemas_and_tables(conn):
    got = conn.execute("select NULL, nspname, NULL from pg_catalog.pg_namespace n where true and "
                       "nspname not in ('pg_catalog', 'information_schema', 'pg_toast', "
                       "'pg_temp_1') order by nspname").fetchall()
    assert (None, "public", None) in got and all(r[1] != "pg_catalog" for r in got)
    got = conn.execute("select relname, nspname, relkind from pg_catalog.pg_class c, "
                       "pg_catalog.pg_namespace n where relkind in ('r', 'v', 'm', 'f', 'p') and "
                       "nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1') "
                       "and n.oid = relnamespace order by nspname, relname").fetchall()
    assert got == [("east_orders", "public", "v"), ("orders", "public", "r")]


SQLCOLUMNS = """select n.nspname, c.relname, a.attname, a.atttypid, t.typname, a.attnum, a.attlen, \
a.atttypmod, a.attnotnull, c.relhasrules, c.relkind, c.oid, pg_get_expr(d.adbin, d.adrelid), \
case t.typtype when 'd' then t.typbasetype else 0 end, t.typtypmod, 0, attidentity, \
c.relhassubclass from (((pg_catalog.pg_class c inner join pg_catalog.pg_namespace n on n.oid = \
c.relnamespace and c.relname like 'orders' and n.nspname like 'public') inner join \
pg_catalog.pg_attribute a on (not a.attisdropped) and a.attnum > 0 and a.attrelid = c.oid) \
inner join pg_catalog.pg_type t on t.oid = a.atttypid) left outer join pg_attrdef d on \
a.atthasdef and d.adrelid = a.attrelid and d.adnum = a.attnum order by n.nspname, c.relname, attnum"""


def test_psqlodbc_sqlcolumns_and_primary_key(conn):
    got = conn.execute(SQLCOLUMNS).fetchall()
    oid = conn.execute("SELECT 'orders'::regclass::oid").fetchone()[0]
    assert [r[:9] for r in got] == [
        ("public", "orders", "id", 23, "int4", 1, 4, -1, True),
        ("public", "orders", "region", 25, "text", 2, -1, -1, True),
        ("public", "orders", "rep", 1043, "varchar", 3, -1, 54, False),  # varchar(50): 50 + 4
        ("public", "orders", "item", 25, "text", 4, -1, -1, False),
        ("public", "orders", "units", 23, "int4", 5, 4, -1, False),
        ("public", "orders", "unit_price", 701, "float8", 6, 8, -1, False),
        ("public", "orders", "order_date", 1082, "date", 7, 4, -1, False),
    ]
    assert [r[12] for r in got] == [None, None, None, None, "0", None, None]
    assert all(r[9:12] == (False, "r", oid) and r[13:] == (0, -1, 0, "", False) for r in got)
    # SQLPrimaryKeys
    got = conn.execute(
        "select ta.attname, ia.attnum, ic.relname, n.nspname, tc.relname from "
        "pg_catalog.pg_attribute ta, pg_catalog.pg_attribute ia, pg_catalog.pg_class tc, "
        "pg_catalog.pg_index i, pg_catalog.pg_namespace n, pg_catalog.pg_class ic where "
        f"tc.oid = {oid} AND tc.oid = i.indrelid AND n.oid = tc.relnamespace AND "
        "i.indisprimary = 't' AND ia.attrelid = i.indexrelid AND ta.attrelid = i.indrelid AND "
        "ta.attnum = i.indkey[ia.attnum-1] AND (NOT ta.attisdropped) AND (NOT ia.attisdropped) "
        "AND ic.oid = i.indexrelid order by ia.attnum").fetchall()
    assert got == [("id", 1, "orders_pkey", "public", "orders")]


def test_columns_by_limit_0(conn):
    cur = conn.execute('SELECT * FROM "public"."orders" "orders" LIMIT 0')
    assert cur.fetchall() == []
    assert [(d.name, d.type_code) for d in cur.description] == [
        ("id", 23), ("region", 25), ("rep", 1043), ("item", 25), ("units", 23),
        ("unit_price", 701), ("order_date", 1082)]
    cur = conn.execute('SELECT "east_orders"."units" AS "units" FROM "public"."east_orders" '
                       '"east_orders" LIMIT 0')
    assert [(d.name, d.type_code) for d in cur.description] == [("units", 23)]


# ---------------------------------------------------------------- queries -----------------

CURSOR = '"SQL_CUR0x7fd83880dc00"'


def through_cursor(conn, query: str) -> list[tuple]:
    """psqlODBC's declare/fetch: the rows of query, 2048 at a time."""
    got = results(conn, f"BEGIN;declare {CURSOR} cursor with hold for {query};"
                        f"fetch 2048 in {CURSOR}")
    assert [tag for tag, _ in got[:2]] == ["BEGIN", "DECLARE CURSOR"]
    rows = list(got[2][1])
    batch = rows
    while len(batch) == 2048:
        batch = conn.execute(f"fetch 2048 in {CURSOR}").fetchall()
        rows += batch
    assert results(conn, f"close {CURSOR}") == [("CLOSE CURSOR", None)]
    assert results(conn, "COMMIT") == [("COMMIT", None)]
    return rows


def test_declare_with_hold_fetch_2048(conn):
    got = results(conn, f'BEGIN;declare {CURSOR} cursor with hold for SELECT "orders"."id" AS "id", '
                        f'"orders"."region" AS "region" FROM "public"."orders" "orders" ORDER BY 1;'
                        f"fetch 2048 in {CURSOR}")
    assert [(tag, len(rows) if rows is not None else None) for tag, rows in got] == [
        ("BEGIN", None), ("DECLARE CURSOR", None), ("FETCH 2048", 2048)]
    assert got[2][1][:2] == [(1, REGIONS[1]), (2, REGIONS[2])]
    conn.execute("COMMIT")  # WITH HOLD: the cursor outlives the transaction
    rest = conn.execute(f"fetch 2048 in {CURSOR}")
    assert rest.statusmessage == f"FETCH {N_ROWS - 2048}"
    assert [r[0] for r in rest.fetchall()] == list(range(2049, N_ROWS + 1))
    assert conn.execute(f"fetch 2048 in {CURSOR}").fetchall() == []
    conn.execute(f"close {CURSOR}")
    with pytest.raises(psycopg.errors.InvalidCursorName):
        conn.execute(f"fetch 2048 in {CURSOR}")


def test_group_by_ordinals_through_cursor(conn):
    expected: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0])
    for _, region, rep, _item, units, price, _d in ROWS:
        e = expected[(region, rep)]
        e[0] += units
        e[1] += units * price
        e[2] += 1
    got = through_cursor(conn, 'SELECT "orders"."region" AS "region", "orders"."rep" AS "rep", '
                               'SUM("orders"."units") AS "sum:units:ok", '
                               'SUM(("orders"."units" * "orders"."unit_price")) AS "sum:Calculation_1:ok", '
                               'COUNT(1) AS "cnt:Number of Records:ok" '
                               'FROM "public"."orders" "orders" GROUP BY 1, 2 HAVING (COUNT(1) > 0)')
    assert {(r[0], r[1]): (r[2], pytest.approx(r[3]), r[4]) for r in got} == {
        k: (v[0], pytest.approx(v[1]), v[2]) for k, v in expected.items()}
    # the items list of a filter card
    got = through_cursor(conn, 'SELECT CAST("orders"."item" AS TEXT) AS "item" FROM "public"."orders" '
                               '"orders" GROUP BY 1 ORDER BY 1 ASC NULLS FIRST')
    assert got == [(i,) for i in ITEMS]


def test_dates_distinct_and_top_n(conn):
    months: dict[dt.date, int] = defaultdict(int)
    for r in ROWS:
        months[r[6].replace(day=1)] += r[4]
    got = through_cursor(conn, """SELECT CAST(DATE_TRUNC('MONTH', CAST("orders"."order_date" AS DATE)) AS DATE) AS "tmn:order_date:ok",
  SUM("orders"."units") AS "sum:units:ok"
FROM "public"."orders" "orders"
GROUP BY 1""")
    assert dict(got) == months
    got = through_cursor(conn, 'SELECT EXTRACT(YEAR FROM "orders"."order_date") AS "yr:order_date:ok", '
                               'COUNT(DISTINCT "orders"."rep") AS "ctd:rep:ok", '
                               'MIN("orders"."unit_price") AS "min:unit_price:ok", '
                               'AVG(CAST("orders"."units" AS DOUBLE PRECISION)) AS "avg:units:ok" '
                               'FROM "public"."orders" "orders" GROUP BY 1')
    years = sorted({r[6].year for r in ROWS})
    assert sorted(int(r[0]) for r in got) == years
    assert all(r[1] == len(REPS) and r[2] == 1.5 for r in got)
    assert sum(r[3] * sum(1 for x in ROWS if x[6].year == int(r[0])) for r in got) == \
        pytest.approx(sum(r[4] for r in ROWS))
    # "top 2 reps by units"
    by_rep: dict[str, int] = defaultdict(int)
    for r in ROWS:
        by_rep[r[2]] += r[4]
    top = sorted(by_rep.items(), key=lambda kv: -kv[1])[:2]
    got = through_cursor(conn, 'SELECT "orders"."rep" AS "rep", SUM("orders"."units") AS "sum:units:ok" '
                               'FROM "public"."orders" "orders" GROUP BY 1 ORDER BY 2 DESC LIMIT 2')
    assert got == top


def test_filter_temp_table_joined(conn):
    conn.execute('CREATE LOCAL TEMPORARY TABLE "#Tableau_37_2_Filter" ("X_region" TEXT, '
                 '"X__Tableau_join_flag" BIGINT) ON COMMIT PRESERVE ROWS')
    with conn.cursor() as cur:  # psqlODBC's bound-parameter INSERT, one row per value
        cur.executemany('INSERT INTO "#Tableau_37_2_Filter" ("X_region", "X__Tableau_join_flag") '
                        "VALUES (%s, %s)", [("East", 1), ("West", 1)])
    assert conn.execute('SELECT COUNT(*) FROM "#Tableau_37_2_Filter"').fetchone() == (2,)
    expected: dict[tuple, int] = defaultdict(int)
    for r in ROWS:
        if r[1] in ("East", "West"):
            expected[(r[1], r[3])] += r[4]
    got = through_cursor(conn, 'SELECT "orders"."region" AS "region", "orders"."item" AS "item", '
                               'SUM("orders"."units") AS "sum:units:ok" '
                               'FROM "public"."orders" "orders" '
                               'INNER JOIN "#Tableau_37_2_Filter" "Filter_1" ON '
                               '("orders"."region" IS NOT DISTINCT FROM "Filter_1"."X_region") '
                               'GROUP BY 1, 2')
    assert {(r[0], r[1]): r[2] for r in got} == expected
    conn.execute('DROP TABLE "#Tableau_37_2_Filter"')


def test_per_query_savepoint(conn):
    """psqlODBC's statement-level rollback inside a transaction."""
    conn.execute("BEGIN")
    assert [t for t, _ in results(conn, "SAVEPOINT _per_query_svp_;SELECT COUNT(*) FROM orders;"
                                        "RELEASE _per_query_svp_")] == ["SAVEPOINT", "SELECT 1", "RELEASE"]
    with pytest.raises(psycopg.errors.DivisionByZero):
        results(conn, "SAVEPOINT _per_query_svp_;SELECT 1/0;RELEASE _per_query_svp_")
    assert [t for t, _ in results(conn, "ROLLBACK TO _per_query_svp_;RELEASE _per_query_svp_")] == [
        "ROLLBACK", "RELEASE"]
    assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (N_ROWS,)
    conn.execute("COMMIT")


# ---------------------------------------------------------------- psql --------------------

@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_cursor_and_temp_table_through_psql(conn, database):
    script = f"""SET DateStyle = 'ISO';SET extra_float_digits = 2;show transaction_isolation;
CREATE LOCAL TEMPORARY TABLE "#Tableau_9_1_Filter" ("X_item" TEXT) ON COMMIT PRESERVE ROWS;
INSERT INTO "#Tableau_9_1_Filter" VALUES ('Desk'), ('Pen');
BEGIN;declare {CURSOR} cursor with hold for SELECT "orders"."item" AS "item", COUNT(1) AS "cnt" FROM "public"."orders" "orders" INNER JOIN "#Tableau_9_1_Filter" "F" ON ("orders"."item" = "F"."X_item") GROUP BY 1 ORDER BY 1;fetch 2048 in {CURSOR};
close {CURSOR};
COMMIT;
"""
    env = dict(os.environ, PGCONNECT_TIMEOUT="30", PSQLRC="/dev/null", PGOPTIONS="")
    # host/port/user/dbname only: a libpq 16 conninfo may name options psql 15 rejects
    info = conn.info
    out = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                          "-h", info.host, "-p", str(info.port), "-U", info.user, "-d", info.dbname],
                         input=script, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    counts = {item: sum(1 for r in ROWS if r[3] == item) for item in ("Desk", "Pen")}
    isolation = conn.execute("SHOW default_transaction_isolation").fetchone()[0]
    assert out.stdout.split("\n") == [isolation, f"Desk|{counts['Desk']}", f"Pen|{counts['Pen']}", ""]


def test_create_table_as_and_select_into(conn):
    """Extracts and "initial SQL" materialise query results; the tag is PostgreSQL's."""
    got = results(conn, 'CREATE TEMP TABLE "#Tableau_extract" (region, units) AS SELECT region, '
                        "SUM(units) FROM orders GROUP BY 1 ORDER BY 1")
    assert got == [("SELECT 3", None)]
    expected = [(r, sum(x[4] for x in ROWS if x[1] == r)) for r in REGIONS]
    assert conn.execute('SELECT * FROM "#Tableau_extract" ORDER BY 1').fetchall() == expected
    cur = conn.execute('SELECT * FROM "#Tableau_extract" LIMIT 0')
    assert [(d.name, d.type_code) for d in cur.description] == [("region", 25), ("units", 20)]
    assert results(conn, "SELECT id, 'x' AS tag INTO TEMP few FROM orders WHERE id <= 4") == [
        ("SELECT 4", None)]
    assert conn.execute("SELECT count(*), min(tag) FROM few").fetchone() == (4, "x")
    conn.execute("CREATE TABLE empty_copy AS SELECT * FROM orders WITH NO DATA")
    assert conn.execute("SELECT count(*) FROM empty_copy").fetchone() == (0,)
    with pytest.raises(psycopg.errors.DuplicateTable):
        conn.execute("CREATE TABLE empty_copy AS SELECT 1")
    # a permanent table made from a query is an ordinary table: other sessions see it
    with psycopg.connect(conn.info.dsn, autocommit=True) as other:
        assert other.execute("SELECT count(*) FROM empty_copy").fetchone() == (0,)
        with pytest.raises(psycopg.errors.UndefinedTable):
            other.execute("SELECT * FROM few")
