// Package transfertest writes the legacy and shared MicroFi databases and
// the stamped tenant databases that the import, backup and fleet tests (and
// benchmarks) work on. Test support only.
package transfertest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/storage"
	"github.com/microfi/tenantgate/shard/transfer"
)

// Sizes is how many rows a generated source holds per tenant.
type Sizes struct {
	Users, Accounts, Transactions, Subscriptions, Gateways, Usage int
}

// Small is a few thousand rows per tenant.
var Small = Sizes{Users: 200, Accounts: 400, Transactions: 2000, Subscriptions: 20, Gateways: 10, Usage: 300}

// Total is the number of rows per tenant.
func (s Sizes) Total() int {
	return s.Users + s.Accounts + s.Transactions + s.Subscriptions + s.Gateways + s.Usage
}

// SourceTenant is one tenant of a generated shared database.
type SourceTenant struct {
	ID   int64
	Host string
}

var idColumn = regexp.MustCompile(`(?m)^(\s*id\s+INTEGER PRIMARY KEY AUTOINCREMENT,)`)

// SharedSchema is transfer.LegacySchema with tenant_id on every table plus
// the seed's tenants table.
func SharedSchema() string {
	s := idColumn.ReplaceAllString(transfer.LegacySchema, "$1\n  tenant_id INTEGER NOT NULL,")
	s = strings.Replace(s, "NOT NULL UNIQUE,", "NOT NULL,", 1) // emails are unique per tenant only
	return `CREATE TABLE tenants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  host TEXT UNIQUE NOT NULL,
  custom_domain TEXT UNIQUE,
  name TEXT NOT NULL,
  country_code TEXT NOT NULL,
  subscription_plan TEXT DEFAULT 'starter',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  status TEXT DEFAULT 'active'
);
` + s
}

// WriteLegacy creates a legacy database at path with sz rows.
func WriteLegacy(tb testing.TB, path string, sz Sizes) {
	tb.Helper()
	db := create(tb, path, transfer.LegacySchema)
	defer db.Close()
	fill(tb, db, 0, 0, sz)
}

// WriteShared creates a shared database at path holding sz rows for each
// tenant, with row ids interleaved across tenants as in a real shared file.
func WriteShared(tb testing.TB, path string, tenants []SourceTenant, sz Sizes) {
	tb.Helper()
	db := create(tb, path, SharedSchema())
	defer db.Close()
	for _, t := range tenants {
		if _, err := db.Exec(`INSERT INTO tenants (id, host, name, country_code) VALUES (?, ?, ?, 'GH')`,
			t.ID, t.Host, "Tenant "+t.Host); err != nil {
			tb.Fatal(err)
		}
	}
	for i, t := range tenants {
		fill(tb, db, t.ID, i*10_000_000, sz)
	}
}

func create(tb testing.TB, path, schema string) *sql.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		tb.Fatalf("create source schema: %v", err)
	}
	return db
}

// fill inserts sz rows; tenantID 0 means a legacy table (no tenant_id).
// Ids start above base and skip some values, as deleted rows would.
func fill(tb testing.TB, db *sql.DB, tenantID int64, base int, sz Sizes) {
	tb.Helper()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	tcol, tval := "", ""
	if tenantID != 0 {
		tcol, tval = "tenant_id, ", fmt.Sprintf("%d, ", tenantID)
	}
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	uid := func(i int) int { return base + 1 + i*2 } // every other id: gaps
	roles := []string{"customer", "staff", "admin"}
	for i := 0; i < sz.Users; i++ {
		exec(`INSERT INTO users (id, `+tcol+`email, name, password_hash, role, created_at) VALUES (?, `+tval+`?, ?, ?, ?, ?)`,
			uid(i), fmt.Sprintf("user%d.%d@example.com", tenantID, i), fmt.Sprintf("Ama O'Neil №%d", i),
			"$2a$10$abcdefghijklmnopqrstuv", roles[i%3], fmt.Sprintf("2024-01-%02d 10:00:00", 1+i%28))
	}
	aid := func(i int) int { return base + 1 + i }
	for i := 0; i < sz.Accounts; i++ {
		typ := "savings"
		if i%2 == 1 {
			typ = "current"
		}
		exec(`INSERT INTO accounts (id, `+tcol+`user_id, type, currency, balance) VALUES (?, `+tval+`?, ?, 'GHS', ?)`,
			aid(i), uid(i%max(sz.Users, 1)), typ, int64(i)*1_250)
	}
	for i := 0; i < sz.Transactions; i++ {
		from := aid(i % max(sz.Accounts, 1))
		switch i % 3 {
		case 0:
			exec(`INSERT INTO transactions (id, `+tcol+`user_id, account_id, type, amount, currency, description) VALUES (?, `+tval+`?, ?, 'deposit', ?, 'GHS', ?)`,
				base+1+i, uid(i%max(sz.Users, 1)), from, 100+i, fmt.Sprintf("deposit %d \"cash\"", i))
		case 1:
			exec(`INSERT INTO transactions (id, `+tcol+`account_id, type, amount, currency) VALUES (?, `+tval+`?, 'withdrawal', ?, 'GHS')`,
				base+1+i, from, 50+i)
		default:
			exec(`INSERT INTO transactions (id, `+tcol+`user_id, account_id, to_account_id, type, amount, currency, description) VALUES (?, `+tval+`?, ?, ?, 'transfer', ?, 'GHS', 'rent')`,
				base+1+i, uid(i%max(sz.Users, 1)), from, aid((i+1)%max(sz.Accounts, 1)), 10+i)
		}
	}
	for i := 0; i < sz.Subscriptions; i++ {
		exec(`INSERT INTO subscriptions (id, `+tcol+`plan, amount_minor, currency, ends_at) VALUES (?, `+tval+`'growth', 49900, 'GHS', ?)`,
			base+1+i, map[bool]any{true: nil, false: "2025-12-31"}[i%2 == 0])
	}
	for i := 0; i < sz.Gateways; i++ {
		exec(`INSERT INTO gateway_configs (id, `+tcol+`provider, config, enabled) VALUES (?, `+tval+`?, ?, ?)`,
			base+1+i, "momo", fmt.Sprintf(`{"key":"k%d"}`, i), i%2)
	}
	for i := 0; i < sz.Usage; i++ {
		exec(`INSERT INTO communication_usage (id, `+tcol+`channel, units, cost_minor, period) VALUES (?, `+tval+`'sms', ?, ?, '2024-05')`,
			base+1+i, i, i*3)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// ProvisionTenant creates a migrated tenant database at path stamped with
// id, with shard.Manager's own provisioning.
func ProvisionTenant(tb testing.TB, path string, id int64) {
	tb.Helper()
	if err := shard.Provision(context.Background(), "file:"+path, id); err != nil {
		tb.Fatal(err)
	}
}

// FileHash is the hex SHA-256 of a file's bytes.
func FileHash(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Count runs a count query on the database at path.
func Count(tb testing.TB, path, query string, args ...any) int {
	tb.Helper()
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}
