package move

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/migrations"
)

// ErrUnsupported: the database holds something a move cannot copy yet.
var ErrUnsupported = errors.New("cannot be moved")

// object is one row of sqlite_schema.
type object struct {
	Type, Name, Table, SQL string
}

// table is what the diff needs to know of a table.
type table struct {
	Name string
	SQL  string
	Cols []string // stored columns (no generated ones), in order
	Key  []string // columns that identify a row; nil: the whole row does
	// IntKey: Key is the rowid (one INTEGER PRIMARY KEY column), so rows
	// fall in key ranges (buckets, see Sums).
	IntKey bool
}

// readSchema lists the schema objects of q (a *sql.DB, *sql.Conn or
// *sql.Tx) in creation order, fence triggers left out; schema is "main"
// or an attached name.
func readSchema(ctx context.Context, q querier, schema string) ([]object, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, name, tbl_name, sql FROM `+ident(schema)+`.sqlite_schema
		WHERE sql IS NOT NULL ORDER BY rowid`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	var out []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.Type, &o.Name, &o.Table, &o.SQL); err != nil {
			return nil, err
		}
		if n := strings.ToLower(o.Name); strings.HasPrefix(n, migrations.FencePrefix) || strings.HasPrefix(n, metaPrefix) {
			continue
		}
		if o.Type == "table" && strings.HasPrefix(strings.ToUpper(o.SQL), "CREATE VIRTUAL TABLE") {
			return nil, fmt.Errorf("%w: virtual table %s (full-text or r-tree indexes are not copied yet)", ErrUnsupported, o.Name)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// describe reads a table's stored columns and key.
func describe(ctx context.Context, q querier, schema, name, createSQL string) (table, error) {
	t := table{Name: name, SQL: createSQL}
	if strings.EqualFold(name, "sqlite_sequence") {
		return table{Name: name, Cols: []string{"name", "seq"}, Key: []string{"name"}}, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT name, pk, upper(type) FROM pragma_table_xinfo(?, ?) WHERE hidden = 0 ORDER BY cid`, name, schema)
	if err != nil {
		return t, fmt.Errorf("describe %s: %w", name, err)
	}
	defer rows.Close()
	type pkCol struct {
		name string
		pos  int
	}
	var pks []pkCol
	var keyType string
	for rows.Next() {
		var col, typ string
		var pk int
		if err := rows.Scan(&col, &pk, &typ); err != nil {
			return t, err
		}
		t.Cols = append(t.Cols, col)
		if pk > 0 {
			pks = append(pks, pkCol{col, pk})
			keyType = typ
		}
	}
	if err := rows.Err(); err != nil {
		return t, err
	}
	if len(t.Cols) == 0 {
		return t, fmt.Errorf("describe %s: no columns", name)
	}
	t.Key = make([]string, len(pks))
	for _, p := range pks {
		if p.pos-1 < len(t.Key) {
			t.Key[p.pos-1] = p.name
		}
	}
	if len(t.Key) == 0 {
		t.Key = nil
	}
	// A rowid alias: the one key column declared INTEGER, in a rowid
	// table, not PRIMARY KEY DESC (which is no alias).
	norm := strings.ToUpper(normalizeSQL(createSQL))
	t.IntKey = len(t.Key) == 1 && keyType == "INTEGER" && !strings.Contains(norm, "WITHOUT ROWID") && !strings.Contains(norm, "PRIMARY KEY DESC")
	return t, nil
}

// skipData: tables whose rows a move never writes. The stamp is checked
// instead (Verify), and is immutable by trigger anyway.
func skipData(name string) bool {
	switch strings.ToLower(name) {
	case "tenant_stamp", "sqlite_stat1", "sqlite_stat4":
		return true
	}
	return false
}

// cols renders a column list, each through unary plus when plus is set:
// the value and its storage class unchanged, but no declared type, so
// database/sql drivers hand DATETIME text over as text, not time.Time.
func cols(names []string, prefix string, plus bool) string {
	parts := make([]string, len(names))
	for i, n := range names {
		p := prefix + ident(n)
		if plus {
			p = "+" + p
		}
		parts[i] = p
	}
	return strings.Join(parts, ", ")
}

// match renders "a IS ? AND b IS ?" for names.
func match(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = ident(n) + " IS ?"
	}
	return strings.Join(parts, " AND ")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
