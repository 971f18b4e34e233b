-- Queries that try to get a masked column (email, card, ssn of {s}.customers)
-- out through the gateway. One per line; {s} is the test's schema. Every one
-- must yield no plaintext value (any case, reversed, base64 or hex encoded,
-- or a 6+ digit piece of a card number) or be refused.
SELECT email FROM {s}.customers
SELECT c.card FROM {s}.customers c
SELECT * FROM {s}.customers
SELECT email::varchar(200) FROM {s}.customers
SELECT CAST(card AS text) FROM {s}.customers
SELECT card::bigint FROM {s}.customers
SELECT email || '' FROM {s}.customers
SELECT '' || email || '' FROM {s}.customers
SELECT concat(email, 'x') FROM {s}.customers
SELECT format('%s', card) FROM {s}.customers
SELECT lower(email), upper(email) FROM {s}.customers
SELECT reverse(email) FROM {s}.customers
SELECT substr(card, 1, 8), substr(card, 9) FROM {s}.customers
SELECT substring(email from 1 for 5), substring(email from 6) FROM {s}.customers
SELECT left(card, 6), right(card, 10) FROM {s}.customers
SELECT split_part(email, '@', 1), split_part(email, '@', 2) FROM {s}.customers
SELECT overlay(card placing 'x' from 1 for 1) FROM {s}.customers
SELECT regexp_replace(email, '@', ' at ') FROM {s}.customers
SELECT regexp_matches(email, '(.*)@(.*)') FROM {s}.customers
SELECT translate(card, '0123456789', 'abcdefghij') FROM {s}.customers
SELECT encode(convert_to(email, 'UTF8'), 'base64') FROM {s}.customers
SELECT encode(convert_to(card, 'UTF8'), 'hex') FROM {s}.customers
SELECT convert_from(decode(encode(convert_to(email, 'UTF8'), 'hex'), 'hex'), 'UTF8') FROM {s}.customers
SELECT md5(email) = md5(email), email FROM {s}.customers
SELECT ARRAY[email, card] FROM {s}.customers
SELECT array_agg(email) FROM {s}.customers
SELECT string_agg(card, ',') FROM {s}.customers
SELECT json_agg(email) FROM {s}.customers
SELECT jsonb_build_object('e', email, 'c', card) FROM {s}.customers
SELECT row_to_json(c) FROM {s}.customers c
SELECT to_jsonb(c.*) FROM {s}.customers c
SELECT json_agg(c) FROM {s}.customers c
SELECT c FROM {s}.customers c
SELECT (c).email FROM {s}.customers c
SELECT ROW(email, card) FROM {s}.customers
SELECT CASE WHEN id > 0 THEN email ELSE card END FROM {s}.customers
SELECT COALESCE(NULL, card) FROM {s}.customers
SELECT email COLLATE "C" FROM {s}.customers
SELECT xmlelement(name e, email) FROM {s}.customers
SELECT (SELECT email FROM {s}.customers ORDER BY id LIMIT 1)
SELECT x FROM (SELECT email AS x FROM {s}.customers) sub
SELECT lower(x) FROM (SELECT email AS x FROM {s}.customers) sub
SELECT * FROM (SELECT lower(card) AS y FROM {s}.customers) sub
WITH t AS (SELECT email AS e FROM {s}.customers) SELECT e FROM t
WITH t AS (SELECT email AS e FROM {s}.customers) SELECT upper(e) FROM t
WITH t AS (SELECT * FROM {s}.customers) SELECT row_to_json(t) FROM t
SELECT email FROM {s}.customers UNION ALL SELECT 'x'
SELECT 'x' UNION ALL SELECT card FROM {s}.customers
SELECT l.v FROM {s}.customers c, LATERAL (SELECT c.email AS v) l
SELECT l.v FROM {s}.customers c CROSS JOIN LATERAL (SELECT lower(c.card) AS v) l
SELECT v FROM {s}.customers c, unnest(ARRAY[c.email, c.card]) AS v
SELECT * FROM {s}.customer_view
SELECT contact FROM {s}.customer_view
SELECT lower(contact) FROM {s}.customer_view
SELECT {s}.leak(id) FROM {s}.customers
SELECT {s}.leak(1)
SELECT query_to_xml('select email from {s}.customers', true, true, '')
PREPARE bypass_p AS SELECT lower(email) FROM {s}.customers; EXECUTE bypass_p
BEGIN; DECLARE bypass_c CURSOR FOR SELECT upper(card) FROM {s}.customers; FETCH ALL bypass_c; COMMIT
COPY {s}.customers TO STDOUT
COPY {s}.customers (email, card) TO STDOUT WITH (FORMAT csv)
COPY (SELECT email, lower(card) FROM {s}.customers) TO STDOUT
COPY (SELECT row_to_json(c) FROM {s}.customers c) TO STDOUT WITH (FORMAT csv)
COPY {s}.customers TO STDOUT WITH (FORMAT binary)
INSERT INTO {s}.customers (id, name, email, card, ssn) SELECT id + 1000, name, email || '.x', card, ssn FROM {s}.customers RETURNING *
UPDATE {s}.customers SET name = name WHERE id = 1 RETURNING email, lower(card)
DELETE FROM {s}.customers WHERE id > 1000 RETURNING email, card
