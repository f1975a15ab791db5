package rawsqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// mustTenantDB creates a migrated tenant database stamped with tenantID and
// returns its path.
func mustTenantDB(tb testing.TB, tenantID int64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tenant.db")
	if err := shard.Provision(context.Background(), "file:"+path, tenantID); err != nil {
		tb.Fatal(err)
	}
	return path
}

func mustOpen(tb testing.TB, path string, ro bool) *rawsqlite.Conn {
	tb.Helper()
	c, err := rawsqlite.Open(path, rawsqlite.Options{ReadOnly: ro})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func mustExec(tb testing.TB, c *rawsqlite.Conn, sql string) {
	tb.Helper()
	if err := c.Exec(sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func queryOne(tb testing.TB, c *rawsqlite.Conn, sql string) (rawsqlite.Type, string) {
	tb.Helper()
	st, _, err := c.Prepare(sql)
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	defer st.Finalize()
	row, err := st.Step()
	if err != nil || !row {
		tb.Fatalf("%s: row=%v err=%v", sql, row, err)
	}
	return st.ColumnType(0), st.ColumnText(0)
}

func TestStorageClassesAndDeclTypes(t *testing.T) {
	c := mustOpen(t, mustTenantDB(t, 7), false)
	mustExec(t, c, `CREATE TABLE v(d DATETIME, b BOOLEAN, x)`)
	mustExec(t, c, `INSERT INTO v VALUES ('2024-01-02 03:04:05', 1, x'00ff')`)
	st, _, err := c.Prepare(`SELECT d, b, x, 1.5 FROM v`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finalize()
	if row, err := st.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	if got := st.ColumnType(0); got != rawsqlite.Text {
		t.Errorf("DATETIME column type = %v, want Text", got)
	}
	if got := st.ColumnText(0); got != "2024-01-02 03:04:05" {
		t.Errorf("text = %q", got)
	}
	if got := st.ColumnType(1); got != rawsqlite.Integer || st.ColumnInt64(1) != 1 {
		t.Errorf("BOOLEAN column = %v %d", got, st.ColumnInt64(1))
	}
	if got := st.ColumnBlob(2); string(got) != "\x00\xff" {
		t.Errorf("blob = %x", got)
	}
	if d, ok := st.ColumnDeclType(0); !ok || d != "DATETIME" {
		t.Errorf("decltype = %q %v", d, ok)
	}
	if _, ok := st.ColumnDeclType(3); ok {
		t.Errorf("expression has a decltype")
	}
}

func TestPrepareTailAndParams(t *testing.T) {
	c := mustOpen(t, mustTenantDB(t, 7), false)
	st, tail, err := c.Prepare("SELECT :a, @b, $c, ?, ?7; SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Finalize()
	if strings.TrimSpace(tail) != "SELECT 2" {
		t.Errorf("tail = %q", tail)
	}
	if got := st.ParamCount(); got != 7 {
		t.Errorf("param count = %d", got)
	}
	names := []string{st.ParamName(1), st.ParamName(2), st.ParamName(3), st.ParamName(4), st.ParamName(7)}
	if want := []string{":a", "@b", "$c", "", "?7"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("names = %q", names)
	}
	none, _, err := c.Prepare("  -- only a comment")
	if err != nil || none != nil {
		t.Errorf("comment-only: stmt=%v err=%v", none, err)
	}
	if err := st.BindBlob(1, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.BindText(2, ""); err != nil {
		t.Fatal(err)
	}
	if row, err := st.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	if st.ColumnType(0) != rawsqlite.Blob || st.ColumnType(1) != rawsqlite.Text || st.ColumnType(2) != rawsqlite.Null {
		t.Errorf("types = %v %v %v", st.ColumnType(0), st.ColumnType(1), st.ColumnType(2))
	}
}

func TestErrorsCarryCodes(t *testing.T) {
	c := mustOpen(t, mustTenantDB(t, 7), false)
	mustExec(t, c, `CREATE TABLE u(id INTEGER PRIMARY KEY); INSERT INTO u VALUES (1)`)
	err := c.Exec(`INSERT INTO u VALUES (1)`)
	var se *rawsqlite.Error
	if !errors.As(err, &se) || se.CodeName() != "SQLITE_CONSTRAINT" || !strings.Contains(se.Msg, "UNIQUE constraint failed: u.id") {
		t.Fatalf("err = %#v", err)
	}
	if c.Autocommit() != true {
		t.Error("not in autocommit")
	}
	mustExec(t, c, "BEGIN")
	if c.Autocommit() {
		t.Error("autocommit inside BEGIN")
	}
	if err := c.Rollback(); err != nil || !c.Autocommit() {
		t.Errorf("rollback: %v", err)
	}
}

// TestSafetyPolicy checks that each dangerous statement is refused with
// SQLITE_AUTH and leaves the file unchanged.
func TestSafetyPolicy(t *testing.T) {
	path := mustTenantDB(t, 7)
	other := mustTenantDB(t, 8)
	c := mustOpen(t, path, false)
	into := filepath.Join(t.TempDir(), "copy.db")
	refused := []string{
		"ATTACH DATABASE '" + other + "' AS o",
		"ATTACH '" + into + "' AS n",
		"DETACH main",
		"SELECT load_extension('/tmp/x.so')",
		"VACUUM INTO '" + into + "'",
		"VACUUM",
		"DROP TABLE tenant_stamp",
		"ALTER TABLE tenant_stamp ADD COLUMN z",
		"ALTER TABLE users RENAME TO people",
		"DROP TABLE users",
		"DROP INDEX idx_accounts_tenant_id",
		"DROP TRIGGER users_tenant_guard_insert",
		"DROP TRIGGER tenant_stamp_immutable",
		"DROP TRIGGER audit_log_append_only_update",
		"DROP TRIGGER audit_log_append_only_delete",
		"CREATE TRIGGER x AFTER INSERT ON tenant_stamp BEGIN SELECT 1; END",
		"CREATE TRIGGER y AFTER UPDATE ON accounts BEGIN DELETE FROM users; END",
		"INSERT INTO tenant_stamp(singleton, tenant_id) VALUES (2, 8)",
		"DELETE FROM schema_migrations",
		"UPDATE schema_migrations SET checksum = 'x'",
		"PRAGMA writable_schema = ON",
		"PRAGMA trusted_schema = ON",
		"PRAGMA journal_mode = DELETE",
		"PRAGMA synchronous = OFF",
		"PRAGMA ignore_check_constraints = ON",
		"PRAGMA database_list",
	}
	for _, q := range refused {
		err := c.Exec(q)
		var se *rawsqlite.Error
		if !errors.As(err, &se) || se.CodeName() != "SQLITE_AUTH" {
			t.Errorf("%s: err = %v, want SQLITE_AUTH", q, err)
			continue
		}
		if !strings.HasPrefix(se.Msg, "not authorized") {
			t.Errorf("%s: message %q", q, se.Msg)
		}
	}
	if _, err := os.Stat(into); !os.IsNotExist(err) {
		t.Errorf("VACUUM INTO created %s", into)
	}
	// Managed tables are read-only, whatever the row.
	for _, q := range []string{
		`INSERT INTO users(tenant_id, email, name, password_hash, role) VALUES (8, 'a@b', 'A', 'x', 'staff')`,
		`INSERT INTO users(tenant_id, email, name, password_hash, role) VALUES (7, 'a@b', 'A', 'x', 'staff')`,
	} {
		if err := c.Exec(q); err == nil || !strings.Contains(err.Error(), "managed by tenantgate") {
			t.Errorf("%s: %v", q, err)
		}
	}
	allowed := []string{
		"PRAGMA table_info(users)",
		"PRAGMA foreign_keys",
		"PRAGMA foreign_keys = OFF",
		"PRAGMA foreign_keys = ON",
		"PRAGMA user_version",
		"PRAGMA journal_mode",
		"SELECT * FROM pragma_table_info('users')",
		"CREATE TABLE mine(a)", "ALTER TABLE mine ADD COLUMN b",
		"CREATE TRIGGER mine_t AFTER INSERT ON mine BEGIN SELECT 1; END", "DROP TRIGGER mine_t", "DROP TABLE mine",
		"SELECT tenant_id FROM tenant_stamp",
	}
	for _, q := range allowed {
		if err := c.Exec(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	if !c.Dirty() {
		t.Error("PRAGMA foreign_keys = OFF did not mark the connection dirty")
	}
	if _, v := queryOne(t, c, "SELECT tenant_id FROM tenant_stamp"); v != "7" {
		t.Errorf("stamp = %s", v)
	}
	// Nothing changed on disk for the tenant next door either.
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Errorf("other tenant users = %d, %v", n, err)
	}
}

// A TOTP secret reads as NULL over SQL; the row itself is visible.
func TestSecretColumnsReadNull(t *testing.T) {
	path := mustTenantDB(t, 7)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users(tenant_id, email, name, password_hash, role) VALUES (7, 'a@b.example', 'A', 'x', 'staff')`,
		`INSERT INTO user_totp(user_id, tenant_id, secret, confirmed) VALUES (1, 7, 'JBSWY3DPEHPK3PXP', 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	c := mustOpen(t, path, false)
	for _, q := range []string{"SELECT secret FROM user_totp", "SELECT * FROM user_totp", "SELECT upper(secret) FROM user_totp WHERE user_id = 1"} {
		st, _, err := c.Prepare(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		row, err := st.Step()
		if err != nil || !row {
			t.Fatalf("%s: %v %v", q, row, err)
		}
		for i := range st.ColumnCount() {
			if strings.Contains(st.ColumnText(i), "JBSWY3DP") {
				t.Errorf("%s: secret readable: %q", q, st.ColumnText(i))
			}
		}
		st.Finalize()
	}
}

func TestReadOnly(t *testing.T) {
	path := mustTenantDB(t, 7)
	mustExec(t, mustOpen(t, path, false), `CREATE TABLE notes(a)`)
	c := mustOpen(t, path, true)
	err := c.Exec(`INSERT INTO notes VALUES (1)`)
	var se *rawsqlite.Error
	if !errors.As(err, &se) || se.CodeName() != "SQLITE_READONLY" {
		t.Fatalf("write on read-only: %v", err)
	}
	if _, v := queryOne(t, c, "SELECT count(*) FROM notes"); v != "0" {
		t.Errorf("count = %s", v)
	}
}

func TestDeadlineInterruptsAndConnSurvives(t *testing.T) {
	c := mustOpen(t, mustTenantDB(t, 7), false)
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	err := c.Exec(`WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r`)
	var se *rawsqlite.Error
	if !errors.As(err, &se) || se.CodeName() != "SQLITE_INTERRUPT" || !strings.Contains(se.Msg, "timeout") {
		t.Fatalf("runaway query: %v", err)
	}
	c.SetDeadline(time.Time{})
	if _, v := queryOne(t, c, "SELECT 41 + 1"); v != "42" {
		t.Errorf("after interrupt: %s", v)
	}
	// Interrupt from another goroutine.
	go func() { time.Sleep(30 * time.Millisecond); c.Interrupt() }()
	err = c.Exec(`WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r`)
	if !errors.As(err, &se) || se.CodeName() != "SQLITE_INTERRUPT" {
		t.Fatalf("interrupted query: %v", err)
	}
	if _, v := queryOne(t, c, "SELECT 1"); v != "1" {
		t.Errorf("after interrupt: %s", v)
	}
}
