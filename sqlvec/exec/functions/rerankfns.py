"""``rerank(query, doc [, scorer])``: the SQL face of sqlvec.exec.rerank (pluggable scorers)."""

from __future__ import annotations

from sqlvec.exec.rerank import functions

FUNCTIONS = functions()
