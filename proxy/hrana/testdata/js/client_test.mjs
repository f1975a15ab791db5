// Runs the real @libsql/client against a tenantgate Hrana endpoint.
// Driven by go test (proxy/hrana/jsclient_test.go, proxy/hranae2e_test.go):
//   HRANA_URL=http://127.0.0.1:PORT [HRANA_TOKEN=jwt] node client_test.mjs
//   [HRANA_CONNECT=127.0.0.1:PORT] sends the TCP connection there while the
//   Host header stays the URL's host (tenant routing without DNS).
// Prints "OK" and exits 0 when every check passes; otherwise throws.
import { createClient, LibsqlError } from "@libsql/client";
import assert from "node:assert/strict";
import http from "node:http";

const url = process.env.HRANA_URL;
const authToken = process.env.HRANA_TOKEN || undefined;
assert.ok(url, "HRANA_URL is required");
const table = process.env.HRANA_TABLE || "js";

// viaConnect is a fetch that connects to HRANA_CONNECT but keeps the
// request URL's host as the Host header.
function viaConnect(connect) {
  const [host, port] = connect.split(":");
  return async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const body = Buffer.from(await req.arrayBuffer());
    const u = new URL(req.url);
    const headers = Object.fromEntries(req.headers);
    headers.host = u.host;
    headers["content-length"] = String(body.length);
    return new Promise((resolve, reject) => {
      const r = http.request({ host, port, method: req.method, path: u.pathname + u.search, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(", ") : v);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: h }));
        });
      });
      r.on("error", reject);
      r.end(body);
    });
  };
}
const fetch = process.env.HRANA_CONNECT ? viaConnect(process.env.HRANA_CONNECT) : undefined;

const client = createClient({ url, authToken, fetch });
const big = createClient({ url, authToken, intMode: "bigint", fetch });

async function expectError(promise, code, text) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof LibsqlError, `not a LibsqlError: ${e}`);
    assert.equal(e.code, code, `code of ${e.message}`);
    if (text) assert.match(e.message, text);
    return e;
  }
  assert.fail(`expected error ${code}`);
}

// Schema and every value type.
await client.execute(`CREATE TABLE ${table}_vals(id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n, at DATETIME, ok BOOLEAN)`);
const ins = await client.execute({
  sql: `INSERT INTO ${table}_vals(i, f, s, b, n, at, ok) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  args: [9007199254740993n, 3.5, "héllo \"q\"\n", new Uint8Array([0, 1, 2, 255]), null, "2024-01-02 03:04:05", true],
});
assert.equal(ins.rowsAffected, 1);
assert.equal(ins.lastInsertRowid, 1n);

const row = (await big.execute(`SELECT i, f, s, b, n, at, ok, typeof(at) AS t, typeof(i) AS ti FROM ${table}_vals`)).rows[0];
assert.equal(row.i, 9007199254740993n);
assert.equal(row.f, 3.5);
assert.equal(row.s, "héllo \"q\"\n");
assert.deepEqual(new Uint8Array(row.b), new Uint8Array([0, 1, 2, 255]));
assert.equal(row.n, null);
assert.equal(row.at, "2024-01-02 03:04:05", "DATETIME text stays text");
assert.equal(row.t, "text");
assert.equal(row.ti, "integer");
assert.equal(row.ok, 1n, "BOOLEAN stays an integer");
const cols = await client.execute(`SELECT at, 1 AS x FROM ${table}_vals`);
assert.deepEqual(cols.columns, ["at", "x"]);
assert.deepEqual(cols.columnTypes, ["DATETIME", ""]);

// Named args in every spelling.
const named = await client.execute({ sql: "SELECT :a AS a, @b AS b, $c AS c, :d AS d", args: { ":a": 1, "@b": "two", $c: null, d: 4.5 } });
assert.deepEqual([named.rows[0].a, named.rows[0].b, named.rows[0].c, named.rows[0].d], [1, "two", null, 4.5]);

// batch() in each mode; a failing write batch rolls back.
await client.execute(`CREATE TABLE ${table}_t(x INTEGER UNIQUE)`);
const w = await client.batch([
  { sql: `INSERT INTO ${table}_t VALUES (?)`, args: [1] },
  { sql: `INSERT INTO ${table}_t VALUES (?)`, args: [2] },
  `SELECT count(*) AS n FROM ${table}_t`,
], "write");
assert.equal(w.length, 3);
assert.equal(w[2].rows[0].n, 2);
await expectError(client.batch([
  { sql: `INSERT INTO ${table}_t VALUES (?)`, args: [3] },
  { sql: `INSERT INTO ${table}_t VALUES (?)`, args: [1] },
], "write"), "SQLITE_CONSTRAINT", /UNIQUE/);
const r = await client.batch([`SELECT count(*) AS n FROM ${table}_t`], "read");
assert.equal(r[0].rows[0].n, 2, "failed batch rolled back");
const d = await client.batch([`INSERT INTO ${table}_t VALUES (5)`], "deferred");
assert.equal(d[0].rowsAffected, 1);

// migrate() and executeMultiple().
await client.migrate([`CREATE TABLE ${table}_m(a)`, `INSERT INTO ${table}_m VALUES (1)`]);
await client.executeMultiple(`INSERT INTO ${table}_m VALUES (2); INSERT INTO ${table}_m VALUES (3);`);
assert.equal((await client.execute(`SELECT count(*) AS n FROM ${table}_m`)).rows[0].n, 3);

// transaction(): execute, batch, executeMultiple, commit; and rollback.
const tx = await client.transaction("write");
await tx.execute({ sql: `INSERT INTO ${table}_t VALUES (?)`, args: [10] });
await tx.batch([{ sql: `INSERT INTO ${table}_t VALUES (?)`, args: [11] }, `INSERT INTO ${table}_t VALUES (12)`]);
await tx.executeMultiple(`INSERT INTO ${table}_t VALUES (13); INSERT INTO ${table}_t VALUES (14);`);
assert.equal((await tx.execute(`SELECT count(*) AS n FROM ${table}_t WHERE x >= 10`)).rows[0].n, 5);
await tx.commit();
const tx2 = await client.transaction("deferred");
await tx2.execute(`INSERT INTO ${table}_t VALUES (20)`);
await tx2.rollback();
assert.equal((await client.execute(`SELECT count(*) AS n FROM ${table}_t WHERE x >= 10`)).rows[0].n, 5);
const rtx = await client.transaction("read");
assert.equal((await rtx.execute(`SELECT count(*) AS n FROM ${table}_t`)).rows[0].n, 8);
rtx.close();

// Errors carry codes.
await expectError(client.execute(`INSERT INTO ${table}_t VALUES (1)`), "SQLITE_CONSTRAINT", /UNIQUE constraint failed/);
await expectError(client.execute("SELECT * FROM no_such_table"), "SQLITE_ERROR", /no such table/);
await expectError(client.execute("ATTACH DATABASE '/tmp/other.db' AS o"), "SQLITE_AUTH", /not authorized/);
await expectError(client.execute("SELECT 1; SELECT 2"), "SQL_MANY_STATEMENTS");

// Start-up PRAGMAs succeed (run or documented no-op); weakening ones are
// refused with a message naming the PRAGMA.
for (const p of ["PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=5000", "PRAGMA synchronous=NORMAL",
  "PRAGMA cache_size=-20000", "PRAGMA temp_store=MEMORY", "PRAGMA mmap_size=268435456", "PRAGMA foreign_keys=ON"]) {
  await client.execute(p);
}
assert.equal((await client.execute("PRAGMA journal_mode=WAL")).rows[0][0], "wal");
await expectError(client.execute("PRAGMA journal_mode=DELETE"), "SQLITE_AUTH", /journal_mode=DELETE is refused: .*WAL/);
await expectError(client.execute("PRAGMA synchronous=OFF"), "SQLITE_AUTH", /synchronous=OFF/);

// A parameter without a value binds NULL, as in SQLite.
const unbound = await client.execute({ sql: "SELECT ? AS a, ? AS b, :c AS c", args: [1] });
assert.deepEqual([unbound.rows[0].a, unbound.rows[0].b, unbound.rows[0].c], [1, null, null]);

// A request over the proxy's body cap is reported as too large, not as a
// broken connection (HRANA_BIG_BYTES: set by the proxy's test).
if (process.env.HRANA_BIG_BYTES) {
  await expectError(client.execute({ sql: "SELECT length(?)", args: ["x".repeat(Number(process.env.HRANA_BIG_BYTES))] }),
    "REQUEST_TOO_LARGE", /too large/);
  assert.equal((await client.execute("SELECT 1 AS one")).rows[0].one, 1);
}

client.close();
big.close();
console.log("OK");
