package rawsqlite

import (
	"strings"

	"github.com/microfi/tenantgate/migrations"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The safety policy, enforced while SQLite compiles each statement (so it
// also covers statements inside triggers and pragma table-valued functions,
// and needs no SQL parsing of our own):
//
//   - no ATTACH/DETACH (also stopped by SQLITE_LIMIT_ATTACHED=0, which
//     blocks VACUUM and VACUUM INTO too);
//   - no load_extension() (extension loading is also off in db_config);
//   - PRAGMAs per the table in pragma.go: run, accepted as a no-op, or
//     refused with the reason;
//   - managed tables (every table the tenant migrations create, see
//     migrations.TenantManaged) are read-only: no INSERT, UPDATE or DELETE
//     by any statement, trigger or foreign-key action; they cannot be
//     dropped or altered, and no index or trigger may be put on them (it
//     would run in the bank API's transactions, outside this authorizer);
//   - nothing a tenant made (a trigger or a view) may touch a managed
//     table, and a new table, view or trigger that would (a foreign key
//     into a managed table, a view or trigger body using one) is undone
//     right after its statement by the schema check (Options.SchemaCheck);
//   - managed names and the tg_ prefix cannot be taken;
//   - virtual tables only for the full-text and r-tree modules (an FTS
//     table whose content is a managed table is undone by the schema
//     check);
//   - no reads of sqlite_dbpage (raw pages: every row, secrets included).
//
// Writes to sqlite_schema and other corruption vectors are refused by
// SQLITE_DBCONFIG_DEFENSIVE.

// vtabModules are the virtual table modules a tenant may create.
var vtabModules = map[string]bool{"fts3": true, "fts4": true, "fts5": true, "rtree": true}

// secretColumns read as NULL over SQL: a TOTP secret is a live credential
// (password hashes, reset and recovery codes are stored as hashes).
var secretColumns = map[string]bool{"user_totp.secret": true}

// deniedFunctions are SQL functions that are refused outright.
var deniedFunctions = map[string]bool{"load_extension": true, "fts3_tokenizer": true}

func (c *Conn) authorize(action int32, a1, a2, db, via string) int32 {
	if c.probe != nil {
		// Probing (see Probe): record what the statement would touch,
		// refuse nothing, run nothing.
		*c.probe = append(*c.probe, Access{Action: int(action), Arg1: a1, Arg2: a2, Via: via})
		return sqlite3.SQLITE_OK
	}
	if c.internal {
		return sqlite3.SQLITE_OK // this package's own audit queries
	}
	deny := func(reason string) int32 {
		c.denied = reason
		return sqlite3.SQLITE_DENY
	}
	// The third argument names the database, except for ALTER TABLE,
	// where it is the column a DROP COLUMN drops (the database is first).
	if action == sqlite3.SQLITE_ALTER_TABLE {
		db = a1
	}
	if db != "" && db != "main" && db != "temp" {
		return deny("only the main database may be used")
	}
	if via == "" && changesSchema(action) {
		c.schemaChange = true
	}
	if c.trusted {
		switch action {
		case sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH:
			return deny("ATTACH, DETACH and VACUUM are not allowed")
		case sqlite3.SQLITE_FUNCTION:
			if deniedFunctions[strings.ToLower(a2)] {
				return deny(strings.ToLower(a2) + "() is not allowed")
			}
		}
		return sqlite3.SQLITE_OK
	}
	managed := migrations.TenantManaged
	// Nothing a tenant made (a trigger or view) may touch a managed table:
	// it would ride along in statements that do. SQLite names a common
	// table expression of the statement as "via" too; reading through one
	// is the statement's own read (see cte.go).
	if via != "" && !managed.Object(via) {
		switch action {
		case sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
			if managed.Table(a1) && !(action == sqlite3.SQLITE_READ && c.statementCTE(via)) {
				return deny(via + " may not use table " + a1 + ", which is managed by tenantgate")
			}
		}
	}
	switch action {
	case sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH:
		return deny("ATTACH, DETACH and VACUUM are not allowed")
	case sqlite3.SQLITE_FUNCTION:
		if deniedFunctions[strings.ToLower(a2)] {
			return deny(strings.ToLower(a2) + "() is not allowed")
		}
	case sqlite3.SQLITE_PRAGMA:
		return c.authorizePragma(strings.ToLower(a1), a2, deny)
	case sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_VIEW:
		if managed.Owned(a1) {
			return deny("table " + a1 + " is managed by tenantgate and cannot be dropped")
		}
		c.schemaOp = true // its sqlite_sequence and sqlite_stat* rows go with it
	case sqlite3.SQLITE_DROP_INDEX:
		if managed.Object(a1) {
			return deny("index " + a1 + " is managed by tenantgate and cannot be dropped")
		}
		c.schemaOp = true
	case sqlite3.SQLITE_ALTER_TABLE:
		if managed.Owned(a2) {
			return deny("table " + a2 + " is managed by tenantgate and cannot be altered")
		}
		c.ddl = true // a rename may take a reserved name: checked after it runs
		c.schemaOp = true
	case sqlite3.SQLITE_DROP_TRIGGER:
		if managed.Object(a1) {
			return deny("trigger " + a1 + " is managed by tenantgate and cannot be dropped")
		}
	case sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
		sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_TEMP_INDEX:
		// An index or trigger on a managed table would run inside the bank
		// API's own transactions.
		if managed.Table(a2) {
			return deny("table " + a2 + " is managed by tenantgate: no index or trigger may be put on it")
		}
		if managed.Reserved(a1) {
			return deny("the name " + a1 + " is reserved by tenantgate")
		}
		if action == sqlite3.SQLITE_CREATE_TEMP_TRIGGER || action == sqlite3.SQLITE_CREATE_TEMP_INDEX {
			c.dirty = true
		}
		c.ddl = true
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
		if c.schemaOp && action != sqlite3.SQLITE_INSERT && internalTable(a1) {
			break
		}
		if managed.Owned(a1) || internalTable(a1) {
			return deny("table " + a1 + " is managed by tenantgate and read-only over SQL (use the bank API)")
		}
	case sqlite3.SQLITE_READ:
		// Raw pages hold every row, secrets included.
		if strings.EqualFold(a1, "sqlite_dbpage") {
			return deny("sqlite_dbpage is not allowed: raw pages would bypass the column rules")
		}
		// Secrets read as NULL rather than failing the statement, so
		// "SELECT * FROM user_totp" still works.
		if secretColumns[strings.ToLower(a1)+"."+strings.ToLower(a2)] {
			c.nulled = true
			return sqlite3.SQLITE_IGNORE
		}
	case sqlite3.SQLITE_CREATE_VTABLE:
		if !vtabModules[strings.ToLower(a2)] {
			return deny("virtual table module " + a2 + " is not allowed")
		}
		if managed.Reserved(a1) {
			return deny("the name " + a1 + " is reserved by tenantgate")
		}
		c.ddl = true // an FTS table's content option may name a managed table
	case sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW,
		sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_VIEW:
		if managed.Reserved(a1) {
			return deny("the name " + a1 + " is reserved by tenantgate")
		}
		if action == sqlite3.SQLITE_CREATE_TEMP_TABLE || action == sqlite3.SQLITE_CREATE_TEMP_VIEW {
			c.dirty = true
		}
		// A foreign key or a view's query is only known once the statement
		// ran: checked then (see Stmt.Step).
		c.ddl = true
	case sqlite3.SQLITE_DROP_TEMP_INDEX, sqlite3.SQLITE_DROP_TEMP_TABLE, sqlite3.SQLITE_DROP_VTABLE:
		c.schemaOp = true
	case sqlite3.SQLITE_DROP_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_VIEW,
		sqlite3.SQLITE_SELECT, sqlite3.SQLITE_TRANSACTION,
		sqlite3.SQLITE_SAVEPOINT, sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_REINDEX,
		sqlite3.SQLITE_ANALYZE:
	default:
		return deny("this operation is not allowed")
	}
	return sqlite3.SQLITE_OK
}

// statementCTE reports whether the statement being compiled names a common
// table expression name. A CTE may shadow a view of the same name; a view
// can then be read through the CTE exemption only if its name is also a
// CTE of the statement, and a view that touches a managed table cannot
// exist (the schema check refuses it, the audit on open removes it).
func (c *Conn) statementCTE(name string) bool {
	if !c.ctesKnown {
		c.ctes, c.ctesKnown = CTENames(c.text), true
	}
	return c.ctes[asciiLower(name)]
}

// internalTable reports SQLite's own tables a statement may not write
// directly (sqlite_sequence: the next ids of managed tables; sqlite_stat*:
// the query plans of their statements). sqlite_schema is written by DDL
// itself; DEFENSIVE keeps it from direct writes.
func internalTable(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "sqlite_") && n != "sqlite_master" && n != "sqlite_temp_master"
}

// authorizerTrampoline is the C authorizer callback; pArg is the SQLite
// handle. Fail closed: an unknown handle is denied.
func authorizerTrampoline(_ *libc.TLS, pArg uintptr, action int32, z1, z2, z3, z4 uintptr) int32 {
	v, ok := registry.Load(pArg)
	if !ok {
		return sqlite3.SQLITE_DENY
	}
	return v.(*Conn).authorize(action, cString(z1), cString(z2), cString(z3), cString(z4))
}

func cString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return libc.GoString(p)
}

// changesSchema reports the authorizer actions that add, drop or alter a
// schema object.
func changesSchema(action int32) bool {
	switch action {
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_DELETE:
		return false
	}
	return action >= sqlite3.SQLITE_CREATE_INDEX && action <= sqlite3.SQLITE_DROP_VIEW ||
		action == sqlite3.SQLITE_ALTER_TABLE || action == sqlite3.SQLITE_CREATE_VTABLE ||
		action == sqlite3.SQLITE_DROP_VTABLE
}
