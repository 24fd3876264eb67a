"""asyncpg and pg8000: the drivers that lean on the extended protocol's corners."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest


def _parts(dsn: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in dsn.split())


def test_asyncpg_builtin_types_and_statements(database):
    asyncpg = pytest.importorskip("asyncpg")
    p = _parts(database)

    async def main() -> None:
        conn = await asyncpg.connect(host=p["host"], port=int(p["port"]), user="postgres", database=p["dbname"])
        try:
            # Parse + Describe + Flush, parameter types inferred by the server, binary params
            assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
            assert await conn.fetchval("SELECT $1 || 'y'", "x") == "xy"
            await conn.execute("CREATE TABLE a (id bigint PRIMARY KEY, name text, at date, score float8)")
            await conn.executemany(
                "INSERT INTO a VALUES ($1, $2, $3, $4)",
                [(i, f"n{i}", dt.date(2024, 1, 1 + i), i / 2) for i in range(10)],
            )
            rows = await conn.fetch("SELECT id, name, at, score FROM a WHERE id >= $1 ORDER BY id", 8)
            assert [tuple(r) for r in rows] == [
                (8, "n8", dt.date(2024, 1, 9), 4.0),
                (9, "n9", dt.date(2024, 1, 10), 4.5),
            ]
            stmt = await conn.prepare("SELECT name FROM a WHERE id = $1")
            assert [await stmt.fetchval(i) for i in (1, 2, 3)] == ["n1", "n2", "n3"]
            async with conn.transaction():
                await conn.execute("DELETE FROM a WHERE id < 5")
            assert await conn.fetchval("SELECT count(*) FROM a") == 5
            with pytest.raises(asyncpg.UndefinedTableError):
                await conn.fetch("SELECT * FROM nope")
            assert await conn.fetchval("SELECT 1") == 1
            # a cursor reads a portal in chunks: Execute with a row limit, PortalSuspended
            async with conn.transaction():
                got = [r["id"] async for r in conn.cursor("SELECT id FROM a ORDER BY id", prefetch=2)]
            assert got == [5, 6, 7, 8, 9]
        finally:
            await conn.close()

    asyncio.run(main())


def test_pg8000_unnamed_statement_across_sync(database):
    pytest.importorskip("pg8000")
    import pg8000.dbapi
    import pg8000.native
    p = _parts(database)
    conn = pg8000.native.Connection("postgres", host=p["host"], port=int(p["port"]), database=p["dbname"])
    try:
        assert conn.run("SELECT :v::int + 1", v=41) == [[42]]
        conn.run("CREATE TABLE p8 (id int, name text)")
        conn.run("INSERT INTO p8 VALUES (:a, :b)", a=1, b="one")
        ps = conn.prepare("SELECT name FROM p8 WHERE id = :i")
        assert ps.run(i=1) == [["one"]] and ps.run(i=2) == []
        ps.close()
        with pytest.raises(pg8000.native.DatabaseError) as info:
            conn.run("SELECT * FROM nope")
        assert info.value.args[0]["C"] == "42P01"
        assert conn.run("SELECT 'still here'") == [["still here"]]
    finally:
        conn.close()
    db = pg8000.dbapi.connect("postgres", host=p["host"], port=int(p["port"]), database=p["dbname"])
    try:
        cur = db.cursor()
        cur.execute("INSERT INTO p8 VALUES (%s, %s)", (2, "two"))
        db.rollback()
        cur.execute("INSERT INTO p8 VALUES (%s, %s)", (3, "three"))
        db.commit()
        cur.execute("SELECT id FROM p8 ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [1, 3]
    finally:
        db.close()
