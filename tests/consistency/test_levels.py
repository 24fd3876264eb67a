"""What each level reads, made deterministic by holding index builds back (the gate):
sealed segments stay unindexed until the test releases them."""

from __future__ import annotations

import time

from conftest import SEAL_ROWS, count, explain_paths, insert_batch

from sqlvec import consistency


def _set(conn, level: str) -> None:
    conn.cursor().execute(f"SET sqlvec.consistency = {level}")


def test_strong_sees_another_sessions_commit_at_once(env) -> None:
    env.make_table()
    reader, writer = env.connect(), env.connect()
    for b in range(3):
        insert_batch(writer, "t", b, SEAL_ROWS)  # sealed, and not indexed (gate closed)
        assert count(reader) == (b + 1) * SEAL_ROWS
    env.settle()
    assert any("exact: no index" in p for p in explain_paths(reader))  # strong pays for it


def test_eventually_hides_unindexed_segments_and_never_scans_them(env) -> None:
    env.make_table()
    reader = env.connect()
    _set(reader, "eventually")
    assert count(reader) == 0  # the first weak read pins the (empty) indexed state
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    insert_batch(env.main, "t", 1, SEAL_ROWS // 2)  # half a segment: growing
    env.settle()
    assert count(reader) == 0  # the growing rows are newer than the unindexed segment
    assert explain_paths(reader) == []
    env.release()
    assert count(reader) == SEAL_ROWS + SEAL_ROWS // 2  # indexed sealed + open growing
    paths = explain_paths(reader)
    assert paths and not any("exact: no index" in p for p in paths)
    # more ingest while builds are held: eventually stays where the indexes are
    env.gate.clear()
    insert_batch(env.main, "t", 2, SEAL_ROWS)  # closes the growing segment, opens another
    env.settle()
    assert count(env.main) == 2 * SEAL_ROWS + SEAL_ROWS // 2
    assert count(reader) == SEAL_ROWS  # only the indexed segment's rows
    assert not any("exact: no index" in p for p in explain_paths(reader))


def test_session_sees_its_own_writes_but_may_lag_on_others(env) -> None:
    env.make_table()
    me, other = env.connect(), env.connect()
    _set(me, "session")
    assert count(me) == 0
    insert_batch(other, "t", 0, SEAL_ROWS)  # another session's rows, unindexed
    env.settle()
    assert count(me) == 0  # allowed: not my write, not indexed yet
    me.cursor().execute("INSERT INTO t VALUES (-1, -1, %s)", ([0.0] * 8,))
    assert count(me) == SEAL_ROWS + 1  # my write, and everything committed before it
    assert me.cursor().execute("SELECT count(*) FROM t WHERE id = -1").fetchone()[0] == 1
    # own writes inside a transaction block count once it commits
    cur = me.cursor()
    cur.execute("BEGIN")
    cur.execute("DELETE FROM t WHERE id = -1")
    cur.execute("COMMIT")
    assert me.cursor().execute("SELECT count(*) FROM t WHERE id = -1").fetchone()[0] == 0


def test_bounded_lags_within_the_bound_and_never_beyond(env) -> None:
    env.make_table()
    reader = env.connect()
    cur = reader.cursor()
    cur.execute("SET sqlvec.consistency = bounded")
    assert count(reader) == 0  # staleness 0: bounded is strong
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    env.settle()
    assert count(reader) == SEAL_ROWS
    cur.execute("SET sqlvec.staleness = '60s'")
    t0 = time.monotonic()
    first = count(reader)  # takes the sample the next reads may fall back to
    insert_batch(env.main, "t", 1, SEAL_ROWS)  # unindexed: the bounded read may skip it
    env.settle()
    lagged = count(reader)
    assert time.monotonic() - t0 < 60
    assert lagged == first == SEAL_ROWS  # lag, within the 60 s bound
    cur.execute("SET sqlvec.staleness = '100ms'")
    time.sleep(0.15)
    assert count(reader) == 2 * SEAL_ROWS  # the bound forces the new rows in


def test_table_default_applies_and_session_setting_overrides(env) -> None:
    env.make_table("ev", "WITH (consistency = 'eventually')")
    env.make_table("st")
    reader = env.connect()
    assert count(reader, "ev") == 0  # pins the indexed state
    insert_batch(env.main, "ev", 0, SEAL_ROWS)
    insert_batch(env.main, "st", 0, SEAL_ROWS)
    env.settle()
    assert count(reader, "ev") == 0  # the table's default: eventually
    assert count(reader, "st") == SEAL_ROWS  # no default: strong
    # a statement naming both honours both: the strong table wins
    q = "SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM st)"
    assert reader.cursor().execute(q).fetchone() == (SEAL_ROWS, SEAL_ROWS)
    _set(reader, "strong")  # an explicit SET overrides every table default
    assert count(reader, "ev") == SEAL_ROWS
    reader.cursor().execute("RESET sqlvec.consistency")
    assert count(reader, "ev") == 0
    reader.cursor().execute("ALTER TABLE ev SET (consistency = strong)")
    assert count(reader, "ev") == SEAL_ROWS


def test_writes_always_use_the_latest_snapshot(env) -> None:
    env.make_table()
    reader = env.connect()
    _set(reader, "eventually")
    assert count(reader) == 0
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    env.settle()
    assert count(reader) == 0
    cur = reader.cursor()
    cur.execute("UPDATE t SET batch = 7 WHERE batch = 0")
    assert cur.rowcount == SEAL_ROWS  # the update saw every committed row
    cur.execute("CREATE TABLE copy (id int, batch int, v vector(8))")
    cur.execute("INSERT INTO copy SELECT * FROM t")
    assert cur.rowcount == SEAL_ROWS
    cur.execute("DELETE FROM t WHERE id = 0")
    assert cur.rowcount == 1


def test_is_read_classifies_statements() -> None:
    from sqlvec.extra_sql import parse

    reads = ["SELECT 1", "SELECT * FROM t ORDER BY v <-> '[1]' LIMIT 3", "VALUES (1)",
             "SELECT 1 UNION SELECT 2", "EXPLAIN ANALYZE SELECT * FROM t", "TABLE t"]
    writes = ["INSERT INTO t VALUES (1)", "UPDATE t SET a = 1", "DELETE FROM t",
              "SELECT * FROM t FOR UPDATE", "SELECT * INTO t2 FROM t",
              "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
              "EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "CREATE TABLE x (a int)"]
    assert all(consistency.is_read(parse(q)[0].ast) for q in reads)
    assert not any(consistency.is_read(parse(q)[0].ast) for q in writes)


def test_blocks_repeatable_read_strong_read_committed_weak(env) -> None:
    env.make_table()
    reader = env.connect()
    cur = reader.cursor()
    assert count(reader) == 0
    cur.execute("SET sqlvec.consistency = eventually")
    assert count(reader) == 0
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    env.settle()
    cur.execute("BEGIN")  # repeatable read (the default): one strong snapshot
    assert count(reader) == SEAL_ROWS
    cur.execute("COMMIT")
    cur.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
    assert count(reader) == 0  # a weak level gives each read its own snapshot
    cur.execute("SET LOCAL sqlvec.consistency = strong")
    assert count(reader) == SEAL_ROWS  # and strong again is the latest, not the weak one
    cur.execute("SET LOCAL sqlvec.consistency = eventually")
    assert count(reader) == 0
    cur.execute("INSERT INTO t VALUES (-1, -1, %s)", ([0.0] * 8,))
    assert count(reader) == 1  # after a write the transaction keeps its snapshot
    cur.execute("COMMIT")
    assert count(reader) == 0  # SET LOCAL is gone, the session's eventually is back


def test_set_local_reverts_the_snapshot_choice(env) -> None:
    env.make_table()
    reader = env.connect()
    cur = reader.cursor()
    assert count(reader) == 0
    cur.execute("SET sqlvec.consistency = eventually")
    assert count(reader) == 0
    cur.execute("RESET sqlvec.consistency")
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    env.settle()
    cur.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
    cur.execute("SET LOCAL sqlvec.consistency = eventually")
    assert count(reader) == 0
    cur.execute("COMMIT")
    assert count(reader) == SEAL_ROWS


def test_indexed_horizon_and_unindexed_rows(env) -> None:
    env.make_table()
    eng = env.engine
    insert_batch(env.main, "t", 0, SEAL_ROWS)
    env.settle()
    floor, reach = consistency.indexed_horizon(eng)
    assert floor == reach < eng.visible_ts
    assert consistency.unindexed_rows(eng, eng.visible_ts) == SEAL_ROWS
    assert consistency.unindexed_rows(eng, reach) == 0
    env.release()
    assert consistency.indexed_horizon(eng) == (eng.visible_ts, eng.visible_ts)
    assert consistency.unindexed_rows(eng, eng.visible_ts) == 0
