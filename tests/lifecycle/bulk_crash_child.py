"""Child process for the bulk-load crash tests: load rows through the bulk path, then die
(SIGKILL) before COMMIT, inside COMMIT (SQLVEC_COMPACTION_CRASH=bulk_placed: after the
segment folder got its final name, before the WAL record), or after COMMIT returned."""

import os
import sys

import sqlvec

path, stage = sys.argv[1], sys.argv[2]
c = sqlvec.connect(path)
c.autocommit = True
cur = c.cursor()
cur.execute("create table t (id int primary key, v vector(3))")
cur.execute("insert into t select g, array[g, 0, 0]::vector from generate_series(1, 10) g")
cur.execute("set sqlvec.bulk_load_rows = 1000")
c.autocommit = False
cur.execute("insert into t select g, array[g, 1, 2]::vector from generate_series(11, 5010) g")
print("staged", flush=True)
if stage == "before_commit":
    os.kill(os.getpid(), 9)
c.commit()
print("committed", flush=True)
os.kill(os.getpid(), 9)
