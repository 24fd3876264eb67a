// node-postgres (pg) against `sqlvec serve`: one JSON line per check on stdout, so that
// tests/wire/test_wire_node.py can assert every result. Usage: node node_client.js PORT DBNAME
'use strict';
const { Client } = require('pg');

const [port, database] = process.argv.slice(2);

function out(name, value) {
  process.stdout.write(JSON.stringify({ name, value }) + '\n');
}

async function main() {
  const client = new Client({ host: '127.0.0.1', port: Number(port), user: 'postgres', database });
  await client.connect();
  try {
    // simple query protocol (no parameters), several statements in one message
    await client.query(
      'CREATE TABLE items (id int PRIMARY KEY, name text, price float8, emb vector(3));' +
      "INSERT INTO items VALUES (1, 'one', 1.5, '[1,2,3]'), (2, 'two', 2.5, '[4,5,6]')"
    );
    const simple = await client.query('SELECT id, name, price FROM items ORDER BY id');
    out('simple', { rows: simple.rows, command: simple.command, rowCount: simple.rowCount,
      fields: simple.fields.map((f) => f.name) });

    // extended protocol: pg sends Parse with no parameter types, values as text
    const param = await client.query('SELECT name, price * $2 AS total FROM items WHERE id = $1',
      [2, 3]);
    out('param', param.rows);

    // the driver's default conversions of JS values: null, boolean, Date, array, object(json)
    const conv = await client.query(
      'SELECT $1::int IS NULL AS isnull, $2::bool AS flag, $3::int[] AS arr, $4::jsonb AS doc, ' +
      '$5::text AS txt',
      [null, true, [1, 2, 3], { a: 1 }, 'héllo']);
    out('conv', conv.rows[0]);

    // an INSERT through the extended protocol reports its command tag
    const ins = await client.query('INSERT INTO items VALUES ($1, $2, $3, $4)',
      [3, 'three', 3.5, '[7,8,9]']);
    out('insert', { command: ins.command, rowCount: ins.rowCount });

    // vectors travel as text in both directions
    const vec = await client.query(
      "SELECT id, emb::text AS emb, emb <-> $1 AS dist FROM items ORDER BY emb <-> $1 LIMIT 2",
      ['[1,2,3]']);
    out('vector', vec.rows.map((r) => [r.id, r.emb, Number(r.dist.toFixed(4))]));

    // a named prepared statement, run several times (Parse once, Bind/Execute each time)
    const named = [];
    for (const id of [1, 2, 3]) {
      const r = await client.query({ name: 'by_id', text: 'SELECT name FROM items WHERE id = $1',
        values: [id] });
      named.push(r.rows[0].name);
    }
    out('named', named);

    // rowMode array
    const arr = await client.query({ text: 'SELECT id, name FROM items WHERE id < $1 ORDER BY id',
      values: [3], rowMode: 'array' });
    out('rowmode', arr.rows);

    // a transaction that rolls back and one that commits
    await client.query('BEGIN');
    await client.query('INSERT INTO items VALUES (10, $1, 0, NULL)', ['gone']);
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await client.query('UPDATE items SET price = price + 1 WHERE id = $1', [1]);
    await client.query('COMMIT');
    const tx = await client.query('SELECT count(*)::int AS n, sum(price) AS total FROM items');
    out('transaction', tx.rows[0]);

    // an error inside a transaction: SQLSTATE and position, then 25P02 until ROLLBACK
    await client.query('BEGIN');
    try {
      await client.query('SELECT nosuchcolumn FROM items');
      out('error', null);
    } catch (e) {
      out('error', { code: e.code, position: e.position, message: e.message,
        severity: e.severity });
    }
    try {
      await client.query('SELECT 1');
      out('aborted', null);
    } catch (e) {
      out('aborted', e.code);
    }
    await client.query('ROLLBACK');

    // a unique violation through the extended protocol
    try {
      await client.query('INSERT INTO items VALUES ($1, $2, 0, NULL)', [1, 'dup']);
      out('unique', null);
    } catch (e) {
      out('unique', { code: e.code, constraint: e.constraint || null });
    }

    // the connection still works afterwards, and a syntax error carries its position
    try {
      await client.query('SELECT * FROM items WHERE');
    } catch (e) {
      out('syntax', { code: e.code, position: e.position });
    }
    const after = await client.query('SELECT 1 AS one');
    out('after', after.rows[0]);
  } finally {
    await client.end();
  }
}

main().catch((e) => {
  process.stderr.write(`FAILED: ${e.stack || e}\n${JSON.stringify(e)}\n`);
  process.exit(1);
});
