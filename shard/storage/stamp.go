package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrStampMismatch means a database is not stamped for the tenant it is
// being opened, backed up or restored for (or is no tenant database).
var ErrStampMismatch = errors.New("tenant stamp mismatch")

// Queryer is a *sql.DB, *sql.Conn or *sql.Tx.
type Queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ReadStamp returns the tenant id a database was stamped with at
// provisioning. An unstamped or foreign file fails with ErrStampMismatch.
func ReadStamp(ctx context.Context, q Queryer) (int64, error) {
	return ReadStampIn(ctx, q, "main")
}

// ReadStampIn is ReadStamp for an attached schema.
func ReadStampIn(ctx context.Context, q Queryer, schema string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT tenant_id FROM "`+schema+`".tenant_stamp WHERE singleton = 1`).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("%w: database is not stamped", ErrStampMismatch)
	case IsNoSuchTable(err):
		return 0, fmt.Errorf("%w: no tenant_stamp table, not a tenant database", ErrStampMismatch)
	case err != nil:
		return 0, fmt.Errorf("read tenant stamp: %w", err)
	}
	return id, nil
}

// CheckStamp fails with ErrStampMismatch unless the database is stamped
// with want.
func CheckStamp(ctx context.Context, q Queryer, want int64) error {
	return CheckStampIn(ctx, q, "main", want)
}

// CheckStampIn is CheckStamp for an attached schema.
func CheckStampIn(ctx context.Context, q Queryer, schema string, want int64) error {
	got, err := ReadStampIn(ctx, q, schema)
	if err != nil {
		return fmt.Errorf("%w (want tenant %d)", err, want)
	}
	if got != want {
		return fmt.Errorf("%w: database is stamped for tenant %d, not %d", ErrStampMismatch, got, want)
	}
	return nil
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
