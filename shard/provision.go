package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Seed fills a new tenant database (users, sample data) before the tenant
// becomes reachable.
type Seed func(ctx context.Context, db *sql.DB) error

// Provision creates a tenant's database: a new local file (a copy of the
// migrated template) or the remote database at dbURL (migrated in place),
// stamped with the tenant id. A local file that already exists is refused,
// never reused.
func (m *Manager) Provision(ctx context.Context, id int64, dbURL string) error {
	return ProvisionWith(ctx, m.URL(id, dbURL), id, nil)
}

// ProvisionWith is Provision with a seed run before the database is put in
// place.
func (m *Manager) ProvisionWith(ctx context.Context, id int64, dbURL string, seed Seed) error {
	return ProvisionWith(ctx, m.URL(id, dbURL), id, seed)
}

// Provision creates the database at url (a file: URL or path, or a libSQL
// server) for tenant id, exactly as Manager.Provision does; tools and tests
// use it for databases outside a data dir.
func Provision(ctx context.Context, url string, id int64) error {
	return ProvisionWith(ctx, url, id, nil)
}

// ProvisionWith creates, stamps and seeds the database at url.
//
// A local file is built whole under TempPath(path) — template copy, stamp,
// seed, WAL folded in, fsynced — and only then linked into place (never over
// an existing file) and the directory fsynced. So a crash at any point
// leaves either no file at path or a complete, stamped one; at worst a temp
// file that start-up reconciliation removes. On failure the temp file is
// removed again.
func ProvisionWith(ctx context.Context, url string, id int64, seed Seed) error {
	if storage.IsRemote(url) {
		return provisionRemote(ctx, url, id, seed)
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return err
	}
	if err := provisionLocal(ctx, path, id, seed); err != nil {
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	return nil
}

// TempPath is where a local tenant database is built before it is linked
// into place: a hidden file beside it.
func TempPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+TempSuffix)
}

// TempSuffix ends every temp database name (see TempPath).
const TempSuffix = ".tmp"

func provisionLocal(ctx context.Context, path string, id int64, seed Seed) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	tmpl, err := tenantTemplate.bytes(ctx, dir)
	if err != nil {
		return err
	}
	tmp := TempPath(path)
	// A temp file here is a crashed build of this same id (ids are never
	// reused), so it is ours to replace.
	if err := storage.RemoveFiles(tmp); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			storage.RemoveFiles(tmp)
		}
	}()
	if err := os.WriteFile(tmp, tmpl, 0o640); err != nil {
		return err
	}
	if err := buildLocal(ctx, tmp, id, seed); err != nil {
		return err
	}
	if err := storage.SyncPath(tmp); err != nil {
		return err
	}
	// Link, not rename: it never replaces a file that appeared meanwhile.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return storage.SyncPath(dir)
}

// buildLocal stamps and seeds the temp database and folds its WAL into the
// main file, so the one file carries everything.
func buildLocal(ctx context.Context, tmp string, id int64, seed Seed) error {
	db, err := storage.Open(ctx, "file:"+tmp)
	if err != nil {
		return err
	}
	err = func() error {
		if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
			return err
		}
		if err := storage.Stamp(ctx, db, id); err != nil {
			return err
		}
		if seed != nil {
			if err := seed(ctx, db); err != nil {
				return err
			}
		}
		_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	}()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// The WAL is empty after the checkpoint and the last close; remove the
	// companions so nothing but the main file matters.
	for _, p := range []string{tmp + "-wal", tmp + "-shm"} {
		if fi, err := os.Stat(p); err == nil && strings.HasSuffix(p, "-wal") && fi.Size() > 0 {
			return fmt.Errorf("WAL of %s not checkpointed", tmp)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func provisionRemote(ctx context.Context, url string, id int64, seed Seed) error {
	db, err := storage.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	defer db.Close()
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
		// The libSQL server is down or refuses us.
		return fmt.Errorf("provision tenant %d: %w: %w", id, ErrUnavailable, err)
	}
	got, err := storage.ReadStamp(ctx, db)
	switch {
	case errors.Is(err, ErrStampMismatch): // unstamped: ours to stamp
		if err := storage.Stamp(ctx, db, id); err != nil {
			return fmt.Errorf("provision tenant %d: %w", id, err)
		}
	case err != nil:
		return fmt.Errorf("provision tenant %d: %w", id, err)
	case got != id:
		return fmt.Errorf("provision tenant %d: %w: remote database stamped %d", id, ErrStampMismatch, got)
	}
	if seed != nil {
		if err := seed(ctx, db); err != nil {
			return fmt.Errorf("provision tenant %d: seed: %w", id, err)
		}
	}
	return nil
}

// Remove closes a tenant's database and deletes its local files. Remote
// databases are only closed: their data belongs to the libSQL server.
func (m *Manager) Remove(ctx context.Context, id int64, dbURL string) error {
	m.Evict(id)
	url := m.URL(id, dbURL)
	if storage.IsRemote(url) {
		return nil
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return err
	}
	m.checked.forget(path)
	return storage.RemoveFiles(path)
}

// Backup writes a verified snapshot of a tenant's local database to dst
// (storage.Backup: integrity-checked, stamp-checked, fsynced, renamed into
// place). A remote database is backed up by its libSQL server: nothing to
// do here.
func (m *Manager) Backup(ctx context.Context, id int64, dbURL, dst string) error {
	url := m.URL(id, dbURL)
	if storage.IsRemote(url) {
		return nil
	}
	path, err := storage.LocalPath(url)
	if err != nil {
		return err
	}
	_, err = storage.Backup(ctx, path, id, dst)
	m.ClosedOutside(id, url, true) // storage.Backup reads the live file read-only
	return err
}

// Size is a tenant database's size in bytes: its file (and WAL) for a local
// database, page_count × page_size for a remote one.
func (m *Manager) Size(ctx context.Context, id int64, dbURL string) (int64, error) {
	url := m.URL(id, dbURL)
	if !storage.IsRemote(url) {
		path, err := storage.LocalPath(url)
		if err != nil {
			return 0, err
		}
		var total int64
		for _, p := range []string{path, path + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			} else if p == path {
				return 0, err
			}
		}
		return total, nil
	}
	db, err := storage.Open(ctx, url)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
	return n, err
}
