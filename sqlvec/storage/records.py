"""The payload of a commit record: the list of changes one transaction made.

Each change is ``[kind u8][length u64][body]``. Inserts carry where their rows went
(segment id, offset, count per piece), so replay puts every row at the same row id; the rows
themselves are an Arrow IPC stream. Deletes are raw int64 row ids; the catalog is JSON.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

ENTRY = struct.Struct("<BQ")
INSERT_HEAD = struct.Struct("<QI")  # table oid, number of pieces
PIECE = struct.Struct("<III")  # segment id, offset in segment, row count
OID = struct.Struct("<Q")
# explicit options: without them pyarrow reads two environment variables per writer
_IPC_OPTIONS = pa.ipc.IpcWriteOptions()
# the end-of-stream marker of the IPC stream format (continuation token, zero length)
_IPC_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"


@dataclass
class Insert:
    oid: int
    batch: pa.RecordBatch
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    ipc: list | None = None  # the IPC stream's buffers, serialised outside the commit lock

    def serialize(self) -> None:
        if self.ipc is None:
            schema = self.batch.schema
            if any(pa.types.is_dictionary(f.type) for f in schema):
                # dictionaries travel in messages of their own: the stream writer sends them
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, schema, options=_IPC_OPTIONS) as writer:
                    writer.write_batch(self.batch)
                self.ipc = [sink.getvalue()]
            else:
                # the same bytes as the stream writer's (schema message, batch message, end
                # of stream) for a fraction of its cost: a one-row INSERT's record is mostly
                # this (tests/exec/test_fast_insert.py compares them)
                self.ipc = [schema.serialize(), self.batch.serialize(), _IPC_EOS]

    def body(self) -> list:
        self.serialize()
        head = INSERT_HEAD.pack(self.oid, len(self.pieces)) + b"".join(
            PIECE.pack(*p) for p in self.pieces)
        return [head, *self.ipc]


@dataclass
class Delete:
    oid: int
    rowids: np.ndarray

    def body(self) -> list:
        return [OID.pack(self.oid), np.ascontiguousarray(self.rowids, np.int64).tobytes()]


@dataclass
class Truncate:
    oid: int

    def body(self) -> list:
        return [OID.pack(self.oid)]


@dataclass
class Drop:
    oid: int

    def body(self) -> list:
        return [OID.pack(self.oid)]


@dataclass
class Catalog:
    """The catalog after a DDL commit: its full JSON, or a patch of it (``"delta"`` key, see
    :func:`merge_patch`), so that a DDL's record is as small as its change."""

    blob: dict

    def body(self) -> list:
        return [json.dumps(self.blob).encode()]


def merge_patch(base: dict, patch: dict) -> dict:
    """``base`` with a catalog patch applied, as a new dict (``base`` and the objects it
    shares are not changed: a checkpoint may be writing them). The patch format::

        {"set": {field: value},
         "lists": {field: {"key": k, "put": [object], "drop": [key]}},  # lists of objects
         "maps": {field: {key: None | {"full": value} | {"patch": patch}}}}

    A put replaces the object with the same key where it is (order kept) or appends it."""
    out = dict(base)
    out.update(patch.get("set", {}))
    for name, lp in patch.get("lists", {}).items():
        key = lp["key"]
        put = {o[key]: o for o in lp.get("put", [])}
        drop = set(lp.get("drop", []))
        if not put and not drop:
            continue
        items = [put.pop(o[key], o) for o in out.get(name, []) if o[key] not in drop]
        out[name] = items + list(put.values())
    for name, mp in patch.get("maps", {}).items():
        m = dict(out.get(name, {}))
        for k, sub in mp.items():
            if sub is None:
                m.pop(k, None)
            elif "full" in sub:
                m[k] = sub["full"]
            else:
                m[k] = merge_patch(m.get(k, {}), sub["patch"])
        out[name] = m
    return out


BULK_HEAD = struct.Struct("<QIQ")  # table oid, segment id, row count


@dataclass
class Bulk:
    """Rows a bulk load wrote straight to a sealed segment (sqlvec.storage.bulk): the WAL
    carries only where they are, never the rows. ``dead``: offsets the same transaction
    deleted again (they commit as inserted and deleted at once)."""

    oid: int
    segment_id: int
    rows: int
    dead: np.ndarray
    staged: str | None = None  # folder written before commit (renamed to the segment's)
    batch: pa.RecordBatch | None = None  # its memory-mapped rows
    applied: bool = False

    def body(self) -> list:
        return [BULK_HEAD.pack(self.oid, self.segment_id, self.rows),
                np.ascontiguousarray(self.dead, np.int64).tobytes()]


Entry = Insert | Delete | Truncate | Drop | Catalog | Bulk
KINDS: dict[type, int] = {Insert: 1, Delete: 2, Truncate: 3, Drop: 4, Catalog: 5, Bulk: 6}


def encode(entries: list[Entry]) -> list:
    """Buffers to write (no copy of the Arrow data)."""
    out: list = []
    for e in entries:
        body = e.body()
        out.append(ENTRY.pack(KINDS[type(e)], sum(_size(b) for b in body)))
        out.extend(body)
    return out


def _size(b) -> int:
    return memoryview(b).nbytes


def _insert(body: memoryview) -> Insert:
    oid, npieces = INSERT_HEAD.unpack_from(body, 0)
    pos = INSERT_HEAD.size
    pieces = [PIECE.unpack_from(body, pos + i * PIECE.size) for i in range(npieces)]
    pos += npieces * PIECE.size
    reader = pa.ipc.open_stream(pa.py_buffer(body[pos:]))
    batch = reader.read_next_batch()
    return Insert(oid, batch, pieces)


def _delete(body: memoryview) -> Delete:
    return Delete(OID.unpack_from(body, 0)[0], np.frombuffer(body[OID.size:], np.int64).copy())


def _bulk(body: memoryview) -> Bulk:
    oid, seg, rows = BULK_HEAD.unpack_from(body, 0)
    return Bulk(oid, seg, rows, np.frombuffer(body[BULK_HEAD.size:], np.int64).copy())


DECODERS = {
    1: _insert,
    2: _delete,
    3: lambda b: Truncate(OID.unpack_from(b, 0)[0]),
    4: lambda b: Drop(OID.unpack_from(b, 0)[0]),
    5: lambda b: Catalog(json.loads(bytes(b))),
    6: _bulk,
}


def decode(payload: memoryview) -> list[Entry]:
    entries = []
    pos = 0
    while pos < len(payload):
        kind, length = ENTRY.unpack_from(payload, pos)
        pos += ENTRY.size
        entries.append(DECODERS[kind](payload[pos : pos + length]))
        pos += length
    return entries


def encode_sequence(change: dict) -> list:
    return [json.dumps(change).encode()]


def decode_sequence(payload: memoryview) -> dict:
    return json.loads(bytes(payload))
