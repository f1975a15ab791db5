package transfer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard"
)

// ErrExists means a backup would overwrite an existing file.
var ErrExists = errors.New("output file already exists")

// ErrCorrupt means a database file fails PRAGMA integrity_check.
var ErrCorrupt = errors.New("database fails integrity_check")

// Snapshot describes a backup file or a restored database.
type Snapshot struct {
	Path     string
	TenantID int64
	Version  int
	Bytes    int64
}

// Backup writes a consistent snapshot of the tenant database at dbURL to
// out with VACUUM INTO. It runs inside one read transaction, so it sees
// exactly the commits made before it began and never blocks the proxy's
// writers (WAL). The database must be stamped for tenantID. The snapshot is
// written under a temporary name, checked (integrity_check, stamp), synced
// and only then renamed to out, which must not exist yet.
func Backup(ctx context.Context, dbURL string, tenantID int64, out string) (Snapshot, error) {
	path, err := localPath(dbURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %s: %w", tenantID, out, ErrExists)
	}
	if _, err := os.Stat(path); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	db, err := sql.Open("sqlite", shard.LocalDSN(path, true))
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := readStamp(ctx, db, "main", tenantID); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %s: %w", tenantID, path, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	tmp := tempName(out)
	defer removeDB(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: vacuum into: %w", tenantID, err)
	}
	snap, err := inspect(ctx, tmp, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: check snapshot: %w", tenantID, err)
	}
	if err := syncPath(tmp); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %s: %w", tenantID, out, ErrExists)
	}
	if err := os.Rename(tmp, out); err != nil {
		return Snapshot{}, fmt.Errorf("backup tenant %d: %w", tenantID, err)
	}
	syncPath(filepath.Dir(out))
	snap.Path = out
	return snap, nil
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
func Restore(ctx context.Context, from string, tenantID int64, dbURL string, set migrations.Set) (Snapshot, error) {
	path, err := localPath(dbURL)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}
	src, err := inspect(ctx, from, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: check %s: %w", tenantID, from, err)
	}
	if err := checkSchema(ctx, from, set); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %s: %w", tenantID, from, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}

	// Scratch copy, migrated to the newest schema.
	scratch := tempName(path)
	defer removeDB(scratch)
	if err := vacuumInto(ctx, from, scratch); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: copy snapshot: %w", tenantID, err)
	}
	if err := migrateFile(ctx, scratch, set); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: migrate snapshot copy (from version %d): %w", tenantID, src.Version, err)
	}

	if err := backupInto(ctx, scratch, path); err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: %w", tenantID, err)
	}
	snap, err := inspect(ctx, path, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("restore tenant %d: check restored database: %w", tenantID, err)
	}
	return snap, nil
}

// backupInto copies the database at src over the one at dst with the
// online backup API, as one write transaction on dst.
func backupInto(ctx context.Context, src, dst string) error {
	db, err := shard.Open(ctx, dst)
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
		b, err := r.NewRestore(readOnlyURI(src))
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		for {
			more, err := b.Step(-1)
			if err == nil && !more {
				break
			}
			if err != nil && !isBusy(err) {
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

func isBusy(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "busy") || strings.Contains(s, "locked")
}

// inspect opens a database file read-only and checks its integrity and
// tenant stamp.
func inspect(ctx context.Context, path string, tenantID int64) (Snapshot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Snapshot{}, err
	}
	db, err := sql.Open("sqlite", atRestURI(path))
	if err != nil {
		return Snapshot{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&res); err != nil {
		return Snapshot{}, fmt.Errorf("integrity_check: %w", err)
	}
	if res != "ok" {
		return Snapshot{}, fmt.Errorf("%s: %s: %w", path, res, ErrCorrupt)
	}
	if err := readStamp(ctx, db, "main", tenantID); err != nil {
		return Snapshot{}, err
	}
	v, err := migrations.Version(ctx, db)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Path: path, TenantID: tenantID, Version: v, Bytes: fi.Size()}, nil
}

// checkSchema refuses a database the set cannot bring up to date.
func checkSchema(ctx context.Context, path string, set migrations.Set) error {
	db, err := sql.Open("sqlite", atRestURI(path))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = migrations.Pending(ctx, db, set)
	return err
}

func vacuumInto(ctx context.Context, from, to string) error {
	db, err := sql.Open("sqlite", atRestURI(from))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, to)
	return err
}

func migrateFile(ctx context.Context, path string, set migrations.Set) error {
	db, err := shard.Open(ctx, path)
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

// tempName is a unique scratch name next to path.
func tempName(path string) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s.tmp-%s", path, hex.EncodeToString(b[:]))
}

// removeDB removes a scratch database and its WAL side files.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
