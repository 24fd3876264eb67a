"""information_schema: schemata, tables, columns, views, sequences, table_constraints,
key_column_usage, constraint_column_usage, referential_constraints, routines,
character_sets.

The standard's domains are plain types here: sql_identifier is ``name``, cardinal_number
``integer``, character_data and yes_or_no ``character varying``. Privileges are not modelled
yet, so every object is listed (PostgreSQL lists the ones the user has some privilege on).
"""

from __future__ import annotations

from sqlvec.catalog.pg import oids as O
from sqlvec.catalog.pg.describe import default_text, view_def
from sqlvec.catalog.pg.source import CatalogView, attnum_of
from sqlvec.catalog.virtual import relation
from sqlvec.types import numbers as N
from sqlvec.types import registry as R
from sqlvec.types.catalog_types import NAME

ID, NUM, DATA = NAME, R.INT4, R.VARCHAR
IS = O.INFO_SCHEMA_VIEW_BASE
_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_MATCH = {"s": "NONE", "f": "FULL", "p": "PARTIAL"}
_CONTYPE = {"p": "PRIMARY KEY", "u": "UNIQUE", "c": "CHECK", "f": "FOREIGN KEY"}


def _cols(*names: str, types: dict | None = None) -> list:
    types = types or {}
    return [(n, types.get(n, DATA)) for n in names]


def _rows(cols: list, rows: list[dict]) -> dict:
    return {n: [r.get(n) for r in rows] for n, _ in cols}


SCHEMATA = _cols("catalog_name", "schema_name", "schema_owner", "default_character_set_catalog",
                 "default_character_set_schema", "default_character_set_name", "sql_path",
                 types={"catalog_name": ID, "schema_name": ID, "schema_owner": ID})


@relation("information_schema", "schemata", IS + 0, SCHEMATA, relkind="v")
def schemata(view: CatalogView, session) -> dict:
    rows = [{"catalog_name": view.db.name, "schema_name": s, "schema_owner": view.db.owner
             if s not in O.NAMESPACES or s == "public" else "postgres"}
            for s, _ in sorted(view.namespaces.items(), key=lambda kv: kv[1])]
    return _rows(SCHEMATA, rows)


TABLES = _cols("table_catalog", "table_schema", "table_name", "table_type",
               "self_referencing_column_name", "reference_generation",
               "user_defined_type_catalog", "user_defined_type_schema",
               "user_defined_type_name", "is_insertable_into", "is_typed", "commit_action",
               types={k: ID for k in ("table_catalog", "table_schema", "table_name")})
_TABLE_TYPE = {"r": "BASE TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}


def _tables(view: CatalogView) -> list:
    return [r for r in view.relations if r.kind in "rv" and r.kind in _TABLE_TYPE]


@relation("information_schema", "tables", IS + 1, TABLES, relkind="v")
def tables(view: CatalogView, session) -> dict:
    rows = []
    for r in sorted(_tables(view), key=lambda r: (r.schema, r.name)):
        kind = "LOCAL TEMPORARY" if r.persistence == "t" else _TABLE_TYPE[r.kind]
        rows.append({"table_catalog": view.db.name, "table_schema": r.schema,
                     "table_name": r.name, "table_type": kind,
                     "is_insertable_into": "YES" if r.kind == "r" and r.schema not in
                     ("pg_catalog", "information_schema") else "NO", "is_typed": "NO",
                     "commit_action": "PRESERVE" if r.persistence == "t" else None})
    return _rows(TABLES, rows)


COLUMNS = _cols(
    "table_catalog", "table_schema", "table_name", "column_name", "ordinal_position",
    "column_default", "is_nullable", "data_type", "character_maximum_length",
    "character_octet_length", "numeric_precision", "numeric_precision_radix", "numeric_scale",
    "datetime_precision", "interval_type", "interval_precision", "character_set_catalog",
    "character_set_schema", "character_set_name", "collation_catalog", "collation_schema",
    "collation_name", "domain_catalog", "domain_schema", "domain_name", "udt_catalog",
    "udt_schema", "udt_name", "scope_catalog", "scope_schema", "scope_name",
    "maximum_cardinality", "dtd_identifier", "is_self_referencing", "is_identity",
    "identity_generation", "identity_start", "identity_increment", "identity_maximum",
    "identity_minimum", "identity_cycle", "is_generated", "generation_expression",
    "is_updatable",
    types={**{k: ID for k in ("table_catalog", "table_schema", "table_name", "column_name",
                              "udt_catalog", "udt_schema", "udt_name", "character_set_name",
                              "collation_name", "domain_name", "scope_name")},
           **{k: NUM for k in ("ordinal_position", "character_maximum_length",
                               "character_octet_length", "numeric_precision",
                               "numeric_precision_radix", "numeric_scale",
                               "datetime_precision", "interval_precision",
                               "maximum_cardinality")}})
_PRECISION = {R.INT2.oid: 16, R.INT4.oid: 32, R.INT8.oid: 64, R.FLOAT4.oid: 24, R.FLOAT8.oid: 53}
_DATETIMES = {R.DATE.oid, R.TIME.oid, R.TIMESTAMP.oid, R.TIMESTAMPTZ.oid, R.INTERVAL.oid}


def type_facts(t) -> dict:
    """data_type, lengths, precisions and udt of a column type, as information_schema shows."""
    ext = t.oid in (R.VECTOR.oid, R.HALFVEC.oid, R.SPARSEVEC.oid)
    out: dict = {"data_type": "ARRAY" if t.elem is not None else
                 ("USER-DEFINED" if ext else t.defn.name),
                 "udt_catalog": None, "udt_schema": "public" if ext else "pg_catalog",
                 "udt_name": ("_" + t.elem.defn.typname) if t.elem is not None else t.defn.typname,
                 "dtd_identifier": None}
    if t.elem is not None:
        return out
    if t.oid in (R.VARCHAR.oid, R.BPCHAR.oid, R.TEXT.oid):
        n = t.typmod - 4 if t.typmod >= 4 else None
        out["character_maximum_length"] = n
        out["character_octet_length"] = n * 4 if n is not None else 1073741824
    if t.oid in _PRECISION:
        out.update(numeric_precision=_PRECISION[t.oid], numeric_precision_radix=2)
        if t.oid in (R.INT2.oid, R.INT4.oid, R.INT8.oid):
            out["numeric_scale"] = 0
    if t.oid == R.NUMERIC.oid:
        out["numeric_precision_radix"] = 10
        ps = N.numeric_precision_scale(t.typmod)
        if ps is not None:
            out.update(numeric_precision=ps[0], numeric_scale=ps[1])
    if t.oid in _DATETIMES:
        out["datetime_precision"] = 0 if t.oid == R.DATE.oid else (t.typmod if t.typmod >= 0 else 6)
    return out


@relation("information_schema", "columns", IS + 2, COLUMNS, relkind="v")
def columns(view: CatalogView, session) -> dict:
    rows = []
    for r in sorted(_tables(view), key=lambda r: (r.schema, r.name)):
        if hasattr(r.obj, "producer"):
            cols = [(n, t, i + 1, False, None, None) for i, (n, t) in enumerate(r.obj.columns)]
        else:
            cols = [(c.name, c.type, attnum_of(r.obj, c), c.not_null, default_text(c),
                     c.identity) for c in r.obj.columns]
        for name, t, num, not_null, default, identity in cols:
            row = {"table_catalog": view.db.name, "table_schema": r.schema, "table_name": r.name,
                   "column_name": name, "ordinal_position": num, "column_default": default,
                   "is_nullable": "NO" if not_null else "YES", "is_self_referencing": "NO",
                   "is_identity": "YES" if identity else "NO",
                   "identity_generation": {"a": "ALWAYS", "d": "BY DEFAULT"}.get(identity or ""),
                   "identity_cycle": "NO", "is_generated": "NEVER",
                   "is_updatable": "YES" if r.kind == "r" else "NO",
                   **type_facts(t)}
            row["dtd_identifier"] = str(num)
            if t.oid in (R.TEXT.oid, R.VARCHAR.oid, R.BPCHAR.oid):
                row["collation_name"] = None
            rows.append(row)
    return _rows(COLUMNS, rows)


VIEWS = _cols("table_catalog", "table_schema", "table_name", "view_definition", "check_option",
              "is_updatable", "is_insertable_into", "is_trigger_updatable",
              "is_trigger_deletable", "is_trigger_insertable_into",
              types={k: ID for k in ("table_catalog", "table_schema", "table_name")})


@relation("information_schema", "views", IS + 3, VIEWS, relkind="v")
def views(view: CatalogView, session) -> dict:
    rows = [{"table_catalog": view.db.name, "table_schema": r.schema, "table_name": r.name,
             "view_definition": view_def(r.obj), "check_option": "NONE", "is_updatable": "NO",
             "is_insertable_into": "NO", "is_trigger_updatable": "NO",
             "is_trigger_deletable": "NO", "is_trigger_insertable_into": "NO"}
            for r in view.relations if r.kind == "v" and not hasattr(r.obj, "producer")]
    return _rows(VIEWS, rows)


SEQUENCES = _cols("sequence_catalog", "sequence_schema", "sequence_name", "data_type",
                  "numeric_precision", "numeric_precision_radix", "numeric_scale",
                  "start_value", "minimum_value", "maximum_value", "increment", "cycle_option",
                  types={"sequence_catalog": ID, "sequence_schema": ID, "sequence_name": ID,
                         "numeric_precision": NUM, "numeric_precision_radix": NUM,
                         "numeric_scale": NUM})


@relation("information_schema", "sequences", IS + 4, SEQUENCES, relkind="v")
def sequences(view: CatalogView, session) -> dict:
    rows = []
    for s in sorted(view.sequences(), key=lambda s: (s.schema, s.name)):
        t = R.type_by_name(s.type)
        rows.append({"sequence_catalog": view.db.name, "sequence_schema": s.schema,
                     "sequence_name": s.name, "data_type": t.name,
                     "numeric_precision": _PRECISION.get(t.oid), "numeric_precision_radix": 2,
                     "numeric_scale": 0, "start_value": str(s.start),
                     "minimum_value": str(s.min_value), "maximum_value": str(s.max_value),
                     "increment": str(s.increment), "cycle_option": "YES" if s.cycle else "NO"})
    return _rows(SEQUENCES, rows)


_CON_IDS = ("constraint_catalog", "constraint_schema", "constraint_name", "table_catalog",
            "table_schema", "table_name")
TABLE_CONSTRAINTS = _cols(*_CON_IDS, "constraint_type", "is_deferrable", "initially_deferred",
                          "enforced", "nulls_distinct", types={k: ID for k in _CON_IDS})


def _con_ids(view: CatalogView, c) -> dict:
    return {"constraint_catalog": view.db.name, "constraint_schema": c.table.schema,
            "constraint_name": c.name, "table_catalog": view.db.name,
            "table_schema": c.table.schema, "table_name": c.table.name}


@relation("information_schema", "table_constraints", IS + 5, TABLE_CONSTRAINTS, relkind="v")
def table_constraints(view: CatalogView, session) -> dict:
    rows = []
    for c in view.constraints:
        rows.append({**_con_ids(view, c), "constraint_type": _CONTYPE[c.kind],
                     "is_deferrable": "NO", "initially_deferred": "NO", "enforced": "YES",
                     "nulls_distinct": "YES" if c.kind == "u" else None})
    # NOT NULL columns appear as CHECK constraints named <ns oid>_<rel oid>_<attnum>_not_null
    for t in view.tables.values():
        for col in t.columns:
            if col.not_null:
                ns = view.namespaces.get(t.schema, 0)
                rows.append({"constraint_catalog": view.db.name, "constraint_schema": t.schema,
                             "constraint_name": f"{ns}_{t.oid}_{attnum_of(t, col)}_not_null",
                             "table_catalog": view.db.name, "table_schema": t.schema,
                             "table_name": t.name, "constraint_type": "CHECK",
                             "is_deferrable": "NO", "initially_deferred": "NO",
                             "enforced": "YES", "nulls_distinct": None})
    return _rows(TABLE_CONSTRAINTS, rows)


KEY_COLUMN_USAGE = _cols(*_CON_IDS, "column_name", "ordinal_position",
                         "position_in_unique_constraint",
                         types={**{k: ID for k in (*_CON_IDS, "column_name")},
                                "ordinal_position": NUM, "position_in_unique_constraint": NUM})


def _colname(table, attnum: int) -> str:
    return next(c.name for c in table.columns if attnum_of(table, c) == attnum)


@relation("information_schema", "key_column_usage", IS + 6, KEY_COLUMN_USAGE, relkind="v")
def key_column_usage(view: CatalogView, session) -> dict:
    rows = []
    for c in view.constraints:
        if c.kind not in "puf":
            continue
        for i, a in enumerate(c.attnums):
            rows.append({**_con_ids(view, c), "column_name": _colname(c.table, a),
                         "ordinal_position": i + 1,
                         "position_in_unique_constraint": i + 1 if c.kind == "f" else None})
    return _rows(KEY_COLUMN_USAGE, rows)


CONSTRAINT_COLUMN_USAGE = _cols("table_catalog", "table_schema", "table_name", "column_name",
                                "constraint_catalog", "constraint_schema", "constraint_name",
                                types={})
CONSTRAINT_COLUMN_USAGE = [(n, ID) for n, _ in CONSTRAINT_COLUMN_USAGE]


@relation("information_schema", "constraint_column_usage", IS + 7, CONSTRAINT_COLUMN_USAGE,
          relkind="v")
def constraint_column_usage(view: CatalogView, session) -> dict:
    """Columns a constraint uses; for a foreign key, the referenced columns."""
    rows = []
    for c in view.constraints:
        table, attnums = (c.ref_table, c.ref_attnums) if c.kind == "f" else (c.table, c.attnums)
        if table is None:
            continue
        for a in attnums:
            rows.append({"table_catalog": view.db.name, "table_schema": table.schema,
                         "table_name": table.name, "column_name": _colname(table, a),
                         "constraint_catalog": view.db.name, "constraint_schema": c.table.schema,
                         "constraint_name": c.name})
    return _rows(CONSTRAINT_COLUMN_USAGE, rows)


REFERENTIAL = _cols("constraint_catalog", "constraint_schema", "constraint_name",
                    "unique_constraint_catalog", "unique_constraint_schema",
                    "unique_constraint_name", "match_option", "update_rule", "delete_rule",
                    types={k: ID for k in ("constraint_catalog", "constraint_schema",
                                           "constraint_name", "unique_constraint_catalog",
                                           "unique_constraint_schema", "unique_constraint_name")})


@relation("information_schema", "referential_constraints", IS + 8, REFERENTIAL, relkind="v")
def referential_constraints(view: CatalogView, session) -> dict:
    rows = []
    for c in view.constraints:
        if c.kind != "f" or c.ref_table is None:
            continue
        uniq = next((u for u in view.constraints if u.table is c.ref_table and u.kind in "pu"
                     and u.attnums == c.ref_attnums), None)
        rows.append({"constraint_catalog": view.db.name, "constraint_schema": c.table.schema,
                     "constraint_name": c.name,
                     "unique_constraint_catalog": view.db.name if uniq else None,
                     "unique_constraint_schema": uniq.table.schema if uniq else None,
                     "unique_constraint_name": uniq.name if uniq else None,
                     "match_option": _MATCH[c.match], "update_rule": _RULES[c.on_update],
                     "delete_rule": _RULES[c.on_delete]})
    return _rows(REFERENTIAL, rows)


ROUTINES = _cols("specific_catalog", "specific_schema", "specific_name", "routine_catalog",
                 "routine_schema", "routine_name", "routine_type", "data_type",
                 "type_udt_name", "routine_body", "routine_definition", "external_language",
                 "is_deterministic", "security_type",
                 types={k: ID for k in ("specific_catalog", "specific_schema", "specific_name",
                                        "routine_catalog", "routine_schema", "routine_name",
                                        "type_udt_name")})


@relation("information_schema", "routines", IS + 9, ROUTINES, relkind="v")
def routines(view: CatalogView, session) -> dict:
    """User-defined functions and procedures: none yet (built-ins are not listed by
    PostgreSQL to unprivileged users either)."""
    return _rows(ROUTINES, [])


CHARACTER_SETS = _cols("character_set_catalog", "character_set_schema", "character_set_name",
                       "character_repertoire", "form_of_use", "default_collate_catalog",
                       "default_collate_schema", "default_collate_name")
CHARACTER_SETS = [(n, ID) for n, _ in CHARACTER_SETS]


@relation("information_schema", "character_sets", IS + 10, CHARACTER_SETS, relkind="v")
def character_sets(view: CatalogView, session) -> dict:
    return _rows(CHARACTER_SETS, [{"character_set_name": "UTF8", "character_repertoire": "UCS",
                                   "form_of_use": "UTF8", "default_collate_catalog": view.db.name,
                                   "default_collate_schema": "pg_catalog",
                                   "default_collate_name": "C"}])
