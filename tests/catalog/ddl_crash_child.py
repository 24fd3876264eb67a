"""Run by test_catalog_delta.py: DDL transactions until killed, printing each acknowledged one.

Transaction i creates table t<i> (with an index), adds a column to t<i-1> and drops t<i-5>;
every third one also opens a transaction that creates rb<i> and alters t<i>, then rolls back.
"""

import sys

import sqlvec


def main() -> None:
    path, first = sys.argv[1], int(sys.argv[2])
    c = sqlvec.connect(path)
    c.autocommit = True
    cur = c.cursor()
    print("ready", flush=True)
    i = first
    while True:
        cur.execute("BEGIN")
        cur.execute(f"CREATE TABLE t{i} (id int PRIMARY KEY, v text)")
        cur.execute(f"CREATE INDEX t{i}_v ON t{i} (v)")
        if i > first:
            cur.execute(f"ALTER TABLE t{i - 1} ADD COLUMN extra{i} int")
        if i - 5 >= first:
            cur.execute(f"DROP TABLE t{i - 5}")
        cur.execute("COMMIT")
        print(i, flush=True)
        if i % 3 == 0:
            cur.execute("BEGIN")
            cur.execute(f"CREATE TABLE rb{i} (x int)")
            cur.execute(f"ALTER TABLE t{i} ADD COLUMN gone int")
            cur.execute("ROLLBACK")
        i += 1


if __name__ == "__main__":
    main()
