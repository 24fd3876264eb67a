"""The DB-API layer's own logic, over a stand-in session: transactions, cursor positions,
description, rowcount, closing. Real SQL behaviour is in test_dbapi_engine.py."""

from __future__ import annotations

import pyarrow as pa
import pytest
from api_fakes import NUMERIC_10_2, FakeDatabase, FakeSession, rows_result

import sqlvec
from sqlvec import dbapi, errors
from sqlvec.result import ResultColumn


@pytest.fixture(autouse=True)
def plain_from_arrow(monkeypatch):
    # Isolate the cursor's chunking from the type modules: Arrow -> Python via to_pylist.
    calls = []

    def from_arrow(arr, sqltype):
        calls.append(len(arr))
        return arr.to_pylist()

    monkeypatch.setattr(dbapi, "_from_arrow", lambda: from_arrow)
    return calls


def make(autocommit=False):
    session, db = FakeSession(), FakeDatabase()
    return dbapi.Connection(session, db, autocommit=autocommit), session, db


def test_module_globals():
    assert sqlvec.apilevel == "2.0"
    assert sqlvec.threadsafety == 2
    assert sqlvec.paramstyle == "pyformat"
    assert isinstance(sqlvec.__version__, str) and sqlvec.__version__
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(sqlvec, name) is getattr(errors, name)
    assert issubclass(errors.UndefinedTable, sqlvec.ProgrammingError)


def test_type_objects_and_constructors():
    assert sqlvec.NUMBER == 23 and sqlvec.NUMBER == 1700 and sqlvec.NUMBER != 25
    assert sqlvec.STRING == 25 and sqlvec.STRING != 23
    assert sqlvec.DATETIME == 1184 and sqlvec.BINARY == 17 and sqlvec.ROWID == 27
    assert sqlvec.Date(2024, 1, 2).isoformat() == "2024-01-02"
    assert sqlvec.Timestamp(2024, 1, 2, 3, 4, 5).hour == 3
    assert sqlvec.Binary(b"\x00") == b"\x00"
    assert sqlvec.TimestampFromTicks(0).year in (1969, 1970)


def test_autocommit_off_sends_begin_once_and_commit_ends_it():
    conn, session, _ = make()
    cur = conn.cursor()
    cur.execute("one")
    cur.execute("two")
    assert session.sent == ["BEGIN", "one", "two"]
    conn.commit()
    assert session.sent[-1] == "COMMIT" and session.transaction_status == "I"
    conn.commit()  # nothing open: nothing sent
    assert session.sent.count("COMMIT") == 1
    cur.execute("three")
    conn.rollback()
    assert session.sent[-3:] == ["BEGIN", "three", "ROLLBACK"]


def test_autocommit_on_sends_no_begin():
    conn, session, _ = make(autocommit=True)
    conn.execute("one")
    conn.commit()
    assert session.sent == ["one"]


def test_autocommit_cannot_change_inside_a_transaction():
    conn, session, _ = make()
    conn.execute("one")
    with pytest.raises(errors.ProgrammingError, match="INTRANS"):
        conn.autocommit = True
    conn.rollback()
    conn.autocommit = True
    assert conn.autocommit is True


def test_error_fails_the_block_until_rollback():
    conn, session, _ = make()
    cur = conn.cursor()
    with pytest.raises(errors.UndefinedTable) as info:
        cur.execute("fail")
    assert info.value.sqlstate == "42P01"
    assert conn.transaction_status == "E"
    with pytest.raises(errors.InFailedSqlTransaction):
        cur.execute("again")
    conn.rollback()
    cur.execute("again")
    assert session.sent[-2:] == ["BEGIN", "again"]


def test_context_manager_commits_then_closes():
    conn, session, db = make()
    with conn:
        conn.execute("one")
    assert session.sent == ["BEGIN", "one", "COMMIT"]
    assert conn.closed and session.closed and db.closed == 1


def test_context_manager_rolls_back_on_exception():
    conn, session, db = make()
    with pytest.raises(KeyError), conn:
        conn.execute("one")
        raise KeyError("boom")
    assert session.sent == ["BEGIN", "one", "ROLLBACK"]
    assert conn.closed and db.closed == 1


def test_close_rolls_back_and_is_idempotent():
    conn, session, db = make()
    conn.execute("one")
    conn.close()
    conn.close()
    assert session.sent[-1] == "ROLLBACK" and db.closed == 1
    with pytest.raises(errors.InterfaceError):
        conn.cursor()
    with pytest.raises(errors.InterfaceError):
        conn.execute("x")


def test_description_rowcount_and_fetching():
    conn, session, _ = make(autocommit=True)
    cur = conn.cursor()
    cur.execute("rows 5")
    assert cur.rowcount == 5
    assert [d[:2] for d in cur.description] == [("id", 23), ("name", 25)]
    assert cur.description[0] == ("id", 23, None, 4, None, None, None)
    assert cur.description[0].internal_size == 4
    assert cur.description[1].internal_size is None
    assert cur.fetchone() == (0, "r0")
    assert cur.fetchmany() == [(1, "r1")]  # arraysize defaults to 1
    cur.arraysize = 2
    assert cur.fetchmany() == [(2, "r2"), (3, "r3")]
    assert cur.fetchall() == [(4, "r4")]
    assert cur.fetchone() is None
    assert cur.fetchmany(3) == [] and cur.fetchall() == []


def test_iteration_and_large_results_convert_in_chunks(plain_from_arrow):
    conn, session, _ = make(autocommit=True)
    session.handlers["BIG"] = lambda sql: rows_result(3000)
    cur = conn.execute("big")
    assert cur.fetchone() == (0, "r0")
    rows = list(cur)
    assert len(rows) == 2999 and rows[-1] == (2999, "r2999")
    # column-wise: one call per column per chunk, never one per row
    assert len(plain_from_arrow) <= 2 * 4


def test_statement_without_rows():
    conn, _, _ = make(autocommit=True)
    cur = conn.execute("create something")
    assert cur.description is None and cur.statusmessage == "OK"
    with pytest.raises(errors.ProgrammingError):
        cur.fetchone()
    with pytest.raises(errors.ProgrammingError):
        conn.cursor().fetchall()


def test_executemany_passes_the_batch_and_sets_rowcount():
    conn, session, _ = make()
    cur = conn.cursor()
    cur.executemany("insert", ((i,) for i in range(7)))
    assert cur.rowcount == 7
    assert session.sent == ["BEGIN", "insert"]


def test_fetch_arrow_returns_the_rest_with_unique_names():
    conn, session, _ = make(autocommit=True)
    session.handlers["DUP"] = lambda sql: rows_result(4, names=("x", "x"))
    cur = conn.execute("dup")
    cur.fetchone()
    table = cur.fetch_arrow()
    assert isinstance(table, pa.Table)
    assert table.column_names == ["x", "x_1"]
    assert table.column(0).to_pylist() == [1, 2, 3]
    assert cur.fetchall() == []


def test_fetchnumpy_gives_numpy_columns():
    conn, session, _ = make(autocommit=True)
    cur = conn.execute("rows 3")
    out = cur.fetchnumpy()
    assert out["id"].tolist() == [0, 1, 2] and out["id"].dtype.kind == "i"
    assert out["name"].tolist() == ["r0", "r1", "r2"]


def test_dedupe_names():
    assert dbapi.dedupe_names(["a", "a", "a_1", "?column?", "?column?"]) == [
        "a",
        "a_1",
        "a_1_1",
        "?column?",
        "?column?_1",
    ]


def test_numeric_precision_and_scale_in_description():
    (col,) = dbapi.describe([ResultColumn("n", NUMERIC_10_2)])
    assert (col.precision, col.scale) == (10, 2)


def test_cursor_close_and_context_manager():
    conn, _, _ = make(autocommit=True)
    with conn.cursor() as cur:
        cur.execute("rows 1")
    assert cur.closed
    with pytest.raises(errors.InterfaceError):
        cur.execute("rows 1")


def test_notices_are_collected():
    from sqlvec.result import Notice, Result

    conn, session, _ = make(autocommit=True)
    session.handlers["WARN"] = lambda sql: Result("OK", notices=[Notice("WARNING", "careful")])
    conn.execute("warn")
    assert conn.notices == ["WARNING:  careful\n"]
