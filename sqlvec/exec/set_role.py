"""SET ROLE / RESET ROLE / SET SESSION AUTHORIZATION, and SHOW of both.

They are settings (``role``, ``session_authorization``) so that SET LOCAL and a rolled-back
transaction undo them like any other; this module only checks them as PostgreSQL does:
SET ROLE needs the session user to be a member of the role (with SET), SET SESSION
AUTHORIZATION needs the authenticated user to be a superuser, and it drops any SET ROLE.
"""

from __future__ import annotations

import pyarrow as pa

from sqlvec import errors
from sqlvec import privileges as P
from sqlvec.grammar import utility as U
from sqlvec.result import Result, ResultColumn
from sqlvec.types import registry as T

NAMES = ("role", "session_authorization")


def utility(session, node) -> Result:
    """SET / RESET / SHOW of ``role`` or ``session_authorization``."""
    s = session.settings
    if isinstance(node, U.ShowStmt):
        value = P.session_user(session) if node.name == "session_authorization" else s.get("role")
        cols = [ResultColumn(node.name, T.TEXT)]
        return Result("SHOW", cols, pa.table([pa.array([value], pa.string())], names=["c0"]), 1)
    reset = isinstance(node, U.ResetStmt) or node.is_default or node.values is None
    local = getattr(node, "local", False)
    cat = session.catalog()
    if node.name == "session_authorization":
        name = session.user if reset else str(node.values[0])
        if name != session.user:
            if not P.is_superuser(cat, session.user):
                raise errors.InsufficientPrivilege("permission denied to set session authorization")
            if name not in cat.roles:
                raise errors.InvalidParameterValue(f'role "{name}" does not exist')
        s.set("session_authorization", None if name == session.user else name, local=local)
        s.set("role", None, local=local)
        return Result("RESET" if isinstance(node, U.ResetStmt) else "SET")
    name = "none" if reset else str(node.values[0])
    if name.lower() == "none":
        s.set("role", None, local=local)
    else:
        if name not in cat.roles:
            raise errors.InvalidParameterValue(f'role "{name}" does not exist')
        me = P.session_user(session)
        if not P.is_superuser(cat, me) and name not in P.member_closure(cat, me, "set"):
            raise errors.InsufficientPrivilege(f'permission denied to set role "{name}"')
        s.set("role", name, local=local)
    return Result("RESET" if isinstance(node, U.ResetStmt) else "SET")
