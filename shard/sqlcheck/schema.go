// Package sqlcheck checks tenant SQL bound for a remote tenant's libSQL
// server before it is forwarded: each statement is compiled against an
// in-memory copy of the tenant's schema under the SQL engine's own
// authorizer (shard/rawsqlite) and schema check (shard/seal), so a remote
// tenant is refused exactly what a local one is — ATTACH, extensions,
// sandbox-escaping PRAGMAs, writes to managed tables, objects touching
// them — whatever the server's own settings. Nothing runs on the copy but
// schema changes (so a later statement sees them); copies are pooled per
// schema (content hash), and verdicts are cached per schema and text.
package sqlcheck

import (
	"crypto/sha256"
	"strings"
)

// Object is one schema object: a row of sqlite_schema, or of
// sqlite_temp_schema (Temp).
type Object struct {
	Temp  bool
	Type  string // table, index, view, trigger
	Name  string
	Table string // tbl_name
	SQL   string
}

// Schema is a database's schema. Build it with NewSchema.
type Schema struct {
	Objects []Object
	hash    [32]byte
}

// Query reads a schema on the tenant's server, temp objects included (run
// it on the stream whose statements are checked: its own uncommitted and
// temp objects count). Columns: temp (0/1), type, name, tbl_name, sql.
const Query = `SELECT 0, type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL ` +
	`UNION ALL SELECT 1, type, name, tbl_name, sql FROM sqlite_temp_schema WHERE sql IS NOT NULL`

// NewSchema returns the schema of objs (in sqlite_schema order).
func NewSchema(objs []Object) *Schema {
	h := sha256.New()
	for _, o := range objs {
		if o.Temp {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		for _, s := range []string{o.Type, o.Name, o.Table, o.SQL} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	s := &Schema{Objects: objs}
	copy(s.hash[:], h.Sum(nil))
	return s
}

// Key identifies the schema's content (SHA-256 over its objects).
func (s *Schema) Key() [32]byte { return s.hash }

// Has reports whether the schema has an object named name (any case).
func (s *Schema) Has(name string) bool {
	for _, o := range s.Objects {
		if strings.EqualFold(o.Name, name) {
			return true
		}
	}
	return false
}

// createSQL is the statement that recreates o on a scratch database.
func (o Object) createSQL() string {
	if !o.Temp {
		return o.SQL
	}
	// sqlite_temp_schema keeps "CREATE TABLE …"; an index on a temp
	// table is temp by itself.
	for _, kind := range []string{"TABLE ", "VIEW ", "TRIGGER "} {
		if strings.HasPrefix(o.SQL, "CREATE "+kind) {
			return "CREATE TEMP " + o.SQL[len("CREATE "):]
		}
	}
	return o.SQL
}
