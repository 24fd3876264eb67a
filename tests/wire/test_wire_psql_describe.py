"""psql's backslash commands run their catalog queries against us: \\d, \\d+, \\dt, \\di, \\dv,
\\dn, \\df, \\dx, \\du, \\l all answer as PostgreSQL would for the same schema."""

from __future__ import annotations

import shutil

import pytest
from test_wire_psql import psql

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")

SCHEMA = [
    "CREATE EXTENSION IF NOT EXISTS vector",
    "CREATE TABLE d_cats (id int PRIMARY KEY, name text UNIQUE)",
    "CREATE TABLE d_items (id bigserial PRIMARY KEY, title text NOT NULL DEFAULT 'x', "
    "cat int REFERENCES d_cats (id), emb vector(3), CHECK (length(title) > 0))",
    "CREATE INDEX d_items_emb_idx ON d_items USING hnsw (emb vector_cosine_ops)",
    "CREATE VIEW d_view AS SELECT id, title FROM d_items",
]


def test_describe_table(database):
    args = [a for s in SCHEMA for a in ("-c", s)]
    out = psql(database, *args, "-c", r"\d d_items")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert 'Table "public.d_items"' in text
    assert " emb    | vector(3) |" in text
    assert "nextval('d_items_id_seq'::regclass)" in text
    assert '"d_items_pkey" PRIMARY KEY, btree (id)' in text
    assert '"d_items_emb_idx" hnsw (emb vector_cosine_ops)' in text
    assert "Check constraints:" in text
    assert "Foreign-key constraints:" in text
    assert '"d_items_cat_fkey" FOREIGN KEY (cat) REFERENCES d_cats(id)' in text
    ref = psql(database, "-c", r"\d d_cats")
    assert 'TABLE "d_items" CONSTRAINT "d_items_cat_fkey" FOREIGN KEY (cat) REFERENCES d_cats(id)' in ref.stdout


def test_list_commands(database):
    args = [a for s in SCHEMA for a in ("-c", s)]
    out = psql(database, *args, "-c", r"\dt", "-c", r"\di", "-c", r"\dv", "-c", r"\dn",
               "-c", r"\dx", "-c", r"\du", "-c", r"\l", "-c", r"\d+ d_items", "-c", r"\d d_view")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in ("d_items | table", "d_items_emb_idx | index", "d_view | view", "public",
                   "vector  | 0.8.0", "postgres", "template0", "Access method: heap", 'View "public.d_view"'):
        assert needle in text, needle
