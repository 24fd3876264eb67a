"""The short path of the prepared one-row INSERT (sqlvec.exec.fast_insert) writes exactly what
the general path writes and raises exactly its errors: the same rows for many types and
NULLs, the same defaults and sequence values, the same RETURNING rows, the same 23505 /
23502 / 23514 / 23503 / 22001 errors with the connection usable after; it runs inside
transaction blocks (ROLLBACK removes the row), is planned again after ALTER TABLE, and an
acknowledged commit survives kill -9.

Each test runs the same statements on two connections to one database: ``fast`` (the short
path answers from the second execution on) and ``general`` (its statement_timeout keeps the
general path, as the short path steps aside for the timer)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import sqlvec
from sqlvec import errors
from sqlvec.exec import fast_insert
from sqlvec.storage import records
from sqlvec.types import registry as T

TYPES = ("s smallint, i integer, b bigint, t text, v varchar(5), n numeric(8,2), r real, "
         "d double precision, f boolean, ts timestamptz, day date, e vector(3), u uuid, j jsonb")
COLS = "s, i, b, t, v, n, r, d, f, ts, day, e, u, j"


@pytest.fixture
def conns(tmp_path):
    path = str(tmp_path / "db")
    fast = sqlvec.connect(path, autocommit=True)
    general = sqlvec.connect(path, autocommit=True)
    general.execute("SET statement_timeout = '1h'")  # a timer: the general path always runs
    yield fast, general
    general.close()
    fast.close()


def _fast(conn, sql: str):
    """The short path the connection keeps for ``sql`` (None when it has none)."""
    return conn._session._fast.get(sql)


def _hits(conn, sql: str) -> int:
    f = _fast(conn, sql)
    return 0 if f is None else f.hits


def _rows(conn, table: str, order: str = "1") -> list:
    rows = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return [tuple(v.tolist() if isinstance(v, np.ndarray) else v for v in r) for r in rows]


def _error(conn, sql: str, params) -> errors.Error:
    with pytest.raises(errors.Error) as info:
        conn.execute(sql, params)
    return info.value


def _same_error(a: errors.Error, b: errors.Error) -> None:
    """The same error, but for the table names (the fast connection writes ``a``, the
    general one ``b``)."""
    def norm(e):
        return (type(e), e.sqlstate, str(e).replace('"b', '"a'), (e.detail or "").replace('"b"', '"a"'))

    assert norm(a) == norm(b)


def _row(k: int) -> tuple:
    rng = np.random.default_rng(k)
    return (k % 300 - 150, k * 1000 - 7, -(k**3), f"t{k}é", "ab"[: k % 3],
            Decimal(k) / 8, k / 3, k / 7, k % 2 == 0,
            dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(minutes=k), dt.date(2020, 2, 1 + k % 28),
            rng.normal(size=3).astype(np.float32), uuid.UUID(int=k), {"k": k, "l": [1, None]})


def _with_nulls(k: int) -> tuple:
    r = list(_row(k))
    for j in range(len(r)):
        if (k + j) % 5 == 0:
            r[j] = None
    return tuple(r)


# -- the same rows ----------------------------------------------------------------------------


def test_many_types_and_nulls_same_rows(conns):
    fast, general = conns
    fast.execute(f"CREATE TABLE a (k int, {TYPES})")
    fast.execute(f"CREATE TABLE b (k int, {TYPES})")
    sql = "INSERT INTO {} (k, " + COLS + ") VALUES (%s" + ", %s" * 14 + ")"
    for k in range(1, 40):
        row = _row(k) if k < 20 else _with_nulls(k)
        fast.execute(sql.format("a"), (k, *row))
        general.execute(sql.format("b"), (k, *row))
        if k == 19:  # the integers stayed smallint: one plan, rows 2..19 took the short path
            assert _hits(fast, sql.format("a")) == 18
    assert _hits(general, sql.format("b")) == 0
    assert _rows(fast, "a") == _rows(fast, "b")
    assert len(_rows(fast, "a")) == 39


def test_values_with_constants_and_column_order(conns):
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (id bigint, note text, w real DEFAULT 1.5, tag text)")
    sql = "INSERT INTO {} (tag, id, note) VALUES (%s, %s, 'const')"
    for k in range(10):
        fast.execute(sql.format("a"), (f"g{k}", k))
        general.execute(sql.format("b"), (f"g{k}", k))
    assert _hits(fast, sql.format("a")) == 9
    assert _rows(fast, "a") == _rows(fast, "b") == [(k, "const", 1.5, f"g{k}") for k in range(10)]


def test_wire_style_declared_types(conns):
    """The wire's Bind/Execute: parameter types as the client declared them (psycopg sends
    int2/int4/int8 by magnitude, float8, and text as 'unknown')."""
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (i int, s smallint, f real, d float8, t text, v varchar(4))")
    sql = "INSERT INTO {} VALUES ($1, $2, $3, $4, $5, $6)"
    types = (T.INT2, T.INT4, T.FLOAT4, T.FLOAT8, None, T.TEXT)
    fs, gs = fast.session, general.session
    for k in range(12):
        vals = [k, k - 5, k / 3, k / 7, f"x{k}", "abcd"[: k % 5] if k % 4 else None]
        fs.execute_prepared(sql.format("a"), types, vals)
        gs.execute_prepared(sql.format("b"), types, vals)
    assert fs._fast[(sql.format("a"), types)].hits == 11
    assert _rows(fast, "a") == _rows(fast, "b")
    # a value the declared type cannot hold in the column: the general path's error
    bad = [40000, 1, 0.5, 0.5, "x", "y"]
    with pytest.raises(errors.Error) as fe:
        fs.execute_prepared("INSERT INTO a (s, i, f, d, t, v) VALUES ($1, $2, $3, $4, $5, $6)", types, bad)
    with pytest.raises(errors.Error) as ge:
        gs.execute_prepared("INSERT INTO b (s, i, f, d, t, v) VALUES ($1, $2, $3, $4, $5, $6)", types, bad)
    _same_error(fe.value, ge.value)
    assert "smallint out of range" in str(fe.value)
    # text too long for varchar(4), declared text: the assignment cast's error
    long = [1, 1, 0.5, 0.5, "x", "toolong"]
    for _ in range(3):
        with pytest.raises(errors.Error) as fe:
            fs.execute_prepared(sql.format("a"), types, long)
        with pytest.raises(errors.Error) as ge:
            gs.execute_prepared(sql.format("b"), types, long)
        _same_error(fe.value, ge.value)
    before = fs._fast[(sql.format("a"), types)].hits
    fs.execute_prepared(sql.format("a"), types, [1, 2, 0.25, 0.5, "ok", "ok"])
    assert fs._fast[(sql.format("a"), types)].hits == before + 1


def test_types_a_value_brings_choose_the_plan(conns):
    """Embedded: a value of another Python type than the plan's was made for takes the
    general path (another plan), with the same result as a connection that never had one."""
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (k int, x bigint, y float8, z text, w timestamptz)")
    sql = "INSERT INTO {} VALUES (%s, %s, %s, %s, %s)"
    naive = dt.datetime(2024, 5, 1, 8, 30)
    aware = dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    # each row differs from the first (which the plan was made for) in one value's type
    values = [(0, 1, 1.5, "a", aware), (1, 2, 2.5, "b", naive), (2, 2**40, 3.5, "c", aware),
              (3, True, 3.25, "c", aware), (4, 7, Decimal("1.5"), "d", aware), (5, 8, 4.5, 5, aware),
              (6, None, None, None, None), (7, 9, 9.5, "z", aware), (8, np.int16(4), np.float32(0.5), "np", aware)]
    for t in ("SET TimeZone = 'Asia/Tokyo'",):
        fast.execute(t)
        general.execute(t)
    failed = 0
    for v in values + [(10 + k, k, k / 2, f"r{k}", aware) for k in range(5)]:
        try:
            general.execute(sql.format("b"), v)
        except errors.Error as ge:
            _same_error(_error(fast, sql.format("a"), v), ge)
            failed += 1
        else:
            fast.execute(sql.format("a"), v)
    assert failed == 1  # a boolean for a bigint: 42804 from both
    assert _rows(fast, "a") == _rows(fast, "b")
    assert len(_rows(fast, "a")) == len(values) - 1 + 5
    assert _hits(fast, sql.format("a")) >= 4  # the last rows: one plan again


# -- defaults, sequences, RETURNING -------------------------------------------------------------


def test_defaults_serial_and_identity(conns):
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (id serial PRIMARY KEY, g bigint GENERATED BY DEFAULT AS IDENTITY, "
                     "n smallint, note text DEFAULT 'none', made timestamptz DEFAULT now(), k int DEFAULT 7)")
    sql = "INSERT INTO {} (n, note) VALUES (%s, %s)"
    plan = [(1, "a"), (2, None), (70000, "bad"), (3, "c"), (4, "d"), (True, "bool"), (5, "e")]
    for n, note in plan:
        for conn, table in ((fast, "a"), (general, "b")):
            try:
                conn.execute(sql.format(table), (n, note))
            except errors.Error:
                pass
    assert _hits(fast, sql.format("a")) >= 2
    q = "SELECT id, g, n, note, k, made IS NOT NULL FROM {} ORDER BY id"
    got, want = fast.execute(q.format("a")).fetchall(), fast.execute(q.format("b")).fetchall()
    assert got == want
    assert [r[0] for r in got] == [r[1] for r in got]  # the same sequence steps for both columns
    # the failing row consumed its sequence values in both paths, as in PostgreSQL
    assert fast.execute("SELECT currval('a_id_seq')").fetchone() == general.execute(
        "SELECT currval('b_id_seq')").fetchone()


def test_returning_columns(conns):
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (id serial, name text, score float8 DEFAULT 0.5)")
    sql = "INSERT INTO {} (name) VALUES (%s) RETURNING id, score, name"
    star = "INSERT INTO {} (name, score) VALUES (%s, %s) RETURNING *"
    for k in range(6):
        got = fast.cursor().execute(sql.format("a"), (f"n{k}",))
        want = general.cursor().execute(sql.format("b"), (f"n{k}",))
        assert got.fetchall() == want.fetchall() == [(2 * k + 1, 0.5, f"n{k}")]
        assert [d.name for d in got.description] == ["id", "score", "name"]
        assert got.rowcount == want.rowcount == 1
        got = fast.cursor().execute(star.format("a"), (f"m{k}", k / 2))
        want = general.cursor().execute(star.format("b"), (f"m{k}", k / 2))
        assert got.fetchall() == want.fetchall()
        assert [d.name for d in got.description] == [d.name for d in want.description]
    assert _hits(fast, sql.format("a")) == 5 and _hits(fast, star.format("a")) == 5
    # an expression in RETURNING: no short path, the same answer
    expr = "INSERT INTO a (name) VALUES (%s) RETURNING id + 1000, upper(name)"
    for k in range(3):
        assert fast.execute(expr, (f"z{k}",)).fetchone() == (1013 + k, f"Z{k}")
    assert _fast(fast, expr) is None


# -- errors ---------------------------------------------------------------------------------------


def test_unique_violation_same_error_and_usable_after(conns):
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, code text UNIQUE, x int)")
    sql = "INSERT INTO {} VALUES (%s, %s, %s)"
    for k in range(5):
        fast.execute(sql.format("a"), (k, f"c{k}", k))
        general.execute(sql.format("b"), (k, f"c{k}", k))
    for dup in ((3, "new", 0), (99, "c2", 0)):
        fe, ge = _error(fast, sql.format("a"), dup), _error(general, sql.format("b"), dup)
        _same_error(fe, ge)
        assert fe.sqlstate == "23505"
    assert str(fe).replace('"a_', '"X_') == str(ge).replace('"b_', '"X_')
    fe = _error(fast, sql.format("a"), (3, "new", 0))
    assert str(fe) == 'duplicate key value violates unique constraint "a_pkey"'
    assert fe.detail == "Key (id)=(3) already exists."
    before = _hits(fast, sql.format("a"))
    fast.execute(sql.format("a"), (5, "c5", 5))
    assert _hits(fast, sql.format("a")) == before + 1
    assert fast.execute("SELECT count(*) FROM a").fetchone() == (6,)


def test_not_null_check_and_foreign_key_errors(conns):
    fast, general = conns
    fast.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    fast.execute("INSERT INTO parent VALUES (1), (2)")
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (id int NOT NULL, p int REFERENCES parent, v int CHECK (v > 0), note text)")
    sql = "INSERT INTO {} VALUES (%s, %s, %s, %s)"
    for k in range(3):
        fast.execute(sql.format("a"), (k, 1, 5, "ok"))
        general.execute(sql.format("b"), (k, 1, 5, "ok"))
    cases = {"23502": (None, 1, 5, "n"), "23514": (7, 2, -1, "c"), "23503": (8, 3, 1, "f")}
    for state, vals in cases.items():
        fe, ge = _error(fast, sql.format("a"), vals), _error(general, sql.format("b"), vals)
        assert fe.sqlstate == ge.sqlstate == state
        assert str(fe).replace('"a"', '"b"').replace("a_", "b_") == str(ge)
        assert fe.detail == ge.detail
    fe = _error(fast, sql.format("a"), cases["23502"])
    assert str(fe) == 'null value in column "id" of relation "a" violates not-null constraint'
    assert fe.detail == "Failing row contains (null, 1, 5, n)."
    before = _hits(fast, sql.format("a"))
    fast.execute(sql.format("a"), (9, None, None, None))
    assert _hits(fast, sql.format("a")) == before + 1
    assert _rows(fast, "a") == _rows(fast, "b")[:3] + [(9, None, None, None)]
    # NOT NULL alone (no CHECK to evaluate)
    for t in ("a_nn", "b_nn"):
        fast.execute(f"CREATE TABLE {t} (id int NOT NULL, note text NOT NULL DEFAULT 'n')")
    sql = "INSERT INTO {} (id) VALUES (%s)"
    for k in range(3):
        fast.execute(sql.format("a_nn"), (k,))
    _same_error(_error(fast, sql.format("a_nn"), (None,)), _error(general, sql.format("b_nn"), (None,)))
    assert _hits(fast, sql.format("a_nn")) == 2
    assert _rows(fast, "a_nn") == [(0, "n"), (1, "n"), (2, "n")]


def test_varchar_too_long_and_bad_vector(conns):
    fast, general = conns
    for t in ("a", "b"):
        fast.execute(f"CREATE TABLE {t} (v varchar(3), e vector(2))")
    sql = "INSERT INTO {} VALUES (%s, %s)"
    for k in range(3):
        fast.execute(sql.format("a"), ("ab", np.array([k, 1], np.float32)))
        general.execute(sql.format("b"), ("ab", np.array([k, 1], np.float32)))
    failed = 0
    for bad in (("abcd", [1, 2]), ("ab", [1, 2, 3]), ("ab", [np.nan, 1]), ("ab  ", [1, 2]),
                ("x", np.array([1, 2, 3], np.float32)), ("y", "[1,2]"), ("z", "[1,")):
        try:
            general.execute(sql.format("b"), bad)
        except errors.Error as ge:
            _same_error(_error(fast, sql.format("a"), bad), ge)
            failed += 1
        else:
            fast.execute(sql.format("a"), bad)  # trailing spaces are cut, as in PostgreSQL
    assert failed == 5
    assert sorted(map(repr, _rows(fast, "a"))) == sorted(map(repr, _rows(fast, "b")))
    assert ("ab ", [1.0, 2.0]) in _rows(fast, "a")  # 'ab  ' fits varchar(3), as 'ab '
    before = _hits(fast, sql.format("a"))
    fast.execute(sql.format("a"), ("ok", np.array([5, 5], np.float32)))
    assert _hits(fast, sql.format("a")) == before + 1 >= 3


def test_read_only_transaction(conns):
    fast, general = conns
    fast.execute("CREATE TABLE a (x int)")
    sql = "INSERT INTO a VALUES (%s)"
    for k in range(3):
        fast.execute(sql, (k,))
    fast.execute("SET default_transaction_read_only = on")
    fe = _error(fast, sql, (5,))
    assert fe.sqlstate == "25006" and str(fe) == "cannot execute INSERT in a read-only transaction"
    fast.execute("SET default_transaction_read_only = off")
    fast.execute(sql, (6,))
    assert fast.execute("SELECT x FROM a ORDER BY x").fetchall() == [(0,), (1,), (2,), (6,)]


# -- transactions, DDL, durability ------------------------------------------------------------


def test_transaction_block_rollback_and_failure(conns):
    fast, general = conns
    fast.execute("CREATE TABLE a (id int PRIMARY KEY, note text)")
    sql = "INSERT INTO a VALUES (%s, %s)"
    fast.execute(sql, (0, "committed"))
    fast.execute(sql, (1, "committed"))
    before = _hits(fast, sql)
    fast.execute("BEGIN")
    for k in range(2, 6):
        fast.execute(sql, (k, "in block"))
    assert _hits(fast, sql) == before + 4
    assert fast.execute("SELECT count(*) FROM a").fetchone() == (6,)
    assert general.execute("SELECT count(*) FROM a").fetchone() == (2,)  # not committed
    fast.execute("ROLLBACK")
    assert fast.execute("SELECT count(*) FROM a").fetchone() == (2,)
    # an error inside the block fails it, as the general path does
    fast.execute("BEGIN")
    fast.execute(sql, (7, "x"))
    assert _error(fast, sql, (7, "again")).sqlstate == "23505"
    assert _error(fast, sql, (8, "y")).sqlstate == "25P02"
    fast.execute("ROLLBACK")
    fast.execute(sql, (9, "after"))
    assert [r[0] for r in fast.execute("SELECT id FROM a ORDER BY id").fetchall()] == [0, 1, 9]
    # non-autocommit DB-API connection: commit() and rollback()
    tx = sqlvec.connect(fast.session.db.key)
    try:
        for k in range(10, 14):
            tx.execute(sql, (k, "tx"))
        tx.rollback()
        for k in range(20, 24):
            tx.execute(sql, (k, "tx"))
        tx.commit()
        assert _hits(tx, sql) >= 6
    finally:
        tx.close()
    assert [r[0] for r in general.execute("SELECT id FROM a WHERE note = 'tx' ORDER BY id").fetchall()] == \
        [20, 21, 22, 23]


def test_alter_table_replans(conns):
    fast, general = conns
    fast.execute("CREATE TABLE a (id int, note text)")
    sql = "INSERT INTO a VALUES (%s, %s)"
    for k in range(3):
        fast.execute(sql, (k, "before"))
    old = _fast(fast, sql)
    assert old.hits == 2
    general.execute("ALTER TABLE a ADD COLUMN extra int DEFAULT 42")
    for k in range(3, 6):
        fast.execute(sql, (k, "after"))
    new = _fast(fast, sql)
    assert new is not old and new.hits == 2
    general.execute("ALTER TABLE a ALTER COLUMN note SET NOT NULL")
    assert _error(fast, sql, (6, None)).sqlstate == "23502"
    assert fast.execute("SELECT * FROM a ORDER BY id").fetchall() == \
        [(0, "before", 42), (1, "before", 42), (2, "before", 42),
         (3, "after", 42), (4, "after", 42), (5, "after", 42)]
    general.execute("DROP TABLE a")
    assert _error(fast, sql, (7, "gone")).sqlstate == "42P01"


def test_partitioned_table_has_no_short_path(conns):
    fast, _ = conns
    fast.execute("CREATE TABLE p (id int, v text) WITH (partition_key = 'id', num_partitions = 4)")
    sql = "INSERT INTO p VALUES (%s, %s)"
    for k in range(8):
        fast.execute(sql, (k, f"v{k}"))
    assert _fast(fast, sql) is None
    assert fast.execute("SELECT count(*) FROM p").fetchone() == (8,)


def test_reopen_keeps_rows(tmp_path):
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute("CREATE TABLE a (id int, note text)")
    for k in range(50):
        conn.execute("INSERT INTO a VALUES (%s, %s)", (k, f"n{k}"))
    assert _hits(conn, "INSERT INTO a VALUES (%s, %s)") == 49
    conn.close()
    again = sqlvec.connect(path, autocommit=True)
    try:
        assert again.execute("SELECT id, note FROM a ORDER BY id").fetchall() == [(k, f"n{k}") for k in range(50)]
    finally:
        again.close()


_WRITER = """
import sys, sqlvec
conn = sqlvec.connect(sys.argv[1], autocommit=True)
conn.execute("CREATE TABLE a (id int PRIMARY KEY, note text)")
print("ready", flush=True)
k = 0
while True:
    conn.execute("INSERT INTO a VALUES (%s, %s)", (k, "x" * (k % 50)))
    print(k, flush=True)  # acknowledged: the commit returned
    k += 1
"""


def _kill_after(args: list[str], path: str, until: int, before_kill=lambda: None) -> tuple[int, list[int]]:
    """Run a writer script, kill -9 it once it acknowledged row ``until``; returns (the last
    acknowledged row, the ids the reopened database holds in order)."""
    child = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True)
    acked = -1
    try:
        assert child.stdout.readline().strip() == "ready"
        for line in child.stdout:
            acked = int(line)
            if acked >= until:
                break
    finally:
        before_kill()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    conn = sqlvec.connect(path, autocommit=True)
    try:
        return acked, [r[0] for r in conn.execute("SELECT id FROM a ORDER BY id").fetchall()]
    finally:
        conn.close()


def test_acknowledged_commits_survive_kill(tmp_path):
    path = str(tmp_path / "db")
    acked, ids = _kill_after([_WRITER, path], path, 400)
    assert acked >= 400
    assert ids[: acked + 1] == list(range(acked + 1))  # every acknowledged row, in order
    assert ids == list(range(len(ids)))  # and nothing but whole commits


# -- building blocks ------------------------------------------------------------------------------


def test_build_declines_other_shapes(conns):
    fast, _ = conns
    fast.execute("CREATE TABLE a (id int PRIMARY KEY, v int)")
    shapes = ["INSERT INTO a VALUES (%s, 1), (%s, 2)",
              "INSERT INTO a SELECT %s, %s",
              "INSERT INTO a VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
              "INSERT INTO a VALUES (%s, %s + 1)",
              "INSERT INTO a VALUES (%s, %s) RETURNING v * 2"]
    for i, sql in enumerate(shapes):
        for k in range(3):
            fast.execute(sql, (100 * i + 2 * k, 100 * i + 2 * k + 1))
        assert _fast(fast, sql) is None, sql
    assert fast.execute("SELECT count(*) FROM a").fetchone() == (len(shapes) * 3 + 3,)


@pytest.mark.parametrize("arrow_type, values", [
    (pa.int16(), [-(2**15), 0, 2**15 - 1]), (pa.int32(), [-(2**31), 7]), (pa.int64(), [2**63 - 1, -5]),
    (pa.float32(), [0.1, -2.5, float("inf")]), (pa.float64(), [1e308, -0.0]),
    (pa.string(), ["", "x", "é€😀"]), (pa.bool_(), [True, False]),
])
def test_one_row_arrays_match_pa_array(arrow_type, values):
    make = fast_insert._MAKERS[arrow_type]
    for v in values:
        got = make(v)
        want = pa.array([v], arrow_type)
        got.validate(full=True)
        assert got.equals(want) and got.type == want.type and got.null_count == 0


@pytest.mark.parametrize("batch", [
    pa.record_batch({"c1": pa.array([5], pa.int32()), "c2": pa.array(["x"])}),
    pa.record_batch({"c1": pa.array([None, 2], pa.int64()), "c2": pa.array([1.5, None]),
                     "c3": pa.array([[1.0, 2.0], None], pa.list_(pa.float32(), 2)),
                     "c4": pa.array([Decimal("1.25"), None], pa.decimal128(10, 2)),
                     "c5": pa.array([dt.datetime(2020, 1, 1), None], pa.timestamp("us", tz="UTC"))}),
    pa.record_batch({"c1": pa.array(["a", "b", "a"]).dictionary_encode()}),
    pa.record_batch({"c1": pa.array(range(10), pa.int16())}).slice(3, 4),
])
def test_insert_record_bytes_as_the_stream_writer(batch):
    """The WAL's insert payload is the IPC stream the stream writer makes, byte for byte, and
    recovery's decoder reads the batch back."""
    e = records.Insert(7, batch, [(0, 0, batch.num_rows)])
    e.serialize()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    assert b"".join(bytes(memoryview(b)) for b in e.ipc) == sink.getvalue().to_pybytes()
    payload = b"".join(bytes(memoryview(b)) for b in records.encode([e]))
    (back,) = records.decode(memoryview(payload))
    assert back.oid == 7 and back.pieces == [(0, 0, batch.num_rows)] and back.batch.equals(batch)


# -- the WAL's preallocated files (sqlvec.storage.wal) ------------------------------------------


def _wal_files(path: str) -> list[str]:
    from sqlvec.storage.wal import wal_files

    return [p for _, p in wal_files(os.path.join(path, "wal"))]


def test_wal_preallocated_rotated_and_trimmed(tmp_path, monkeypatch):
    from sqlvec.storage import wal

    monkeypatch.setattr(wal, "FILE_LIMIT", 20_000)
    monkeypatch.setattr(wal, "PREALLOCATE", 8_192)
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute("CREATE TABLE a (id int, note text)")
    for k in range(300):
        conn.execute("INSERT INTO a VALUES (%s, %s)", (k, "n" * (k % 40)))
        if k == 5:
            (live,) = _wal_files(path)
            writer = conn.session.db.engine._wal
            assert os.path.getsize(live) == writer._allocated > writer._file_bytes  # zeros ahead
    files = _wal_files(path)
    assert len(files) > 3
    for p in files[:-1]:  # rotated files end with their last record: recovery reads on
        with open(p, "rb") as f:
            data = f.read()
        assert data[-8:] != bytes(8)
    conn.close()
    again = sqlvec.connect(path, autocommit=True)
    try:
        assert again.execute("SELECT count(*), sum(id) FROM a").fetchone() == (300, sum(range(300)))
    finally:
        again.close()


_ROTATING_WRITER = """
import sys, sqlvec
from sqlvec.storage import wal
wal.FILE_LIMIT, wal.PREALLOCATE = 30_000, 4_096
conn = sqlvec.connect(sys.argv[1], autocommit=True)
if sys.argv[2] == "create":
    conn.execute("CREATE TABLE a (id int PRIMARY KEY, note text)")
print("ready", flush=True)
k = int(sys.argv[3])
while True:
    conn.execute("INSERT INTO a VALUES (%s, %s)", (k, "y" * (k % 90)))
    print(k, flush=True)
    k += 1
"""


def test_kill_during_preallocated_writes_twice(tmp_path):
    """kill -9 with zeros ahead of the records, across rotations, twice: every acknowledged
    row is there after each restart, and writing after a cut tail works."""
    path = str(tmp_path / "db")
    start, rotated = 0, []
    for mode in ("create", "append"):
        acked, ids = _kill_after([_ROTATING_WRITER, path, mode, str(start)], path, start + 250,
                                 lambda: rotated.append(len(_wal_files(path))))
        assert ids[: acked + 1] == list(range(acked + 1)) and ids == list(range(len(ids)))
        start = len(ids)
    assert min(rotated) > 2  # the kills came after rotations
