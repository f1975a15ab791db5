package transfer_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/shard/transfer"
	"github.com/microfi/tenantgate/shard/transfer/transfertest"
)

func expectedRows(sz transfertest.Sizes) map[string]int64 {
	return map[string]int64{
		"users": int64(sz.Users), "accounts": int64(sz.Accounts), "transactions": int64(sz.Transactions),
		"subscriptions": int64(sz.Subscriptions), "gateway_configs": int64(sz.Gateways), "communication_usage": int64(sz.Usage),
	}
}

func checkReport(t *testing.T, rep transfer.Report, sz transfertest.Sizes, wantAdded bool) {
	t.Helper()
	want := expectedRows(sz)
	if len(rep.Tables) != len(transfer.SeedTables) {
		t.Fatalf("report has %d tables", len(rep.Tables))
	}
	for _, tr := range rep.Tables {
		if tr.SourceRows != want[tr.Table] {
			t.Errorf("%s: source rows %d, want %d", tr.Table, tr.SourceRows, want[tr.Table])
		}
		added, present := tr.SourceRows, int64(0)
		if !wantAdded {
			added, present = 0, tr.SourceRows
		}
		if tr.Added != added || tr.Present != present {
			t.Errorf("%s: added %d present %d, want %d/%d", tr.Table, tr.Added, tr.Present, added, present)
		}
		if tr.SourceChecksum == "" || tr.SourceChecksum != tr.TargetChecksum {
			t.Errorf("%s: checksums %s vs %s", tr.Table, tr.SourceChecksum, tr.TargetChecksum)
		}
	}
}

func TestImportLegacy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "legacy.db")
	transfertest.WriteLegacy(t, src, transfertest.Small)
	before := transfertest.FileHash(t, src)
	target := filepath.Join(dir, "tenants", "7.db")
	os.MkdirAll(filepath.Dir(target), 0o755)
	transfertest.ProvisionTenant(t, target, 7)

	s, err := transfer.Open(ctx, src, transfer.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %v", s.Warnings)
	}
	rep, err := s.Import(ctx, 7, target)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, transfertest.Small, true)
	if n := transfertest.Count(t, target, `SELECT count(*) FROM transactions WHERE tenant_id = 7`); n != transfertest.Small.Transactions {
		t.Fatalf("target has %d transactions", n)
	}
	// Ids are kept (the generator leaves gaps), and the next id follows them.
	if n := transfertest.Count(t, target, `SELECT max(id) FROM users`); n != 2*transfertest.Small.Users-1 {
		t.Fatalf("max user id %d", n)
	}
	if n := transfertest.Count(t, target, `SELECT seq FROM sqlite_sequence WHERE name = 'users'`); n != 2*transfertest.Small.Users-1 {
		t.Fatalf("users sequence %d", n)
	}

	t.Run("RerunAddsNothing", func(t *testing.T) {
		rep, err := s.Import(ctx, 7, target)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, transfertest.Small, false)
		if src, added := rep.Rows(); added != 0 || src != int64(transfertest.Small.Total()) {
			t.Fatalf("rerun rows %d added %d", src, added)
		}
	})

	t.Run("ErrStampMismatch", func(t *testing.T) {
		other := filepath.Join(dir, "tenants", "8.db")
		transfertest.ProvisionTenant(t, other, 8)
		if _, err := s.Import(ctx, 7, other); !errors.Is(err, transfer.ErrStampMismatch) {
			t.Fatalf("err %v", err)
		}
		if n := transfertest.Count(t, other, `SELECT count(*) FROM users`); n != 0 {
			t.Fatalf("wrote %d users into another tenant", n)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		other := filepath.Join(dir, "tenants", "9.db")
		transfertest.ProvisionTenant(t, other, 9)
		db := open(t, other)
		// Tenant 9 already has a different user under id 3, which the source uses.
		if _, err := db.Exec(`INSERT INTO users (id, tenant_id, email, name, password_hash, role) VALUES (3, 9, 'x@example.com', 'X', 'h', 'admin')`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		err := s.Check(ctx, 9, other)
		if !errors.Is(err, transfer.ErrConflict) || !strings.Contains(err.Error(), "first id 3") {
			t.Fatalf("check: %v", err)
		}
		if _, err := s.Import(ctx, 9, other); !errors.Is(err, transfer.ErrConflict) {
			t.Fatalf("import: %v", err)
		}
		if n := transfertest.Count(t, other, `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM accounts)`); n != 1 {
			t.Fatalf("conflicting import wrote rows: %d", n)
		}
	})

	if after := transfertest.FileHash(t, src); after != before {
		t.Fatalf("source changed: %s -> %s", before, after)
	}
	if _, err := os.Stat(src + "-wal"); err == nil {
		t.Fatalf("import left a WAL next to the source")
	}
}

func TestImportLegacyWarnings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "legacy.db")
	transfertest.WriteLegacy(t, src, transfertest.Sizes{Users: 3, Accounts: 3, Transactions: 3})
	db := open(t, src)
	for _, q := range []string{
		`ALTER TABLE users ADD COLUMN nickname TEXT`,
		`CREATE TABLE loans (id INTEGER PRIMARY KEY, amount INTEGER)`,
		`ALTER TABLE accounts DROP COLUMN status`, // has a default: optional
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	target := filepath.Join(dir, "1.db")
	transfertest.ProvisionTenant(t, target, 1)
	s, err := transfer.Open(ctx, src, transfer.Legacy)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := strings.Join(s.Warnings, "\n")
	for _, want := range []string{"column users.nickname", "table loans"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	rep, err := s.Import(ctx, 1, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 2 {
		t.Errorf("report warnings %v", rep.Warnings)
	}
	if n := transfertest.Count(t, target, `SELECT count(*) FROM accounts WHERE status = 'active'`); n != 3 {
		t.Errorf("missing optional column did not take its default: %d", n)
	}
}

func TestOpenErrSchema(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		kind  transfer.Kind
		setup func(db *sql.DB) error
		want  string
	}{
		{"MissingTable", transfer.Legacy, func(db *sql.DB) error { _, err := db.Exec(`DROP TABLE communication_usage`); return err }, "missing table communication_usage"},
		{"MissingRequiredColumn", transfer.Legacy, func(db *sql.DB) error { _, err := db.Exec(`ALTER TABLE transactions DROP COLUMN currency`); return err }, "transactions lacks required column currency"},
		{"LegacyHasTenantID", transfer.Legacy, func(db *sql.DB) error {
			_, err := db.Exec(`ALTER TABLE users ADD COLUMN tenant_id INTEGER`)
			return err
		}, "import it with --shared"},
		{"SharedWithoutTenants", transfer.Shared, func(db *sql.DB) error { return nil }, "missing table tenants"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src.db")
			transfertest.WriteLegacy(t, src, transfertest.Sizes{Users: 2, Accounts: 2})
			db := open(t, src)
			if err := c.setup(db); err != nil {
				t.Fatal(err)
			}
			db.Close()
			before := transfertest.FileHash(t, src)
			_, err := transfer.Open(ctx, src, c.kind)
			if !errors.Is(err, transfer.ErrSchema) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if transfertest.FileHash(t, src) != before {
				t.Fatal("source changed")
			}
		})
	}
	t.Run("NotSQLite", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "junk.db")
		os.WriteFile(src, []byte(strings.Repeat("not a database ", 100)), 0o644)
		if _, err := transfer.Open(ctx, src, transfer.Legacy); err == nil || !strings.Contains(err.Error(), "not a database") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		if _, err := transfer.Open(ctx, filepath.Join(t.TempDir(), "nope.db"), transfer.Legacy); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestImportShared(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "shared.db")
	tenants := []transfertest.SourceTenant{{ID: 3, Host: "acme"}, {ID: 5, Host: "kofi"}, {ID: 9, Host: "ama"}, {ID: 12, Host: "zed"}}
	sz := transfertest.Sizes{Users: 100, Accounts: 200, Transactions: 1000, Subscriptions: 5, Gateways: 3, Usage: 100}
	transfertest.WriteShared(t, src, tenants, sz)
	before := transfertest.FileHash(t, src)

	s, err := transfer.Open(ctx, src, transfer.Shared)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Tenants) != 4 || s.Tenants[1].Host != "kofi" || s.Tenants[1].Rows != int64(sz.Total()) {
		t.Fatalf("tenants %+v", s.Tenants)
	}
	for _, tn := range tenants {
		target := filepath.Join(dir, fmt.Sprintf("%d.db", tn.ID))
		transfertest.ProvisionTenant(t, target, tn.ID)
		rep, err := s.Import(ctx, tn.ID, target)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, sz, true)
		if n := transfertest.Count(t, target, `SELECT count(*) FROM accounts WHERE tenant_id = ?`, tn.ID); n != sz.Accounts {
			t.Fatalf("tenant %d: %d accounts", tn.ID, n)
		}
		rep, err = s.Import(ctx, tn.ID, target)
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, rep, sz, false)
	}
	if _, err := s.Import(ctx, 4, filepath.Join(dir, "3.db")); err == nil {
		t.Fatal("imported a tenant the source does not have")
	}
	if transfertest.FileHash(t, src) != before {
		t.Fatal("source changed")
	}

	t.Run("ErrOrphans", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "orphans.db")
		transfertest.WriteShared(t, bad, tenants[:1], transfertest.Sizes{Users: 2, Accounts: 2})
		db := open(t, bad)
		db.Exec(`INSERT INTO accounts (tenant_id, user_id, type, currency) VALUES (77, 1, 'savings', 'GHS')`)
		db.Close()
		if _, err := transfer.Open(ctx, bad, transfer.Shared); !errors.Is(err, transfer.ErrSchema) || !strings.Contains(err.Error(), "tenant_id 77") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("SharedAsLegacy", func(t *testing.T) {
		if _, err := transfer.Open(ctx, src, transfer.Legacy); !errors.Is(err, transfer.ErrSchema) {
			t.Fatalf("err %v", err)
		}
	})
}

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestImportWALSource: a WAL-mode source leaves no -wal/-shm files behind,
// and rows still in a source's WAL (a file copied while in use) are read.
func TestImportWALSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "legacy.db")
	transfertest.WriteLegacy(t, src, transfertest.Sizes{Users: 3, Accounts: 3})
	db := open(t, src)
	if _, err := db.Exec(`PRAGMA journal_mode=WAL`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	t.Run("NoSideFiles", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "1.db")
		transfertest.ProvisionTenant(t, target, 1)
		before := transfertest.FileHash(t, src)
		s, err := transfer.Open(ctx, src, transfer.Legacy)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(ctx, 1, target); err != nil {
			t.Fatal(err)
		}
		s.Close()
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || transfertest.FileHash(t, src) != before {
			t.Fatalf("source dir now has %v", entries)
		}
	})
	t.Run("RowsInWAL", func(t *testing.T) {
		writer := open(t, src)
		defer writer.Close()
		writer.SetMaxOpenConns(1)
		if _, err := writer.Exec(`INSERT INTO users (id, email, name, password_hash, role) VALUES (100, 'wal@example.com', 'In WAL', 'h', 'staff')`); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(src + "-wal"); err != nil {
			t.Fatalf("expected a live WAL: %v", err)
		}
		target := filepath.Join(t.TempDir(), "1.db")
		transfertest.ProvisionTenant(t, target, 1)
		s, err := transfer.Open(ctx, src, transfer.Legacy)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Import(ctx, 1, target); err != nil {
			t.Fatal(err)
		}
		if n := transfertest.Count(t, target, `SELECT count(*) FROM users WHERE email = 'wal@example.com'`); n != 1 {
			t.Fatal("row committed in the source's WAL was not imported")
		}
	})
}
