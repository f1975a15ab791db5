package storage

import (
	"errors"
	"net/url"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"
)

// coder is an SQLite error that carries its result code, as
// modernc.org/sqlite's *sqlite.Error does.
type coder interface{ Code() int }

// code returns the (extended) result code of a local SQLite error, or
// false for anything else, such as a remote libSQL server's error, which
// arrives as text only.
func code(err error) (int, bool) {
	var c coder
	if errors.As(err, &c) {
		return c.Code(), true
	}
	return 0, false
}

// IsBusy reports whether err means the database was locked by another
// connection (SQLITE_BUSY, SQLITE_LOCKED): retrying later may succeed.
func IsBusy(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok {
		p := c & 0xff
		return p == sqlite3.SQLITE_BUSY || p == sqlite3.SQLITE_LOCKED
	}
	return remoteSays(err, "SQLITE_BUSY", "database is locked", "SQLITE_LOCKED")
}

// IsAuth reports whether err is an authorizer's refusal (SQLITE_AUTH): a
// statement the connection's policy does not allow, such as a bank
// statement that would run a tenant's trigger, or a libSQL server refusing
// a write to a table it keeps read-only.
func IsAuth(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok {
		return c&0xff == sqlite3.SQLITE_AUTH
	}
	return remoteSays(err, "SQLITE_AUTH", "not authorized")
}

// FenceMessage is what a write to a fenced tenant database fails with: the
// tenant is being moved to another shard (shard/move raises it from its
// fence triggers). Retrying shortly reaches the new database.
const FenceMessage = "tenantgate: tenant database is moving to another shard; retry shortly"

// IsFenced reports whether err is a write refused by a move's fence. The
// text is our own trigger's, local or from a libSQL server.
func IsFenced(err error) bool {
	return err != nil && strings.Contains(err.Error(), FenceMessage)
}

// IsFull reports whether err is SQLITE_FULL: a write would grow the
// database past its max_page_count (the tenant's storage quota) or the
// disk has no room left.
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok {
		return c&0xff == sqlite3.SQLITE_FULL
	}
	return remoteSays(err, "SQLITE_FULL", "database or disk is full")
}

// IsUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func IsUnique(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok {
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return remoteSays(err, "UNIQUE constraint failed", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")
}

// IsNoSuchTable reports whether err says a table does not exist. SQLite
// has no result code of its own for this (it is a plain SQLITE_ERROR from
// the parser), so a local error must carry SQLITE_ERROR and the parser's
// message; a remote one only the message.
func IsNoSuchTable(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok && c&0xff != sqlite3.SQLITE_ERROR {
		return false
	}
	return remoteSays(err, "no such table")
}

// remoteSays matches an error's text; used only where no code exists.
func remoteSays(err error, phrases ...string) bool {
	msg := err.Error()
	for _, p := range phrases {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// IsServerUnavailable reports whether err says the database cannot serve
// the request now, through no fault of the request: a local file that
// could not be opened, or was opened read-only (SQLite falls back to
// read-only when it cannot open the file for writing, out of descriptors
// say), or a libSQL server that shed or throttled the request (its HTTP
// 503 or 429, which libsql-client-go reports as text only).
func IsServerUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := code(err); ok {
		p := c & 0xff
		return p == sqlite3.SQLITE_CANTOPEN || p == sqlite3.SQLITE_READONLY
	}
	return remoteSays(err, "error code 503:", "error code 429:",
		"attempt to write a readonly database", "unable to open database file")
}

// IsUnreachable reports whether err is a libSQL server that could not be
// reached or hung up (a transport error under libsql-client-go: refused,
// reset, or a kept-alive connection the server had closed). The tenant is
// unavailable for the moment; it is no fault of the request.
func IsUnreachable(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}
