// Package fleet brings many tenant databases to the newest tenant schema.
//
// Every tenant database is migrated on its own: each pending migration runs
// in its own short transaction on that one file (migrations.Apply), so a
// tenant is write-locked only for its own few milliseconds and never the
// whole fleet. Progress lives in each database's schema_migrations table,
// which makes a run resumable: after a crash or Ctrl-C, a rerun skips what is
// already applied and finishes the rest, never applying a migration twice.
//
// The package takes plain values (Target), never catalog types; the caller
// lists the tenants.
package fleet

import (
	"errors"
	"fmt"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// DefaultConcurrency is how many tenant databases are migrated at once when
// Options.Concurrency is zero.
const DefaultConcurrency = 4

// ErrStampMismatch means a database file is stamped for a different tenant
// (or not stamped at all) than the one the catalog points at it. It is
// storage.ErrStampMismatch (and shard.ErrStampMismatch), so one errors.Is check covers both packages.
var ErrStampMismatch = storage.ErrStampMismatch

// ErrMissing means a tenant's local database file does not exist.
var ErrMissing = errors.New("tenant database file does not exist")

// Target is one tenant database to migrate or inspect.
type Target struct {
	ID   int64
	Host string
	// URL is a file path, a "file:" URL or a libsql:// / https:// URL.
	URL string
}

// String names the target in reports: "7 (acme)".
func (t Target) String() string {
	if t.Host == "" {
		return fmt.Sprintf("%d", t.ID)
	}
	return fmt.Sprintf("%d (%s)", t.ID, t.Host)
}

// Options configures Run.
type Options struct {
	// Set is the tenant schema to reach, normally migrations.Tenant.
	Set migrations.Set
	// Concurrency bounds how many databases are open and migrating at once
	// (DefaultConcurrency when zero or negative).
	Concurrency int
	// DryRun applies every pending migration of a tenant inside one
	// transaction that is then rolled back, so nothing changes but the
	// failures are found.
	DryRun bool
	// BackupDir, when set, receives a VACUUM INTO snapshot of every tenant
	// that has pending migrations, taken just before its first migration:
	// <BackupDir>/<id>.v<version>.db. An existing snapshot of the same
	// tenant and version (from an interrupted run) is kept, not rewritten.
	// Ignored with DryRun.
	BackupDir string
	// Progress, when set, is called after each tenant finishes, from one
	// goroutine at a time.
	Progress func(Progress)
}

// Progress is a running count handed to Options.Progress.
type Progress struct {
	Done, Total               int
	Migrated, Current, Failed int
	Elapsed                   time.Duration
}

// Outcome says what happened to one tenant.
type Outcome string

// The outcomes of one tenant.
const (
	Migrated Outcome = "migrated" // pending migrations applied (or, in a dry run, would apply cleanly)
	Current  Outcome = "current"  // nothing pending
	Failed   Outcome = "failed"   // see Result.Err
	Skipped  Outcome = "skipped"  // not attempted because the run was cancelled
)

// Result is what happened to one tenant database.
type Result struct {
	Target  Target
	Outcome Outcome
	// From is the version before the run, To after it (equal in a dry run).
	From, To int
	// Applied lists the versions applied (in a dry run: that would apply).
	Applied []int
	// Backup is the snapshot path taken before migrating, if any.
	Backup string
	// Err is set when Outcome is Failed.
	Err      error
	Duration time.Duration
}

// Summary is the outcome of a whole run.
type Summary struct {
	// Results has one entry per target, in the order given.
	Results                            []Result
	Migrated, Current, Failed, Skipped int
	Latest                             int
	DryRun                             bool
	Elapsed                            time.Duration
}

// FailedResults returns the results of the tenants that failed.
func (s Summary) FailedResults() []Result {
	var out []Result
	for _, r := range s.Results {
		if r.Outcome == Failed {
			out = append(out, r)
		}
	}
	return out
}
