"""Bind message parameters and result format codes."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from sqlvec import errors
from sqlvec.types.base import SqlType

TEXT, BINARY = 0, 1


def _formats(codes: Sequence[int], n: int, what: str) -> list[int]:
    """PostgreSQL's rule: no codes = all text, one code = for all, else one per item."""
    if not codes:
        return [TEXT] * n
    if len(codes) == 1:
        out = [codes[0]] * n
    elif len(codes) == n:
        out = list(codes)
    else:
        raise errors.ProtocolViolation(f"bind message has {len(codes)} {what} formats but {n} {what}s")
    for c in out:
        if c not in (TEXT, BINARY):
            raise errors.ProtocolViolation(f"unsupported format code: {c}", sqlstate="22023")
    return out


def result_formats(codes: Sequence[int], ncols: int) -> list[int]:
    """Format code (0 text, 1 binary) of each result column."""
    try:
        return _formats(codes, ncols, "result")
    except errors.ProtocolViolation as exc:
        if exc.sqlstate == "08P01":
            exc.message = f"bind message has {len(codes)} result formats but query has {ncols} columns"
        raise


def decode_params(
    stmt_name: str, types: Sequence[SqlType], codes: Sequence[int], raw: Sequence[bytes | None]
) -> list:
    """Python values of the Bind parameters, through each type's text_in or recv."""
    if len(raw) != len(types):
        raise errors.ProtocolViolation(
            f"bind message supplies {len(raw)} parameters, but prepared statement "
            f'"{stmt_name}" requires {len(types)}'
        )
    formats = _formats(codes, len(raw), "parameter")
    values = []
    for i, (data, t, fmt) in enumerate(zip(raw, types, formats)):
        if data is None:
            values.append(None)
        elif fmt == TEXT:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise errors.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from None
            values.append(t.defn.text_in(text, t.typmod))
        else:
            try:
                values.append(t.defn.recv(data, t.typmod))
            except errors.Error:
                raise
            except (struct.error, ValueError, IndexError, TypeError, OverflowError):
                raise errors.InvalidBinaryRepresentation(
                    f"incorrect binary data format in bind parameter {i + 1}"
                ) from None
    return values
