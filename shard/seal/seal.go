// Package seal keeps tenant SQL away from the tables tenantgate manages
// (users, accounts, transactions, idempotency keys, the stamp, the
// migration log and any later migration's tables: migrations.TenantManaged).
//
// Tenants may create their own tables, views, triggers and indexes, but none
// of them may reference, index, cascade into or trigger on a managed table,
// directly or through another of their objects: such an object would run
// inside the bank API's own transactions and could bend the ledger. The
// SQL engine's authorizer refuses most of this while a statement compiles;
// what only shows once a statement ran (a foreign key, the body of a view or
// trigger) is found by Audit, which the SQL engine runs after each schema
// change (Check) and the shard manager and `tenantgate verify` run over
// whole databases.
package seal

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// Finding is one foreign schema object that touches a managed table or
// takes a reserved name.
type Finding struct {
	Object  string `json:"object"`          // the tenant's object
	Type    string `json:"type"`            // table, index, trigger or view
	Temp    bool   `json:"temp,omitempty"`  // in the connection's temp schema
	Table   string `json:"table,omitempty"` // the managed table it touches
	Problem string `json:"problem"`
}

// Repairable reports whether dropping the object repairs the finding
// without losing data: indexes, triggers and views hold none. A table that
// references a managed table holds the tenant's rows, so it is refused,
// never dropped.
func (f Finding) Repairable() bool { return f.Type != "table" }

func (f Finding) String() string {
	return fmt.Sprintf("%s %s %s", f.Type, f.Object, f.Problem)
}

// Conn is what Audit needs of a database connection: plain queries, and
// probes that compile a statement without running it and report what it
// would touch (see rawsqlite.Conn.Probe).
type Conn interface {
	Query(ctx context.Context, query string) ([][]string, error)
	Probe(ctx context.Context, query string) ([]rawsqlite.Access, error)
}

type object struct {
	typ, name, table string
	temp             bool
}

func (o object) schema() string {
	if o.temp {
		return "temp"
	}
	return "main"
}

// Audit lists every foreign schema object that touches a managed table or
// takes a reserved name, in the main and temp schemas. It changes nothing.
func Audit(ctx context.Context, c Conn) ([]Finding, error) {
	managed := migrations.TenantManaged
	rows, err := c.Query(ctx, `SELECT type, name, tbl_name, 0 FROM main.sqlite_schema
		UNION ALL SELECT type, name, tbl_name, 1 FROM temp.sqlite_schema`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	var objs []object
	byName := map[string]object{}
	for _, r := range rows {
		o := object{typ: r[0], name: r[1], table: r[2], temp: r[3] == "1"}
		byName[strings.ToLower(o.name)] = o
		objs = append(objs, o)
	}
	// A database migrated past this binary by expand-only migrations (see
	// package migrations) has tenantgate objects this binary has never
	// seen: tenants cannot take the reserved prefix, so those are ours.
	ahead := false
	if v, err := c.Query(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err == nil && len(v) == 1 && len(v[0]) == 1 {
		n, _ := strconv.Atoi(v[0][0])
		ahead = n > migrations.Tenant.Latest()
	}
	var out []Finding
	add := func(o object, table, problem string) {
		out = append(out, Finding{Object: o.name, Type: o.typ, Temp: o.temp, Table: table, Problem: problem})
	}
	probed := map[string]bool{} // tables and views whose triggers were compiled
	seen := map[string]bool{}   // foreign triggers and views the probes reached
	var touches []rawsqlite.Access
	probe := func(q string) {
		acc, err := c.Probe(ctx, q)
		if err != nil {
			return // e.g. "cannot modify a view": unseen triggers are reported below
		}
		for _, a := range acc {
			if a.Via != "" {
				seen[strings.ToLower(a.Via)] = true
			}
		}
		touches = append(touches, acc...)
	}
	for _, o := range objs {
		lname := strings.ToLower(o.name)
		if managed.Object(lname) && !o.temp || strings.HasPrefix(lname, "sqlite_") {
			continue
		}
		if ahead && !o.temp && strings.HasPrefix(lname, migrations.ReservedPrefix) {
			continue
		}
		if managed.Reserved(lname) {
			add(o, "", "takes a name reserved by tenantgate")
		}
		switch o.typ {
		case "index", "trigger":
			if managed.Table(o.table) {
				add(o, o.table, "is on a table managed by tenantgate")
				continue
			}
		}
		switch o.typ {
		case "table":
			fks, err := c.Query(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(`+literal(o.name)+`, `+literal(o.schema())+`)`)
			if err != nil {
				return nil, fmt.Errorf("read foreign keys of %s: %w", o.name, err)
			}
			for _, fk := range fks {
				if managed.Table(fk[0]) {
					add(o, strings.ToLower(fk[0]), "has a foreign key into a table managed by tenantgate")
				}
			}
		case "view":
			probe(`SELECT * FROM ` + ident(o.schema()) + `.` + ident(o.name))
		case "trigger":
			key := o.schema() + "." + strings.ToLower(o.table)
			if probed[key] {
				continue
			}
			probed[key] = true
			if err := probeWrites(ctx, c, o, probe); err != nil {
				return nil, err
			}
		}
	}
	reported := map[string]bool{}
	for _, a := range touches {
		if a.Via == "" || managed.Object(a.Via) {
			continue
		}
		switch a.Action {
		case sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
		default:
			continue
		}
		if !managed.Table(a.Arg1) || reported[strings.ToLower(a.Via)] {
			continue
		}
		reported[strings.ToLower(a.Via)] = true
		o, ok := byName[strings.ToLower(a.Via)]
		if !ok {
			o = object{typ: "trigger", name: a.Via}
		}
		add(o, strings.ToLower(a.Arg1), "uses a table managed by tenantgate")
	}
	for _, o := range objs {
		if o.typ == "trigger" && !managed.Table(o.table) && !managed.Object(o.name) && !seen[strings.ToLower(o.name)] {
			add(o, "", "could not be checked (it did not compile for any write to its table)")
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object != out[j].Object {
			return out[i].Object < out[j].Object
		}
		return out[i].Problem < out[j].Problem
	})
	return out, nil
}

// probeWrites compiles an INSERT, an UPDATE of every column and a DELETE on
// the table (or view) trigger o is on, which compiles every trigger that
// would fire there.
func probeWrites(ctx context.Context, c Conn, o object, probe func(string)) error {
	target := ident(o.schema()) + "." + ident(o.table)
	cols, err := c.Query(ctx, `SELECT name FROM pragma_table_xinfo(`+literal(o.table)+`, `+literal(o.schema())+`) WHERE hidden = 0`)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", o.table, err)
	}
	probe(`INSERT INTO ` + target + ` DEFAULT VALUES`)
	if len(cols) > 0 {
		set := make([]string, len(cols))
		for i, col := range cols {
			set[i] = ident(col[0]) + " = " + ident(col[0])
		}
		probe(`UPDATE ` + target + ` SET ` + strings.Join(set, ", "))
	}
	probe(`DELETE FROM ` + target)
	return nil
}

// ident quotes an SQL identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literal quotes an SQL string.
func literal(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// DropSQL is the statement that repairs a repairable finding.
func (f Finding) DropSQL() string {
	schema := "main."
	if f.Temp {
		schema = "temp."
	}
	return "DROP " + strings.ToUpper(f.Type) + " IF EXISTS " + schema + ident(f.Object)
}
