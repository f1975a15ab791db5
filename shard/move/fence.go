// Package move copies a live tenant database to another place, online: a
// local file or a libSQL server (another tenantgate acting as a shard,
// sqld), in either direction, through plain SQL on database/sql handles
// from shard/storage. catalog/tenants drives a move step by step and keeps
// its state; this package has the mechanics:
//
//   - Snapshot: a consistent copy of a database as a local file (VACUUM
//     INTO for a local file, one read transaction for a remote one);
//   - Diff and Apply: what changed between two snapshots, as row inserts,
//     updates and deletes (and schema objects), applied to the target in
//     one transaction;
//   - Fence: triggers on every table of the source that fail each write
//     with storage.FenceMessage, so the database itself refuses writes
//     from every process and proxy while reads go on;
//   - Verify: counts, checksums and the stamp, target against snapshot.
package move

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Fence installs the fence on db: BEFORE INSERT, UPDATE and DELETE
// triggers on every table (but SQLite's own) raising
// storage.FenceMessage, in one transaction, so a write in progress either
// committed before it or fails after it. It is idempotent.
func Fence(ctx context.Context, db *sql.DB) error {
	tables, err := userTables(ctx, db)
	if err != nil {
		return err
	}
	return inTx(ctx, db, fenceStmts(tables))
}

// fenceStmts creates the fence triggers on tables.
func fenceStmts(tables []string) []string {
	var stmts []string
	for i, t := range tables {
		for _, op := range []string{"INSERT", "UPDATE", "DELETE"} {
			name := fmt.Sprintf("%s%d_%s", migrations.FencePrefix, i, strings.ToLower(op[:1]))
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER IF NOT EXISTS %s BEFORE %s ON %s BEGIN SELECT RAISE(ABORT, '%s'); END`,
				ident(name), op, ident(t), storage.FenceMessage))
		}
	}
	return stmts
}

// Unfence removes the fence (an aborted move, or a database that a move
// brings back to a place it once left).
func Unfence(ctx context.Context, db *sql.DB) error {
	names, err := fenceTriggers(ctx, db)
	if err != nil {
		return err
	}
	var stmts []string
	for _, n := range names {
		stmts = append(stmts, `DROP TRIGGER IF EXISTS `+ident(n))
	}
	return inTx(ctx, db, stmts)
}

// Fenced reports whether db carries a fence.
func Fenced(ctx context.Context, db *sql.DB) (bool, error) {
	names, err := fenceTriggers(ctx, db)
	return len(names) > 0, err
}

func fenceTriggers(ctx context.Context, db querier) ([]string, error) {
	return queryNames(ctx, db, "read fence", `SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE ? ESCAPE '\'`,
		strings.ReplaceAll(migrations.FencePrefix, "_", `\_`)+"%")
}

// userTables lists the tables of db but SQLite's own, by name.
func userTables(ctx context.Context, db querier) ([]string, error) {
	return queryNames(ctx, db, "list tables", `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
}

// queryNames runs a query of one text column and returns its values; what
// names the step in the error.
func queryNames(ctx context.Context, db querier, what, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// inTx runs stmts in one transaction.
func inTx(ctx context.Context, db *sql.DB, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstWords(s), err)
		}
	}
	return tx.Commit()
}

// ident quotes an SQL identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func firstWords(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
