package hranatest

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// StartupPragmas are PRAGMAs applications commonly issue when they open a
// connection; each must succeed (run, or be accepted as a documented
// no-op). See the README's PRAGMA table.
var StartupPragmas = []string{
	"PRAGMA journal_mode=WAL",
	"PRAGMA busy_timeout=5000",
	"PRAGMA synchronous=NORMAL",
	"PRAGMA synchronous=FULL",
	"PRAGMA cache_size=-20000",
	"PRAGMA temp_store=MEMORY",
	"PRAGMA mmap_size=268435456",
	"PRAGMA foreign_keys=ON",
	"PRAGMA locking_mode=NORMAL",
	"PRAGMA wal_autocheckpoint=1000",
	"PRAGMA optimize",
}

// RefusedPragmas would weaken durability, isolation or the sandbox; each
// is refused with a message naming the PRAGMA.
var RefusedPragmas = map[string]string{
	"PRAGMA journal_mode=DELETE":    "WAL",
	"PRAGMA synchronous=OFF":        "power loss",
	"PRAGMA locking_mode=EXCLUSIVE": "exclusive",
	"PRAGMA writable_schema=1":      "sandbox",
	"PRAGMA cache_size=-1000000":    "MiB",
	"PRAGMA read_uncommitted=1":     "isolated",
	"PRAGMA hard_heap_limit=1":      "process-wide",
	"PRAGMA no_such_pragma=1":       "not allowed",
}

// RunGoPragmas runs the PRAGMA table's common cases through the Go client:
// start-up PRAGMAs succeed, weakening ones fail with a message naming the
// PRAGMA and why, and the connection pool stays usable.
func RunGoPragmas(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	for _, p := range StartupPragmas {
		if _, err := db.ExecContext(ctx, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("PRAGMA journal_mode=WAL = %q, %v", mode, err)
	}
	var fk int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("PRAGMA foreign_keys = %d, %v", fk, err)
	}
	for p, why := range RefusedPragmas {
		name := strings.TrimPrefix(strings.SplitN(p, "=", 2)[0], "PRAGMA ")
		_, err := db.ExecContext(ctx, p)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want a refusal naming %s and %q", p, err, name, why)
		}
	}
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("after PRAGMAs: %d, %v", one, err)
	}
}
