"""The ACL model (aclitem text, GRANT/REVOKE arithmetic) and privileges surviving a restart."""

from __future__ import annotations

import pytest

from sqlvec import errors
from sqlvec.catalog import acl as A
from sqlvec.session import Database, Session


def test_aclitem_text_and_quoting():
    assert A.AclItem("alice", "postgres", "arwdDxt").text() == "alice=arwdDxt/postgres"
    assert A.AclItem(A.PUBLIC, "postgres", "r").text() == "=r/postgres"
    assert A.AclItem("Al ice", "postgres", "ra", "r").text() == '"Al ice"=ar*/postgres'
    assert A.AclItem("Bob", "postgres", "U").text() == "Bob=U/postgres"  # putid quotes no letters


def test_grant_merges_and_revoke_removes():
    acl = A.default_acl("table", "o")
    acl = A.grant(acl, "a", "o", "r", False)
    acl = A.grant(acl, "a", "o", "a", True)
    assert [x.text() for x in acl] == ["o=arwdDxt/o", "a=a*r/o"]
    acl = A.revoke(acl, "a", "o", "a", option_only=True)
    assert [x.text() for x in acl] == ["o=arwdDxt/o", "a=ar/o"]
    acl = A.revoke(acl, "a", "o", "ar", option_only=False)
    assert [x.text() for x in acl] == ["o=arwdDxt/o"]
    assert [x.text() for x in A.default_acl("database", "o")] == ["=Tc/o", "o=CTc/o"]


def test_privileges_persist_across_restart(tmp_path):
    path = str(tmp_path / "db")
    db = Database.open(path)
    s = Session(db)
    for sql in ("CREATE ROLE r1", "CREATE ROLE r2", "GRANT r2 TO r1", "CREATE SCHEMA sc",
                "CREATE TABLE sc.t (a int)", "GRANT USAGE ON SCHEMA sc TO r1",
                "GRANT SELECT ON sc.t TO r1 WITH GRANT OPTION", "ALTER TABLE sc.t OWNER TO r2",
                "ALTER DEFAULT PRIVILEGES FOR ROLE r2 GRANT SELECT ON TABLES TO PUBLIC"):
        s.execute(sql)
    s.close()
    db.close()
    db = Database.open(path)
    s = Session(db)
    row = s.execute("SELECT relowner::regrole::text, array_to_string(relacl, ',') FROM pg_class "
                    "WHERE relname = 't'").table.to_pylist()[0]
    assert list(row.values()) == ["r2", "r2=arwdDxt/r2,r1=r*/r2"]
    assert s.execute("SELECT count(*) FROM pg_auth_members").table.column(0).to_pylist() == [1]
    assert db.catalog.default_acls[("r2", "", "tables")][-1].text() == "=r/r2"
    s.execute("SET ROLE r1")
    assert s.execute("SELECT count(*) FROM sc.t").table.column(0).to_pylist() == [0]
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for schema sc"):
        s.execute("CREATE TABLE sc.u (a int)")
    s.execute("DROP TABLE sc.t")  # r1 is a member of r2, the owner: it has the owner's rights
    s.close()
    db.close()
