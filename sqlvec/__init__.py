"""sqlvec: a vector database that is PostgreSQL (with pgvector) to its clients.

The embedded API follows PEP 249, like sqlite3 and psycopg::

    import sqlvec
    with sqlvec.connect("./data") as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
"""

from __future__ import annotations

from importlib import metadata as _metadata

from sqlvec.dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Column,
    Connection,
    Cursor,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    connect,
)
from sqlvec.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from sqlvec.exec.rerank import register_reranker, unregister_reranker

try:
    __version__ = _metadata.version("sqlvec")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# PEP 249 module globals
apilevel = "2.0"
threadsafety = 2  # threads may share the module and connections (statements are serialised)
paramstyle = "pyformat"  # %s and %(name)s; PostgreSQL's $1 works as well

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Column",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "__version__",
    "apilevel",
    "connect",
    "paramstyle",
    "register_reranker",
    "threadsafety",
    "unregister_reranker",
]
