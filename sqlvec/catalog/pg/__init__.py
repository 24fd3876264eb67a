"""pg_catalog and information_schema relations, generated from the engine's catalog.

The relations register themselves with :mod:`sqlvec.catalog.virtual` when it first loads
this package's modules; see oids.py for the OIDs they use.
"""
