"""Names <-> OIDs for the reg* types and the to_reg* functions, in the current session.

``'public.t'::regclass`` looks the relation up through the session's search_path; a regclass
prints its name, schema-qualified only when the search_path would not find it, quoted as
quote_ident does. Digits are taken as an OID as they are, and OID 0 prints as ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlvec import errors
from sqlvec.catalog.pg.source import CatalogView, view_for
from sqlvec.exec.functions.context import get_session

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
# the reserved keywords quote_ident must quote (a subset that appears as names in practice)
_RESERVED = frozenset(
    "all analyse analyze and any array as asc asymmetric both case cast check collate column "
    "constraint create current_catalog current_date current_role current_time "
    "current_timestamp current_user default deferrable desc distinct do else end except false "
    "fetch for foreign from grant group having in initially intersect into lateral leading "
    "limit localtime localtimestamp not null offset on only or order placing primary "
    "references returning select session_user some symmetric system_user table then to "
    "trailing true union unique user using variadic when where window with".split())


def quote_ident(name: str) -> str:
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def split_qualified(text: str) -> list[str]:
    """Identifiers of a possibly qualified, possibly quoted name; unquoted ones are folded
    to lower case (``Public."My T"`` -> ["public", "My T"])."""
    parts, i, s = [], 0, text.strip()
    while i <= len(s):
        if i < len(s) and s[i] == '"':
            j, buf = i + 1, []
            while True:
                k = s.find('"', j)
                if k < 0:
                    raise errors.InvalidName(f'invalid name syntax: "{text}"')  # unterminated
                buf.append(s[j:k])
                if k + 1 < len(s) and s[k + 1] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            parts.append("".join(buf))
        else:
            k = s.find(".", i)
            k = len(s) if k < 0 else k
            word = s[i:k].strip()
            if not word:
                raise errors.InvalidName("invalid name syntax")
            parts.append(word.lower())
            i = k
        if i < len(s) and s[i] != ".":
            raise errors.InvalidName("invalid name syntax")
        i += 1
    return parts


def _ctx() -> tuple[CatalogView, list[str], object]:
    session = get_session()
    return view_for(session), session.search_path(), session


def _digits(text: str) -> int | None:
    s = text.strip()
    return int(s) if s.isdigit() else None


# -- regclass ------------------------------------------------------------------------------------


def regclass_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    view, path, _ = _ctx()
    parts = split_qualified(text)
    if len(parts) > 3 or len(parts) == 3 and parts[0] != view.db.name:
        if missing_ok:
            return None
        raise errors.FeatureNotSupported(
            f"cross-database references are not implemented: {text}")
    name, schema = parts[-1], (parts[-2] if len(parts) > 1 else None)
    rel = view.find_relation(name, schema, path)
    if rel is None:
        if missing_ok:
            return None
        raise errors.UndefinedTable(f'relation "{text.strip()}" does not exist')
    return rel.oid


def regclass_out(oid: int) -> str:
    if oid == 0:
        return "-"
    view, path, _ = _ctx()
    rel = view.relation(oid)
    if rel is None:
        return str(oid)
    visible = view.find_relation(rel.name, None, path)
    if visible is not None and visible.oid == rel.oid:
        return quote_ident(rel.name)
    return f"{quote_ident(rel.schema)}.{quote_ident(rel.name)}"


def relation_visible(view: CatalogView, path: list[str], oid: int) -> bool:
    rel = view.relation(oid)
    if rel is None or rel.schema not in path:
        return False
    hit = view.find_relation(rel.name, None, path)
    return hit is not None and hit.oid == oid


# -- regtype -------------------------------------------------------------------------------------


def regtype_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    from sqlvec.types import registry as R

    s = " ".join(text.strip().split())
    array = s.endswith("[]")
    base = re.sub(r"\s*\(.*\)\s*$", "", s[:-2] if array else s)  # typmods do not matter
    parts = split_qualified(base) if '"' in base or "." in base else [base.lower()]
    name = parts[-1]
    if len(parts) > 1 and parts[-2] not in ("pg_catalog", "public"):
        name = ""
    key = '"char"' if base == '"char"' else name
    try:
        t = R.type_by_name(key + ("[]" if array else ""))
    except errors.Error:
        from sqlvec.catalog.pg.routines import PSEUDO_TYPES

        if not array and key in PSEUDO_TYPES:
            return PSEUDO_TYPES[key]
        if missing_ok:
            return None
        raise errors.UndefinedObject(f'type "{text.strip()}" does not exist') from None
    return t.oid if t.elem is None else R.array_of(t.elem).oid


def regtype_out(oid: int) -> str:
    if oid == 0:
        return "-"
    from sqlvec.catalog.pg.routines import PSEUDO_TYPES
    from sqlvec.types import registry as R

    d = R.typedef_by_oid(oid)
    if d is not None:
        return str(R.type_by_oid(oid))
    return next((n for n, o in PSEUDO_TYPES.items() if o == oid), str(oid))


# -- regproc / regprocedure ---------------------------------------------------------------------


def regproc_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    from sqlvec.catalog.pg.routines import procs_by_name

    parts = split_qualified(text)
    procs = procs_by_name().get(parts[-1], [])
    if len(procs) == 1:
        return procs[0].oid
    if missing_ok:
        return None
    if not procs:
        raise errors.UndefinedFunction(f'function "{text.strip()}" does not exist')
    raise errors.AmbiguousFunction(f'more than one function named "{text.strip()}"')


def regproc_out(oid: int) -> str:
    if oid == 0:
        return "-"
    from sqlvec.catalog.pg.routines import proc_by_oid

    p = proc_by_oid(oid)
    return str(oid) if p is None else quote_ident(p.name)


def regprocedure_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    from sqlvec.catalog.pg.routines import procs_by_name

    m = re.match(r"^\s*(.+?)\s*\((.*)\)\s*$", text)
    if m is None:
        raise errors.InvalidTextRepresentation(f'expected a left parenthesis: "{text}"')
    name = split_qualified(m.group(1))[-1]
    args = [a for a in (x.strip() for x in m.group(2).split(",")) if a]
    want = tuple(regtype_in(a) for a in args)
    for p in procs_by_name().get(name, []):
        if p.argtypes == want:
            return p.oid
    if missing_ok:
        return None
    raise errors.UndefinedFunction(f'function "{text.strip()}" does not exist')


def regprocedure_out(oid: int) -> str:
    if oid == 0:
        return "-"
    from sqlvec.catalog.pg.routines import proc_by_oid

    p = proc_by_oid(oid)
    if p is None:
        return str(oid)
    return f"{quote_ident(p.name)}({','.join(regtype_out(a) for a in p.argtypes)})"


# -- regnamespace / regrole / regoper ---------------------------------------------------------------


def regnamespace_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    view, _, _ = _ctx()
    parts = split_qualified(text)
    if len(parts) != 1:
        raise errors.InvalidName("invalid name syntax")
    ns = view.namespaces.get(parts[0])
    if ns is None and not missing_ok:
        raise errors.InvalidSchemaName(f'schema "{parts[0]}" does not exist')
    return ns


def regnamespace_out(oid: int) -> str:
    if oid == 0:
        return "-"
    view, _, _ = _ctx()
    name = view.ns_name.get(oid)
    return str(oid) if name is None else quote_ident(name)


def regrole_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    view, _, _ = _ctx()
    parts = split_qualified(text)
    role = view.cat.roles.get(parts[-1]) if len(parts) == 1 else None
    if role is None:
        if missing_ok:
            return None
        raise errors.UndefinedObject(f'role "{text.strip()}" does not exist')
    return role.oid


def regrole_out(oid: int) -> str:
    if oid == 0:
        return "-"
    view, _, _ = _ctx()
    name = next((r.name for r in view.cat.roles.values() if r.oid == oid), None)
    return str(oid) if name is None else quote_ident(name)


def regoper_in(text: str, *, missing_ok: bool = False) -> int | None:
    oid = _digits(text)
    if oid is not None:
        return oid
    from sqlvec.catalog.pg.routines import catalog

    name = text.strip().split(".")[-1]
    hits = [o for o in catalog()[1] if o.name == name]
    if len(hits) == 1:
        return hits[0].oid
    if missing_ok:
        return None
    if not hits:
        raise errors.UndefinedFunction(f"operator does not exist: {text.strip()}")
    raise errors.AmbiguousFunction(f"more than one operator named {text.strip()}")


def regoper_out(oid: int) -> str:
    if oid == 0:
        return "0"
    from sqlvec.catalog.pg.routines import catalog

    op = next((o for o in catalog()[1] if o.oid == oid), None)
    return str(oid) if op is None else op.name


_IN: dict[str, Callable[..., int | None]] = {
    "regclass": regclass_in, "regtype": regtype_in, "regproc": regproc_in,
    "regprocedure": regprocedure_in, "regnamespace": regnamespace_in, "regrole": regrole_in,
    "regoper": regoper_in, "regoperator": regoper_in,
}
_OUT: dict[str, Callable[[int], str]] = {
    "regclass": regclass_out, "regtype": regtype_out, "regproc": regproc_out,
    "regprocedure": regprocedure_out, "regnamespace": regnamespace_out, "regrole": regrole_out,
    "regoper": regoper_out, "regoperator": regoper_out,
}


def reg_in(kind: str, text: str) -> int:
    """Input function of reg* type ``kind`` ('-' is OID 0, as in PostgreSQL)."""
    if text.strip() == "-":
        return 0
    return _IN[kind](text)  # type: ignore[return-value]


def reg_out(kind: str, oid: int) -> str:
    return _OUT[kind](oid)


def to_reg(kind: str, text: str) -> int | None:
    """to_regclass & co.: the OID, or None where the input function would raise."""
    try:
        return _IN[kind](text, missing_ok=True)
    except errors.Error:
        return None


__all__ = ["quote_ident", "reg_in", "reg_out", "relation_visible", "split_qualified",
           "to_reg"]
