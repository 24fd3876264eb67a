"""REINDEX: PostgreSQL's syntax and errors, fresh index files published atomically, the old
ones removed, answers unchanged, deletes still skipped, and restart after a rebuild."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import sqlvec
from sqlvec import errors
from sqlvec.index.base import IndexSpec
from sqlvec.index.rebuild import next_file_name

N, DIM = 4000, 16


def _index_files(root: str) -> list[str]:
    out = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            if name.endswith((".hnsw", ".ivf", ".flat")):
                out.append(os.path.relpath(os.path.join(base, name), root))
    return sorted(out)


def _listed_files(root: str) -> set[str]:
    import json

    with open(os.path.join(root, "CURRENT")) as f:
        current = f.read().strip()
    with open(os.path.join(root, current)) as f:
        manifest = json.load(f)
    return {name for t in manifest["tables"].values() for s in t["segments"]
            for name in (s.get("indexes") or {}).values()}


@pytest.fixture
def db(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, DIM)).astype(np.float32)
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, grp int, emb vector({DIM}))")
    cur = conn.cursor()
    for s in range(0, N, 2000):  # two sealed segments
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                        [(i, i % 10, x[i]) for i in range(s, s + 2000)])
        conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX items_hnsw ON items USING hnsw (emb vector_l2_ops)")
    conn.execute("CREATE INDEX items_ivf ON items USING ivfflat (emb vector_cosine_ops) WITH (lists = 8)")
    conn.execute("CREATE INDEX items_grp ON items (grp)")
    yield conn, x, path
    conn.close()


def _top(conn, q, where: str = "") -> list[int]:
    return [r[0] for r in conn.execute(
        f"SELECT id FROM items {where} ORDER BY emb <-> %s LIMIT 10", (q,)).fetchall()]


def test_reindex_index_replaces_files_atomically(db):
    conn, x, path = db
    before = _index_files(path)
    answers = [_top(conn, q) for q in x[:20]]
    conn.execute("REINDEX INDEX items_hnsw")
    after = _index_files(path)
    hnsw_after = [f for f in after if f.endswith(".hnsw")]
    assert len(hnsw_after) == 2 and all(".r1.hnsw" in f for f in hnsw_after)
    assert not set(hnsw_after) & set(before)  # new names; the old files are gone
    assert [f for f in after if f.endswith(".ivf")] == [f for f in before if f.endswith(".ivf")]
    assert {os.path.basename(f) for f in after} == _listed_files(path)
    assert [_top(conn, q) for q in x[:20]] == answers  # rebuilt from the same rows
    conn.execute("REINDEX INDEX items_hnsw")
    assert all(".r2.hnsw" in f for f in _index_files(path) if f.endswith(".hnsw"))


def test_reindex_table_schema_database_rebuild_every_vector_index(db):
    conn, _x, path = db
    for sql in ["REINDEX TABLE items", "REINDEX TABLE CONCURRENTLY items",
                "REINDEX (CONCURRENTLY) SCHEMA public", "REINDEX DATABASE",
                "REINDEX DATABASE postgres", "REINDEX (VERBOSE false) INDEX items_ivf"]:
        conn.execute(sql)
        files = _index_files(path)
        assert len(files) == 4 and {os.path.basename(f) for f in files} == _listed_files(path)
    assert sum(".r6.ivf" in f for f in _index_files(path)) == 2
    assert sum(".r5.hnsw" in f for f in _index_files(path)) == 2
    conn.execute("REINDEX SYSTEM")  # nothing stored to rebuild
    assert sum(".r5.hnsw" in f for f in _index_files(path)) == 2


def test_reindex_survives_restart_and_keeps_deletes_out(db):
    conn, x, path = db
    conn.execute("DELETE FROM items WHERE id % 3 = 0")
    conn.execute("REINDEX TABLE items")
    for q in x[:30:3]:
        got = _top(conn, q)
        assert len(got) == 10 and all(i % 3 for i in got)
    conn.close()
    conn2 = sqlvec.connect(path, autocommit=True)
    try:
        for q in x[1:30:3]:
            got = _top(conn2, q)
            assert len(got) == 10 and all(i % 3 for i in got)
        plan = "\n".join(r[0] for r in conn2.execute(
            "EXPLAIN ANALYZE SELECT id FROM items ORDER BY emb <-> %s LIMIT 5", (x[1],)).fetchall())
        assert "path=hnsw" in plan or "(hnsw index bypassed)" in plan  # the index loaded
        assert {os.path.basename(f) for f in _index_files(path)} == _listed_files(path)
    finally:
        conn2.close()


def test_writers_run_during_reindex(db):
    conn, x, path = db
    other = sqlvec.connect(path, autocommit=True)
    stop = threading.Event()
    inserted = []

    def write() -> None:
        i = N
        while not stop.is_set() and i < N + 400:
            other.execute("INSERT INTO items VALUES (%s, 0, %s)", (i, x[i % N]))
            inserted.append(i)
            i += 1

    t = threading.Thread(target=write)
    t.start()
    try:
        conn.execute("REINDEX TABLE items")
    finally:
        stop.set()
        t.join()
        other.close()
    assert inserted  # the writer was not blocked out
    n = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert n == N + len(inserted)


@pytest.mark.parametrize("sql, code, message", [
    ("REINDEX INDEX nosuch", "42P01", 'relation "nosuch" does not exist'),
    ("REINDEX INDEX public.nosuch", "42P01", 'relation "public.nosuch" does not exist'),
    ("REINDEX INDEX items", "42809", '"items" is not an index'),
    ("REINDEX TABLE nosuch", "42P01", 'relation "nosuch" does not exist'),
    ("REINDEX TABLE items_hnsw", "42809", '"items_hnsw" is not a table or materialized view'),
    ("REINDEX SCHEMA nosuch", "3F000", 'schema "nosuch" does not exist'),
    ("REINDEX DATABASE other", "0A000", "can only reindex the currently open database"),
    ("REINDEX SYSTEM other", "0A000", "can only reindex the currently open database"),
    ("REINDEX SYSTEM CONCURRENTLY", "0A000", "cannot reindex system catalogs concurrently"),
    ("REINDEX (FOO) TABLE items", "42601", 'unrecognized REINDEX option "foo"'),
    ("REINDEX TABLE", "42601", "syntax error at end of input"),
    ("REINDEX FOO items", "42601", 'syntax error at or near "FOO"'),
])
def test_errors_as_postgresql(db, sql, code, message):
    conn = db[0]
    with pytest.raises(errors.Error) as exc:
        conn.execute(sql)
    assert exc.value.sqlstate == code
    assert str(exc.value) == message


@pytest.mark.parametrize("sql, message", [
    ("REINDEX TABLE CONCURRENTLY items", "REINDEX CONCURRENTLY cannot run inside a transaction block"),
    ("REINDEX INDEX CONCURRENTLY items_hnsw", "REINDEX CONCURRENTLY cannot run inside a transaction block"),
    ("REINDEX DATABASE", "REINDEX DATABASE cannot run inside a transaction block"),
    ("REINDEX SCHEMA public", "REINDEX SCHEMA cannot run inside a transaction block"),
])
def test_transaction_block_rules(db, sql, message):
    conn = db[0]
    conn.execute("BEGIN")
    try:
        with pytest.raises(errors.ActiveSqlTransaction, match=message):
            conn.execute(sql)
    finally:
        conn.execute("ROLLBACK")
    conn.execute("BEGIN")
    conn.execute("REINDEX TABLE items")  # allowed in a block, as in PostgreSQL
    conn.execute("COMMIT")


def test_notices_verbose_and_no_indexes(db):
    conn = db[0]
    conn.execute("CREATE TABLE bare (a int)")
    session = conn._session
    res = session.execute("REINDEX TABLE bare")
    assert [(n.severity, n.message) for n in res.notices] == [("NOTICE", 'table "bare" has no indexes to reindex')]
    res = session.execute("REINDEX (VERBOSE) TABLE items")
    infos = [n.message for n in res.notices if n.severity == "INFO"]
    assert infos == ['index "items_hnsw" was reindexed', 'index "items_ivf" was reindexed',
                     'index "items_grp" was reindexed']
    # no sink: the build progress comes with the result; its last notice is the 100% one
    progress = [n.message for n in res.notices if n.severity == "NOTICE"]
    assert progress[-1] == "ivfflat build: segment 2/2 (100%)"
    assert "hnsw build: segment 2/2 (100%)" in progress


def test_reindex_bm25_index(tmp_path):
    conn = sqlvec.connect(str(tmp_path / "db"), autocommit=True)
    try:
        conn.execute("CREATE TABLE docs (id int, body text)")
        conn.cursor().executemany("INSERT INTO docs VALUES (%s, %s)",
                                  [(i, f"doc number {i} about {'cats' if i % 2 else 'dogs'}") for i in range(200)])
        conn.execute("CREATE INDEX docs_bm25 ON docs USING bm25 (id, body) WITH (key_field = 'id')")
        q = "SELECT count(*) FROM docs WHERE body @@@ 'cats'"
        before = conn.execute(q).fetchone()[0]
        conn.execute("REINDEX INDEX docs_bm25")
        assert conn.execute(q).fetchone()[0] == before == 100
        conn.execute("INSERT INTO docs VALUES (1000, 'cats again')")
        assert conn.execute(q).fetchone()[0] == 101
    finally:
        conn.close()


def test_next_file_name():
    spec = IndexSpec(42, "c1", "hnsw", "l2")
    assert next_file_name(spec, None) == "42.r1.hnsw"
    assert next_file_name(spec, "42.hnsw") == "42.r1.hnsw"
    assert next_file_name(spec, "42.r7.hnsw") == "42.r8.hnsw"
