package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microfi/tenantgate/migrations"
)

// ErrExists means a backup would overwrite an existing file.
var ErrExists = errors.New("output file already exists")

// ErrCorrupt means a database file fails PRAGMA integrity_check.
var ErrCorrupt = errors.New("database fails integrity_check")

// Snapshot describes a backup file or a checked database.
type Snapshot struct {
	Path     string
	TenantID int64
	Version  int
	Bytes    int64
}

// Backup writes a consistent snapshot of the local tenant database at path
// to out, the one backup every caller uses (CLI, fleet, admin delete).
//
// VACUUM INTO runs inside one read transaction, so it sees exactly the
// commits made before it began and never blocks writers (WAL). The
// database must be stamped for tenantID. The snapshot is written under a
// temporary name next to out, checked (integrity_check, stamp), fsynced,
// renamed to out (which must not exist) and the directory fsynced: a crash
// at any point leaves either no out or a whole, verified one.
func Backup(ctx context.Context, path string, tenantID int64, out string) (Snapshot, error) {
	snap, err := backup(ctx, path, tenantID, out)
	if err != nil {
		return Snapshot{}, fmt.Errorf("back up tenant %d: %w", tenantID, err)
	}
	return snap, nil
}

func backup(ctx context.Context, path string, tenantID int64, out string) (Snapshot, error) {
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("%s: %w", out, ErrExists)
	}
	if _, err := os.Stat(path); err != nil {
		return Snapshot{}, err
	}
	db, err := OpenMode(ctx, path, ReadOnly)
	if err != nil {
		return Snapshot{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := CheckStamp(ctx, db, tenantID); err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return Snapshot{}, err
	}
	tmp := TempName(out)
	defer RemoveFiles(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return Snapshot{}, fmt.Errorf("vacuum into: %w", err)
	}
	snap, err := Inspect(ctx, tmp, tenantID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("check snapshot: %w", err)
	}
	if err := SyncPath(tmp); err != nil {
		return Snapshot{}, err
	}
	if _, err := os.Stat(out); err == nil {
		return Snapshot{}, fmt.Errorf("%s: %w", out, ErrExists)
	}
	if err := os.Rename(tmp, out); err != nil {
		return Snapshot{}, err
	}
	if err := SyncPath(filepath.Dir(out)); err != nil {
		return Snapshot{}, fmt.Errorf("sync %s: %w", filepath.Dir(out), err)
	}
	snap.Path = out
	return snap, nil
}

// Inspect opens a database file at rest and checks its integrity and
// tenant stamp; it reports the schema version and size.
func Inspect(ctx context.Context, path string, tenantID int64) (Snapshot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Snapshot{}, err
	}
	db, err := OpenMode(ctx, path, AtRest)
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
	if err := CheckStamp(ctx, db, tenantID); err != nil {
		return Snapshot{}, err
	}
	v, err := migrations.Version(ctx, db)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Path: path, TenantID: tenantID, Version: v, Bytes: fi.Size()}, nil
}

// RemoveFiles deletes a database file and its -wal, -shm and -journal
// companions; missing ones are no error.
func RemoveFiles(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TempName is a unique scratch name next to path.
func TempName(path string) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s.tmp-%s", path, hex.EncodeToString(b[:]))
}

// SyncPath fsyncs a file or directory.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
