"""Copy-on-write catalog and DDL deltas: a DDL copies and persists only what it changes, the
published catalog is never touched by an open or rolled-back transaction, and the catalog the
storage engine rebuilds from delta records (after a restart, or a kill -9) is the one that
was committed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import sqlvec
from sqlvec.catalog.cow import CowMap
from sqlvec.catalog.serde import catalog_delta, to_json
from sqlvec.storage import records

CHILD = os.path.join(os.path.dirname(__file__), "ddl_crash_child.py")


def connect(path):
    c = sqlvec.connect(path)
    c.autocommit = True
    return c


def run(c, *sqls):
    cur = c.cursor()
    for sql in sqls:
        cur.execute(sql)
    return cur


def catalog(c):
    return c.session.db.catalog


def engine(c):
    return c.session.db.engine


def table(c, name):
    return catalog(c).database("postgres").find_table(name, "public", ["public"])


def kill(c) -> None:
    """Abandon the database as a killed process would: no checkpoint, WAL left as it is."""
    eng = engine(c)
    with eng._bg_cond:
        eng._stop = True
        eng._bg_cond.notify()
    eng._bg_thread.join()
    eng._indexes.stop()
    eng._closing = True
    eng._wal.close()
    eng._lock.release()
    from sqlvec import session as S

    S._OPEN.pop(c.session.db.key, None)


def assert_engine_matches(c) -> None:
    """The JSON the engine merged from delta records is exactly the full catalog's."""
    assert engine(c).catalog == to_json(catalog(c))


DDL = [
    "CREATE EXTENSION vector",
    "CREATE TABLE a (id serial PRIMARY KEY, name text NOT NULL DEFAULT 'x', emb vector(3))",
    "CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id), note text)",
    "CREATE INDEX b_note ON b (note)",
    "CREATE UNIQUE INDEX a_name ON a (name)",
    "CREATE VIEW va AS SELECT id, name FROM a",
    "COMMENT ON TABLE a IS 'the a table'",
    "COMMENT ON COLUMN b.note IS 'a note'",
    "CREATE SEQUENCE s1 START 5",
    "CREATE SCHEMA other",
    "CREATE TABLE other.c (x int)",
    "ALTER TABLE b ADD COLUMN extra int DEFAULT 7",
    "ALTER TABLE a RENAME COLUMN name TO title",
    "ALTER TABLE b RENAME TO bb",
    "ALTER TABLE bb DROP COLUMN extra",
    "DROP INDEX b_note",
    "COMMENT ON TABLE a IS ''",
    "DROP SEQUENCE s1",
    "CREATE TABLE d AS SELECT 1 AS one",
    "CREATE DATABASE second",
    "CREATE ROLE alice LOGIN",
    "ALTER ROLE alice CREATEDB",
]


def test_ddl_writes_a_delta_and_the_engine_merges_it(tmp_path):
    path = str(tmp_path / "db")
    c = connect(path)
    for sql in DDL:
        run(c, sql)
        assert_engine_matches(c)
    run(c, "DROP ROLE alice", "DROP DATABASE second", "DROP VIEW va", "DROP TABLE d")
    assert_engine_matches(c)
    expected = to_json(catalog(c))
    kill(c)  # no checkpoint: the catalog comes back from the WAL's delta records
    c = connect(path)
    assert to_json(catalog(c)) == expected
    t = table(c, "a")
    assert [col.name for col in t.columns] == ["id", "title", "emb"]
    assert table(c, "b") is None and table(c, "bb") is not None
    c.close()
    c = connect(path)  # and from the checkpoint a clean close wrote
    assert to_json(catalog(c)) == expected
    c.close()


def test_delta_holds_only_the_changed_objects(tmp_path):
    c = connect(str(tmp_path / "db"))
    for i in range(30):
        run(c, f"CREATE TABLE t{i} (id int PRIMARY KEY, v text)")
    s = c.session
    run(c, "BEGIN", "CREATE TABLE new1 (x int)", "ALTER TABLE t3 ADD COLUMN y int")
    delta = catalog_delta(s.txn_catalog)
    tables = delta["maps"]["databases"]["postgres"]["patch"]["lists"]["tables"]
    assert sorted(t["name"] for t in tables["put"]) == ["new1", "t3"]
    assert tables["drop"] == []
    # the published catalog's objects are shared, not copied, except those handed out
    pub = catalog(c).database("postgres")
    mine = s.txn_catalog.databases["postgres"]
    assert isinstance(mine.tables, CowMap)
    shared = [o for o in dict.values(mine.tables) if o is pub.tables.get(o.oid)]
    assert len(shared) >= 28
    run(c, "COMMIT")
    rec = records.decode(memoryview(b"".join(bytes(b) for b in records.encode([records.Catalog(delta)]))))
    assert rec[0].blob["delta"] == 1
    c.close()


def test_rolled_back_ddl_leaves_nothing(tmp_path):
    path = str(tmp_path / "db")
    c = connect(path)
    run(c, "CREATE TABLE keep (id int PRIMARY KEY, v text)", "CREATE INDEX keep_v ON keep (v)",
        "CREATE TABLE victim (x int)")
    before = to_json(catalog(c))
    published = table(c, "keep")
    cols = list(published.columns)
    run(c, "BEGIN", "ALTER TABLE keep ADD COLUMN extra int", "ALTER TABLE keep RENAME COLUMN v TO w",
        "ALTER TABLE keep ALTER COLUMN id SET DEFAULT 3", "DROP TABLE victim", "CREATE TABLE fresh (y int)",
        "DROP INDEX keep_v", "COMMENT ON TABLE keep IS 'x'")
    # another session (and the published catalog) sees none of it while it is open
    other = connect(path)
    assert [r[0] for r in run(other, "SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'keep' ORDER BY ordinal_position").fetchall()] == ["id", "v"]
    other.close()
    run(c, "ROLLBACK")
    assert published.columns == cols and [x.name for x in published.columns] == ["id", "v"]
    assert published.columns[0].default is None
    assert to_json(catalog(c)) == before
    assert engine(c).catalog == before
    kill(c)
    c = connect(path)
    assert to_json(catalog(c)) == before
    c.close()


def test_savepoints_with_ddl(tmp_path):
    path = str(tmp_path / "db")
    c = connect(path)
    run(c, "CREATE TABLE base (id int)")
    run(c, "BEGIN", "ALTER TABLE base ADD COLUMN a int", "SAVEPOINT s1",
        "ALTER TABLE base ADD COLUMN b int", "CREATE TABLE lost (x int)", "ROLLBACK TO SAVEPOINT s1",
        "ALTER TABLE base ADD COLUMN c int", "SAVEPOINT s2", "DROP TABLE base", "ROLLBACK TO s2",
        "CREATE TABLE kept (x int)", "COMMIT")
    assert [x.name for x in table(c, "base").columns] == ["id", "a", "c"]
    assert table(c, "lost") is None and table(c, "kept") is not None
    assert_engine_matches(c)
    expected = to_json(catalog(c))
    kill(c)
    c = connect(path)
    assert to_json(catalog(c)) == expected
    assert [x.name for x in table(c, "base").columns] == ["id", "a", "c"]
    c.close()


def test_restart_after_many_ddls(tmp_path):
    path = str(tmp_path / "db")
    c = connect(path)
    for i in range(120):
        run(c, f"CREATE TABLE t{i} (id int PRIMARY KEY, name text DEFAULT 'n', v float8)")
        if i % 4 == 0:
            run(c, f"CREATE INDEX t{i}_name ON t{i} (name)")
        if i % 5 == 0:
            run(c, f"ALTER TABLE t{i} ADD COLUMN added{i} int")
        if i % 7 == 0 and i:
            run(c, f"DROP TABLE t{i - 1}")
        if i == 60:
            run(c, "CHECKPOINT")  # half from the manifest, half from the WAL
    run(c, "INSERT INTO t5 VALUES (1, 'a', 2.5)")
    expected = to_json(catalog(c))
    assert engine(c).catalog == expected
    kill(c)
    c = connect(path)
    assert to_json(catalog(c)) == expected
    assert run(c, "SELECT id, name, v, added5 FROM t5").fetchall() == [(1, "a", 2.5, None)]
    assert run(c, "SELECT count(*) FROM pg_class WHERE relname LIKE 't%' AND relkind = 'r'").fetchone()[0] == 120 - 17
    c.close()


def test_temporary_objects_are_not_persisted(tmp_path):
    path = str(tmp_path / "db")
    c = connect(path)
    run(c, "CREATE TEMP TABLE tmp1 (x int)", "CREATE INDEX tmp1_x ON tmp1 (x)", "CREATE TABLE real1 (x int)")
    blob = engine(c).catalog["databases"]["postgres"]
    assert [t["name"] for t in blob["tables"]] == ["real1"]
    assert blob["indexes"] == []
    assert not any(s.startswith("pg_temp") for s in blob["schemas"])
    c.close()


def _run_child(path: str, first: int, rng: random.Random) -> list[int]:
    proc = subprocess.Popen([sys.executable, CHILD, path, str(first)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(rng.uniform(0.05, 1.0))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return [int(x) for x in out.split()]


def _check_run(db, first: int, acked: list[int]) -> None:
    tables = {t.name: t for t in db.tables.values()}
    committed = set(acked)
    nxt = (max(acked) + 1) if acked else first
    if f"t{nxt}" in tables:  # committed, killed before it printed the ack
        committed.add(nxt)
    for i in range(first, nxt + 1):
        exists = i in committed and (i + 5) not in committed
        assert (f"t{i}" in tables) == exists, (i, sorted(committed))
        if exists:
            cols = [col.name for col in tables[f"t{i}"].columns]
            assert cols == ["id", "v"] + ([f"extra{i + 1}"] if i + 1 in committed else []), (i, cols)
            assert any(ix.name == f"t{i}_v" for ix in db.indexes.values())


def test_ddl_commits_survive_sigkill(tmp_path):
    path = str(tmp_path / "db")
    rng = random.Random(int(time.time()))
    runs: list[tuple[int, list[int]]] = []
    deadline = time.monotonic() + 40
    while len(runs) < 8 and time.monotonic() < deadline:
        first = len(runs) * 1000
        runs.append((first, _run_child(path, first, rng)))
        c = connect(path)
        db = catalog(c).database("postgres")
        for f, acked in runs:
            _check_run(db, f, acked)
        assert not any(t.name.startswith("rb") for t in db.tables.values())
        assert not any(col.name == "gone" for t in db.tables.values() for col in t.columns)
        if len(runs) % 2:
            c.close()  # a checkpoint now and then: later runs replay on top of it
        else:
            kill(c)
    assert len(runs) >= 4 and any(acked for _, acked in runs)
