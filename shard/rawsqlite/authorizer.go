package rawsqlite

import (
	"strings"

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
//   - the stamp, schema_migrations and every table guarded by a
//     *_tenant_guard_* trigger cannot be dropped or altered; the stamp and
//     schema_migrations cannot be written; guard and stamp triggers cannot
//     be dropped, and no new trigger may be put on those tables (it would
//     run in the bank API's transactions, outside this authorizer);
//   - virtual tables only for the full-text and r-tree modules.
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

func (c *Conn) authorize(action int32, a1, a2, db, trigger string) int32 {
	deny := func(reason string) int32 {
		c.denied = reason
		return sqlite3.SQLITE_DENY
	}
	if db != "" && db != "main" && db != "temp" {
		return deny("only the main database may be used")
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
		if c.protected[strings.ToLower(a1)] {
			return deny("table " + a1 + " is managed by tenantgate and cannot be dropped")
		}
	case sqlite3.SQLITE_DROP_INDEX:
		if c.protected[strings.ToLower(a2)] {
			return deny("indexes of table " + a2 + " are managed by tenantgate")
		}
	case sqlite3.SQLITE_ALTER_TABLE:
		if c.protected[strings.ToLower(a2)] {
			return deny("table " + a2 + " is managed by tenantgate and cannot be altered")
		}
	case sqlite3.SQLITE_DROP_TRIGGER:
		// No trigger on a managed table was made by a tenant (they cannot
		// create one): the audit trail's append-only triggers among them.
		if isGuardTrigger(a1) || strings.EqualFold(a2, "tenant_stamp") || c.protected[strings.ToLower(a2)] {
			return deny("trigger " + a1 + " is managed by tenantgate and cannot be dropped")
		}
	case sqlite3.SQLITE_CREATE_TRIGGER, sqlite3.SQLITE_CREATE_TEMP_TRIGGER:
		// A trigger on a managed table would also run inside the bank API's
		// own transactions, on connections without this authorizer.
		if c.protected[strings.ToLower(a2)] || isGuardTrigger(a1) {
			return deny("triggers on " + a2 + " are managed by tenantgate")
		}
		if action == sqlite3.SQLITE_CREATE_TEMP_TRIGGER {
			c.dirty = true
		}
	case sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE:
		if t := strings.ToLower(a1); t == "tenant_stamp" || t == "schema_migrations" {
			return deny("table " + a1 + " is managed by tenantgate and cannot be written")
		}
	case sqlite3.SQLITE_READ:
		// Secrets read as NULL rather than failing the statement, so
		// "SELECT * FROM user_totp" still works.
		if secretColumns[strings.ToLower(a1)+"."+strings.ToLower(a2)] {
			return sqlite3.SQLITE_IGNORE
		}
	case sqlite3.SQLITE_CREATE_VTABLE:
		if !vtabModules[strings.ToLower(a2)] {
			return deny("virtual table module " + a2 + " is not allowed")
		}
	case sqlite3.SQLITE_CREATE_TEMP_TABLE, sqlite3.SQLITE_CREATE_TEMP_INDEX, sqlite3.SQLITE_CREATE_TEMP_VIEW:
		c.dirty = true
	case sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW,
		sqlite3.SQLITE_DROP_TEMP_INDEX, sqlite3.SQLITE_DROP_TEMP_TABLE,
		sqlite3.SQLITE_DROP_TEMP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_VIEW, sqlite3.SQLITE_DROP_VTABLE,
		sqlite3.SQLITE_SELECT, sqlite3.SQLITE_TRANSACTION,
		sqlite3.SQLITE_SAVEPOINT, sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_REINDEX,
		sqlite3.SQLITE_ANALYZE:
	default:
		return deny("this operation is not allowed")
	}
	return sqlite3.SQLITE_OK
}

func isGuardTrigger(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "_tenant_guard_") || strings.HasPrefix(n, "tenant_stamp_")
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
