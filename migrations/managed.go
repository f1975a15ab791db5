package migrations

import (
	"regexp"
	"strings"
)

// ReservedPrefix starts the name of every schema object tenantgate may add
// to tenant databases in the future; tenants cannot take such names, so a
// later migration is never blocked by a tenant's object. (The objects of
// 0001 and 0002 predate the rule and are reserved by name.)
const ReservedPrefix = "tg_"

// Managed lists the schema objects the tenant migrations create: the tables
// tenantgate owns (read-only over SQL) and their indexes and triggers. It is
// derived from the embedded migrations, so a new migration extends it with
// no second list to keep in step.
type Managed struct {
	Tables   map[string]bool // lower-case names
	Indexes  map[string]bool
	Triggers map[string]bool
}

// TenantManaged is the managed schema of tenant databases.
var TenantManaged = managedOf(Tenant)

// createRE finds the object each CREATE statement of our own migration SQL
// makes. The migrations are ours and written plainly (one object per
// statement, unquoted names), and a test checks the result against the
// sqlite_schema of a migrated database.
var createRE = regexp.MustCompile(`(?i)\bCREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?`)

var dropRE = regexp.MustCompile(`(?i)\bDROP\s+(TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+EXISTS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?`)

func managedOf(s Set) Managed {
	m := Managed{Tables: map[string]bool{"schema_migrations": true}, Indexes: map[string]bool{}, Triggers: map[string]bool{}}
	kind := func(k string) map[string]bool {
		switch strings.ToUpper(k) {
		case "TABLE", "VIEW":
			return m.Tables
		case "INDEX":
			return m.Indexes
		default:
			return m.Triggers
		}
	}
	for _, mig := range s.Migrations {
		sql := stripComments(mig.SQL)
		for _, c := range createRE.FindAllStringSubmatch(sql, -1) {
			kind(c[1])[strings.ToLower(c[2])] = true
		}
		for _, d := range dropRE.FindAllStringSubmatch(sql, -1) {
			delete(kind(d[1]), strings.ToLower(d[2]))
		}
	}
	return m
}

// stripComments removes -- line comments, so prose in them is not read as a
// statement.
func stripComments(sql string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Table reports whether name (any case) is a managed table.
func (m Managed) Table(name string) bool { return m.Tables[strings.ToLower(name)] }

// Object reports whether name (any case) is a managed table, index or trigger.
func (m Managed) Object(name string) bool {
	n := strings.ToLower(name)
	return m.Tables[n] || m.Indexes[n] || m.Triggers[n]
}

// Reserved reports whether a tenant may not give an object this name: a
// managed object's name or the reserved prefix. (SQLite itself keeps
// sqlite_ for its own objects.)
func (m Managed) Reserved(name string) bool {
	n := strings.ToLower(name)
	return m.Object(n) || strings.HasPrefix(n, ReservedPrefix)
}

// Owned reports whether name (any case) is tenantgate's: a managed object,
// or one with the reserved prefix, which only migrations can create (one
// this binary predates, on a database an expand-only migration took past
// it). Tenant SQL may not write, drop or alter it.
func (m Managed) Owned(name string) bool {
	n := strings.ToLower(name)
	return m.Object(n) || strings.HasPrefix(n, ReservedPrefix)
}
