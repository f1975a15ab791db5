package transfer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Backup errors and the snapshot description are storage's.
var (
	ErrExists  = storage.ErrExists  // a backup would overwrite an existing file
	ErrCorrupt = storage.ErrCorrupt // a database file fails integrity_check
)

// Snapshot describes a backup file or a restored database.
type Snapshot = storage.Snapshot

// Backup writes a verified snapshot of the tenant database at dbURL to out
// (storage.Backup: VACUUM INTO a temporary name, integrity and stamp
// checks, fsync, rename, fsync of the directory). out must not exist yet.
// A remote database is read in one read transaction (remote.go) and then
// checked and written the same way.
func Backup(ctx context.Context, dbURL string, tenantID int64, out string) (Snapshot, error) {
	if storage.IsRemote(dbURL) {
		return backupRemote(ctx, dbURL, tenantID, out)
	}
	path, err := localPath(dbURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	return storage.Backup(ctx, path, tenantID, out)
}

// Restore replaces the content of the tenant database at dbURL with the
// snapshot in from, which is opened read-only and never changed.
//
// Before touching the tenant it checks the snapshot: integrity_check, its
// tenant stamp must be tenantID, and its schema must be one set knows (a
// snapshot from a newer binary or with an edited migration is refused). It
// then copies the snapshot to a scratch file next to the database and
// migrates that copy to the newest version, so the restored database is
// never behind the code that serves it.
//
// The copy goes in through SQLite's online backup API on a normal
// connection to the live database, as one write transaction: a running
// proxy's readers keep their snapshot until it commits and then see the
// restored data; its writers wait (busy timeout) for the few milliseconds it
// holds the lock. The file is never renamed or truncated under an open
// connection, and the WAL stays consistent, so restoring while serving does
// not corrupt anything. Writes made after the snapshot was taken are lost;
// that is what a restore means.
//
// A remote database gets the same checks and the same migrated copy; the
// copy goes in as the difference from the server's content, in one
// transaction under a write fence, verified table by table (remote.go).
func Restore(ctx context.Context, from string, tenantID int64, dbURL string, set migrations.Set) (Snapshot, error) {
	remote := storage.IsRemote(dbURL)
	var path string
	if !remote {
		var err error
		if path, err = localPath(dbURL); err != nil {
			return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
		}
	}
	src, err := storage.Inspect(ctx, from, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: check %s: %w", tenantID, from, err)
	}
	if err := checkSchema(ctx, from, set); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %s: %w", tenantID, from, err)
	}
	scratchDir := filepath.Dir(path)
	if remote {
		if scratchDir, err = os.MkdirTemp("", "tenantgate-restore-"); err != nil {
			return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
		}
		defer os.RemoveAll(scratchDir)
	} else if err := os.MkdirAll(scratchDir, 0o755); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}

	// Scratch copy, migrated to the newest schema.
	scratch := storage.TempName(filepath.Join(scratchDir, filepath.Base(from)))
	defer storage.RemoveFiles(scratch)
	if err := vacuumInto(ctx, from, scratch); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: copy snapshot: %w", tenantID, err)
	}
	if err := migrateFile(ctx, scratch, set); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: migrate snapshot copy (from version %d): %w", tenantID, src.Version, err)
	}
	if remote {
		return restoreRemote(ctx, dbURL, tenantID, scratch)
	}

	if err := backupInto(ctx, scratch, path); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}
	snap, err := storage.Inspect(ctx, path, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: check restored database: %w", tenantID, err)
	}
	return snap, nil
}

// backupInto copies the database at src over the one at dst with the
// online backup API, as one write transaction on dst.
func backupInto(ctx context.Context, src, dst string) error {
	db, err := storage.Open(ctx, dst)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		r, ok := dc.(interface {
			NewRestore(string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("driver connection %T has no backup API", dc)
		}
		b, err := r.NewRestore(storage.URI(src, storage.ReadOnly))
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		for {
			more, err := b.Step(-1)
			if err == nil && !more {
				break
			}
			if err != nil && !storage.IsBusy(err) {
				b.Finish()
				return fmt.Errorf("copy pages: %w", err)
			}
			// Busy beyond the busy timeout (a long write transaction): retry
			// until the caller gives up.
			select {
			case <-ctx.Done():
				b.Finish()
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := b.Finish(); err != nil {
			return fmt.Errorf("finish backup: %w", err)
		}
		return nil
	})
}

// checkSchema refuses a database the set cannot bring up to date.
func checkSchema(ctx context.Context, path string, set migrations.Set) error {
	db, err := storage.OpenMode(ctx, path, storage.AtRest)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = migrations.Pending(ctx, db, set)
	return err
}

func vacuumInto(ctx context.Context, from, to string) error {
	db, err := storage.OpenMode(ctx, from, storage.AtRest)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, to)
	return err
}

func migrateFile(ctx context.Context, path string, set migrations.Set) error {
	db, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := migrations.Migrate(ctx, db, set); err != nil {
		return err
	}
	// Back to a single self-contained file before the backup API reads it.
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
