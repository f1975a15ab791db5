package transfer

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// column is one column of a table as SQLite reports it.
type column struct {
	Name     string
	NotNull  bool
	Default  bool
	PK       bool
	declType string
}

// required says a row cannot be inserted without a value for the column.
func (c column) required() bool { return c.NotNull && !c.Default && !c.PK }

var (
	refOnce   sync.Once
	refTables map[string][]column
	refErr    error
)

// reference returns the columns of the six seed tables in the tenant schema
// this binary ships, read from a scratch in-memory database migrated with
// migrations.Tenant, so the expected legacy schema can never drift from the
// real one.
func reference(ctx context.Context) (map[string][]column, error) {
	refOnce.Do(func() {
		db, err := storage.OpenMemory(ctx)
		if err != nil {
			refErr = err
			return
		}
		defer db.Close()
		if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
			refErr = fmt.Errorf("build reference tenant schema: %w", err)
			return
		}
		refTables = map[string][]column{}
		for _, t := range SeedTables {
			cols, err := tableColumns(ctx, db, "main", t)
			if err != nil {
				refErr = err
				return
			}
			refTables[t] = cols
		}
	})
	return refTables, refErr
}

// tableColumns lists a table's columns (nil when the table does not exist).
func tableColumns(ctx context.Context, q queryer, schema, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value IS NOT NULL, pk FROM pragma_table_info(?, ?) ORDER BY cid`, table, schema)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		var pk int
		if err := rows.Scan(&c.Name, &c.declType, &c.NotNull, &c.Default, &pk); err != nil {
			return nil, fmt.Errorf("read columns of %s: %w", table, err)
		}
		c.PK = pk > 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// queryer is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func hasColumn(cols []column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}
