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
	// Virtual: an external-content FTS table, whose index is derived from
	// the table it reads.
	Virtual bool `json:"virtual,omitempty"`
}

// Repairable reports whether dropping the object repairs the finding
// without losing data: indexes, triggers, views and an FTS index over a
// managed table hold none of their own. A table that references a managed
// table holds the tenant's rows, so it is refused, never dropped.
func (f Finding) Repairable() bool { return f.Type != "table" || f.Virtual }

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
	sql              string // its CREATE statement
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
	version := 0
	if v, err := c.Query(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`); err == nil && len(v) == 1 && len(v[0]) == 1 {
		version, _ = strconv.Atoi(v[0][0])
	}
	return AuditAt(ctx, c, version)
}

// AuditAt is Audit of a database whose latest tenant migration is version,
// for c holding a copy of another database's schema without its rows (a
// remote tenant's, see package sqlcheck).
func AuditAt(ctx context.Context, c Conn, version int) ([]Finding, error) {
	managed := migrations.TenantManaged
	rows, err := c.Query(ctx, `SELECT type, name, tbl_name, 0, coalesce(sql, '') FROM main.sqlite_schema
		UNION ALL SELECT type, name, tbl_name, 1, coalesce(sql, '') FROM temp.sqlite_schema`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	var objs []object
	byName := map[string]object{}
	for _, r := range rows {
		o := object{typ: r[0], name: r[1], table: r[2], temp: r[3] == "1", sql: r[4]}
		byName[strings.ToLower(o.name)] = o
		objs = append(objs, o)
	}
	// A database migrated past this binary by expand-only migrations (see
	// package migrations) has tenantgate objects this binary has never
	// seen: tenants cannot take the reserved prefix, so those are ours.
	ahead := version > migrations.Tenant.Latest()
	var out []Finding
	reported := map[string]bool{}
	add := func(o object, table, problem string) {
		out = append(out, Finding{Object: o.name, Type: o.typ, Temp: o.temp, Table: table, Problem: problem})
	}
	uses := func(o object, table string) {
		if k := o.schema() + "." + strings.ToLower(o.name); !reported[k] {
			reported[k] = true
			add(o, strings.ToLower(table), "uses a table managed by tenantgate")
		}
	}
	// foreign reports a tenant's trigger or view by name.
	foreign := func(name, typ string) (object, bool) {
		o, ok := byName[strings.ToLower(name)]
		return o, ok && o.typ == typ && !managed.Object(o.name)
	}
	probed := map[string]bool{} // tables and views whose triggers were compiled
	seen := map[string]bool{}   // foreign triggers the probes reached
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
			if t := rawsqlite.ContentTable(o.sql); strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL TABLE") && managed.Table(t) {
				out = append(out, Finding{Object: o.name, Type: o.typ, Temp: o.temp, Table: strings.ToLower(t), Virtual: true,
					Problem: "is a full-text index over a table managed by tenantgate"})
			}
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
			// The probe's own text names only the view: every managed
			// table it reaches is the view's, whatever SQLite names as
			// "via" (a view or CTE inside it, or nothing for a bare
			// count(*)).
			acc, err := c.Probe(ctx, `SELECT * FROM `+ident(o.schema())+`.`+ident(o.name))
			if err != nil {
				continue // it does not compile (e.g. a table it reads is gone): it reaches nothing
			}
			for _, a := range acc {
				if touches(a) {
					uses(o, a.Arg1)
				}
			}
		case "trigger":
			// A temporary trigger may be on a main table (tbl_name does
			// not say which schema): probe both.
			schemas := []string{o.schema()}
			if o.temp {
				schemas = []string{"temp", "main"}
			}
			var acc []rawsqlite.Access
			for _, schema := range schemas {
				key := schema + "." + strings.ToLower(o.table)
				if probed[key] {
					continue
				}
				probed[key] = true
				got, err := probeWrites(ctx, c, schema, o.table)
				if err != nil {
					return nil, err
				}
				acc = append(acc, got...)
			}
			// Every trigger that fires on the table (or in a chain from
			// it) compiled in these probes; SQLite names the innermost
			// trigger, view or CTE behind each access.
			var fired []object
			for _, a := range acc {
				if t, ok := foreign(a.Via, "trigger"); ok && !seen[strings.ToLower(t.name)] {
					seen[strings.ToLower(t.name)] = true
					fired = append(fired, t)
				}
			}
			for _, a := range acc {
				if !touches(a) {
					continue
				}
				if t, ok := foreign(a.Via, "trigger"); ok {
					uses(t, a.Arg1)
					continue
				}
				if _, ok := foreign(a.Via, "view"); ok {
					continue // the view's own probe reports it
				}
				// A CTE inside a trigger (or nothing) was named: blame
				// the fired triggers whose text names the table, or all
				// of them when none does (the table is reached through
				// a view or CTE that names it).
				var blamed []object
				for _, t := range fired {
					if rawsqlite.Mentions(t.sql, a.Arg1) {
						blamed = append(blamed, t)
					}
				}
				if len(blamed) == 0 {
					blamed = fired
				}
				for _, t := range blamed {
					uses(t, a.Arg1)
				}
			}
		}
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

// touches reports an access that reads or writes a managed table.
func touches(a rawsqlite.Access) bool {
	switch a.Action {
	case sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
		return migrations.TenantManaged.Table(a.Arg1)
	}
	return false
}

// probeWrites compiles an INSERT, an UPDATE of every column and a DELETE on
// schema.table (a table or view triggers are on), which compiles every
// trigger that would fire there, and returns what they would touch. A probe
// that does not compile adds nothing (e.g. "cannot modify a view", or no
// such table in that schema): a trigger no probe reached is reported as
// unchecked.
func probeWrites(ctx context.Context, c Conn, schema, table string) ([]rawsqlite.Access, error) {
	target := ident(schema) + "." + ident(table)
	cols, err := c.Query(ctx, `SELECT name FROM pragma_table_xinfo(`+literal(table)+`, `+literal(schema)+`) WHERE hidden = 0`)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	qs := []string{`INSERT INTO ` + target + ` DEFAULT VALUES`, `DELETE FROM ` + target}
	if len(cols) > 0 {
		set := make([]string, len(cols))
		for i, col := range cols {
			set[i] = ident(col[0]) + " = " + ident(col[0])
		}
		qs = append(qs, `UPDATE `+target+` SET `+strings.Join(set, ", "))
	}
	var all []rawsqlite.Access
	for _, q := range qs {
		if acc, err := c.Probe(ctx, q); err == nil {
			all = append(all, acc...)
		}
	}
	return all, nil
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
