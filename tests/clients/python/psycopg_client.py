"""psycopg 3 through the gateway: server-side prepared statements, binary
results, COPY, transactions and errors. Run by crates/portcullis/tests/drivers.rs."""
import os

import psycopg

dsn = os.environ["PC_DSN"]
table = os.environ["PC_TABLE"]

with psycopg.connect(dsn, autocommit=True) as conn:
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text, amount numeric(10,2), seen timestamptz)")
    with conn.cursor() as cur:
        # prepare=True forces the extended protocol with a named statement.
        for i in range(20):
            cur.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, now())", (i, f"n{i}", i * 1.5), prepare=True)
        cur.execute(f"SELECT id, name, amount FROM {table} WHERE id < %s ORDER BY id", (5,), binary=True)
        rows = cur.fetchall()
        assert [r[0] for r in rows] == [0, 1, 2, 3, 4], rows
        assert str(rows[3][2]) == "4.50", rows[3]
        with cur.copy(f"COPY {table} (id, name) FROM STDIN") as copy:
            for i in range(100, 600):
                copy.write_row((i, f"copied {i}"))
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone()[0] == 520
        try:
            cur.execute(f"INSERT INTO {table} VALUES (1, 'dup', 0, now())")
            raise SystemExit("duplicate insert did not fail")
        except psycopg.errors.UniqueViolation:
            pass
    with conn.transaction():
        conn.execute(f"DELETE FROM {table} WHERE id >= 100")
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 20
    conn.execute(f"DROP TABLE {table}")
print("psycopg ok")
