"""pg_get_keywords(): PostgreSQL 16's SQL key words with their category and bare-label flag.

DBeaver and other tools read this list to decide what to quote and highlight. The words are
PostgreSQL's (src/include/parser/kwlist.h, as reported by pg_get_keywords() of 16.2); a
trailing ``*`` marks a word that cannot be a bare column label (it needs AS).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sqlvec.types import registry as R

_WORDS = {
    "U": """
    abort absent absolute access action add admin after aggregate also alter always
    asensitive assertion assignment at atomic attach attribute backward before begin breadth
    by cache call called cascade cascaded catalog chain characteristics checkpoint class
    close cluster columns comment comments commit committed compression configuration
    conflict connection constraints content continue conversion copy cost csv cube current
    cursor cycle data database day* deallocate declare defaults deferred definer delete
    delimiter delimiters depends depth detach dictionary disable discard document domain
    double drop each enable encoding encrypted enum escape event exclude excluding exclusive
    execute explain expression extension external family filter* finalize first following
    force format forward function functions generated global granted groups handler header
    hold hour* identity if immediate immutable implicit import include including increment
    indent index indexes inherit inherits inline input insensitive insert instead invoker
    isolation json key keys label language large last leakproof level listen load local
    location lock locked logged mapping match matched materialized maxvalue merge method
    minute* minvalue mode month* move name names new next nfc nfd nfkc nfkd no normalized
    nothing notify nowait nulls object of off oids old operator option options ordinality
    others over* overriding owned owner parallel parameter parser partial partition passing
    password plans policy preceding prepare prepared preserve prior privileges procedural
    procedure procedures program publication quote range read reassign recheck recursive ref
    referencing refresh reindex relative release rename repeatable replace replica reset
    restart restrict return returns revoke role rollback rollup routine routines rows rule
    savepoint scalar schema schemas scroll search second* security sequence sequences
    serializable server session set sets share show simple skip snapshot sql stable
    standalone start statement statistics stdin stdout storage stored strict strip
    subscription support sysid system tables tablespace temp template temporary text ties
    transaction transform trigger truncate trusted type types uescape unbounded uncommitted
    unencrypted unknown unlisten unlogged until update vacuum valid validate validator value
    varying* version view views volatile whitespace within* without* work wrapper write xml
    year* yes zone
""",
    "C": """
    between bigint bit boolean char* character* coalesce dec decimal exists extract float
    greatest grouping inout int integer interval json_array json_arrayagg json_object
    json_objectagg least national nchar none normalize nullif numeric out overlay position
    precision* real row setof smallint substring time timestamp treat trim values varchar
    xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
    xmlroot xmlserialize xmltable
""",
    "T": """
    authorization binary collation concurrently cross current_schema freeze full ilike inner
    is isnull* join left like natural notnull* outer overlaps* right similar tablesample
    verbose
""",
    "R": """
    all analyse analyze and any array* as* asc asymmetric both case cast check collate
    column constraint create* current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except*
    false fetch* for* foreign from* grant* group* having* in initially intersect* into*
    lateral leading limit* localtime localtimestamp not null offset* on* only or order*
    placing primary references returning* select session_user some symmetric system_user
    table then to* trailing true union* unique user using variadic when where* window* with*
""",
}
_CATDESC = {"U": "unreserved", "C": "unreserved (cannot be function or type name)",
            "T": "reserved (can be function or type name)", "R": "reserved"}


def _table() -> list[tuple[str, str, bool]]:
    out = [(w.rstrip("*"), cat, not w.endswith("*"))
           for cat, words in _WORDS.items() for w in words.split()]
    return sorted(out)


KEYWORDS: list[tuple[str, str, bool]] = _table()


def _keywords(vals, types, n):
    """One output row per key word for each input row (there is one: no arguments)."""
    k = len(KEYWORDS)
    parents = np.repeat(np.arange(n, dtype=np.int64), k)
    words = [w for w, _, _ in KEYWORDS] * n
    cats = [c for _, c, _ in KEYWORDS] * n
    bare = [b for _, _, b in KEYWORDS] * n
    return parents, [pa.array(words, pa.string()), pa.array(cats, pa.string()),
                     pa.array(bare, pa.bool_()),
                     pa.array([_CATDESC[c] for c in cats], pa.string()),
                     pa.array(["can be bare label" if b else "requires AS" for b in bare],
                              pa.string())]


def register(srfs: dict, columns: dict) -> None:
    """Add pg_get_keywords() to the set-returning functions of sqlvec/exec/srf.py."""
    from sqlvec.exec.functions.registry import Overload

    srfs["pg_get_keywords"] = [Overload("pg_get_keywords", (), "text", _keywords)]
    columns["pg_get_keywords"] = lambda r: [
        ("word", R.type_by_name("text")), ("catcode", R.type_by_name('"char"')),
        ("barelabel", R.type_by_name("boolean")), ("catdesc", R.type_by_name("text")),
        ("baredesc", R.type_by_name("text"))]
