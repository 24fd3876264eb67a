"""The tenant short path (sqlvec.exec.fast_tenant) of an isolated partition-key table gives
the general path's rows, in its order: through tenant sub-indexes (graphs for large tenants,
exact scans for small ones), the growing segment, deletes, unknown and NULL tenants, and
integer keys; and the key must still be named."""

from __future__ import annotations

import numpy as np
import pytest

import sqlvec
from sqlvec import errors

DIM = 8
SQL = "SELECT id, tenant FROM docs WHERE tenant = %s ORDER BY emb <-> %s LIMIT 10"


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(12, DIM)).astype(np.float32)
    return (centers[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


def _load(path: str, key_type: str = "text"):
    """20 small tenants (120 rows) and one large one (3,000 rows: its own graph), sealed
    and indexed; returns (short-path connection, general-path connection, rows)."""
    conn = sqlvec.connect(path, autocommit=True)
    conn.execute(f"CREATE TABLE docs (id bigint, tenant {key_type} NOT NULL, emb vector({DIM})) "
                 "WITH (partition_key = 'tenant', num_partitions = 4, partition_key_isolation = true)")
    x = _vectors(20 * 120 + 3000, 1)
    key = (lambda t: f"t{t}") if key_type == "text" else (lambda t: t * 1000 + 7)
    tenants = [i % 20 for i in range(2400)] + [99] * 3000
    rows = [(i, key(tenants[i]), x[i]) for i in range(len(x))]
    conn.cursor().executemany("INSERT INTO docs VALUES (%s, %s, %s)", rows)
    conn.execute("CHECKPOINT")
    conn.execute("CREATE INDEX ON docs USING hnsw (emb vector_l2_ops)")
    general = sqlvec.connect(path, autocommit=True)
    general.execute("SET statement_timeout = '1h'")  # its timer keeps the general path
    return conn, general, rows


def _hits(conn, sql=SQL) -> int:
    fast = conn._session._fast.get(sql)
    return 0 if fast is None else fast.hits


@pytest.mark.parametrize("key_type", ["text", "bigint"])
def test_same_rows_as_general_path(tmp_path, key_type):
    conn, general, rows = _load(str(tmp_path / "db"), key_type)
    keys = sorted({r[1] for r in rows})
    rng = np.random.default_rng(2)
    for i in range(80):
        t = keys[i % len(keys)]
        q = rows[rng.integers(0, len(rows))][2] + 0.05
        got = conn.execute(SQL, (t, q)).fetchall()
        assert got == general.execute(SQL, (t, q)).fetchall()
        assert len(got) == 10 and {r[1] for r in got} == {t}  # never another tenant's rows
    assert _hits(conn) > 60


def test_growing_rows_deletes_and_unknown_tenants(tmp_path):
    conn, general, rows = _load(str(tmp_path / "db"))
    q = rows[5][2]
    for t in ("t5", "t99", "t7"):  # (every statement on the table names its tenant)
        conn.execute("DELETE FROM docs WHERE tenant = %s AND id %% 3 = 0", (t,))
    new = _vectors(50, 7)
    conn.cursor().executemany("INSERT INTO docs VALUES (%s, %s, %s)",
                              [(10_000 + i, "t5", new[i]) for i in range(50)])
    for t in ("t5", "t99", "t7"):
        for _ in range(2):
            got = conn.execute(SQL, (t, q)).fetchall()
            assert got == general.execute(SQL, (t, q)).fetchall()
            assert all(r[0] % 3 for r in got if r[0] < 10_000)
    # a new row of t5 is the nearest to itself: the growing segment was searched
    assert conn.execute(SQL, ("t5", new[3])).fetchone() == (10_003, "t5")
    assert conn.execute(SQL, ("nobody", q)).fetchall() == []
    # NULL: the short path steps aside; both connections answer alike (no rows)
    assert conn.execute(SQL, (None, q)).fetchall() == general.execute(SQL, (None, q)).fetchall() == []
    assert _hits(conn) >= 6


def test_key_still_required_and_bad_keys_raise(tmp_path):
    conn, _, rows = _load(str(tmp_path / "db"), "bigint")
    q = rows[0][2]
    for _ in range(3):
        conn.execute(SQL, (7, q)).fetchall()
    with pytest.raises(errors.DatabaseError):  # the general path answers (0A000 today)
        conn.execute(SQL, (2**70, q))
    with pytest.raises(errors.FeatureNotSupported, match="must name exactly one value"):
        conn.execute("SELECT id FROM docs ORDER BY emb <-> %s LIMIT 3", (q,))
    assert conn.execute(SQL, (7, q)).fetchall()[0][1] == 7
