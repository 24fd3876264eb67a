-- SQLAlchemy 2.x postgresql dialect initialisation (psycopg 3)
select pg_catalog.version();

select current_schema();
