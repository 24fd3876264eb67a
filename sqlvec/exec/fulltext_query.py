"""The right-hand side of ``@@@``: tantivy query syntax, or a JSON query object that the helper
functions (``fts_phrase``, ``fts_term``, ``fts_fuzzy``, ``fts_range``, ``fts_all``,
``fts_any``, ``fts_not``) build, so that queries compose without string escaping.

JSON forms (one key each)::

    {"parse": "tantivy syntax"}                       parsed against the default fields
    {"match": {"field": "body", "text": "free text"}}  any of the words (punctuation ignored)
    {"term": {"field": "body", "value": "Cat"}}        one token, as the field's analyzer makes it
    {"phrase": {"field": "body", "text": "a b", "slop": 1}}
    {"fuzzy": {"field": "body", "value": "dtabase", "distance": 2, "prefix": false}}
    {"range": {"field": "<key field>", "gte": 1, "lt": 10}}   (the integer key field)
    {"boolean": {"must": [q...], "should": [q...], "must_not": [q...]}}
"""

from __future__ import annotations

import json
import re

import tantivy

from sqlvec import errors


def to_query(ix, text: str, default_fields: list[str], key_field: str) -> tantivy.Query:
    """A tantivy Query for the text on the right of ``@@@`` (raises SQL errors on bad input);
    cached per index and text, as the parse of plain tantivy syntax is."""
    key = ("sqlvec", text, tuple(default_fields), key_field)
    q = ix.cached_query(key)
    if q is None:
        q = ix.cache_query(key, _to_query(ix, text, default_fields, key_field))
    return q


def _to_query(ix, text: str, default_fields: list[str], key_field: str) -> tantivy.Query:
    s = text.strip()
    try:
        if s.startswith("{"):
            return _json(ix, json.loads(s), default_fields, key_field)
        return ix.parse(text, default_fields, cache=False)
    except errors.Error:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidParameterValue(f"invalid full-text query: {exc}") from None


def _field(ix, name: str, key_field: str) -> str:
    if name == key_field:
        return "_key"
    if name not in ix.field_names:
        raise errors.UndefinedColumn(f'column "{name}" is not in the bm25 index')
    return name


def _json(ix, q: dict, default_fields: list[str], key_field: str) -> tantivy.Query:
    if not isinstance(q, dict) or len(q) != 1:
        raise errors.InvalidParameterValue("a JSON full-text query has exactly one key")
    (kind, a), = q.items()
    schema = ix.schema
    if kind == "parse":
        return ix.parse(str(a), default_fields, cache=False)
    if kind == "match":
        f = _field(ix, a["field"], key_field)
        words = re.sub(r"[^\w\s]", " ", str(a["text"])).split()
        if not words:
            return tantivy.Query.empty_query()
        return ix.parse(" ".join(w.lower() for w in words), [f], cache=False)
    if kind == "term":
        f = _field(ix, a["field"], key_field)
        if f == "_key":
            return tantivy.Query.term_query(schema, f, int(a["value"]))
        return ix.parse(f'{f}:"{_esc(str(a["value"]))}"', default_fields, cache=False)
    if kind == "phrase":
        f = _field(ix, a["field"], key_field)
        slop = int(a.get("slop", 0))
        return ix.parse(f'{f}:"{_esc(str(a["text"]))}"~{slop}' if slop else
                        f'{f}:"{_esc(str(a["text"]))}"', default_fields, cache=False)
    if kind == "fuzzy":
        f = _field(ix, a["field"], key_field)
        return tantivy.Query.fuzzy_term_query(schema, f, str(a["value"]).lower(),
                                              int(a.get("distance", 1)), True,
                                              bool(a.get("prefix", False)))
    if kind == "range":
        f = _field(ix, a["field"], key_field)
        lo = a.get("gte", a.get("gt"))
        hi = a.get("lte", a.get("lt"))
        return tantivy.Query.range_query(schema, f, tantivy.FieldType.Integer,
                                         None if lo is None else int(lo),
                                         None if hi is None else int(hi),
                                         include_lower="gt" not in a, include_upper="lt" not in a)
    if kind == "boolean":
        occ = {"must": tantivy.Occur.Must, "should": tantivy.Occur.Should,
               "must_not": tantivy.Occur.MustNot}
        subs = [(occ[k], _json(ix, sub, default_fields, key_field))
                for k in ("must", "should", "must_not") for sub in a.get(k, [])]
        if all(o == tantivy.Occur.MustNot for o, _ in subs):
            subs.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(subs)
    raise errors.InvalidParameterValue(f'unknown full-text query kind "{kind}"')


def _esc(s: str) -> str:
    return s.replace("\\", " ").replace('"', " ")


def any_terms(field: str, text: str) -> str:
    """Milvus text_match: any of the words, as a JSON query (no scoring is used)."""
    words = [w for w in text.split() if w]
    return json.dumps({"boolean": {"should": [{"term": {"field": field, "value": w}} for w in words]}})


# -- helper SQL functions: each returns the JSON text of a query ----------------------------------
def _q(kind: str, **a) -> str:
    return json.dumps({kind: {k: v for k, v in a.items() if v is not None}})


def _sub(q: str) -> dict:
    q = q.strip()
    return json.loads(q) if q.startswith("{") else {"parse": q}


HELPERS = {  # SQL name -> (python function over scalars, argument count range)
    "fts_match": (lambda f, t: _q("match", field=f, text=t), (2, 2)),
    "fts_term": (lambda f, v: _q("term", field=f, value=v), (2, 2)),
    "fts_phrase": (lambda f, t, slop=0: _q("phrase", field=f, text=t, slop=int(slop)), (2, 3)),
    "fts_fuzzy": (lambda f, v, d=1, p=False: _q("fuzzy", field=f, value=v, distance=int(d),
                                                  prefix=bool(p)), (2, 4)),
    "fts_range": (lambda f, lo, hi: _q("range", field=f, gte=lo, lte=hi), (3, 3)),
    "fts_all": (lambda *qs: json.dumps({"boolean": {"must": [_sub(q) for q in qs]}}), (1, 32)),
    "fts_any": (lambda *qs: json.dumps({"boolean": {"should": [_sub(q) for q in qs]}}), (1, 32)),
    "fts_not": (lambda q: json.dumps({"boolean": {"must_not": [_sub(q)]}}), (1, 1)),
}
