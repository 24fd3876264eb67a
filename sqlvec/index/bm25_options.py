"""``CREATE INDEX ... USING bm25 ... WITH (...)`` options: validation, and the tantivy analyzers
they name.

Options (all strings, as PostgreSQL's WITH gives them):

- ``key_field``: an integer column (smallint/integer/bigint) unique among visible rows; the
  score function is written ``score(<key_field>)`` and ``<key_field> @@@ 'q'`` searches every
  text field. Defaults to the first indexed column when it is an integer.
- ``tokenizer``: the default tokenizer of every text field (``default`` when absent).
- ``text_fields``: JSON, per-field settings overriding the default, e.g.
  ``'{"body": {"tokenizer": "en_stem"}, "tag": {"tokenizer": "raw"}}'``.

Per-field settings: ``tokenizer`` (``default`` | ``en_stem`` | ``whitespace`` | ``raw`` |
``simple`` | ``ngram``), ``min_gram`` / ``max_gram`` / ``prefix_only`` (ngram),
``lowercase`` (bool), ``stemmer`` (a language, e.g. ``english``), ``stopwords`` (a language
name or a JSON list of words), ``ascii_folding`` (bool), ``remove_long`` (a length).
A field with only ``tokenizer`` among the four tantivy built-ins uses it directly; anything
else is a custom analyzer ``sqlvec_<field>`` built with TextAnalyzerBuilder — tantivy does
not persist those, so :func:`register_analyzers` runs again at every open.
"""

from __future__ import annotations

import json

import tantivy

from sqlvec import errors

BUILTIN = ("default", "en_stem", "whitespace", "raw")
TOKENIZERS = {  # name -> factory(settings) of a tantivy Tokenizer for custom analyzers
    "default": lambda s: tantivy.Tokenizer.simple(),
    "simple": lambda s: tantivy.Tokenizer.simple(),
    "en_stem": lambda s: tantivy.Tokenizer.simple(),
    "whitespace": lambda s: tantivy.Tokenizer.whitespace(),
    "raw": lambda s: tantivy.Tokenizer.raw(),
    "ngram": lambda s: tantivy.Tokenizer.ngram(int(s.get("min_gram", 2)), int(s.get("max_gram", 3)),
                                               bool(s.get("prefix_only", False))),
}
FIELD_KEYS = {"tokenizer", "min_gram", "max_gram", "prefix_only", "lowercase", "stemmer",
              "stopwords", "ascii_folding", "remove_long"}
INTEGER_TYPES = ("int2", "int4", "int8", "smallint", "integer", "bigint")
TEXT_TYPES = ("text", "varchar", "bpchar", "character varying", "character")


def validate(columns: list[tuple[str, str]], options: dict) -> dict:
    """Normalised options for columns [(name, type name)]; raises on anything unknown."""
    names = [c for c, _ in columns]
    types = dict(columns)
    unknown = set(options) - {"key_field", "tokenizer", "text_fields"}
    if unknown:
        raise errors.InvalidParameterValue(f'unrecognized parameter "{sorted(unknown)[0]}"')
    key = options.get("key_field") or names[0]
    if key not in types:
        raise errors.InvalidParameterValue(f'key_field "{key}" is not one of the indexed columns')
    if types[key] not in INTEGER_TYPES:
        raise errors.FeatureNotSupported(
            f'key_field "{key}" must be an integer column, not {types[key]}')
    default_tok = options.get("tokenizer") or "default"
    raw = options.get("text_fields") or "{}"
    try:
        per_field = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError as exc:
        raise errors.InvalidParameterValue(f"text_fields is not valid JSON: {exc}") from None
    fields: dict[str, dict] = {}
    for name in names:
        if name == key:
            continue
        if types[name] not in TEXT_TYPES:
            raise errors.FeatureNotSupported(
                f'column "{name}" of type {types[name]} cannot be in a bm25 index (text only)')
        s = {"tokenizer": default_tok, **(per_field.get(name) or {})}
        bad = set(s) - FIELD_KEYS
        if bad:
            raise errors.InvalidParameterValue(f'unrecognized text_fields setting "{sorted(bad)[0]}"')
        if s["tokenizer"] not in TOKENIZERS:
            raise errors.InvalidParameterValue(f'unknown tokenizer "{s["tokenizer"]}"')
        fields[name] = s
    extra = set(per_field) - set(fields)
    if extra:
        raise errors.InvalidParameterValue(f'text_fields names "{sorted(extra)[0]}", not an indexed text column')
    if not fields:
        raise errors.InvalidParameterValue("a bm25 index needs at least one text column")
    return {"key_field": key, "text_fields": fields}


def analyzer_name(field: str, s: dict) -> str:
    """The tokenizer name the field is indexed with (a built-in, or our custom analyzer)."""
    if set(s) == {"tokenizer"} and s["tokenizer"] in BUILTIN:
        return s["tokenizer"]
    return f"sqlvec_{field}"


def build_analyzer(s: dict) -> tantivy.TextAnalyzer:
    tok = s["tokenizer"]
    b = tantivy.TextAnalyzerBuilder(TOKENIZERS[tok](s))
    if tok != "raw":
        b = b.filter(tantivy.Filter.remove_long(int(s.get("remove_long", 40))))
    if s.get("lowercase", tok not in ("raw", "whitespace")):
        b = b.filter(tantivy.Filter.lowercase())
    if s.get("ascii_folding"):
        b = b.filter(tantivy.Filter.ascii_fold())
    stop = s.get("stopwords")
    if isinstance(stop, list):
        b = b.filter(tantivy.Filter.custom_stopword([str(w) for w in stop]))
    elif stop:
        b = b.filter(tantivy.Filter.stopword(str(stop)))
    stem = s.get("stemmer") or ("english" if tok == "en_stem" else None)
    if stem:
        b = b.filter(tantivy.Filter.stemmer(str(stem)))
    return b.build()


def register_analyzers(index: tantivy.Index, fields: dict[str, dict]) -> None:
    """Register every custom analyzer of the index (after creating it and after each open)."""
    for name, s in fields.items():
        tname = analyzer_name(name, s)
        if tname not in BUILTIN:
            index.register_tokenizer(tname, build_analyzer(s))
