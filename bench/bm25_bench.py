"""BEIR SciFact through SQL: nDCG@10 of BM25, dense exact cosine and RRF (k = 60) over the 300
test queries, and BM25 top-10 latency beside the raw tantivy search of the same index.

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
    return conn


def evaluate(conn, queries, qrels, qemb, *, timing: bool = False) -> dict:
    cur = conn.cursor()
    qrow = {q["_id"]: i for i, q in enumerate(queries)}
    text = {q["_id"]: q["text"] for q in queries}
    runs: dict[str, dict[str, list[str]]] = {k: {} for k in ("bm25", "dense", "rrf", "hybrid_rrf",
                                                              "weighted")}
    lat: list[float] = []
    for qid in qrels:
        v = vec_text(qemb[qrow[qid]])
        t0 = time.perf_counter()
        cur.execute(BM25_SQL, (text[qid],))
        runs["bm25"][qid] = [str(r[0]) for r in cur.fetchall()]
        lat.append(time.perf_counter() - t0)
        cur.execute(DENSE_SQL, (v,))
        runs["dense"][qid] = [str(r[0]) for r in cur.fetchall()]
        cur.execute(RRF_SQL, (text[qid], v))
        runs["rrf"][qid] = [str(r[0]) for r in cur.fetchall()]
        cur.execute(HYBRID_RRF_SQL, (text[qid], v))
        runs["hybrid_rrf"][qid] = [str(r[0]) for r in cur.fetchall()]
        cur.execute(WEIGHTED_SQL, (text[qid], v, v) + WEIGHTS)
        runs["weighted"][qid] = [str(r[0]) for r in cur.fetchall()]
    out = {k: ndcg10(r, qrels) for k, r in runs.items()}
    if timing:
        out["bm25_ms"] = 1000 * float(np.median(lat))
    return out


def raw_tantivy_ms(corpus, queries, qrels) -> tuple[float, float]:
    """The same BM25 search straight on tantivy: (nDCG@10, median ms per top-10 query)."""
    import re

    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", fast=True, indexed=True)
    sb.add_text_field("body", tokenizer_name="en_stem")
    ix = tantivy.Index(sb.build())
    w = ix.writer()
    for d in corpus:
        w.add_document(tantivy.Document(id=int(d["_id"]), body=d["title"] + " " + d["text"]))
    w.commit()
    ix.reload()
    s = ix.searcher()
    text = {q["_id"]: q["text"] for q in queries}
    run, lat = {}, []
    for qid in qrels:
        t0 = time.perf_counter()
        q = ix.parse_query(re.sub(r"[^\w\s]", " ", text[qid]).lower(), ["body"])
        hits = s.search(q, 10).hits
        ids = s.fast_field_values("id", [a for _, a in hits])
        lat.append(time.perf_counter() - t0)
        run[qid] = [str(i) for i in ids]
    return ndcg10(run, qrels), 1000 * float(np.median(lat))


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else DATA
    corpus, queries, qrels, cemb, qemb = load(data)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        conn = build(os.path.join(d, "db"), corpus, cemb)
        load_s = time.perf_counter() - t0
        res = evaluate(conn, queries, qrels, qemb, timing=True)
        conn.close()
    raw_ndcg, raw_ms = raw_tantivy_ms(corpus, queries, qrels)
    print(f"SciFact: {len(corpus)} docs, {len(qrels)} test queries; load + index {load_s:.1f} s")
    print(f"{'measure':<28}{'sqlvec':>10}{'baseline':>10}{'ratio':>8}")
    print(f"{'nDCG@10 BM25 (en_stem)':<28}{res['bm25']:>10.4f}{raw_ndcg:>10.4f}{res['bm25'] / raw_ndcg:>8.3f}")
    print(f"{'nDCG@10 dense exact cosine':<28}{res['dense']:>10.4f}{0.6451:>10.4f}{res['dense'] / 0.6451:>8.3f}")
    print(f"{'nDCG@10 RRF k=60 (SQL)':<28}{res['rrf']:>10.4f}{0.7131:>10.4f}{res['rrf'] / 0.7131:>8.3f}")
    print(f"{'nDCG@10 rrf() built-in':<28}{res['hybrid_rrf']:>10.4f}{0.7131:>10.4f}{res['hybrid_rrf'] / 0.7131:>8.3f}")
    print(f"{'nDCG@10 weighted 0.5/0.5':<28}{res['weighted']:>10.4f}{0.725:>10.4f}{res['weighted'] / 0.725:>8.3f}")
    print(f"{'BM25 top-10 ms (median)':<28}{res['bm25_ms']:>10.3f}{raw_ms:>10.3f}{res['bm25_ms'] / raw_ms:>8.1f}")


if __name__ == "__main__":
    main()
