"""COPY data in PostgreSQL's text, CSV and binary formats: parsing into Arrow columns and
rendering Arrow columns back.

Parsing is vectorised: pyarrow.csv splits text and CSV data into string columns, and each
column becomes its SQL type through a vectorised fast path (numbers, text, dense vectors)
or, when that fails or does not exist, through the type's input function value by value,
which also finds the first bad value for PostgreSQL's error and its ``COPY t, line n,
column c: "value"`` context (sent as the error's detail).
"""

from __future__ import annotations

import csv
import io
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sqlvec import errors
from sqlvec.types import registry as R
from sqlvec.types.arrow import text_out_array, to_arrow
from sqlvec.types.base import SqlType

BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
BINARY_HEADER = BINARY_SIGNATURE + struct.pack("!ii", 0, 0)
BINARY_TRAILER = b"\xff\xff"
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)


@dataclass
class CopyOptions:
    """COPY's options, checked as PostgreSQL checks them."""

    format: str = "text"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'
    force_quote: Sequence[str] | str = ()
    force_not_null: Sequence[str] | str = ()
    force_null: Sequence[str] | str = ()

    @property
    def binary(self) -> bool:
        return self.format == "binary"

    @classmethod
    def from_statement(cls, opts: dict[str, Any]) -> CopyOptions:
        fmt = str(opts.get("format", "text")).lower()
        if fmt not in ("text", "csv", "binary"):
            raise errors.InvalidParameterValue(f'COPY format "{fmt}" not recognized')
        csv_mode = fmt == "csv"
        o = cls(format=fmt, delimiter="," if csv_mode else "\t", null="" if csv_mode else "\\N")
        if fmt == "binary":
            for k in ("delimiter", "null", "header"):
                if k in opts and not (k == "header" and not opts[k]):
                    word = k.upper()
                    raise errors.SyntaxError(f"cannot specify {word} in BINARY mode")
        for k in ("quote", "escape", "force_quote", "force_not_null", "force_null"):
            if k in opts and not csv_mode:
                raise errors.FeatureNotSupported(f"COPY {k.replace('_', ' ')} available only in CSV mode")
        if "delimiter" in opts:
            o.delimiter = str(opts["delimiter"])
            if len(o.delimiter.encode()) != 1:
                raise errors.FeatureNotSupported("COPY delimiter must be a single one-byte character")
        if "null" in opts:
            o.null = str(opts["null"])
        if "header" in opts:
            h = opts["header"]
            o.header = h if isinstance(h, bool) else str(h).lower() in ("true", "on", "1", "match")
        if "quote" in opts:
            o.quote = str(opts["quote"])
            if len(o.quote.encode()) != 1:
                raise errors.FeatureNotSupported("COPY quote must be a single one-byte character")
        o.escape = str(opts.get("escape", o.quote))
        if len(o.escape.encode()) != 1:
            raise errors.FeatureNotSupported("COPY escape must be a single one-byte character")
        if csv_mode and o.delimiter == o.quote:
            raise errors.InvalidParameterValue("COPY delimiter and quote must be different")
        if o.delimiter in o.null:
            raise errors.InvalidParameterValue("COPY delimiter character must not appear in the NULL specification")
        for k in ("force_quote", "force_not_null", "force_null"):
            if k in opts:
                setattr(o, k, opts[k] if opts[k] == "*" else tuple(opts[k]))
        return o


def where(table: str, line: int, column: str | None = None, value: str | None = None) -> str:
    """PostgreSQL's COPY error context: ``COPY t, line 3, column x: "abc"``."""
    out = f"COPY {table}, line {line}"
    if column is not None:
        out += f", column {column}"
    if value is not None:
        out += f': "{value}"'
    return out


@dataclass
class Parsed:
    """Rows read from COPY data: one entry per column (strings, or values for binary)."""

    columns: list[pa.Array | list] = field(default_factory=list)
    nrows: int = 0
    first_line: int = 1  # line number of the first data row (after a header)


# -- reading text and CSV ---------------------------------------------------------------------


def _strip_end_marker(data: bytes) -> bytes:
    r"""Old clients end the data with a ``\.`` line; it is not a row."""
    for end in (b"\\.\n", b"\\.\r\n", b"\\."):
        if data.endswith(end) and (len(data) == len(end) or data[-len(end) - 1 : -len(end)] == b"\n"):
            return data[: -len(end)]
    return data


def parse_text(data: bytes, names: Sequence[str], o: CopyOptions, table: str) -> Parsed:
    """Split text or CSV data into string columns (NULL where the null marker was)."""
    ncols = len(names)
    data = _strip_end_marker(data)
    skip = 1 if o.header else 0
    if not data.strip(b"\r\n") and not (ncols == 1 and data):
        return Parsed([pa.array([], pa.string()) for _ in range(ncols)], 0, 1 + skip)
    keys = [f"c{i}" for i in range(ncols)]
    csv_mode = o.format == "csv"
    parse = pacsv.ParseOptions(
        delimiter=o.delimiter,
        quote_char=o.quote if csv_mode else False,
        double_quote=csv_mode and o.escape == o.quote,
        escape_char=o.escape if csv_mode and o.escape != o.quote else False,
        newlines_in_values=csv_mode,
        ignore_empty_lines=False,
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in keys},
        null_values=[o.null],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    read = pacsv.ReadOptions(column_names=keys, skip_rows=skip, block_size=16 << 20)
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid:
        _find_layout_error(data, names, o, skip, table)
        raise
    cols = [table.column(i).combine_chunks() for i in range(ncols)]
    if not csv_mode:
        cols = [_unescape(c) for c in cols]
    return Parsed(cols, table.num_rows, 1 + skip)


def _unescape(arr: pa.Array) -> pa.Array:
    r"""Text format backslash escapes (``\t``, ``\n``, ``\\``, octal, ``\x``), only in the
    values that hold a backslash."""
    if not len(arr) or not pc.any(pc.match_substring(arr, "\\")).as_py():
        return arr
    values = arr.to_pylist()
    for i, v in enumerate(values):
        if v is not None and "\\" in v:
            values[i] = _ESCAPE_RE.sub(_one_escape, v)
    return pa.array(values, pa.string())


def _one_escape(m: re.Match) -> str:
    s = m.group(1)
    if s[0] == "x" and len(s) > 1:
        return chr(int(s[1:], 16))
    if s[0] in "01234567":
        return chr(int(s, 8) & 0xFF)
    return _ESCAPES.get(s, s)


def _find_layout_error(data: bytes, names: Sequence[str], o: CopyOptions, skip: int, table: str) -> None:
    """pyarrow rejected the data: find the first bad line the slow way, for PostgreSQL's
    message (missing data / extra data) and the line in the detail."""
    text = data.decode("utf-8", errors="replace")
    if o.format == "csv":
        reader = csv.reader(io.StringIO(text), delimiter=o.delimiter, quotechar=o.quote,
                            doublequote=o.escape == o.quote,
                            escapechar=None if o.escape == o.quote else o.escape, strict=True)
        rows = enumerate(reader, 1)
    else:
        rows = enumerate((line.rstrip("\r").split(o.delimiter) for line in text.split("\n")), 1)
    ncols = len(names)
    lines = text.split("\n")
    try:
        for line, fields in rows:
            if line <= skip:
                continue
            shown = lines[line - 1].rstrip("\r") if line <= len(lines) else ""
            if len(fields) < ncols:
                raise errors.BadCopyFileFormat(f'missing data for column "{names[len(fields)]}"',
                                               detail=where(table, line, value=shown))
            if len(fields) > ncols:
                raise errors.BadCopyFileFormat("extra data after last expected column",
                                               detail=where(table, line, value=shown))
    except csv.Error as exc:
        raise errors.BadCopyFileFormat(f"unterminated CSV quoted field ({exc})") from None


# -- reading binary ---------------------------------------------------------------------------


def parse_binary(data: bytes, types: Sequence[SqlType], names: Sequence[str], table: str) -> Parsed:
    """PostgreSQL's binary COPY format: values through each type's recv."""
    if not data.startswith(BINARY_SIGNATURE):
        raise errors.BadCopyFileFormat("COPY file signature not recognized")
    try:
        flags, ext = struct.unpack_from("!ii", data, len(BINARY_SIGNATURE))
    except struct.error:
        raise errors.BadCopyFileFormat("invalid COPY file header (missing flags)") from None
    if flags & 0x10000:
        raise errors.BadCopyFileFormat("invalid COPY file header (WITH OIDS)")
    pos = len(BINARY_SIGNATURE) + 8 + ext
    ncols = len(types)
    cols: list[list] = [[] for _ in range(ncols)]
    recvs = [(t.defn.recv, t.typmod) for t in types]
    unpack_h, unpack_i = struct.Struct("!h").unpack_from, struct.Struct("!i").unpack_from
    line = 0
    try:
        while pos < len(data):
            (n,) = unpack_h(data, pos)
            pos += 2
            if n == -1:
                break
            line += 1
            if n != ncols:
                raise errors.BadCopyFileFormat(f"row field count is {n}, expected {ncols}", detail=where(table, line))
            for i in range(ncols):
                (length,) = unpack_i(data, pos)
                pos += 4
                if length == -1:
                    cols[i].append(None)
                    continue
                raw = data[pos : pos + length]
                if len(raw) != length:
                    raise errors.BadCopyFileFormat("unexpected EOF in COPY data")
                pos += length
                recv, typmod = recvs[i]
                try:
                    cols[i].append(recv(raw, typmod))
                except errors.Error as exc:
                    exc.detail = exc.detail or where(table, line, names[i])
                    raise
                except (struct.error, ValueError, IndexError, TypeError, OverflowError):
                    raise errors.InvalidBinaryRepresentation(
                        "incorrect binary data format", detail=where(table, line, names[i])
                    ) from None
    except struct.error:
        raise errors.BadCopyFileFormat("unexpected EOF in COPY data") from None
    return Parsed(cols, line, 1)


# -- string columns to SQL types ----------------------------------------------------------------


def _numeric(arr: pa.Array, t: SqlType) -> pa.Array:
    return pc.cast(arr, t.arrow_type())


def _as_is(arr: pa.Array, t: SqlType) -> pa.Array:
    if t.typmod >= 0:
        raise ValueError("length check: per value")
    return arr


def _dense(elem: Any, limit: float | None = None) -> Callable[[pa.Array, SqlType], pa.Array]:
    """'[1,2,3]' strings to a fixed-size list column, all at once."""

    def convert(arr: pa.Array, t: SqlType) -> pa.Array:
        dim = t.typmod
        if dim <= 0 or not len(arr):
            raise ValueError("no typmod: per value")
        valid = arr.is_valid()
        s = pc.utf8_trim_whitespace(arr.fill_null("[" + ",".join(["0"] * dim) + "]"))
        if not pc.all(pc.and_(pc.starts_with(s, "["), pc.ends_with(s, "]"))).as_py():
            raise ValueError("not a vector literal")
        parts = pc.split_pattern(pc.utf8_slice_codeunits(s, 1, -1), ",")
        if pc.any(pc.not_equal(pc.list_value_length(parts), dim)).as_py():
            raise ValueError("dimensions")
        flat = pc.cast(pc.utf8_trim_whitespace(pc.list_flatten(parts)), pa.float32()).to_numpy(zero_copy_only=False)
        if not np.isfinite(flat).all() or (limit is not None and np.abs(flat).max(initial=0) > limit):
            raise ValueError("NaN or infinite: per value, for pgvector's message")
        values = pa.array(flat.astype(elem))
        out = pa.FixedSizeListArray.from_arrays(values, dim)
        if arr.null_count:
            out = pc.if_else(valid, out, pa.scalar(None, out.type))
        return out

    return convert


_FAST: dict[int, Callable[[pa.Array, SqlType], pa.Array]] = {
    R.INT2.oid: _numeric,
    R.INT4.oid: _numeric,
    R.INT8.oid: _numeric,
    R.FLOAT4.oid: _numeric,
    R.FLOAT8.oid: _numeric,
    R.TEXT.oid: _as_is,
    R.VARCHAR.oid: _as_is,
    R.VECTOR.oid: _dense(np.float32),
    R.HALFVEC.oid: _dense(np.float16, 65504.0),
}


def to_column(values: pa.Array | list, t: SqlType, table: str, column: str, first_line: int) -> pa.Array:
    """One parsed column as an Arrow array of type ``t``. ``values`` are strings (text and
    CSV) or Python values (binary); errors name the line (row 0 is ``first_line``)."""
    if isinstance(values, list):
        return to_arrow(values, t)
    fast = _FAST.get(t.oid) if t.elem is None else None
    if fast is not None:
        try:
            out = fast(values, t)
            return out if out.type == t.arrow_type() else out.cast(t.arrow_type())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError):
            pass  # the value-by-value path finds the bad value and PostgreSQL's message
    text_in, typmod = t.defn.text_in, t.typmod
    out: list = []
    for i, s in enumerate(values.to_pylist()):
        if s is None:
            out.append(None)
            continue
        try:
            out.append(text_in(s, typmod))
        except errors.Error as exc:
            exc.detail = exc.detail or where(table, first_line + i, column, s)
            raise
    return to_arrow(out, t)


# -- writing --------------------------------------------------------------------------------------


def _escape_text(arr: pa.Array, delimiter: str) -> pa.Array:
    for a, b in (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\v", "\\v"), ("\b", "\\b"), ("\f", "\\f")):
        arr = pc.replace_substring(arr, a, b)
    if delimiter not in "\t\n\r\\":
        arr = pc.replace_substring(arr, delimiter, "\\" + delimiter)
    return arr


def _quote_csv(arr: pa.Array, o: CopyOptions, force: bool) -> pa.Array:
    q = o.quote
    quoted = pc.binary_join_element_wise(q, pc.replace_substring(arr, q, o.escape + q), q, "")
    if force:
        return pc.if_else(arr.is_valid(), quoted, arr)
    needs = pc.or_(pc.match_substring_regex(arr, "[" + re.escape(o.delimiter + q + "\r\n") + "]"), pc.equal(arr, o.null))
    if o.null == "":
        needs = pc.or_(needs, pc.equal(arr, ""))
    needs = pc.or_(needs, pc.starts_with(arr, "\\."))
    return pc.if_else(pc.fill_null(needs, False), quoted, arr)


def render_text(table: pa.Table, types: Sequence[SqlType], names: Sequence[str], o: CopyOptions) -> pa.Array:
    """One binary value per output line (text or CSV), each ending in a newline."""
    n = table.num_rows
    forced = set(names) if o.force_quote == "*" else set(o.force_quote)
    cells = []
    for i, t in enumerate(types):
        arr = pa.array(text_out_array(table.column(i), t), pa.string())
        if o.format == "csv":
            arr = _quote_csv(arr, o, names[i] in forced)
        else:
            arr = _escape_text(arr, o.delimiter)
        cells.append(arr.fill_null(o.null))
    if not cells:
        return pa.array([b"\n"] * n, pa.binary())
    lines = pc.binary_join_element_wise(*cells, pa.array([""] * n, pa.string()), o.delimiter) if len(cells) > 1 else cells[0]
    if len(cells) > 1:
        # the empty last column added a trailing delimiter: cut it, then add the newline
        lines = pc.utf8_slice_codeunits(lines, 0, -1)
    return pc.binary_join_element_wise(lines, "\n", "").cast(pa.binary())


def header_line(names: Sequence[str], o: CopyOptions) -> bytes:
    arr = pa.array(list(names), pa.string())
    arr = _quote_csv(arr, o, False) if o.format == "csv" else _escape_text(arr, o.delimiter)
    return (o.delimiter.join(arr.to_pylist()) + "\n").encode()


def render_binary(table: pa.Table, types: Sequence[SqlType]) -> list[bytes]:
    """One bytes per row in PostgreSQL's binary tuple layout (values through ``send``)."""
    from sqlvec.types.arrow import from_arrow

    n, ncols = table.num_rows, len(types)
    cols = [from_arrow(table.column(i), t) for i, t in enumerate(types)]
    sends = [t.defn.send for t in types]
    head = struct.pack("!h", ncols)
    pack_i = struct.Struct("!i").pack
    out = []
    for r in range(n):
        parts = [head]
        for c in range(ncols):
            v = cols[c][r]
            if v is None:
                parts.append(b"\xff\xff\xff\xff")
            else:
                b = sends[c](v)
                parts.append(pack_i(len(b)) + b)
        out.append(b"".join(parts))
    return out
