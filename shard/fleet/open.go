package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/microfi/tenantgate/shard"
)

// openTarget opens one tenant database. A local file must already exist:
// migrating never creates a database (that is provisioning's job). readOnly
// opens a local file without write access.
func openTarget(ctx context.Context, t Target, readOnly bool) (*sql.DB, error) {
	if t.URL == "" {
		return nil, fmt.Errorf("tenant %s has no database URL", t)
	}
	if shard.IsRemote(t.URL) {
		db, err := shard.Open(ctx, t.URL)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	path, err := shard.LocalPath(t.URL)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrMissing)
		}
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	var db *sql.DB
	if readOnly {
		db, err = sql.Open("sqlite", shard.LocalDSN(path, true))
		if err == nil {
			err = db.PingContext(ctx)
		}
	} else {
		db, err = shard.Open(ctx, path)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
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
	var got int64
	err := db.QueryRowContext(ctx, `SELECT tenant_id FROM tenant_stamp WHERE singleton = 1`).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("database is not stamped (want tenant %d): %w", t.ID, ErrStampMismatch)
	case err != nil && strings.Contains(strings.ToLower(err.Error()), "no such table"):
		return fmt.Errorf("database has no tenant_stamp table (want tenant %d): %w", t.ID, ErrStampMismatch)
	case err != nil:
		return fmt.Errorf("read tenant stamp: %w", err)
	case got != t.ID:
		return fmt.Errorf("database is stamped for tenant %d, not %d: %w", got, t.ID, ErrStampMismatch)
	}
	return nil
}
