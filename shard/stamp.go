package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ReadStamp returns the tenant id a database was stamped with at
// provisioning. An unstamped or foreign file fails.
func ReadStamp(ctx context.Context, db *sql.DB) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, `SELECT tenant_id FROM tenant_stamp WHERE singleton = 1`).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("%w: database is not stamped", ErrStampMismatch)
	case err != nil && strings.Contains(err.Error(), "no such table"):
		return 0, fmt.Errorf("%w: not a tenant database", ErrStampMismatch)
	case err != nil:
		return 0, fmt.Errorf("read tenant stamp: %w", err)
	}
	return id, nil
}

// Stamp writes the tenant id into a freshly migrated database. The stamp
// table's triggers make it permanent.
func Stamp(ctx context.Context, db *sql.DB, tenantID int64) error {
	_, err := db.ExecContext(ctx, `INSERT INTO tenant_stamp (singleton, tenant_id) VALUES (1, ?)`, tenantID)
	if err != nil {
		return fmt.Errorf("stamp tenant %d: %w", tenantID, err)
	}
	return nil
}

// CheckStamp fails with ErrStampMismatch unless db is stamped with want.
func CheckStamp(ctx context.Context, db *sql.DB, want int64) error {
	got, err := ReadStamp(ctx, db)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: file is stamped %d, catalog says %d", ErrStampMismatch, got, want)
	}
	return nil
}
