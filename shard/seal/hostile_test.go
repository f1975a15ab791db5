package seal_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/seal"
)

// Every other way SQL could write a managed table or its schema is
// refused (an UPSERT, REPLACE, ALTER of any kind, sqlite_schema writes,
// raw pages), and a tenant's own ALTER TABLE … DROP COLUMN works (it was
// refused by a misread authorizer argument, which also hid why the managed
// one was refused).
func TestHostileWritesAndSchemaVariants(t *testing.T) {
	path := tenantDB(t, 4)
	before := schema(t, path)
	c := engine(t, path)
	for _, q := range []string{
		`INSERT INTO accounts(id, tenant_id, user_id, type, currency) VALUES (1, 4, 1, 'savings', 'GHS') ON CONFLICT(id) DO UPDATE SET balance = 999`,
		`REPLACE INTO accounts(id, tenant_id, user_id, type, currency) VALUES (1, 4, 1, 'savings', 'GHS')`,
		`INSERT OR REPLACE INTO tenant_stamp(singleton, tenant_id) VALUES (1, 5)`,
		`ALTER TABLE accounts ADD COLUMN x INTEGER`,
		`ALTER TABLE accounts RENAME COLUMN balance TO bal`,
		`ALTER TABLE accounts RENAME TO accounts2`,
		`ALTER TABLE transactions DROP COLUMN description`,
		`DROP INDEX idx_accounts_tenant_id`,
		`DROP TABLE idempotency_keys`,
		`PRAGMA writable_schema = 1`,
		`ATTACH ':memory:' AS x`,
		`SELECT count(*) FROM sqlite_dbpage`,
		`SELECT data FROM sqlite_dbpage WHERE pgno = 2`,
		`INSERT INTO sqlite_dbpage VALUES (2, zeroblob(4096))`,
		`CREATE VIRTUAL TABLE ft USING fts5(balance, content='accounts', content_rowid='id')`,
		`CREATE VIRTUAL TABLE ft USING fts5(email, content = "Users")`,
		`CREATE VIEW vv AS SELECT 1 AS a`, // allowed, below
		`CREATE TRIGGER vv_i INSTEAD OF INSERT ON vv BEGIN UPDATE accounts SET balance = 0; END`,
		`CREATE TRIGGER vv_j INSTEAD OF DELETE ON vv BEGIN SELECT balance FROM accounts; END`,
	} {
		if q == `CREATE VIEW vv AS SELECT 1 AS a` {
			mustExec(t, c, q)
			continue
		}
		refused(t, c, q)
	}
	if err := c.Exec(`ALTER TABLE transactions DROP COLUMN description`); err == nil || !strings.Contains(err.Error(), "transactions is managed by tenantgate and cannot be altered") {
		t.Errorf("DROP COLUMN on a managed table: %v", err)
	}
	// sqlite_schema itself: DEFENSIVE refuses it before the authorizer.
	for _, q := range []string{
		`UPDATE sqlite_master SET sql = 'CREATE TABLE accounts(x)' WHERE name = 'accounts'`,
		`DELETE FROM sqlite_schema WHERE name = 'idx_accounts_tenant_id'`,
		`INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(a)')`,
	} {
		var se *rawsqlite.Error
		if err := c.Exec(q); !errors.As(err, &se) || !strings.Contains(se.Msg, "may not be modified") {
			t.Errorf("%s: %v", q, err)
		}
	}
	// A tenant's savepoint named like the schema check's does not undo it.
	mustExec(t, c, `SAVEPOINT tg_schema_check`)
	refused(t, c, `CREATE VIEW v2 AS SELECT * FROM accounts`)
	mustExec(t, c, `RELEASE tg_schema_check`)
	// The tenant's own objects.
	for _, q := range []string{
		`CREATE TABLE mine(a, b, c)`,
		`ALTER TABLE mine DROP COLUMN b`,
		`ALTER TABLE mine RENAME COLUMN c TO d`,
		`CREATE VIRTUAL TABLE notes USING fts5(content, body)`,
		`CREATE VIRTUAL TABLE ext USING fts5(d, content='mine')`,
		`INSERT INTO ext(ext) VALUES ('rebuild')`,
		`DROP TABLE ext`, `DROP TABLE notes`, `DROP TABLE mine`, `DROP VIEW vv`,
	} {
		mustExec(t, c, q)
	}
	if got := schema(t, path); got != before {
		t.Errorf("schema changed:\n%s\nwant\n%s", got, before)
	}
}

// An FTS table over a managed table, left by a binary from before the
// seal, is found by the audit and dropped by the repair (its index is
// derived from the table it reads).
func TestBentFTSOverManagedTable(t *testing.T) {
	path := tenantDB(t, 4)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE VIRTUAL TABLE ft USING fts5(email, content='users', content_rowid='id')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := engine(t, path)
	found, err := seal.Audit(context.Background(), seal.Raw(c))
	if err != nil || len(found) != 1 || found[0].Object != "ft" || found[0].Table != "users" || !found[0].Repairable() {
		t.Fatalf("audit: %+v %v", found, err)
	}
	if err := c.Internal(func() error { return c.Exec(found[0].DropSQL()) }); err != nil {
		t.Fatal(err)
	}
	if found, err := seal.Audit(context.Background(), seal.Raw(c)); err != nil || len(found) != 0 {
		t.Errorf("after repair: %+v %v", found, err)
	}
}
