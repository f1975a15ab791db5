package fleet_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
	"github.com/microfi/tenantgate/shard/storage"
)

var (
	templateOnce sync.Once
	templateData []byte
	templateErr  error
)

// template returns the bytes of a freshly migrated, unstamped tenant
// database; copying it is much faster than migrating hundreds of files.
func template(tb testing.TB) []byte {
	tb.Helper()
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fleet-template")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "t.db")
		db, err := storage.Open(context.Background(), path)
		if err != nil {
			templateErr = err
			return
		}
		if _, err := migrations.Migrate(context.Background(), db, migrations.Tenant); err != nil {
			templateErr = err
			db.Close()
			return
		}
		db.Close() // checkpoints the WAL into the main file
		templateData, templateErr = os.ReadFile(path)
	})
	if templateErr != nil {
		tb.Fatalf("build template: %v", templateErr)
	}
	return templateData
}

// provision creates n stamped tenant databases <dir>/<id>.db (ids 1..n)
// and, if seed is set, runs it on each.
func provision(tb testing.TB, dir string, n int, seed func(db *sql.DB, id int64) error) []fleet.Target {
	tb.Helper()
	data := template(tb)
	targets := make([]fleet.Target, n)
	for i := range targets {
		id := int64(i + 1)
		path := filepath.Join(dir, fmt.Sprintf("%d.db", id))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		db := mustOpen(tb, path)
		if _, err := db.Exec(`INSERT INTO tenant_stamp (singleton, tenant_id) VALUES (1, ?)`, id); err != nil {
			tb.Fatal(err)
		}
		if seed != nil {
			if err := seed(db, id); err != nil {
				tb.Fatalf("seed tenant %d: %v", id, err)
			}
		}
		db.Close()
		targets[i] = fleet.Target{ID: id, Host: fmt.Sprintf("t%d", id), URL: "file:" + path}
	}
	return targets
}

func mustOpen(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func pathOf(tb testing.TB, t fleet.Target) string {
	tb.Helper()
	p, err := storage.LocalPath(t.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// appliedVersions returns the versions recorded in a tenant database.
func appliedVersions(tb testing.TB, t fleet.Target) []int {
	tb.Helper()
	db := mustOpen(tb, pathOf(tb, t))
	defer db.Close()
	applied, err := migrations.Status(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	var out []int
	for _, a := range applied {
		out = append(out, a.Version)
	}
	return out
}

func queryInt(tb testing.TB, t fleet.Target, q string, args ...any) int {
	tb.Helper()
	db := mustOpen(tb, pathOf(tb, t))
	defer db.Close()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("tenant %d: %s: %v", t.ID, q, err)
	}
	return n
}
