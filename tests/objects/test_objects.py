"""Views, temporary tables, foreign keys and COMMENT ON through the embedded API."""

from __future__ import annotations

import pytest

import sqlvec
from sqlvec import errors


@pytest.fixture
def cur():
    conn = sqlvec.connect(":memory:")
    conn.autocommit = True
    c = conn.cursor()
    c.execute("CREATE TABLE p (id int PRIMARY KEY, name text)")
    c.execute("INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    yield c
    conn.close()


def rows(c, sql):
    c.execute(sql)
    return c.fetchall()


# -- foreign keys -------------------------------------------------------------------------------


def test_fk_insert_checked_per_batch(cur):
    cur.execute("CREATE TABLE c (id int, p_id int REFERENCES p(id))")
    cur.execute("INSERT INTO c VALUES (1, 1), (2, NULL), (3, 3)")
    with pytest.raises(errors.ForeignKeyViolation) as ei:
        cur.execute("INSERT INTO c VALUES (4, 2), (5, 5)")
    assert ei.value.sqlstate == "23503"
    assert str(ei.value.message) == 'insert or update on table "c" violates foreign key constraint "c_p_id_fkey"'
    assert ei.value.detail == 'Key (p_id)=(5) is not present in table "p".'
    assert rows(cur, "SELECT count(*) FROM c") == [(3,)]


def test_fk_update_child_and_parent_restrict(cur):
    cur.execute("CREATE TABLE c (id int, p_id int REFERENCES p)")
    cur.execute("INSERT INTO c VALUES (1, 1)")
    with pytest.raises(errors.ForeignKeyViolation):
        cur.execute("UPDATE c SET p_id = 9")
    with pytest.raises(errors.ForeignKeyViolation) as ei:
        cur.execute("DELETE FROM p WHERE id = 1")
    assert ei.value.message == 'update or delete on table "p" violates foreign key constraint "c_p_id_fkey" on table "c"'
    assert ei.value.detail == 'Key (id)=(1) is still referenced from table "c".'
    cur.execute("UPDATE p SET name = 'z' WHERE id = 1")  # key unchanged: allowed
    cur.execute("DELETE FROM p WHERE id = 2")  # unreferenced
    assert rows(cur, "SELECT id FROM p ORDER BY id") == [(1,), (3,)]


def test_fk_cascade_set_null_and_update_cascade(cur):
    cur.execute("CREATE TABLE c2 (id int, p_id int REFERENCES p ON DELETE CASCADE)")
    cur.execute("CREATE TABLE c3 (id int, p_id int, FOREIGN KEY (p_id) REFERENCES p (id) "
                "ON DELETE SET NULL ON UPDATE CASCADE)")
    cur.execute("INSERT INTO c2 VALUES (1, 2), (2, 2), (3, 1)")
    cur.execute("INSERT INTO c3 VALUES (1, 3)")
    cur.execute("DELETE FROM p WHERE id = 2")
    assert rows(cur, "SELECT id FROM c2 ORDER BY id") == [(3,)]
    cur.execute("UPDATE p SET id = 30 WHERE id = 3")
    assert rows(cur, "SELECT * FROM c3") == [(1, 30)]
    cur.execute("DELETE FROM p WHERE id = 30")
    assert rows(cur, "SELECT * FROM c3") == [(1, None)]


def test_fk_self_reference_same_statement(cur):
    cur.execute("CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree(id))")
    cur.execute("INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2)")
    with pytest.raises(errors.ForeignKeyViolation):
        cur.execute("DELETE FROM tree WHERE id = 2")
    cur.execute("DELETE FROM tree WHERE id >= 2")
    assert rows(cur, "SELECT id FROM tree") == [(1,)]


def test_fk_definition_errors(cur):
    with pytest.raises(errors.InvalidForeignKey) as ei:
        cur.execute("CREATE TABLE bad (x text REFERENCES p(name))")
    assert ei.value.message == 'there is no unique constraint matching given keys for referenced table "p"'
    with pytest.raises(errors.UndefinedTable):
        cur.execute("CREATE TABLE bad (x int REFERENCES nope)")


def test_fk_truncate_drop_and_alter(cur):
    cur.execute("CREATE TABLE c (id int, p_id int REFERENCES p(id))")
    cur.execute("INSERT INTO c VALUES (1, 1)")
    with pytest.raises(errors.FeatureNotSupported, match="cannot truncate a table referenced"):
        cur.execute("TRUNCATE p")
    with pytest.raises(errors.DependentObjectsStillExist) as ei:
        cur.execute("DROP TABLE p")
    assert ei.value.detail == "constraint c_p_id_fkey on table c depends on table p"
    cur.execute("DROP TABLE p CASCADE")
    cur.execute("INSERT INTO c VALUES (2, 99)")  # the constraint went with the table
    cur.execute("CREATE TABLE q (id int PRIMARY KEY)")
    with pytest.raises(errors.ForeignKeyViolation):
        cur.execute("ALTER TABLE c ADD CONSTRAINT cq FOREIGN KEY (p_id) REFERENCES q (id)")


def test_fk_in_catalog(cur):
    cur.execute("CREATE TABLE c (id int, p_id int REFERENCES p ON DELETE CASCADE)")
    assert rows(cur, "SELECT conname, contype, confdeltype, confupdtype, confrelid::regclass::text "
                     "FROM pg_constraint WHERE conrelid = 'c'::regclass") == [
        ("c_p_id_fkey", "f", "c", "a", "p")]
    assert rows(cur, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'c_p_id_fkey'") == [
        ("FOREIGN KEY (p_id) REFERENCES p(id) ON DELETE CASCADE",)]


# -- views --------------------------------------------------------------------------------------


def test_views_expand_and_depend(cur):
    cur.execute("CREATE VIEW v AS SELECT id, name FROM p WHERE id > 1")
    cur.execute("CREATE VIEW v2 (ident) AS SELECT id FROM v")
    assert rows(cur, "SELECT * FROM v2 ORDER BY 1") == [(2,), (3,)]
    assert rows(cur, "SELECT x.name FROM v AS x JOIN p ON p.id = x.id WHERE p.id = 3") == [("c",)]
    assert rows(cur, "SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1") == [("v",), ("v2",)]
    assert rows(cur, "SELECT table_name FROM information_schema.views WHERE table_schema = 'public' "
                     "ORDER BY 1") == [("v",), ("v2",)]
    assert rows(cur, "SELECT relkind FROM pg_class WHERE relname = 'v'") == [("v",)]
    with pytest.raises(errors.DependentObjectsStillExist) as ei:
        cur.execute("DROP TABLE p")
    # each dependent names what it reads directly, as PostgreSQL's detail does
    assert ei.value.detail == "view v depends on table p\nview v2 depends on view v"
    cur.execute("DROP VIEW v CASCADE")
    assert rows(cur, "SELECT count(*) FROM pg_views WHERE schemaname = 'public'") == [(0,)]
    cur.execute("DROP VIEW IF EXISTS v")
    with pytest.raises(errors.UndefinedTable):
        cur.execute("DROP VIEW v")


def test_create_or_replace_view(cur):
    cur.execute("CREATE VIEW v AS SELECT id FROM p")
    cur.execute("CREATE OR REPLACE VIEW v AS SELECT id, name FROM p WHERE id = 1")
    assert rows(cur, "SELECT * FROM v") == [(1, "a")]
    with pytest.raises(errors.InvalidTableDefinition, match="cannot drop columns from view"):
        cur.execute("CREATE OR REPLACE VIEW v AS SELECT id FROM p")
    with pytest.raises(errors.DuplicateTable):
        cur.execute("CREATE VIEW p AS SELECT 1")


def test_view_survives_reopen(tmp_path):
    path = str(tmp_path / "db")
    conn = sqlvec.connect(path)
    conn.autocommit = True
    c = conn.cursor()
    c.execute("CREATE TABLE p (id int PRIMARY KEY)")
    c.execute("CREATE TABLE c (p_id int REFERENCES p)")
    c.execute("INSERT INTO p VALUES (1)")
    c.execute("CREATE VIEW v AS SELECT id * 2 AS d FROM p")
    c.execute("COMMENT ON TABLE p IS 'kept'")
    conn.close()
    conn = sqlvec.connect(path)
    conn.autocommit = True
    c = conn.cursor()
    assert rows(c, "SELECT d FROM v") == [(2,)]
    assert rows(c, "SELECT obj_description('p'::regclass, 'pg_class')") == [("kept",)]
    with pytest.raises(errors.ForeignKeyViolation):
        c.execute("INSERT INTO c VALUES (7)")
    conn.close()


# -- comments -----------------------------------------------------------------------------------


def test_comment_on(cur):
    cur.execute("CREATE VIEW v AS SELECT 1 AS one")
    cur.execute("CREATE INDEX p_name ON p (name)")
    cur.execute("COMMENT ON TABLE p IS 'parents'")
    cur.execute("COMMENT ON COLUMN p.name IS 'the name'")
    cur.execute("COMMENT ON VIEW v IS 'a view'")
    cur.execute("COMMENT ON INDEX p_name IS 'an index'")
    cur.execute("COMMENT ON SCHEMA public IS 'pub'")
    assert rows(cur, "SELECT obj_description('p'::regclass, 'pg_class'), col_description('p'::regclass, 2), "
                     "obj_description('v'::regclass, 'pg_class'), obj_description('p_name'::regclass, 'pg_class'), "
                     "obj_description('public'::regnamespace, 'pg_namespace')") == [
        ("parents", "the name", "a view", "an index", "pub")]
    cur.execute("COMMENT ON TABLE p IS ''")
    assert rows(cur, "SELECT count(*) FROM pg_description WHERE objoid = 'p'::regclass AND objsubid = 0") == [(0,)]
    with pytest.raises(errors.UndefinedTable):
        cur.execute("COMMENT ON TABLE nope IS 'x'")


# -- temporary tables ---------------------------------------------------------------------------


def test_temp_tables_are_session_local(tmp_path):
    path = str(tmp_path / "db")
    a, b = sqlvec.connect(path), sqlvec.connect(path)
    a.autocommit = b.autocommit = True
    ca, cb = a.cursor(), b.cursor()
    ca.execute("CREATE TABLE u (y text)")
    ca.execute("CREATE TEMP TABLE u (x int)")
    ca.execute("CREATE TEMP TABLE t (x int) ON COMMIT DELETE ROWS")
    ca.execute("INSERT INTO u VALUES (1)")
    ca.execute("INSERT INTO t VALUES (1)")
    assert rows(ca, "SELECT * FROM u") == [(1,)]  # the temp table hides the permanent one
    assert rows(ca, "SELECT count(*) FROM t") == [(0,)]  # deleted at commit
    assert rows(cb, "SELECT * FROM u") == []
    assert rows(ca, "SELECT DISTINCT relpersistence FROM pg_class WHERE relname IN ('t')") == [("t",)]
    with pytest.raises(errors.UndefinedTable):
        cb.execute("SELECT * FROM t")
    a.close()
    assert rows(cb, "SELECT count(*) FROM pg_class WHERE relpersistence = 't'") == [(0,)]
    b.close()
    c = sqlvec.connect(path)
    assert rows(c.cursor(), "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pg_temp%'") == [(0,)]
    c.close()
