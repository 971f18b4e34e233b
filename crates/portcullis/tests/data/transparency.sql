-- Transparency corpus: each line is sent as one simple Query, in order, on
-- one session through the gateway and on one session direct; every reply
-- message must be byte-identical. Keep statements deterministic.
SELECT 1
SELECT NULL
SELECT 1 AS a, 'two' AS b, NULL::int AS c, 3.5::numeric AS d
SELECT true, false, NULL::boolean
SELECT 32767::int2, 2147483647::int4, 9223372036854775807::int8
SELECT -0.0::float8, 'NaN'::float8, 'Infinity'::float8, 1e-300::float8
SELECT 12345678901234567890.123456789::numeric(40,9)
SELECT 'héllo wörld ✓ 日本語 🚀'::text
SELECT E'tab\there\nnewline\\backslash', $$dollar 'quoted'$$
SELECT ''::text, ' '::varchar(3), 'abc'::char(5)
SELECT '\x00ff10'::bytea, decode('deadbeef', 'hex')
SELECT ARRAY[1,2,3], ARRAY[[1,2],[3,4]], ARRAY['a',NULL,'c'], '{}'::int[]
SELECT '{"a": 1, "b": [true, null, "x"]}'::json, '{"k": {"n": 2}}'::jsonb
SELECT jsonb_build_object('x', 1, 'y', ARRAY[1,2]) -> 'y'
SELECT '2024-02-29'::date, '12:34:56.789'::time, '2024-02-29 12:34:56+00'::timestamptz AT TIME ZONE 'UTC'
SELECT interval '1 year 2 months 3 days 04:05:06.789'
SELECT '192.168.0.1/24'::inet, '10.0.0.0/8'::cidr, '08:00:2b:01:02:03'::macaddr
SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid
SELECT point(1,2), box(point(0,0), point(1,1)), circle(point(0,0), 2)
SELECT int4range(1, 10), '[2024-01-01,2024-12-31)'::daterange
SELECT 'fat & rat'::tsquery, to_tsvector('english', 'The quick brown foxes')
SELECT '<a>x</a>'::xml
SELECT B'1010'::bit(4), B'11'::varbit
SELECT 1::money
SELECT repeat('x', 100000) AS large_text
SELECT repeat('ab', 400000)::bytea AS large_bytes
SELECT generate_series(1, 2000) AS n
SELECT g, g * 2, g::text || '-row' FROM generate_series(1, 500) g
SELECT 1/0
SELECT * FROM no_such_table_anywhere
SELEC broken syntax
SELECT 'not a number'::int
CREATE TABLE tx_t (id int PRIMARY KEY, email text UNIQUE, note text, data jsonb)
INSERT INTO tx_t VALUES (1, 'a@example.com', 'first', '{"k":1}'), (2, 'b@example.com', NULL, '[]')
INSERT INTO tx_t VALUES (3, 'a@example.com', 'dup', NULL)
INSERT INTO tx_t VALUES (1, 'c@example.com', 'dup pk', NULL)
INSERT INTO tx_t VALUES (4, 'd@example.com', 'returning', NULL) RETURNING id, email
UPDATE tx_t SET note = 'updated' WHERE id = 2 RETURNING *
SELECT * FROM tx_t ORDER BY id
BEGIN
INSERT INTO tx_t VALUES (10, 'x@example.com', 'in tx', NULL)
SAVEPOINT s1
INSERT INTO tx_t VALUES (11, 'y@example.com', 'in savepoint', NULL)
ROLLBACK TO SAVEPOINT s1
SELECT id FROM tx_t WHERE id >= 10 ORDER BY id
COMMIT
BEGIN
SELECT 1/0
SELECT 1
ROLLBACK
BEGIN; INSERT INTO tx_t VALUES (20, 'z@example.com', 'multi', NULL); SELECT count(*) FROM tx_t; COMMIT
SELECT 1; SELECT 2; SELECT 3
SELECT 1; SELECT 1/0; SELECT 3
DELETE FROM tx_t WHERE id = 20
SELECT count(*), sum(id), max(email) FROM tx_t
SET TIME ZONE 'UTC'
SET application_name = 'transparency'
SHOW application_name
SET extra_float_digits = 0
SELECT 0.1::float8 + 0.2::float8
RESET extra_float_digits
SELECT 0.1::float8 + 0.2::float8
DO $$ BEGIN RAISE NOTICE 'notice from DO: %', 42; END $$
DO $$ BEGIN RAISE WARNING 'warning with detail' USING DETAIL = 'some detail', HINT = 'a hint'; END $$
SELECT pg_catalog.set_config('work_mem', '8MB', false)
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100) SELECT sum(n) FROM r
SELECT string_agg(x::text, ',' ORDER BY x) FROM generate_series(1, 50) x
EXPLAIN (COSTS OFF) SELECT * FROM tx_t WHERE id = 1
PREPARE p1(int) AS SELECT $1 + 1
EXECUTE p1(41)
DEALLOCATE p1
COPY (SELECT g, 'row ' || g FROM generate_series(1, 100) g) TO STDOUT
COPY (SELECT id, email FROM tx_t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)
COPY (SELECT 1, 'bin') TO STDOUT WITH (FORMAT binary)
;
SELECT
DROP TABLE tx_t
