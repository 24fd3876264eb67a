"""Reranking: ``rerank(query text, doc text [, scorer text])`` rescores candidate rows with a
pluggable scorer. Off by default: it runs only where a query calls it, typically in the
ORDER BY over a LIMITed candidate list (fused or single-branch)::

    WITH top AS (
      SELECT d.id, d.body FROM rrf(
          ARRAY(SELECT id FROM docs WHERE body @@@ $1 ORDER BY score(id) DESC LIMIT 50),
          ARRAY(SELECT id FROM docs ORDER BY emb <=> $2 LIMIT 50)) f
      JOIN docs d ON d.id = f.id ORDER BY f.score DESC LIMIT 50)
    SELECT id FROM top ORDER BY rerank($1, body, 'bm25') DESC LIMIT 10;

The function is evaluated over the whole column at once: the scorer is called once per
distinct (query, scorer) in the batch with the list of documents, never once per row.

Scorers: ``scorer(query: str, docs: list[str]) -> list[float]`` (higher is better), one
score per document. Built in, no model needed:

- ``bm25`` (the default): BM25 (k1 = 1.2, b = 0.75) of the query's words over the candidate
  list itself (document frequencies and lengths counted among the candidates; words are
  lower-cased ``\\w+`` runs).
- ``token_overlap``: the fraction of the query's distinct words found in the document.

Others are registered from Python with :func:`register_reranker` (embedded API), or, for a
server, published by an installed package under the entry-point group ``sqlvec.rerankers``
(``name = "module:callable"``); an entry point is loaded the first time its name is used.
A cross-encoder, e.g. with sentence-transformers (not a dependency of sqlvec)::

    from sentence_transformers import CrossEncoder
    model = CrossEncoder("cross-encoder/ms-marco-MiniLM-L-6-v2")
    sqlvec.register_reranker("ms_marco", lambda q, docs: model.predict([(q, d) for d in docs]).tolist())
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import metadata

import numpy as np
import pyarrow as pa

from sqlvec import errors

Scorer = Callable[[str, list[str]], Sequence[float]]
ENTRY_POINT_GROUP = "sqlvec.rerankers"
DEFAULT_SCORER = "bm25"
_WORD = re.compile(r"\w+")
_LOCK = threading.Lock()


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25_scorer(query: str, docs: list[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 of ``query`` over ``docs``, the statistics taken from ``docs`` themselves."""
    toks = [_words(d) for d in docs]
    n = len(docs)
    if not n:
        return []
    lens = np.asarray([len(t) for t in toks], dtype=np.float64)
    avg = float(lens.mean()) or 1.0
    tfs = [Counter(t) for t in toks]
    out = np.zeros(n)
    for w in set(_words(query)):
        tf = np.asarray([c.get(w, 0) for c in tfs], dtype=np.float64)
        df = int((tf > 0).sum())
        if not df:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        out += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens / avg))
    return out.tolist()


def token_overlap_scorer(query: str, docs: list[str]) -> list[float]:
    """The fraction of the query's distinct words that occur in each document."""
    q = set(_words(query))
    if not q:
        return [0.0] * len(docs)
    return [len(q & set(_words(d))) / len(q) for d in docs]


_SCORERS: dict[str, Scorer] = {"bm25": bm25_scorer, "token_overlap": token_overlap_scorer}


def register_reranker(name: str, scorer: Scorer) -> None:
    """Make ``scorer(query, docs) -> scores`` available to SQL as ``rerank(q, doc, name)``
    (process-wide: every connection and the server of this process see it)."""
    if not callable(scorer):
        raise TypeError("a reranker must be callable as scorer(query, docs) -> list of floats")
    with _LOCK:
        _SCORERS[name.lower()] = scorer


def unregister_reranker(name: str) -> None:
    with _LOCK:
        _SCORERS.pop(name.lower(), None)


def get_reranker(name: str) -> Scorer:
    """The scorer registered as ``name``, loading an entry point of that name if needed."""
    key = name.lower()
    s = _SCORERS.get(key)
    if s is not None:
        return s
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.lower() == key:
            s = ep.load()
            register_reranker(key, s)
            return s
    raise errors.UndefinedObject(
        f'reranker "{name}" does not exist',
        hint=f"Register it with sqlvec.register_reranker(name, fn), or install a package "
             f"with a \"{ENTRY_POINT_GROUP}\" entry point.")


def rerank_scores(queries: list, docs: list, scorers: list) -> list:
    """Scores of each row, one scorer call per distinct (query, scorer); NULL stays NULL."""
    out: list = [None] * len(docs)
    groups: dict[tuple, list[int]] = {}
    for i, (q, d, s) in enumerate(zip(queries, docs, scorers)):
        if q is not None and d is not None and s is not None:
            groups.setdefault((q, s), []).append(i)
    for (q, s), rows in groups.items():
        fn = get_reranker(s)
        try:
            got = [float(x) for x in fn(q, [docs[i] for i in rows])]
        except errors.Error:
            raise
        except Exception as exc:  # the user's code: report it as SQL sees errors
            raise errors.DataException(f'reranker "{s}" failed: {exc}') from exc
        if len(got) != len(rows):
            raise errors.DataException(
                f'reranker "{s}" returned {len(got)} scores for {len(rows)} documents')
        for i, v in zip(rows, got):
            out[i] = v
    return out


def _impl(vals, types, n):
    cols = [v.to_pylist() if isinstance(v, pa.Array) else [v.as_py()] * max(n, 1) for v in vals]
    if len(cols) == 2:
        cols.append([DEFAULT_SCORER] * len(cols[0]))
    res = rerank_scores(*cols)
    if all(not isinstance(v, pa.Array) for v in vals):
        return pa.scalar(res[0], pa.float64())
    return pa.array(res, pa.float64())


def functions() -> list:
    from sqlvec.exec.functions.registry import Overload

    return [Overload("rerank", ("text", "text"), "double precision", _impl),
            Overload("rerank", ("text", "text", "text"), "double precision", _impl)]


__all__ = ["DEFAULT_SCORER", "ENTRY_POINT_GROUP", "bm25_scorer", "get_reranker", "register_reranker",
           "rerank_scores", "token_overlap_scorer", "unregister_reranker"]
