"""The storage engine: WAL, growing and sealed segments, delete logs, manifest versions.

It knows nothing about SQL: tables are integer OIDs, columns are string column ids chosen by
the catalog, types are Arrow types, and the catalog is an opaque JSON-able dict it persists.
"""

from sqlvec.storage.engine import StorageEngine
from sqlvec.storage.txn import PRIVATE_SEGMENT, Snapshot, Txn
from sqlvec.storage.unique import UniqueSpec
from sqlvec.storage.view import SegmentView

__all__ = ["PRIVATE_SEGMENT", "SegmentView", "Snapshot", "StorageEngine", "Txn", "UniqueSpec"]
