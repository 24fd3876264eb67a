"""Child process for the BM25 compaction crash test: a BM25-indexed table over 5 sealed
segments, 30 % deleted, VACUUM FULL killed at a stage (SQLVEC_COMPACTION_CRASH), then (if it
survives) another delete, and SIGKILL."""

import os
import sys

import sqlvec

WORDS = ["alpha", "beta", "gamma", "delta", "omega"]


def body(i: int) -> str:
    return f"{WORDS[i % 5]} {WORDS[(i * 7) % 5]} item{i % 11} common"


path = sys.argv[1]
c = sqlvec.connect(path)
c.autocommit = True
cur = c.cursor()
cur.execute("create table t (id bigint primary key, body text)")
c._session.db.engine.seal_rows = 200
cur.execute("create index on t using bm25 (id, body) with (key_field = 'id')")
for i in range(5):
    cur.executemany("insert into t values (%s, %s)", [(g, body(g)) for g in range(i * 200, i * 200 + 200)])
cur.execute("checkpoint")
cur.execute("delete from t where id % 10 < 3")
cur.execute("select count(*) from t where body @@@ 'common'")  # the index caught up
print("ready", cur.fetchone()[0], flush=True)
cur.execute("vacuum full t")  # killed inside when SQLVEC_COMPACTION_CRASH names a stage
cur.execute("delete from t where id % 10 = 3")  # after the swap: new row ids
cur.execute("select count(*) from t where body @@@ 'common'")
print("done", cur.fetchone()[0], flush=True)
os.kill(os.getpid(), 9)
