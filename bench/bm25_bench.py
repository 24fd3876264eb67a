"""BEIR SciFact through SQL: nDCG@10 of BM25, dense cosine (HNSW index) and RRF (k = 60) over
the 300 test queries, BM25 top-10 latency beside the raw tantivy search of the same corpus,
dense top-10 beside raw hnswlib (same m, ef_construction, ef_search), and the hybrid rrf()
top-10 latency beside its two branches run on their own.

    /tmp/venv/bin/python bench/bm25_bench.py [data dir]   (default ../shared/data/scifact)

The data is read in place (never copied into the repository).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time

import numpy as np

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "scifact")

BM25_SQL = ("SELECT id FROM docs WHERE content @@@ fts_match('content', %s) "
            "ORDER BY score(id) DESC LIMIT 10")
DENSE_SQL = "SELECT id FROM docs ORDER BY emb <=> %s::vector LIMIT 10"
# ParadeDB's hybrid recipe: two ranked CTEs fused with reciprocal ranks
RRF_SQL = """
WITH bm25 AS (
  SELECT id, RANK() OVER (ORDER BY s DESC) AS r FROM (
    SELECT id, score(id) AS s FROM docs WHERE content @@@ fts_match('content', %s)
    ORDER BY s DESC LIMIT 100) b),
dense AS (
  SELECT id, RANK() OVER (ORDER BY d) AS r FROM (
    SELECT id, emb <=> %s::vector AS d FROM docs ORDER BY d LIMIT 100) v)
SELECT id, sum(1.0 / (60 + r)) AS s FROM (SELECT * FROM bm25 UNION ALL SELECT * FROM dense) u
GROUP BY id ORDER BY s DESC, id LIMIT 10
"""

# the built-in one-call forms: each branch's LIMIT runs in its index
HYBRID_RRF_SQL = """
SELECT id FROM rrf(
  ARRAY(SELECT id FROM docs WHERE content @@@ fts_match('content', %s) ORDER BY score(id) DESC LIMIT 100),
  ARRAY(SELECT id FROM docs ORDER BY emb <=> %s::vector LIMIT 100))
ORDER BY score DESC, id LIMIT 10
"""
WEIGHTED_SQL = """
WITH b AS (SELECT id, score(id) AS s FROM docs WHERE content @@@ fts_match('content', %s)
           ORDER BY s DESC LIMIT 100),
     d AS (SELECT id, 1 - (emb <=> %s::vector) AS s FROM docs ORDER BY emb <=> %s::vector LIMIT 100)
SELECT id FROM weighted_fusion(ARRAY[%s, %s]::float8[],
  ARRAY(SELECT id FROM b), ARRAY(SELECT s FROM b), ARRAY(SELECT id FROM d), ARRAY(SELECT s FROM d))
ORDER BY score DESC, id LIMIT 10
"""
# the two branches of the hybrid query on their own (for its latency budget)
BRANCH_BM25_SQL = ("SELECT id FROM docs WHERE content @@@ fts_match('content', %s) "
                   "ORDER BY score(id) DESC LIMIT 100")
BRANCH_DENSE_SQL = "SELECT id FROM docs ORDER BY emb <=> %s::vector LIMIT 100"
# HNSW: pgvector's m; ef_construction 128 and ef_search 100 for recall@10 0.997 on SciFact
# (pgvector's defaults 64 / 40: 0.978, nDCG@10 0.6355 instead of 0.6451)
M, EFC, EF = 16, 128, 100
WEIGHTS = (0.5, 0.5)  # BM25, dense (0.6/0.4: 0.7256, 0.3/0.7: 0.7023 on SciFact)


def load(data: str):
    def lines(name: str) -> list[str]:
        with open(os.path.join(data, name)) as f:
            return f.read().splitlines()

    corpus = [json.loads(line) for line in lines("corpus.jsonl")]
    queries = [json.loads(line) for line in lines("queries.jsonl")]
    qrels: dict[str, dict[str, int]] = {}
    for line in lines(os.path.join("qrels", "test.tsv"))[1:]:
        q, c, s = line.split("\t")
        qrels.setdefault(q, {})[c] = int(s)
    cemb = np.load(os.path.join(data, "corpus_emb_minilm.npy"))
    qemb = np.load(os.path.join(data, "queries_emb_minilm.npy"))
    return corpus, queries, qrels, cemb, qemb


def ndcg10(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    total = 0.0
    for q, rel in qrels.items():
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(run.get(q, [])[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        total += dcg / sum(v / math.log2(i + 2) for i, v in enumerate(ideal))
    return total / len(qrels)


def vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in v.tolist()) + "]"


def build(path: str, corpus, cemb):
    import sqlvec

    conn = sqlvec.connect(path, autocommit=True)
    cur = conn.cursor()
    dim = cemb.shape[1]
    cur.execute(f"CREATE TABLE docs (id bigint PRIMARY KEY, content text, emb vector({dim}))")
    rows = [(int(d["_id"]), d["title"] + " " + d["text"], vec_text(cemb[i]))
            for i, d in enumerate(corpus)]
    cur.executemany("INSERT INTO docs VALUES (%s, %s, %s::vector)", rows)
    cur.execute("CREATE INDEX ON docs USING bm25 (id, content) WITH (key_field = 'id', "
                "tokenizer = 'en_stem')")
    cur.execute("CHECKPOINT")  # seal the rows: the HNSW index is per sealed segment
    cur.execute(f"CREATE INDEX ON docs USING hnsw (emb vector_cosine_ops) WITH (m = {M}, "
                f"ef_construction = {EFC})")
    cur.execute(f"SET hnsw.ef_search = {EF}")
    return conn


def evaluate(conn, queries, qrels, qemb) -> dict:
    """nDCG@10 of every method, each query through SQL."""
    cur = conn.cursor()
    qrow = {q["_id"]: i for i, q in enumerate(queries)}
    text = {q["_id"]: q["text"] for q in queries}
    runs: dict[str, dict[str, list[str]]] = {k: {} for k in ("bm25", "dense", "rrf", "hybrid_rrf",
                                                              "weighted")}
    for qid in qrels:
        v = vec_text(qemb[qrow[qid]])
        for name, sql, params in (("bm25", BM25_SQL, (text[qid],)), ("dense", DENSE_SQL, (v,)),
                                  ("rrf", RRF_SQL, (text[qid], v)),
                                  ("hybrid_rrf", HYBRID_RRF_SQL, (text[qid], v)),
                                  ("weighted", WEIGHTED_SQL, (text[qid], v, v) + WEIGHTS)):
            cur.execute(sql, params)
            runs[name][qid] = [str(r[0]) for r in cur.fetchall()]
    return {k: ndcg10(r, qrels) for k, r in runs.items()}


class RawTantivy:
    """The same corpus straight in tantivy (one in-memory index, en_stem): the baseline."""

    def __init__(self, corpus) -> None:
        import tantivy

        sb = tantivy.SchemaBuilder()
        sb.add_integer_field("id", fast=True, indexed=True)
        sb.add_text_field("body", tokenizer_name="en_stem")
        self.ix = tantivy.Index(sb.build())
        w = self.ix.writer()
        for d in corpus:
            w.add_document(tantivy.Document(id=int(d["_id"]), body=d["title"] + " " + d["text"]))
        w.commit()
        self.ix.reload()
        self.searcher = self.ix.searcher()

    def search(self, text: str, k: int = 10) -> list[int]:
        import re

        q = self.ix.parse_query(re.sub(r"[^\w\s]", " ", text).lower(), ["body"])
        hits = self.searcher.search(q, k).hits
        return self.searcher.fast_field_values("id", [a for _, a in hits])


class RawHnsw:
    """The same embeddings straight in hnswlib (cosine, pgvector's defaults): the baseline."""

    def __init__(self, cemb) -> None:
        import hnswlib

        self.ix = hnswlib.Index(space="cosine", dim=cemb.shape[1])
        self.ix.init_index(max_elements=len(cemb), M=M, ef_construction=EFC, random_seed=1)
        self.ix.set_num_threads(1)
        self.ix.add_items(cemb.astype(np.float32), np.arange(len(cemb)))
        self.ix.set_ef(EF)

    def search(self, v: np.ndarray, k: int = 10):
        return self.ix.knn_query(v, k=k)[0][0]


def latency(conn, raw: RawTantivy, hnsw: RawHnsw, queries, qrels, qemb) -> dict:
    """Median ms: BM25 top-10 through SQL and raw tantivy, dense top-10 through SQL and raw
    hnswlib, hybrid rrf() top-10 and its two branches alone. Interleaved per query, so that
    both sides of a ratio share the machine's state (load, caches)."""
    cur = conn.cursor()
    qrow = {q["_id"]: i for i, q in enumerate(queries)}
    text = {q["_id"]: q["text"] for q in queries}
    lat: dict[str, list[float]] = {"bm25": [], "raw": [], "dense": [], "raw_dense": [],
                                   "hybrid": [], "branches": []}

    def timed(key, fn) -> None:
        t0 = time.perf_counter()
        fn()
        lat[key].append(time.perf_counter() - t0)

    def run(sql, params):
        return lambda: (cur.execute(sql, params), cur.fetchall())

    for qid in qrels:
        # a numpy vector, as the embedded API takes it (the text form costs ~0.15 ms to parse
        # 384 numbers: that is the client's choice, not the search)
        v = qemb[qrow[qid]].astype(np.float32)
        timed("bm25", run(BM25_SQL, (text[qid],)))  # noqa: B023 (called at once)
        t = text[qid]
        timed("raw", lambda t=t: raw.search(t))
        timed("dense", run(DENSE_SQL, (v,)))
        qv = qemb[qrow[qid]].astype(np.float32)
        timed("raw_dense", lambda qv=qv: hnsw.search(qv))
        timed("hybrid", run(HYBRID_RRF_SQL, (t, v)))
        b1, b2 = run(BRANCH_BM25_SQL, (t,)), run(BRANCH_DENSE_SQL, (v,))
        timed("branches", lambda b1=b1, b2=b2: (b1(), b2()))
    return {k: 1000 * float(np.median(x)) for k, x in lat.items()}


def raw_ndcg(raw: RawTantivy, queries, qrels) -> float:
    text = {q["_id"]: q["text"] for q in queries}
    return ndcg10({qid: [str(i) for i in raw.search(text[qid])] for qid in qrels}, qrels)


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else DATA
    corpus, queries, qrels, cemb, qemb = load(data)
    raw = RawTantivy(corpus)
    hnsw = RawHnsw(cemb)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        conn = build(os.path.join(d, "db"), corpus, cemb)
        load_s = time.perf_counter() - t0
        res = evaluate(conn, queries, qrels, qemb)
        lat = latency(conn, raw, hnsw, queries, qrels, qemb)
        conn.close()
    base = raw_ndcg(raw, queries, qrels)
    print(f"SciFact: {len(corpus)} docs, {len(qrels)} test queries; load + index {load_s:.1f} s")
    print(f"{'measure':<28}{'sqlvec':>10}{'baseline':>10}{'ratio':>8}")
    rows = [("nDCG@10 BM25 (en_stem)", res["bm25"], base),
            ("nDCG@10 dense HNSW cosine", res["dense"], 0.6451),
            ("nDCG@10 RRF k=60 (SQL)", res["rrf"], 0.7131),
            ("nDCG@10 rrf() built-in", res["hybrid_rrf"], 0.7131),
            ("nDCG@10 weighted 0.5/0.5", res["weighted"], 0.725)]
    for name, ours, ref in rows:
        print(f"{name:<28}{ours:>10.4f}{ref:>10.4f}{ours / ref:>8.3f}")
    print(f"{'BM25 top-10 ms (median)':<28}{lat['bm25']:>10.3f}{lat['raw']:>10.3f}"
          f"{lat['bm25'] / lat['raw']:>8.2f}   (baseline: raw tantivy parse + search + ids)")
    print(f"{'dense top-10 ms (median)':<28}{lat['dense']:>10.3f}{lat['raw_dense']:>10.3f}"
          f"{lat['dense'] / lat['raw_dense']:>8.2f}   (baseline: raw hnswlib knn_query)")
    ok = "ok" if lat["hybrid"] <= lat["branches"] + 2 else "OVER"
    print(f"{'hybrid rrf() top-10 ms':<28}{lat['hybrid']:>10.3f}{lat['branches']:>10.3f}"
          f"{lat['hybrid'] / lat['branches']:>8.2f}   (baseline: its 2 branches alone; +2 ms: {ok})")


if __name__ == "__main__":
    main()
