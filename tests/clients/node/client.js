// node-postgres through the gateway: parameterized queries (extended
// protocol), named prepared statements, transactions and errors.
// Run by crates/portcullis/tests/drivers.rs.
const { Client } = require('pg');

async function main() {
  const table = process.env.PC_TABLE;
  const client = new Client({
    host: '127.0.0.1',
    port: Number(process.env.PC_PORT),
    user: 'demo',
    database: 'demo',
    password: process.env.PC_TOKEN,
  });
  await client.connect();
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, body jsonb, tags text[])`);
  for (let i = 0; i < 20; i++) {
    await client.query({ name: 'ins', text: `INSERT INTO ${table} VALUES ($1, $2, $3)`, values: [i, { i }, ['a', `t${i}`]] });
  }
  const res = await client.query(`SELECT id, body, tags FROM ${table} WHERE id = ANY($1) ORDER BY id`, [[3, 4]]);
  if (res.rows.length !== 2 || res.rows[1].body.i !== 4 || res.rows[0].tags[1] !== 't3') {
    throw new Error('unexpected rows ' + JSON.stringify(res.rows));
  }
  await client.query('BEGIN');
  await client.query(`DELETE FROM ${table}`);
  await client.query('ROLLBACK');
  try {
    await client.query('SELECT 1/0');
    throw new Error('division by zero did not fail');
  } catch (e) {
    if (e.code !== '22012') throw e;
  }
  const count = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
  if (count.rows[0].n !== 20) throw new Error('rollback did not keep rows');
  await client.query(`DROP TABLE ${table}`);
  await client.end();
  console.log('node-postgres ok');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
