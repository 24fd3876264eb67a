"""Index options (``WITH (m = 16, ...)``) and dimension limits, with pgvector's ranges and errors.

A table of options per access method: name -> (default, min, max). Values arrive as whatever
the parser produced (int, str, float); PostgreSQL's reloptions parse them as integers.
"""

from __future__ import annotations

from sqlvec.errors import InternalError_, InvalidParameterValue
from sqlvec.index.base import MAX_DIMENSIONS

# access method -> option -> (default, min, max), as pgvector's hnsw.c / ivfflat.c
OPTIONS: dict[str, dict[str, tuple[int, int, int]]] = {
    "hnsw": {"m": (16, 2, 100), "ef_construction": (64, 4, 1000)},
    "ivfflat": {"lists": (100, 1, 32768)},
    "flat": {},
}

# search-time settings: name -> (default, min, max), as pgvector's GUCs
SEARCH_SETTINGS: dict[str, tuple[int, int, int]] = {
    "hnsw.ef_search": (40, 1, 1000),
    "ivfflat.probes": (1, 1, 32768),
}


def _as_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidParameterValue(f'invalid value for integer option "{name}": {value}')
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterValue(
            f'invalid value for integer option "{name}": {value}') from None


def validate_options(kind: str, options: dict) -> dict:
    """All options of ``kind`` with defaults filled in; raises pgvector's errors.

    >>> validate_options("hnsw", {"m": "8"})
    {'m': 8, 'ef_construction': 64}
    """
    table = OPTIONS[kind]
    out = {name: spec[0] for name, spec in table.items()}
    for raw_name, value in options.items():
        name = raw_name.lower()
        if name not in table:
            raise InvalidParameterValue(f'unrecognized parameter "{raw_name}"')
        _default, lo, hi = table[name]
        v = _as_int(name, value)
        if not lo <= v <= hi:
            raise InvalidParameterValue(
                f'value {value} out of bounds for option "{name}"',
                detail=f'Valid values are between "{lo}" and "{hi}".')
        out[name] = v
    if kind == "hnsw" and out["ef_construction"] < 2 * out["m"]:
        raise InvalidParameterValue("ef_construction must be greater than or equal to 2 * m")
    return out


def check_dimensions(kind: str, dim: int) -> None:
    """pgvector raises these with elog (SQLSTATE XX000); our limit is 16,000 (hnswlib's none)."""
    if dim <= 0:
        raise InternalError_("column does not have dimensions")
    if dim > MAX_DIMENSIONS:
        raise InternalError_(
            f"column cannot have more than {MAX_DIMENSIONS} dimensions for {kind} index")
