package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrChecksumMismatch means an applied migration's SQL has since changed.
var ErrChecksumMismatch = errors.New("applied migration has a different checksum")

// ErrSchemaAhead means the database has a version this binary does not
// know and that is not declared expand-only.
var ErrSchemaAhead = errors.New("database schema is newer than this binary")

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version     INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  applied_at  DATETIME DEFAULT CURRENT_TIMESTAMP,
  expand_only INTEGER NOT NULL DEFAULT 0
)`

// addExpandOnly upgrades a table created before the column existed.
const addExpandOnly = `ALTER TABLE schema_migrations ADD COLUMN expand_only INTEGER NOT NULL DEFAULT 0`

// Applied is one row of schema_migrations.
type Applied struct {
	Version    int
	Name       string
	Checksum   string
	ExpandOnly bool
}

// Status reads what a database has applied. A database without the table
// has applied nothing.
func Status(ctx context.Context, db *sql.DB) ([]Applied, error) {
	rows, err := db.QueryContext(ctx, `SELECT version, name, checksum, expand_only FROM schema_migrations ORDER BY version`)
	if err != nil {
		// A table from before expand_only (upgraded by the next Apply):
		// nothing it records is expand-only.
		return statusWithoutFlag(ctx, db)
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.ExpandOnly); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func statusWithoutFlag(ctx context.Context, db *sql.DB) ([]Applied, error) {
	rows, err := db.QueryContext(ctx, `SELECT version, name, checksum FROM schema_migrations ORDER BY version`)
	if err != nil {
		// Asked, not matched by error text: a fresh database has no table.
		if exists, qerr := hasTable(ctx, db, "schema_migrations"); qerr == nil && !exists {
			return nil, nil
		}
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Pending checks what a database has applied against the set and returns
// the migrations still to apply, in order. It fails on a changed checksum or
// an unknown (newer) version that is not expand-only, so a database is never
// served or migrated on a schema the code does not expect. Unknown
// expand-only versions are accepted: they only add what this code ignores.
func Pending(ctx context.Context, db *sql.DB, set Set) ([]Migration, error) {
	applied, err := Status(ctx, db)
	if err != nil {
		return nil, err
	}
	return pendingFrom(applied, set)
}

// PendingFrom is Pending for what a database reported it applied (read
// by the caller, e.g. in one round trip with other checks).
func PendingFrom(applied []Applied, set Set) ([]Migration, error) {
	return pendingFrom(applied, set)
}

func pendingFrom(applied []Applied, set Set) ([]Migration, error) {
	done := make(map[int]Applied, len(applied))
	for _, a := range applied {
		done[a.Version] = a
	}
	known := make(map[int]bool, len(set.Migrations))
	var pending []Migration
	for _, m := range set.Migrations {
		known[m.Version] = true
		a, ok := done[m.Version]
		if !ok {
			pending = append(pending, m)
			continue
		}
		if a.Checksum != m.Checksum {
			return nil, fmt.Errorf("%s migration %04d_%s: %w", set.Name, m.Version, m.Name, ErrChecksumMismatch)
		}
	}
	for _, a := range applied {
		if !known[a.Version] && !a.ExpandOnly {
			return nil, fmt.Errorf("%s migration %04d_%s: %w", set.Name, a.Version, a.Name, ErrSchemaAhead)
		}
	}
	return pending, nil
}

// Migrate applies every pending migration of the set, each in its own
// transaction, and returns how many it applied.
func Migrate(ctx context.Context, db *sql.DB, set Set) (int, error) {
	// Only when missing: a libSQL server that seals its schema (another
	// tenantgate serving as a shard) refuses even CREATE … IF NOT EXISTS
	// of a reserved name, and a current database needs nothing.
	var have int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&have); err != nil {
		return 0, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if have == 0 {
		if _, err := db.ExecContext(ctx, createTable); err != nil {
			return 0, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	pending, err := Pending(ctx, db, set)
	if err != nil {
		return 0, err
	}
	for i, m := range pending {
		if err := Apply(ctx, db, m, false); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}

// Apply runs one migration in a transaction and records it. With dryRun the
// transaction is rolled back, so the caller learns whether it would fail.
// A migration recorded meanwhile by another process is not applied twice.
func Apply(ctx context.Context, db *sql.DB, m Migration, dryRun bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration %04d_%s: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var hasFlag int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('schema_migrations') WHERE name = 'expand_only'`).Scan(&hasFlag); err != nil {
		return fmt.Errorf("inspect schema_migrations: %w", err)
	}
	if hasFlag == 0 {
		if _, err := tx.ExecContext(ctx, addExpandOnly); err != nil {
			return fmt.Errorf("upgrade schema_migrations: %w", err)
		}
	}
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&exists); err != nil {
		return fmt.Errorf("check migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if exists > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, checksum, expand_only) VALUES (?, ?, ?, ?)`,
		m.Version, m.Name, m.Checksum, m.ExpandOnly); err != nil {
		return fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
	}
	if dryRun {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

// Version is the highest applied version (0 for a fresh database).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	applied, err := Status(ctx, db)
	if err != nil || len(applied) == 0 {
		return 0, err
	}
	return applied[len(applied)-1].Version, nil
}

// hasTable reports whether the main schema has a table of that name.
func hasTable(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}
