package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/microfi/tenantgate/shard/storage"
)

// openTarget opens one tenant database. A local file must already exist:
// migrating never creates a database (that is provisioning's job). readOnly
// opens a local file without write access.
func openTarget(ctx context.Context, t Target, readOnly bool) (*sql.DB, error) {
	if t.URL == "" {
		return nil, fmt.Errorf("tenant %s has no database URL", t)
	}
	if storage.IsRemote(t.URL) {
		return storage.Open(ctx, t.URL)
	}
	path, err := storage.LocalPath(t.URL)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrMissing)
		}
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	mode := storage.ReadWrite
	if readOnly {
		mode = storage.ReadOnly
	}
	db, err := storage.OpenMode(ctx, path, mode)
	if err != nil {
		return nil, err
	}
	// One connection is all a migration needs, and it keeps the per-tenant
	// cost (and file descriptors) small when thousands are visited.
	db.SetMaxOpenConns(1)
	return db, nil
}

// checkStamp verifies the database is stamped for the target's tenant, so a
// catalog row pointing at the wrong file is never migrated or reported as if
// it were that tenant.
func checkStamp(ctx context.Context, db *sql.DB, t Target) error {
	return storage.CheckStamp(ctx, db, t.ID)
}
