// Runs @libsql/hrana-client asking for Hrana 3 (protocolVersion 3) against
// a tenantgate Hrana endpoint, over HTTP (it probes GET /v3-protobuf and
// speaks Protobuf) or WebSocket (it offers hrana3-protobuf first).
// Driven by go test (proxy/hrana/jsclient_test.go):
//   HRANA_URL=http://127.0.0.1:PORT|ws://127.0.0.1:PORT [HRANA_TOKEN=jwt] node hrana3_test.mjs
// Prints "OK" and exits 0 when every check passes; otherwise throws.
import * as hrana from "@libsql/hrana-client";
import assert from "node:assert/strict";

const url = process.env.HRANA_URL;
const jwt = process.env.HRANA_TOKEN || undefined;
assert.ok(url, "HRANA_URL is required");
const table = process.env.HRANA_TABLE || "h3";
const ws = url.startsWith("ws");

const client = ws ? hrana.openWs(url, jwt, 3) : hrana.openHttp(url, jwt, undefined, undefined, 3);
assert.equal(await client.getVersion(), 3, "negotiated Hrana 3");

const s = client.openStream();
s.intMode = "bigint";

// Every value type round-trips through Protobuf.
await s.run(`CREATE TABLE ${table}_v(id INTEGER PRIMARY KEY, i, f, t, b, n)`);
const ins = await s.run([`INSERT INTO ${table}_v(i, f, t, b, n) VALUES (?, ?, ?, ?, ?)`,
  [-9223372036854775808n, -2.5, "héllo\n", new Uint8Array([0, 255]), null]]);
assert.equal(ins.affectedRowCount, 1);
assert.equal(ins.lastInsertRowid, 1n);
const row = await s.queryRow(`SELECT i, f, t, b, n FROM ${table}_v`);
assert.equal(row.row.i, -9223372036854775808n);
assert.equal(row.row.f, -2.5);
assert.equal(row.row.t, "héllo\n");
assert.deepEqual(new Uint8Array(row.row.b), new Uint8Array([0, 255]));
assert.equal(row.row.n, null);
assert.deepEqual(row.columnNames, ["i", "f", "t", "b", "n"]);

// A parameter without a value binds NULL, as in SQLite.
const unbound = await s.queryRow(["SELECT ?, ?, :x", [1n]]);
assert.deepEqual([unbound.row[0], unbound.row[1], unbound.row[2]], [1n, null, null]);

// get_autocommit and the is_autocommit condition (Hrana 3 only).
assert.equal(await s.getAutocommit(), true);
await s.run("BEGIN");
assert.equal(await s.getAutocommit(), false);
{
  const b = s.batch(false);
  const a = b.step().condition(hrana.BatchCond.isAutocommit(b)).queryValue("SELECT 1");
  const c = b.step().condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(b))).queryValue("SELECT 2");
  await b.execute();
  assert.equal(await a, undefined, "skipped in a transaction");
  assert.equal((await c).value, 2n);
}
await s.run("ROLLBACK");

// A ROLLBACK inside a write batch stops the steps after it (the pattern
// @libsql/client builds for Hrana 3).
await s.run(`CREATE TABLE ${table}_r(a)`);
{
  const b = s.batch(false);
  const begin = b.step();
  begin.run("BEGIN");
  const s1 = b.step().condition(hrana.BatchCond.ok(begin));
  s1.run(`INSERT INTO ${table}_r VALUES (1)`);
  const rb = b.step().condition(hrana.BatchCond.ok(s1));
  rb.run("ROLLBACK");
  const s3 = b.step().condition(hrana.BatchCond.and(b, [hrana.BatchCond.ok(rb), hrana.BatchCond.not(hrana.BatchCond.isAutocommit(b))]))
    .run(`INSERT INTO ${table}_r VALUES (2)`);
  await b.execute();
  assert.equal(await s3, undefined, "step after ROLLBACK skipped");
  assert.equal((await s.queryValue(`SELECT count(*) FROM ${table}_r`)).value, 0n);
}

// A cursor pages through more rows than a pipeline may return.
{
  const n = 100001;
  const b = s.batch(true);
  const q = b.step().query(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ${n}) SELECT x FROM c`);
  await b.execute();
  const rows = (await q).rows;
  assert.equal(rows.length, n);
  assert.equal(rows[n - 1][0], BigInt(n));
}

// Stored SQL and describe.
const sql = (ws ? client : s).storeSql(`SELECT count(*) FROM ${table}_v WHERE id > ?`);
assert.equal((await s.queryValue([sql, [0]])).value, 1n);
sql.close();
const d = await s.describe("SELECT :a AS x");
assert.deepEqual(d.paramNames, [":a"]);
assert.equal(d.columns[0].name, "x");
assert.equal(d.isReadonly, true);

// Errors keep their codes.
await assert.rejects(s.run("SELECT * FROM nope"), (e) => e.code === "SQLITE_ERROR" && /no such table/.test(e.message));

s.close();
client.close();
console.log("OK");
