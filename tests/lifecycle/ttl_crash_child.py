"""Child process for the TTL crash tests: a TTL table where a third of the rows expired and a
third is deleted; VACUUM drops both, and the child dies at the stage asked for."""

import sys

import sqlvec

path, stage = sys.argv[1], sys.argv[2]
c = sqlvec.connect(path)
c.autocommit = True
cur = c.cursor()
cur.execute("create table t (id int primary key, at timestamptz, v vector(3)) "
            "with (ttl = '1 day', ttl_column = 'at')")
c._session.db.engine.seal_rows = 200
for i in range(5):
    # id % 3 = 0 expired a day ago; the others are fresh
    cur.execute(f"insert into t select g, case when g % 3 = 0 then now() - interval '2 days' "
                f"else now() end, array[g, 1, 2]::vector "
                f"from generate_series({i * 200}, {i * 200 + 199}) g")
cur.execute("checkpoint")
cur.execute("create index on t using hnsw (v vector_l2_ops)")
cur.execute("delete from t where id % 3 = 1")
print("ready", flush=True)
cur.execute("vacuum t")  # killed inside when SQLVEC_COMPACTION_CRASH is set
print("done", flush=True)
import os  # noqa: E402

os.kill(os.getpid(), 9)
