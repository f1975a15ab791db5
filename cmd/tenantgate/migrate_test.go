package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
	"github.com/microfi/tenantgate/shard/storage"
)

// runCLI runs a command in-process and returns its stdout and error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	err := Main(context.Background(), env, args)
	return out.String(), err
}

// newFleet creates a data dir with n tenants tn1..tnN (ids 1..n).
func newFleet(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	tl, err := openTools(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	for i := 1; i <= n; i++ {
		if _, err := tl.tenants.Create(context.Background(), tenants.CreateRequest{
			Host: fmt.Sprintf("tn%d", i), Name: fmt.Sprintf("Tenant %d", i), Country: "GH"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var nicknameMigration = migrations.Migration{Version: migrations.Tenant.Latest() + 1, Name: "account_nickname",
	SQL: `ALTER TABLE accounts ADD COLUMN nickname TEXT NOT NULL DEFAULT ''; CREATE INDEX idx_accounts_nickname ON accounts(tenant_id, nickname);`}

func TestMigrateCommand(t *testing.T) {
	dir := newFleet(t, 12)
	ctx := context.Background()

	t.Run("AllCurrent", func(t *testing.T) {
		out, err := runCLI(t, "migrate", "--data-dir", dir, "--concurrency", "3")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{fmt.Sprintf("catalog: version %d, current", migrations.Catalog.Latest()), "tenants: checking 12 databases", "already current  12", "progress: 12/12", "nothing to do: every tenant database is already on version"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	// A new migration in this binary's set: dry run, then a real run with a
	// broken tenant, then status.
	set := migrations.Tenant.With(nicknameMigration)
	os.Remove(filepath.Join(dir, "tenants", "5.db"))
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}

	err := migrateFleet(ctx, env, dir, "", "", fleet.Options{Set: set, Concurrency: 2, DryRun: true}, 4, false)
	if err == nil || !strings.Contains(err.Error(), "1 of 12 tenant databases would fail") {
		t.Fatalf("dry run err %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "would migrate    11") || !strings.Contains(out.String(), "progress: 4/12 tenants (would migrate") ||
		strings.Contains(out.String(), "(migrated") {
		t.Fatalf("dry run output:\n%s", out.String())
	}

	out.Reset()
	backups := filepath.Join(t.TempDir(), "pre")
	err = migrateFleet(ctx, env, dir, "", "", fleet.Options{Set: set, Concurrency: 2, BackupDir: backups}, 0, false)
	if err == nil {
		t.Fatalf("missing database not reported:\n%s", out.String())
	}
	for _, want := range []string{"migrated         11", "failed           1", "tenant 5 (tn5) at version 0:", "does not exist"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(backups, fmt.Sprintf("7.v%d.db", migrations.Tenant.Latest()))); err != nil {
		t.Errorf("no pre-migration snapshot: %v", err)
	}

	out.Reset()
	// One tenant unreadable: status says so and fails, so scripts can gate.
	if err := fleetStatus(ctx, env, dir, "", set, 4); err == nil || !strings.Contains(err.Error(), "0 of 12 tenants behind and 1 unreadable") {
		t.Fatalf("status err %v", err)
	}
	for _, want := range []string{
		fmt.Sprintf("%d       11", set.Latest()), "unreadable        1", "errors (1):", "tenant 5 (tn5)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}

	// --tenant limits the run to one tenant.
	out.Reset()
	if err := migrateFleet(ctx, env, dir, "", "tn3", fleet.Options{Set: set, Concurrency: 1}, 0, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tenants: checking 1 databases") || !strings.Contains(out.String(), "already current  1") {
		t.Fatalf("--tenant output:\n%s", out.String())
	}

	t.Run("StatusWithOlderBinary", func(t *testing.T) {
		// The embedded set is now behind the fleet: status reports it.
		out, err := runCLI(t, "migrate", "status", "--data-dir", dir)
		if err == nil || exitCode(err) != 1 {
			t.Fatalf("status of a fleet ahead of the binary: %v", err)
		}
		if !strings.Contains(out, "database schema is newer than this binary") {
			t.Fatalf("status:\n%s", out)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"migrate", "--data-dir", dir, "--concurrency", "0"},
			{"migrate", "--data-dir", dir, "sideways"},
		} {
			if _, err := runCLI(t, args...); exitCode(err) != 2 {
				t.Errorf("%v: %v", args, err)
			}
		}
	})
}

// TestServeMixedVersions: a tenant database behind the binary is migrated
// when the proxy first opens it and served; one ahead of the binary is
// refused with 503 Tenant unavailable and left as it was.
func TestServeMixedVersions(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir)
	ctx := context.Background()
	cli(t, "tenants", "create", "--data-dir", dir, "--host", "old", "--name", "Old", "--country", "GH")
	cli(t, "tenants", "create", "--data-dir", dir, "--host", "ahead", "--name", "Ahead", "--country", "GH")

	// "old" (id 2): rebuilt on version 1 only, before the proxy opens it.
	oldPath := filepath.Join(dir, "tenants", "2.db")
	if err := os.Remove(oldPath); err != nil {
		t.Fatal(err)
	}
	v1 := migrations.Set{Name: "tenant", Migrations: migrations.Tenant.Migrations[:1]}
	db, err := storage.Open(ctx, oldPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	if err := storage.Stamp(ctx, db, 2); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// "ahead" (id 3): a migration from a newer binary.
	db, err = storage.Open(ctx, filepath.Join(dir, "tenants", "3.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant.With(nicknameMigration)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tokOld := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "old", "--role", "staff", "--user", "1"))
	waitStatus(t, addr, "old.microfi.localhost", tokOld, 200)
	db, _ = storage.Open(ctx, oldPath)
	v, err := migrations.Version(ctx, db)
	db.Close()
	if err != nil || v != migrations.Tenant.Latest() {
		t.Fatalf("old tenant served at version %d (%v), want %d", v, err, migrations.Tenant.Latest())
	}

	tokAhead := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "ahead", "--role", "staff", "--user", "1"))
	code, body := get(t, addr, "ahead.microfi.localhost", "/api/accounts", tokAhead)
	for deadline := time.Now().Add(2 * time.Second); code == 404 && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond) // the new tenant reaches the server's cache
		code, body = get(t, addr, "ahead.microfi.localhost", "/api/accounts", tokAhead)
	}
	if code != 503 || !strings.Contains(body, `"error":"Tenant unavailable"`) {
		t.Fatalf("ahead tenant: %d %s", code, body)
	}
}

func TestProgressRendering(t *testing.T) {
	t.Run("Terminal", func(t *testing.T) {
		var out bytes.Buffer
		p := &progress{w: &out, tty: true, every: 1, total: 4, verb: "migrated"}
		p.update(fleet.Progress{Done: 4, Total: 4, Migrated: 3, Failed: 1})
		p.finish()
		if got := out.String(); !strings.HasPrefix(got, "\r[##############################] 4/4  migrated 3  current 0  failed 1") || !strings.HasSuffix(got, "\n") {
			t.Fatalf("bar %q", got)
		}
	})
	t.Run("Plain", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, 10, 3)
		for i := 1; i <= 10; i++ {
			p.update(fleet.Progress{Done: i, Total: 10, Current: i})
		}
		p.finish()
		if got := strings.Count(out.String(), "\n"); got != 4 { // 3, 6, 9 and the last
			t.Fatalf("%d lines:\n%s", got, out.String())
		}
		if strings.Contains(out.String(), "\r") {
			t.Fatal("carriage return in plain output")
		}
	})
}
