package seal_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/seal"
)

func tenantDB(tb testing.TB, id int64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tenant.db")
	if err := shard.Provision(context.Background(), "file:"+path, id); err != nil {
		tb.Fatal(err)
	}
	return path
}

// engine opens a connection the way the SQL engine does.
func engine(tb testing.TB, path string) *rawsqlite.Conn {
	tb.Helper()
	c, err := rawsqlite.Open(path, rawsqlite.Options{SchemaCheck: seal.Check})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func refused(tb testing.TB, c *rawsqlite.Conn, q string) {
	tb.Helper()
	err := c.Exec(q)
	var se *rawsqlite.Error
	if !errors.As(err, &se) || se.CodeName() != "SQLITE_AUTH" || !strings.HasPrefix(se.Msg, "not authorized") {
		tb.Errorf("%s: err = %v, want SQLITE_AUTH", q, err)
	}
}

// schema lists the database's objects, read outside the SQL engine.
func schema(tb testing.TB, path string) string {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type || ' ' || name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// TestSkimSequenceRefused replays the attack that bent a demo ledger: each
// of its statements is refused, and none leaves an object behind.
func TestSkimSequenceRefused(t *testing.T) {
	path := tenantDB(t, 4)
	before := schema(t, path)
	c := engine(t, path)
	for _, q := range []string{
		`CREATE UNIQUE INDEX shadow_key ON accounts(id, balance)`,
		`CREATE TABLE shadow(aid INTEGER, bal INTEGER, FOREIGN KEY(aid,bal) REFERENCES accounts(id,balance) ON UPDATE CASCADE)`,
	} {
		refused(t, c, q)
	}
	// The trigger, on a table of the tenant's own, is refused for its body.
	mustExec(t, c, `CREATE TABLE shadow(aid INTEGER, bal INTEGER)`)
	refused(t, c, `CREATE TRIGGER skim AFTER UPDATE ON shadow WHEN NEW.aid <> 9 BEGIN UPDATE accounts SET balance = balance + 100 WHERE id = 9; END`)
	refused(t, c, `INSERT INTO accounts SELECT * FROM accounts`)
	mustExec(t, c, `DROP TABLE shadow`)
	if got := schema(t, path); got != before {
		t.Errorf("schema changed:\n%s\nwant\n%s", got, before)
	}
}

// TestForeignObjectsRefused covers every way a tenant's object could touch
// a managed table, and the names tenantgate keeps for itself.
func TestForeignObjectsRefused(t *testing.T) {
	path := tenantDB(t, 4)
	before := schema(t, path)
	c := engine(t, path)
	mustExec(t, c, `ANALYZE`)
	mustExec(t, c, `CREATE TABLE mine(id INTEGER PRIMARY KEY, v INTEGER)`)
	mustExec(t, c, `CREATE TABLE other(id INTEGER PRIMARY KEY, mine_id INTEGER REFERENCES mine(id) ON DELETE CASCADE)`)
	for _, q := range []string{
		// indexes, including the expression index that slowed postings
		`CREATE INDEX slow ON accounts(length(printf('%.*c', CASE WHEN balance > 1e10 THEN 900000000 ELSE 1 END, 'x')))`,
		`CREATE INDEX u ON users(email)`,
		`CREATE TEMP TRIGGER t AFTER INSERT ON main.transactions BEGIN SELECT 1; END`,
		`CREATE TRIGGER t AFTER DELETE ON idempotency_keys BEGIN SELECT 1; END`,
		// foreign keys, cascades
		`CREATE TABLE loans(id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts(id))`,
		`CREATE TABLE l2(u INTEGER, FOREIGN KEY(u) REFERENCES users(id) ON DELETE CASCADE)`,
		`ALTER TABLE mine ADD COLUMN acct INTEGER REFERENCES accounts(id)`,
		// views and triggers on the tenant's own tables
		`CREATE VIEW v AS SELECT * FROM accounts`,
		`CREATE VIEW v2 AS SELECT m.id FROM mine m JOIN transactions t ON t.id = m.id`,
		`CREATE TEMP VIEW v3 AS SELECT * FROM users`,
		`CREATE TRIGGER r AFTER INSERT ON mine BEGIN SELECT count(*) FROM users; END`,
		`CREATE TRIGGER w AFTER INSERT ON mine BEGIN DELETE FROM idempotency_keys; END`,
		`CREATE TRIGGER w2 BEFORE DELETE ON mine BEGIN INSERT INTO transactions(tenant_id, account_id, type, amount, currency) VALUES (4, 1, 'deposit', 1, 'GHS'); END`,
		`CREATE TEMP TRIGGER w3 AFTER UPDATE OF v ON mine BEGIN UPDATE accounts SET balance = 0; END`,
		// writes, by any statement
		`UPDATE accounts SET balance = balance + 1`,
		`DELETE FROM transactions`,
		`DELETE FROM sqlite_sequence WHERE name = 'accounts'`,
		`INSERT INTO idempotency_keys(tenant_id, key, request_hash, status, response) VALUES (4, 'k', 'h', 200, '{}')`,
		`UPDATE users SET role = 'admin'`,
		`INSERT INTO subscriptions(tenant_id, plan, currency) VALUES (4, 'x', 'GHS')`,
		`UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'transactions'`,
		`INSERT INTO sqlite_stat1 VALUES ('accounts', 'idx_accounts_tenant_id', '1 1')`,
		// reserved names
		`CREATE TABLE tg_future(a)`,
		`CREATE TEMP TABLE accounts(a)`,
		`CREATE TABLE TG_X(a)`,
		`CREATE INDEX idx_users_tenant_id2 ON mine(v)`, // allowed below: not reserved
		`ALTER TABLE mine RENAME TO tg_mine`,
		`CREATE VIRTUAL TABLE tg_fts USING fts5(a)`,
	} {
		if q == `CREATE INDEX idx_users_tenant_id2 ON mine(v)` {
			mustExec(t, c, q)
			mustExec(t, c, `DROP INDEX idx_users_tenant_id2`)
			continue
		}
		refused(t, c, q)
	}
	// A trigger that reaches a managed table through a second trigger.
	mustExec(t, c, `CREATE TABLE hop(a)`)
	refused(t, c, `CREATE TRIGGER hop_t AFTER INSERT ON hop BEGIN UPDATE accounts SET balance = 1; END`)
	// The tenant's own objects are theirs.
	for _, q := range []string{
		`CREATE INDEX mine_v ON mine(v)`,
		`CREATE VIEW mv AS SELECT * FROM mine JOIN other ON other.mine_id = mine.id`,
		`CREATE TRIGGER mt AFTER INSERT ON mine BEGIN INSERT INTO other(mine_id) VALUES (NEW.id); END`,
		`INSERT INTO mine(v) VALUES (1)`,
		`UPDATE mine SET v = 2`,
		`DELETE FROM mine`,
		`SELECT * FROM accounts JOIN users ON users.id = accounts.user_id`,
		`EXPLAIN CREATE TABLE e(a REFERENCES accounts(id))`, `CREATE TEMP TABLE scratch(a)`,
		`CREATE TABLE auto(id INTEGER PRIMARY KEY AUTOINCREMENT, a)`, `INSERT INTO auto(a) VALUES (1)`, `DROP TABLE auto`,
		`ALTER TABLE mine RENAME TO yours`,
		`DROP VIEW mv`, `DROP TRIGGER mt`, `DROP INDEX mine_v`, `DROP TABLE other`, `DROP TABLE yours`, `DROP TABLE hop`,
	} {
		mustExec(t, c, q)
	}
	if got := schema(t, path); got != before {
		t.Errorf("schema changed:\n%s\nwant\n%s", got, before)
	}
}

func mustExec(tb testing.TB, c *rawsqlite.Conn, q string) {
	tb.Helper()
	if err := c.Exec(q); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// TestManagedMatchesMigrations checks the managed list derived from the
// migration files against the schema a migrated database really has.
func TestManagedMatchesMigrations(t *testing.T) {
	path := tenantDB(t, 1)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := migrations.TenantManaged
	n := 0
	for rows.Next() {
		var typ, name string
		rows.Scan(&typ, &name)
		n++
		var ok bool
		switch typ {
		case "table", "view":
			ok = m.Tables[name]
		case "index":
			ok = m.Indexes[name]
		case "trigger":
			ok = m.Triggers[name]
		}
		if !ok {
			t.Errorf("%s %s is in a migrated database but not in migrations.TenantManaged", typ, name)
		}
	}
	if want := len(m.Tables) + len(m.Indexes) + len(m.Triggers); n != want {
		t.Errorf("migrated database has %d objects, TenantManaged lists %d", n, want)
	}
}
