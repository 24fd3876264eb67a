"""The PostgreSQL wire protocol (v3) server: ``sqlvec serve``.

Knows nothing about storage or planning: each connection asks its ``sqlvec.session.Session``
one question per statement and encodes the answer. Modules, in the order a connection meets
them: ``server`` (listen, cancel, shutdown), ``connection`` (framing, worker thread),
``startup`` + ``auth`` (TLS, startup packet, trust/password/md5/SCRAM-SHA-256), ``query``
(simple and extended query), ``params`` and ``rows`` (Bind values in, DataRows out),
``protocol`` (message layouts) and ``errors`` (ErrorResponse).
"""

from sqlvec.wire.config import ConfigError, ServerConfig
from sqlvec.wire.server import Server, run

__all__ = ["ConfigError", "Server", "ServerConfig", "run"]
