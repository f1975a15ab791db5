package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
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
			storage.RemoveFiles(path)
		}
	}()
	if !storage.IsRemote(url) {
		if path, err = storage.LocalPath(url); err != nil {
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
	db, err := storage.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	defer db.Close()
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
		if storage.IsRemote(url) { // the libSQL server is down or refuses us
			return fmt.Errorf("provision tenant %d: %w: %w", id, ErrUnavailable, err)
		}
		return fmt.Errorf("provision tenant %d: %w", id, err)
	}
	got, err := storage.ReadStamp(ctx, db)
	switch {
	case errors.Is(err, ErrStampMismatch): // unstamped: ours to stamp
		return storage.Stamp(ctx, db, id)
	case err != nil:
		return fmt.Errorf("provision tenant %d: %w", id, err)
	case got != id:
		return fmt.Errorf("provision tenant %d: %w: remote database stamped %d", id, ErrStampMismatch, got)
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
	return err
}
