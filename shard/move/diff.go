package move

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Delta is what turns the database a base snapshot shows into the one a
// newer snapshot shows: schema objects to drop and create, and per table
// the rows to delete, update and insert.
type Delta struct {
	Drop   []string // statements run first (tenant triggers and views, changed indexes and tables)
	Create []string // tables, before any row
	Tables []TableDelta
	After  []string // indexes, views and triggers, after every row
	// Changes counts schema objects added, changed or removed (tenant
	// triggers and views are remade on every apply, changed or not).
	Changes int
}

// TableDelta is one table's row changes. Deletes hold key values (whole
// rows for a table without a key); Updates and Inserts whole rows.
type TableDelta struct {
	Table   table
	Deletes [][]any
	Updates [][]any
	Inserts [][]any
}

// Rows is how many rows the delta changes.
func (d Delta) Rows() int {
	n := 0
	for _, t := range d.Tables {
		n += len(t.Deletes) + len(t.Updates) + len(t.Inserts)
	}
	return n
}

// Empty reports whether the delta changes nothing.
func (d Delta) Empty() bool {
	return d.Rows() == 0 && d.Changes == 0
}

// Diff compares two local snapshot files and returns what turns base into
// next. Both are read in place (next attached to base's connection), so a
// diff of a large database moves no rows through Go but the changed ones.
func Diff(ctx context.Context, next, base string) (Delta, error) {
	db, err := storage.OpenMode(ctx, "file:"+next, storage.ReadOnly)
	if err != nil {
		return Delta{}, fmt.Errorf("diff: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return Delta{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS b`, storage.URI(base, storage.ReadOnly)); err != nil {
		return Delta{}, fmt.Errorf("diff: attach base: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE b`)
	n, err := readSchema(ctx, conn, "main")
	if err != nil {
		return Delta{}, err
	}
	b, err := readSchema(ctx, conn, "b")
	if err != nil {
		return Delta{}, err
	}
	return diff(ctx, conn, n, b)
}

func diff(ctx context.Context, conn *sql.Conn, n, b []object) (Delta, error) {
	var d Delta
	managed := migrations.TenantManaged
	inB := map[string]object{}
	for _, o := range b {
		inB[o.Type+" "+strings.ToLower(o.Name)] = o
	}
	inN := map[string]object{}
	for _, o := range n {
		inN[o.Type+" "+strings.ToLower(o.Name)] = o
	}
	// Tenant triggers and views are dropped first and made again last, so
	// none fires while rows are applied; tenantgate's own triggers (the
	// tenant guards) stay and check every row.
	tenantObj := func(o object) bool {
		return (o.Type == "trigger" || o.Type == "view") && !managed.Object(o.Name)
	}
	for _, o := range b {
		key := o.Type + " " + strings.ToLower(o.Name)
		nn, ok := inN[key]
		changed := !ok || nn.SQL != o.SQL
		switch {
		case tenantObj(o):
			d.Drop = append(d.Drop, "DROP "+strings.ToUpper(o.Type)+" IF EXISTS "+ident(o.Name))
			if changed {
				d.Changes++
			}
		case o.Type == "index" || o.Type == "trigger" || o.Type == "view":
			if changed {
				d.Drop = append(d.Drop, "DROP "+strings.ToUpper(o.Type)+" IF EXISTS "+ident(o.Name))
				d.Changes++
			}
		}
	}
	for _, o := range b {
		if o.Type != "table" || strings.HasPrefix(o.Name, "sqlite_") {
			continue
		}
		if nn, ok := inN["table "+strings.ToLower(o.Name)]; !ok || nn.SQL != o.SQL {
			d.Drop = append(d.Drop, "DROP TABLE IF EXISTS "+ident(o.Name))
			d.Changes++
		}
	}
	freshTables := map[string]bool{}
	for _, o := range n {
		switch o.Type {
		case "table":
			old, ok := inB["table "+strings.ToLower(o.Name)]
			fresh := !ok || old.SQL != o.SQL
			if fresh {
				freshTables[strings.ToLower(o.Name)] = true
			}
			if fresh && !strings.HasPrefix(o.Name, "sqlite_") {
				d.Create = append(d.Create, o.SQL)
				d.Changes++
			}
			if skipData(o.Name) {
				continue
			}
			t, err := describe(ctx, conn, "main", o.Name, o.SQL)
			if err != nil {
				return d, err
			}
			td, err := tableDiff(ctx, conn, t, fresh && !strings.EqualFold(o.Name, "sqlite_sequence"))
			if err != nil {
				return d, err
			}
			if len(td.Deletes)+len(td.Updates)+len(td.Inserts) > 0 {
				d.Tables = append(d.Tables, td)
			}
		case "index", "trigger", "view":
			old, ok := inB[o.Type+" "+strings.ToLower(o.Name)]
			changed := !ok || old.SQL != o.SQL || freshTables[strings.ToLower(o.Table)]
			if tenantObj(o) || changed {
				d.After = append(d.After, o.SQL)
			}
			if changed {
				d.Changes++
			}
		}
	}
	// sqlite_sequence last: inserts into AUTOINCREMENT tables move it too.
	for i, t := range d.Tables {
		if strings.EqualFold(t.Table.Name, "sqlite_sequence") && i != len(d.Tables)-1 {
			d.Tables = append(append(d.Tables[:i:i], d.Tables[i+1:]...), t)
			break
		}
	}
	return d, nil
}

// tableDiff reads one table's changed rows; all of them when fresh (the
// table is new, or its definition changed).
func tableDiff(ctx context.Context, conn *sql.Conn, t table, fresh bool) (TableDelta, error) {
	if fresh {
		td := TableDelta{Table: t}
		var err error
		td.Inserts, err = fetch(ctx, conn, `SELECT `+cols(t.Cols, "", true)+` FROM main.`+ident(t.Name), len(t.Cols))
		return td, err
	}
	return tableDiffIn(ctx, conn, t, nil)
}

// tableDiffIn reads one table's changed rows among those sc picks on both
// sides (every row when sc has no buckets for it).
func tableDiffIn(ctx context.Context, conn *sql.Conn, t table, sc scope) (TableDelta, error) {
	td := TableDelta{Table: t}
	name := ident(t.Name)
	all := cols(t.Cols, "", false)
	where, arg := sc.filter(t)
	args := append(append([]any{}, arg...), arg...)
	var err error
	if t.Key == nil {
		// No key: rows are their own identity (a multiset taken as a set).
		if td.Deletes, err = fetch(ctx, conn, `SELECT `+cols(t.Cols, "", true)+` FROM (SELECT `+all+` FROM b.`+name+where+` EXCEPT SELECT `+all+` FROM main.`+name+where+`)`, len(t.Cols), args...); err != nil {
			return td, err
		}
		td.Inserts, err = fetch(ctx, conn, `SELECT `+cols(t.Cols, "", true)+` FROM (SELECT `+all+` FROM main.`+name+where+` EXCEPT SELECT `+all+` FROM b.`+name+where+`)`, len(t.Cols), args...)
		return td, err
	}
	keys := cols(t.Key, "", false)
	if td.Deletes, err = fetch(ctx, conn, `SELECT `+cols(t.Key, "", true)+` FROM (SELECT `+keys+` FROM b.`+name+where+` EXCEPT SELECT `+keys+` FROM main.`+name+where+`)`, len(t.Key), args...); err != nil {
		return td, err
	}
	on := make([]string, len(t.Key))
	for i, k := range t.Key {
		on[i] = "o." + ident(k) + " IS x." + ident(k)
	}
	rows, err := fetch(ctx, conn, `SELECT `+cols(t.Cols, "x.", true)+`, EXISTS (SELECT 1 FROM b.`+name+` o WHERE `+strings.Join(on, " AND ")+`)
		FROM (SELECT `+all+` FROM main.`+name+where+` EXCEPT SELECT `+all+` FROM b.`+name+where+`) x`, len(t.Cols)+1, args...)
	if err != nil {
		return td, err
	}
	for _, r := range rows {
		if v, _ := r[len(r)-1].(int64); v == 1 {
			td.Updates = append(td.Updates, r[:len(r)-1])
		} else {
			td.Inserts = append(td.Inserts, r[:len(r)-1])
		}
	}
	return td, nil
}

// fetch reads every row of query (with args) as width values.
func fetch(ctx context.Context, q querier, query string, width int, args ...any) ([][]any, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, width)
		ptrs := make([]any, width)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
