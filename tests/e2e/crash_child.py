"""Run by test_crash.py: commit numbered transactions through SQL until SIGKILLed.

    python crash_child.py <dir> <first transaction number | auto>

At start it opens the directory (recovering it), prints one ``state <json>`` line with what it
sees, then ``ready``, then commits transactions ``first, first+1, ...`` (``auto``: from the
last recovered one + 1) forever, printing each
number only after COMMIT has returned. Transaction ``n`` (see :func:`rows_of`):

- inserts ``ROWS`` rows into ``items`` (keys ``n*ROWS ..``) and one row into ``txlog``;
- when ``n % 3 == 0`` it runs as an explicit BEGIN ... COMMIT block of several statements
  (autocommit connection) and also UPDATEs every row of transaction ``n - 1``
  (``bumped = bumped + 1``); otherwise one multi-row INSERT in an implicit transaction;
- every 37th transaction is followed by a CHECKPOINT, so kills also land around checkpoints.
"""

from __future__ import annotations

import json
import sys

import sqlvec

ROWS = 4
AUTO = "auto"
SETUP = [
    "CREATE TABLE IF NOT EXISTS items (k bigint PRIMARY KEY, txn bigint NOT NULL, "
    "part integer NOT NULL, bumped integer NOT NULL DEFAULT 0, emb vector(4))",
    "CREATE TABLE IF NOT EXISTS txlog (txn bigint PRIMARY KEY, nrows integer)",
]
STATE_SQL = {
    "items": "SELECT txn, count(*), sum(bumped), min(part), max(part) FROM items GROUP BY txn",
    "txlog": "SELECT txn, nrows FROM txlog",
    "keys": "SELECT count(*), count(DISTINCT k) FROM items",
}


def emb_of(n: int) -> list[float]:
    return [float(n), float(n % 7), -1.5, 0.25]


def rows_of(n: int) -> list[tuple[int, int, int, list[float]]]:
    return [(n * ROWS + p, n, p, emb_of(n)) for p in range(ROWS)]


def insert_sql(n: int) -> tuple[str, list]:
    params: list = []
    for row in rows_of(n):
        params += row
    values = ", ".join(["(%s, %s, %s, %s)"] * ROWS)
    return f"INSERT INTO items (k, txn, part, emb) VALUES {values}", params


def state(conn: sqlvec.Connection) -> dict:
    """What the recovered database holds, summarised per transaction number."""
    cur = conn.cursor()
    out = {name: [list(r) for r in cur.execute(sql).fetchall()] for name, sql in STATE_SQL.items()}
    embs = cur.execute("SELECT txn, emb FROM items").fetchall()
    out["bad_emb"] = sorted({t for t, e in embs if e is None or e.tolist() != emb_of(t)})
    return out


def main() -> None:
    path, first = sys.argv[1], sys.argv[2]
    implicit = sqlvec.connect(path)  # autocommit off: one implicit transaction per commit()
    block = sqlvec.connect(path, autocommit=True)  # the same database, explicit blocks
    for sql in SETUP:
        block.execute(sql)
    recovered = state(block)
    print("state", json.dumps(recovered), flush=True)
    print("ready", flush=True)
    n = max((t for t, _ in recovered["txlog"]), default=0) + 1 if first == AUTO else int(first)
    while True:
        sql, params = insert_sql(n)
        if n % 3 == 0:
            cur = block.cursor()
            cur.execute("BEGIN")
            cur.execute(sql, params)
            cur.execute("UPDATE items SET bumped = bumped + 1 WHERE txn = %s", (n - 1,))
            cur.execute("INSERT INTO txlog VALUES (%s, %s)", (n, ROWS))
            cur.execute("COMMIT")
        else:
            cur = implicit.cursor()
            cur.execute(sql, params)
            cur.execute("INSERT INTO txlog VALUES (%s, %s)", (n, ROWS))
            implicit.commit()
        print(n, flush=True)
        if n % 37 == 0:
            block.execute("CHECKPOINT")
        n += 1


if __name__ == "__main__":
    main()
