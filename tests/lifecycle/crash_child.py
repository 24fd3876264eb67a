"""Child process for the crash tests: build a table, delete a third, compact, die at a stage."""

import sys

import sqlvec

path, stage = sys.argv[1], sys.argv[2]
c = sqlvec.connect(path)
c.autocommit = True
cur = c.cursor()
cur.execute("create table t (id int primary key, v vector(3))")
c._session.db.engine.seal_rows = 200
for i in range(5):
    cur.execute(f"insert into t select g, array[g, 1, 2]::vector "
                f"from generate_series({i * 200}, {i * 200 + 199}) g")
cur.execute("checkpoint")
cur.execute("create index on t using hnsw (v vector_l2_ops)")
cur.execute("delete from t where id % 3 = 0")
print("ready", flush=True)
cur.execute("vacuum full t")  # the child is killed inside when SQLVEC_COMPACTION_CRASH is set
cur.execute("delete from t where id % 3 = 1")  # after the swap: logged with the new row ids
print("done", flush=True)
import os  # noqa: E402

os.kill(os.getpid(), 9)
