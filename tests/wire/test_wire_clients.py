"""Real client libraries end to end: pgvector-python with psycopg and asyncpg, SQLAlchemy 2
(Core and ORM with pgvector.sqlalchemy.Vector), pandas read_sql / to_sql."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg
import pytest

pgvector = pytest.importorskip("pgvector")


def _as_list(v) -> list:
    """pgvector-python gives Vector objects (psycopg, asyncpg) or arrays/lists (SQLAlchemy)."""
    return [float(x) for x in (v.to_list() if hasattr(v, "to_list") else v)]


def _url(dsn: str) -> str:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return f"postgresql+psycopg://{parts['user']}@{parts['host']}:{parts['port']}/{parts['dbname']}"


def test_pgvector_psycopg_round_trips(database):
    from pgvector import Bit, HalfVector, SparseVector
    from pgvector.psycopg import register_vector

    with psycopg.connect(database, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(c)
        c.execute("CREATE TABLE pv (id int, v vector(3), h halfvec(3), s sparsevec(5), b bit(4))")
        row = (np.array([1.5, 2, 3], dtype=np.float32), HalfVector([1, 2, 3]),
               SparseVector({0: 1.5, 3: 2.0}, 5), Bit("1010"))
        c.execute("INSERT INTO pv VALUES (1, %s, %s, %s, %s)", row)
        c.cursor().execute("INSERT INTO pv VALUES (2, %s, %s, %s, %s)", row, binary=True)
        for binary in (False, True):
            got = c.cursor(binary=binary).execute("SELECT v, h, s, b FROM pv ORDER BY id").fetchall()
            assert len(got) == 2
            for v, h, s, b in got:
                assert _as_list(v) == [1.5, 2, 3]
                assert h.to_list() == [1, 2, 3]
                assert (s.dimensions(), s.indices(), s.values()) == (5, [0, 3], [1.5, 2.0])
                assert b in ("1010", b"\x00\x00\x00\x04\xa0")  # bit has no psycopg loader
        near = c.execute("SELECT id FROM pv ORDER BY v <-> %s LIMIT 1",
                         (np.array([1.5, 2, 3], dtype=np.float32),)).fetchone()
        assert near[0] in (1, 2)


def test_pgvector_asyncpg(database):
    asyncpg = pytest.importorskip("asyncpg")
    from pgvector.asyncpg import register_vector

    parts = dict(p.split("=", 1) for p in database.split())

    async def main() -> list:
        c = await asyncpg.connect(host=parts["host"], port=int(parts["port"]), user=parts["user"],
                                  database=parts["dbname"])
        try:
            await c.execute("CREATE EXTENSION IF NOT EXISTS vector")
            await register_vector(c)
            await c.execute("CREATE TABLE av (id int, v vector(3), h halfvec(2))")
            await c.execute("INSERT INTO av VALUES ($1, $2, $3)", 1, np.array([1, 2, 3]), [0.5, 1.5])
            await c.executemany("INSERT INTO av (id, v) VALUES ($1, $2)",
                                [(2, np.array([4, 5, 6])), (3, None)])
            return await c.fetch("SELECT id, v, h FROM av ORDER BY id")
        finally:
            await c.close()

    rows = asyncio.run(main())
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert _as_list(rows[0]["v"]) == [1, 2, 3] and _as_list(rows[1]["v"]) == [4, 5, 6]
    assert rows[2]["v"] is None


def test_sqlalchemy_core_and_orm(database):
    sa = pytest.importorskip("sqlalchemy")
    from pgvector.sqlalchemy import Vector
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "sa_items"
        id = mapped_column(sa.Integer, primary_key=True)
        name = mapped_column(sa.String(20), nullable=False)
        embedding = mapped_column(Vector(3))

    engine = sa.create_engine(_url(database))
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            # explicit ids: SQLAlchemy sends executemany (the batched form is tested below)
            s.add_all([Item(id=1, name="a", embedding=[1, 1, 1]), Item(id=2, name="b", embedding=[2, 2, 2]),
                       Item(id=3, name="c", embedding=[5, 5, 5])])
            s.commit()
            nearest = s.scalars(sa.select(Item).order_by(Item.embedding.l2_distance([2, 2, 2.1])).limit(2)).all()
            assert [i.name for i in nearest] == ["b", "a"]
            assert _as_list(nearest[0].embedding) == [2, 2, 2]
        with engine.connect() as c:  # Core
            table = Base.metadata.tables["sa_items"]
            q = sa.select(table.c.name).where(table.c.embedding.cosine_distance([1, 1, 1]) < 0.01).order_by(table.c.id)
            assert c.execute(q).scalars().all() == ["a", "b", "c"]
        cols = {c["name"]: c for c in sa.inspect(engine).get_columns("sa_items")}
        assert str(cols["embedding"]["type"]) == "VECTOR(3)"
        assert cols["name"]["nullable"] is False
    finally:
        engine.dispose()


def test_sqlalchemy_orm_batched_insert_with_vector(database):
    """The ORM batches rows without ids as INSERT ... SELECT p1::VECTOR(3) FROM (VALUES ...)
    RETURNING id ("insertmanyvalues")."""
    sa = pytest.importorskip("sqlalchemy")
    from pgvector.sqlalchemy import Vector
    from sqlalchemy.orm import DeclarativeBase, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "iv"
        id = mapped_column(sa.Integer, primary_key=True)
        v = mapped_column(Vector(3))

    engine = sa.create_engine(_url(database))
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            s.add_all([Item(v=[1, 2, 3]), Item(v=[4, 5, 6])])
            s.commit()
            assert s.scalar(sa.select(sa.func.count()).select_from(Item)) == 2
    finally:
        engine.dispose()


def test_sqlalchemy_inspector_primary_key(database):
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(_url(database))
    try:
        with engine.begin() as c:
            c.execute(sa.text("CREATE TABLE pk (id int PRIMARY KEY, x text)"))
        assert sa.inspect(engine).get_pk_constraint("pk")["constrained_columns"] == ["id"]
    finally:
        engine.dispose()


def test_pandas_to_sql_and_read_sql(database):
    pd = pytest.importorskip("pandas")
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(_url(database))
    try:
        df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [1.5, None, 2.5]})
        df.to_sql("pd_t", engine, index=False)
        df.to_sql("pd_t", engine, index=False, if_exists="append")
        back = pd.read_sql("SELECT a, b, c FROM pd_t ORDER BY a, b", engine)
        assert back["a"].tolist() == [1, 1, 2, 2, 3, 3]
        assert back["b"].tolist()[:4] == ["x", "x", "y", "y"] and back["b"].isna().sum() == 2
        assert back["c"].isna().sum() == 2
    finally:
        engine.dispose()
