-- pgvector-python register_vector (psycopg 3): TypeInfo.fetch(conn, 'vector'), then
-- 'halfvec', 'sparsevec'; %(name)s is the type name
SELECT
    typname AS name, oid, typarray AS array_oid,
    oid::regtype::text AS regtype, typdelim AS delimiter
FROM pg_type t
WHERE t.oid = to_regtype(%(name)s)
ORDER BY t.oid;
