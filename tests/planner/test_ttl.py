"""WITH (ttl, ttl_column): expired rows are invisible to every query at once."""

from __future__ import annotations

import pytest

import sqlvec
from sqlvec import errors


def test_expired_rows_are_invisible():
    c = sqlvec.connect(":memory:", autocommit=True)
    c.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz, emb vector(2)) "
              "WITH (ttl = '1 day', ttl_column = 'at')")
    c.execute("INSERT INTO ev VALUES (1, now(), '[1,1]'), (2, now() - interval '2 days', '[1,1]'), "
              "(3, NULL, '[2,2]')")
    assert c.execute("SELECT id FROM ev ORDER BY id").fetchall() == [(1,), (3,)]
    assert c.execute("SELECT count(*) FROM ev").fetchall() == [(2,)]
    assert [r[0] for r in c.execute("SELECT id FROM ev ORDER BY emb <-> '[1,1]' LIMIT 5").fetchall()] == [1, 3]
    assert c.execute("UPDATE ev SET emb = '[0,0]'").rowcount == 2
    assert c.execute("DELETE FROM ev").rowcount == 2
    # the expired row is still there (until compaction), its key still taken
    with pytest.raises(errors.UniqueViolation):
        c.execute("INSERT INTO ev VALUES (2, now(), '[0,0]')")


def test_ttl_options_checked():
    c = sqlvec.connect(":memory:", autocommit=True)
    with pytest.raises(errors.UndefinedColumn):
        c.execute("CREATE TABLE t (a int) WITH (ttl = '1 day', ttl_column = 'nope')")
    with pytest.raises(errors.DatatypeMismatch):
        c.execute("CREATE TABLE t (a int) WITH (ttl = '1 day', ttl_column = 'a')")
    with pytest.raises(errors.InvalidParameterValue):
        c.execute("CREATE TABLE t (a date) WITH (ttl = '1 day')")
