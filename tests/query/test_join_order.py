"""Comma joins with their equalities in WHERE run as hash joins in a linked order, never as
the cross product of the FROM list (which exhausted memory on JDBC's getImportedKeys)."""

from __future__ import annotations

import pytest

import sqlvec
from sqlvec import errors


def test_comma_joins_follow_the_equalities():
    c = sqlvec.connect(":memory:", autocommit=True)
    c.execute("CREATE TABLE p (id int PRIMARY KEY, a int)")
    for i in range(20):
        c.execute(f"CREATE TABLE t{i} (x int PRIMARY KEY, y int REFERENCES p (id))")
    # written so that the first two items share no condition: FROM order would be a cross product
    q = ("SELECT count(*) FROM pg_attribute b, pg_attribute d, pg_constraint k, generate_series(1, 32) pos(n) "
         "WHERE k.confrelid = b.attrelid AND k.conrelid = d.attrelid "
         "AND b.attnum = k.confkey[pos.n] AND d.attnum = k.conkey[pos.n]")
    assert c.execute(q).fetchall() == [(20,)]


def test_select_star_keeps_from_order_and_results():
    c = sqlvec.connect(":memory:", autocommit=True)
    c.execute("CREATE TABLE p (id int PRIMARY KEY, a int)")
    c.execute("CREATE TABLE ch (id int PRIMARY KEY, pid int, b int)")
    c.execute("CREATE TABLE g (cid int, tag text)")
    c.execute("INSERT INTO p VALUES (1, 10), (2, 20)")
    c.execute("INSERT INTO ch VALUES (1, 1, 5), (2, 2, 6), (3, 1, 7)")
    c.execute("INSERT INTO g VALUES (3, 'x'), (1, 'y')")
    rows = c.execute("SELECT * FROM g, p, ch WHERE ch.pid = p.id AND g.cid = ch.id AND b > 4 ORDER BY g.cid").fetchall()
    assert rows == [(1, "y", 1, 10, 1, 1, 5), (3, "x", 1, 10, 3, 1, 7)]


def test_cross_product_too_large_is_an_error_not_a_crash():
    c = sqlvec.connect(":memory:", autocommit=True)
    with pytest.raises(errors.ProgramLimitExceeded):
        c.execute("SELECT count(*) FROM generate_series(1, 20000) x, generate_series(1, 20000) y, generate_series(1, 2) z").fetchall()
    assert c.execute("SELECT 1").fetchall() == [(1,)]


def test_outer_join_inside_a_comma_list_keeps_the_ordering():
    """psql's `\\d table` index query: `FROM pg_class c, pg_class c2, pg_index i LEFT JOIN
    pg_constraint con ON (...) WHERE c.oid = i.indrelid AND i.indexrelid = c2.oid`. The outer
    join belongs to pg_index alone; the comma items are still ordered by the equalities (a
    cross product of pg_class with itself exceeded the join size guard on 200 tables)."""
    c = sqlvec.connect(":memory:", autocommit=True)
    c.execute("CREATE TABLE big (id int PRIMARY KEY)")
    c.execute("INSERT INTO big SELECT g FROM generate_series(1, 20000) g")
    c.execute("CREATE TABLE link (a int, b int)")
    c.execute("INSERT INTO link SELECT g, g + 1 FROM generate_series(1, 20000, 1000) g")
    c.execute("CREATE TABLE note (a int, txt text)")
    c.execute("INSERT INTO note VALUES (1, 'one'), (2001, 'two')")
    q = ("SELECT x.id, y.id, n.txt FROM big x, big y, link l LEFT JOIN note n ON n.a = l.a "
         "WHERE x.id = l.a AND l.b = y.id ORDER BY 1")
    rows = c.execute(q).fetchall()  # 20000 x 20000 would exceed MAX_JOIN_CELLS
    assert rows[:3] == [(1, 2, "one"), (1001, 1002, None), (2001, 2002, "two")]
    assert len(rows) == 20
    plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + q).fetchall())
    assert "Hash Left Join" in plan and "Nested Loop" not in plan
    # the ON of an outer join sees its own unit only, as in PostgreSQL
    with pytest.raises(errors.Error):
        c.execute("SELECT 1 FROM big x, link l LEFT JOIN note n ON n.a = x.id WHERE x.id = l.a").fetchall()
