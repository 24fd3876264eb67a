"""Per-segment vector indexes behind one interface (:class:`VectorIndex`): hnsw (hnswlib),
ivfflat (numpy k-means lists) and flat (exact, for metrics hnswlib lacks)."""

from __future__ import annotations

from sqlvec.index.base import IndexSpec, VectorIndex
from sqlvec.index.flat import FlatIndex
from sqlvec.index.hnsw import HnswIndex
from sqlvec.index.ivfflat import IvfFlatIndex
from sqlvec.index.policy import plan_search

INDEX_CLASSES: dict[str, type] = {"hnsw": HnswIndex, "ivfflat": IvfFlatIndex, "flat": FlatIndex}

# (access method, metric) pairs served by another structure: hnswlib has no l1/bit spaces, so
# those indexes are exact ('flat') and say so.
SERVED_BY: dict[tuple[str, str], str] = {
    ("hnsw", "l1"): "flat", ("hnsw", "hamming"): "flat", ("hnsw", "jaccard"): "flat",
    ("ivfflat", "l1"): "flat", ("ivfflat", "hamming"): "flat", ("ivfflat", "jaccard"): "flat",
}


def structure_for(method: str, metric: str) -> str:
    """The index kind that really serves ``USING <method>`` with ``metric``."""
    return SERVED_BY.get((method, metric), method)


__all__ = ["INDEX_CLASSES", "FlatIndex", "HnswIndex", "IndexSpec", "IvfFlatIndex",
           "VectorIndex", "plan_search", "structure_for"]
