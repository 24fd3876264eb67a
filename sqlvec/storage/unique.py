"""Unique constraints as hash maps: key -> row id.

A check costs one dict lookup per row. Keys are the Python values of the key columns (a tuple
when there are several); a key with a NULL in it is ``None`` and never conflicts, as in
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqlvec.errors import UniqueViolation

Key = Hashable | None


@dataclass(frozen=True)
class UniqueSpec:
    name: str  # constraint name, for the error message
    column_ids: tuple[str, ...]
    column_names: tuple[str, ...]  # for the error detail

    @property
    def ident(self) -> tuple[str, tuple[str, ...]]:
        """What a key map is filed under: the same name with other columns is another map."""
        return (self.name, self.column_ids)


def _column(data: pa.RecordBatch | pa.Table, column_id: str) -> pa.Array | pa.ChunkedArray:
    idx = data.schema.get_field_index(column_id)
    if idx < 0:
        # A batch written before ADD COLUMN: the key column is NULL for all of its rows.
        return pa.nulls(data.num_rows)
    return data.column(idx)


def key_list(data: pa.RecordBatch | pa.Table, column_ids: Sequence[str]) -> list[Key]:
    """One key per row; None where any key column is NULL."""
    cols = [_column(data, c) for c in column_ids]
    if len(cols) == 1:
        return cols[0].to_pylist()
    keys: list[Key] = list(zip(*(c.to_pylist() for c in cols)))
    if any(c.null_count for c in cols):
        valid = pc.is_valid(cols[0])
        for c in cols[1:]:
            valid = pc.and_(valid, pc.is_valid(c))
        mask = np.asarray(valid)
        keys = [k if ok else None for k, ok in zip(keys, mask.tolist())]
    return keys


def positional_key_list(keys: pa.Table | pa.RecordBatch) -> list[Key]:
    """Keys from a table whose columns are the key columns in constraint order."""
    names = [f"k{i}" for i in range(keys.num_columns)]
    return key_list(keys.rename_columns(names), names)


def _text(value: object) -> str:
    # PostgreSQL prints booleans as t/f in key details.
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def violation(spec: UniqueSpec, key: Key) -> UniqueViolation:
    values = key if len(spec.column_ids) > 1 else (key,)
    return UniqueViolation(
        f'duplicate key value violates unique constraint "{spec.name}"',
        detail=f"Key ({', '.join(spec.column_names)})=({', '.join(map(_text, values))}) "
        "already exists.",
    ).about(constraint=spec.name)


def first_duplicate(keys: list[Key]) -> Key | None:
    """A key that occurs twice among the non-NULL keys, or None."""
    seen: set = set()
    for k in keys:
        if k is None:
            continue
        if k in seen:
            return k
        seen.add(k)
    return None


def has_duplicates(keys: list[Key]) -> bool:
    distinct = set(keys)
    nulls = 1 if None in distinct else 0
    return len(distinct) - nulls != len(keys) - keys.count(None)
