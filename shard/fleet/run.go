package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Run migrates every target to opts.Set with at most opts.Concurrency
// databases at once and returns one Result per target. A tenant that fails
// (bad data, changed checksum, newer schema, wrong stamp, missing file) is
// reported in its Result and does not stop the others. Run returns an error
// only for invalid options or when ctx is cancelled; then the tenants not
// yet started are Skipped and a rerun finishes them.
func Run(ctx context.Context, targets []Target, opts Options) (Summary, error) {
	start := time.Now()
	if len(opts.Set.Migrations) == 0 {
		return Summary{}, fmt.Errorf("fleet: empty migration set")
	}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	if workers > len(targets) {
		workers = len(targets)
	}
	if opts.BackupDir != "" && !opts.DryRun {
		if err := os.MkdirAll(opts.BackupDir, 0o755); err != nil {
			return Summary{}, fmt.Errorf("create backup dir: %w", err)
		}
	}

	sum := Summary{Results: make([]Result, len(targets)), Latest: opts.Set.Latest(), DryRun: opts.DryRun}
	jobs := make(chan int)
	var (
		mu   sync.Mutex // guards the counters and serialises Progress
		done int
		wg   sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := migrateOne(ctx, targets[i], opts)
				sum.Results[i] = r
				mu.Lock()
				done++
				switch r.Outcome {
				case Migrated:
					sum.Migrated++
				case Current:
					sum.Current++
				case Failed:
					sum.Failed++
				case Skipped:
					sum.Skipped++
				}
				if opts.Progress != nil {
					opts.Progress(Progress{Done: done, Total: len(targets), Migrated: sum.Migrated,
						Current: sum.Current, Failed: sum.Failed, Elapsed: time.Since(start)})
				}
				mu.Unlock()
			}
		}()
	}
	next := 0
feed:
	for ; next < len(targets); next++ {
		select {
		case jobs <- next:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	for i := next; i < len(targets); i++ {
		sum.Results[i] = Result{Target: targets[i], Outcome: Skipped, Err: ctx.Err()}
		sum.Skipped++
	}
	sum.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("fleet migration interrupted: %w", err)
	}
	return sum, nil
}

// migrateOne brings one tenant database to the newest version.
func migrateOne(ctx context.Context, t Target, opts Options) (r Result) {
	start := time.Now()
	r = Result{Target: t}
	defer func() {
		r.Duration = time.Since(start)
		if r.Err != nil {
			r.Outcome = Failed
			if ctx.Err() != nil {
				r.Outcome = Skipped
			}
		}
	}()
	if err := ctx.Err(); err != nil {
		r.Err = err
		return r
	}
	db, err := openTarget(ctx, t, false)
	if err != nil {
		r.Err = err
		return r
	}
	defer db.Close()
	if err := checkStamp(ctx, db, t); err != nil {
		r.Err = err
		return r
	}
	if r.From, err = migrations.Version(ctx, db); err != nil {
		r.Err = err
		return r
	}
	r.To = r.From
	pending, err := migrations.Pending(ctx, db, opts.Set)
	if err != nil {
		r.Err = err
		return r
	}
	if len(pending) == 0 {
		r.Outcome = Current
		return r
	}
	if opts.DryRun {
		if err := dryRun(ctx, db, pending); err != nil {
			r.Err = err
			return r
		}
		for _, m := range pending {
			r.Applied = append(r.Applied, m.Version)
		}
		r.Outcome = Migrated
		return r
	}
	if opts.BackupDir != "" {
		if r.Backup, err = snapshot(ctx, db, t, opts.BackupDir, r.From); err != nil {
			r.Err = err
			return r
		}
	}
	for _, m := range pending {
		if err := migrations.Apply(ctx, db, m, false); err != nil {
			r.Err = err
			return r
		}
		r.Applied = append(r.Applied, m.Version)
		r.To = m.Version
	}
	r.Outcome = Migrated
	return r
}

// dryRun runs all pending migrations, in order, in one transaction that is
// always rolled back: later migrations see the earlier ones, as they would
// for real, and the database is left as it was.
func dryRun(ctx context.Context, db *sql.DB, pending []migrations.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin dry run: %w", err)
	}
	defer tx.Rollback()
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// snapshot writes <dir>/<id>.v<version>.db with VACUUM INTO (a consistent
// copy even while the proxy writes), through a temporary name so a crash
// never leaves a half-written snapshot under the final name.
func snapshot(ctx context.Context, db *sql.DB, t Target, dir string, version int) (string, error) {
	if storage.IsRemote(t.URL) {
		return "", fmt.Errorf("backup before migrating: tenant %s is on a libSQL server; only local databases can be snapshotted", t)
	}
	final := filepath.Join(dir, fmt.Sprintf("%d.v%d.db", t.ID, version))
	if _, err := os.Stat(final); err == nil {
		return final, nil // taken by an interrupted earlier run; same tenant, same version
	}
	tmp := final + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("backup before migrating: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("backup before migrating: vacuum into %s: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		return "", fmt.Errorf("backup before migrating: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("backup before migrating: %w", err)
	}
	return final, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
