package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microfi/tenantgate/migrations"
)

// Provision creates a tenant's database: a new local file (a copy of the
// migrated template) or the remote database at dbURL (migrated in place),
// stamped with the tenant id. A local file that already exists is refused,
// never reused. On failure a local file it created is removed again.
func (m *Manager) Provision(ctx context.Context, id int64, dbURL string) error {
	return Provision(ctx, m.URL(id, dbURL), id)
}

// Provision creates the database at url (a file: URL or path, or a libSQL
// server) for tenant id, exactly as Manager.Provision does; tools and tests
// use it for databases outside a data dir.
func Provision(ctx context.Context, url string, id int64) (err error) {
	var path string
	created := false // a local file this call made; removed again on failure
	defer func() {
		// Here, not in the block below: there err would be the block's own
		// variable and later failures (open, migrate, stamp) would leave
		// the file behind.
		if err != nil && created {
			RemoveFiles(path)
		}
	}()
	if !IsRemote(url) {
		if path, err = LocalPath(url); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return fmt.Errorf("provision tenant %d: %w", id, err)
		}
		tmpl, err := tenantTemplate.bytes(ctx, filepath.Dir(path))
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("provision tenant %d: %w: %s", id, ErrExists, path)
		}
		if err != nil {
			return fmt.Errorf("provision tenant %d: %w", id, err)
		}
		created = true
		_, err = f.Write(tmpl)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("provision tenant %d: %w", id, err)
		}
	}
	db, err := Open(ctx, url)
	if err != nil {
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	defer db.Close()
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
		if IsRemote(url) { // the libSQL server is down or refuses us
			return fmt.Errorf("provision tenant %d: %w: %w", id, ErrUnavailable, err)
		}
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	if got, err := ReadStamp(ctx, db); err == nil && got != id {
		return fmt.Errorf("provision tenant %d: %w: remote database stamped %d", id, ErrStampMismatch, got)
	} else if err != nil {
		return Stamp(ctx, db, id)
	}
	return nil
}

// Remove closes a tenant's database and deletes its local files. Remote
// databases are only closed: their data belongs to the libSQL server.
func (m *Manager) Remove(ctx context.Context, id int64, dbURL string) error {
	m.Evict(id)
	url := m.URL(id, dbURL)
	if IsRemote(url) {
		return nil
	}
	path, err := LocalPath(url)
	if err != nil {
		return err
	}
	return RemoveFiles(path)
}

// Backup writes a consistent copy of a tenant's local database to dst (a
// remote database is backed up by its libSQL server: nothing to do here).
func (m *Manager) Backup(ctx context.Context, id int64, dbURL, dst string) error {
	url := m.URL(id, dbURL)
	if IsRemote(url) {
		return nil
	}
	path, err := LocalPath(url)
	if err != nil {
		return err
	}
	if err := backupInto(ctx, path, dst); err != nil {
		return fmt.Errorf("back up tenant %d: %w", id, err)
	}
	return nil
}

// backupInto writes a consistent copy of the database at path to dst.
func backupInto(ctx context.Context, path, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	db, err := Open(ctx, "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, dst)
	return err
}

// RemoveFiles deletes a database file and its -wal and -shm companions.
func RemoveFiles(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
