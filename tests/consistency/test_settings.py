"""sqlvec.consistency / sqlvec.staleness as settings, and the consistency table option."""

from __future__ import annotations

import pytest

from sqlvec import errors


def _show(cur, name: str) -> str:
    return cur.execute(f"SHOW {name}").fetchone()[0]


def test_default_is_strong_and_staleness_zero(mem_conn) -> None:
    cur = mem_conn.cursor()
    assert _show(cur, "sqlvec.consistency") == "strong"
    assert _show(cur, "sqlvec.staleness") == "0"


@pytest.mark.parametrize("value", ["strong", "BOUNDED", "session", " eventually "])
def test_set_each_level(mem_conn, value: str) -> None:
    cur = mem_conn.cursor()
    cur.execute(f"SET sqlvec.consistency = '{value}'")
    assert _show(cur, "sqlvec.consistency") == value.strip().lower()
    cur.execute("RESET sqlvec.consistency")
    assert _show(cur, "sqlvec.consistency") == "strong"


def test_bad_level_is_22023_with_postgres_wording(mem_conn) -> None:
    cur = mem_conn.cursor()
    with pytest.raises(errors.InvalidParameterValue) as ei:
        cur.execute("SET sqlvec.consistency = 'x'")
    assert ei.value.sqlstate == "22023"
    assert str(ei.value.message) == 'invalid value for parameter "sqlvec.consistency": "x"'
    assert "strong, bounded, session, eventually" in ei.value.hint


@pytest.mark.parametrize("value,shown", [
    ("0", "0"), ("250", "250ms"), ("250ms", "250ms"), ("5s", "5s"), ("1500 ms", "1500ms"),
    ("2min", "2min"), ("'5 seconds'", "5s"), ("'00:00:03'", "3s"), ("1h", "1h"),
])
def test_staleness_units(mem_conn, value: str, shown: str) -> None:
    cur = mem_conn.cursor()
    cur.execute(f"SET sqlvec.staleness = {value if value.startswith(chr(39)) else repr(value)}")
    assert _show(cur, "sqlvec.staleness") == shown


@pytest.mark.parametrize("value,message", [
    ("5 parsecs", 'invalid value for parameter "sqlvec.staleness": "5 parsecs"'),
    ("-1", '-1 ms is outside the valid range for parameter "sqlvec.staleness" (0 ms .. 2147483647 ms)'),
    ("1 month", 'invalid value for parameter "sqlvec.staleness": "1 month"'),
])
def test_bad_staleness(mem_conn, value: str, message: str) -> None:
    with pytest.raises(errors.InvalidParameterValue) as ei:
        mem_conn.cursor().execute(f"SET sqlvec.staleness = '{value}'")
    assert ei.value.message == message


def test_set_local_reverts_at_commit_and_rollback(mem_conn) -> None:
    cur = mem_conn.cursor()
    cur.execute("SET sqlvec.consistency = session")
    for end in ("COMMIT", "ROLLBACK"):
        cur.execute("BEGIN")
        cur.execute("SET LOCAL sqlvec.consistency = eventually")
        assert _show(cur, "sqlvec.consistency") == "eventually"
        cur.execute(end)
        assert _show(cur, "sqlvec.consistency") == "session"


def test_table_option_is_validated_and_normalised(mem_conn) -> None:
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE a (id int) WITH (consistency = 'Bounded')")
    cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'a'")
    assert cur.fetchone()[0] == ["consistency=bounded"]
    with pytest.raises(errors.InvalidParameterValue) as ei:
        cur.execute("CREATE TABLE b (id int) WITH (consistency = 'sometimes')")
    assert ei.value.sqlstate == "22023"
    assert ei.value.message == 'invalid value for enum option "consistency": sometimes'
    assert ei.value.detail == 'Valid values are "strong", "bounded", "session", and "eventually".'
    cur.execute("SELECT count(*) FROM pg_class WHERE relname = 'b'")
    assert cur.fetchone()[0] == 0


def test_alter_table_set_consistency(mem_conn) -> None:
    cur = mem_conn.cursor()
    cur.execute("CREATE TABLE a (id int)")
    cur.execute("ALTER TABLE a SET (consistency = eventually)")
    cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'a'")
    assert cur.fetchone()[0] == ["consistency=eventually"]
    with pytest.raises(errors.InvalidParameterValue, match='enum option "consistency": never'):
        cur.execute("ALTER TABLE a SET (consistency = 'never')")
    cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'a'")
    assert cur.fetchone()[0] == ["consistency=eventually"]  # the failed ALTER changed nothing
