package rawsqlite

import (
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"
)

// Error is a failure reported by SQLite (or by this package's policy, which
// uses SQLite's codes so callers treat both alike).
type Error struct {
	// Code is SQLite's extended result code; Code&0xff is the primary code.
	Code int
	// Msg is sqlite3_errmsg (or the policy's reason), without a prefix.
	Msg string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.CodeName(), e.Msg) }

// Primary is the primary result code (SQLITE_CONSTRAINT for every
// SQLITE_CONSTRAINT_*).
func (e *Error) Primary() int { return e.Code & 0xff }

// CodeName is the symbolic name of the primary code, e.g. "SQLITE_CONSTRAINT".
func (e *Error) CodeName() string { return CodeName(e.Code) }

// CodeName returns the symbolic name of a result code's primary code.
func CodeName(code int) string {
	if name, ok := codeNames[code&0xff]; ok {
		return name
	}
	return fmt.Sprintf("SQLITE_UNKNOWN_%d", code&0xff)
}

var codeNames = map[int]string{
	sqlite3.SQLITE_ERROR:      "SQLITE_ERROR",
	sqlite3.SQLITE_INTERNAL:   "SQLITE_INTERNAL",
	sqlite3.SQLITE_PERM:       "SQLITE_PERM",
	sqlite3.SQLITE_ABORT:      "SQLITE_ABORT",
	sqlite3.SQLITE_BUSY:       "SQLITE_BUSY",
	sqlite3.SQLITE_LOCKED:     "SQLITE_LOCKED",
	sqlite3.SQLITE_NOMEM:      "SQLITE_NOMEM",
	sqlite3.SQLITE_READONLY:   "SQLITE_READONLY",
	sqlite3.SQLITE_INTERRUPT:  "SQLITE_INTERRUPT",
	sqlite3.SQLITE_IOERR:      "SQLITE_IOERR",
	sqlite3.SQLITE_CORRUPT:    "SQLITE_CORRUPT",
	sqlite3.SQLITE_NOTFOUND:   "SQLITE_NOTFOUND",
	sqlite3.SQLITE_FULL:       "SQLITE_FULL",
	sqlite3.SQLITE_CANTOPEN:   "SQLITE_CANTOPEN",
	sqlite3.SQLITE_PROTOCOL:   "SQLITE_PROTOCOL",
	sqlite3.SQLITE_EMPTY:      "SQLITE_EMPTY",
	sqlite3.SQLITE_SCHEMA:     "SQLITE_SCHEMA",
	sqlite3.SQLITE_TOOBIG:     "SQLITE_TOOBIG",
	sqlite3.SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT",
	sqlite3.SQLITE_MISMATCH:   "SQLITE_MISMATCH",
	sqlite3.SQLITE_MISUSE:     "SQLITE_MISUSE",
	sqlite3.SQLITE_NOLFS:      "SQLITE_NOLFS",
	sqlite3.SQLITE_AUTH:       "SQLITE_AUTH",
	sqlite3.SQLITE_FORMAT:     "SQLITE_FORMAT",
	sqlite3.SQLITE_RANGE:      "SQLITE_RANGE",
	sqlite3.SQLITE_NOTADB:     "SQLITE_NOTADB",
	sqlite3.SQLITE_NOTICE:     "SQLITE_NOTICE",
	sqlite3.SQLITE_WARNING:    "SQLITE_WARNING",
}

// Result codes callers compare against.
const (
	CodeError     = sqlite3.SQLITE_ERROR
	CodeAuth      = sqlite3.SQLITE_AUTH
	CodeInterrupt = sqlite3.SQLITE_INTERRUPT
	CodeReadOnly  = sqlite3.SQLITE_READONLY
	CodeBusy      = sqlite3.SQLITE_BUSY
	CodeFull      = sqlite3.SQLITE_FULL
)
