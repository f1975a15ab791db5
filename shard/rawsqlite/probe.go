package rawsqlite

import (
	"errors"
	"fmt"
)

// Access is one thing a statement would do, as SQLite's authorizer sees it
// while compiling: the action code (sqlite3.SQLITE_READ, …), its two
// arguments (for a read or write: the table and column), and Via, the
// innermost trigger or view responsible ("" for the statement itself).
type Access struct {
	Action     int
	Arg1, Arg2 string
	Via        string
}

// Probe compiles the first statement of sql without running it and returns
// every access SQLite authorized while compiling, including those of the
// triggers, foreign-key actions and views it would run. Nothing is refused
// and nothing is executed.
func (c *Conn) Probe(sql string) ([]Access, error) {
	var got []Access
	c.probe = &got
	st, _, err := c.Prepare(sql)
	c.probe = nil
	if err != nil {
		return nil, err
	}
	if st != nil {
		st.Finalize()
	}
	return got, nil
}

// Internal runs fn with the safety policy lifted, for this connection's
// own audit queries (never tenant SQL).
func (c *Conn) Internal(fn func() error) error {
	prev := c.internal
	c.internal = true
	defer func() { c.internal = prev }()
	return fn()
}

// stepChecked runs a statement that created or renamed a schema object
// inside a savepoint, then the schema check; a failed check undoes it.
func (s *Stmt) stepChecked() (bool, error) {
	c := s.c
	if err := c.Internal(func() error { return c.Exec("SAVEPOINT tg_schema_check") }); err != nil {
		return false, fmt.Errorf("schema check: %w", err)
	}
	row, err := s.step()
	if err == nil && !row {
		err = c.Internal(func() error { return c.schemaCheck(c) })
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				err = &Error{Code: CodeAuth, Msg: "not authorized: " + err.Error()}
			}
		}
	}
	undo := "RELEASE tg_schema_check"
	if err != nil {
		undo = "ROLLBACK TO tg_schema_check; RELEASE tg_schema_check"
	}
	s.Reset()
	if uerr := c.Internal(func() error { return c.Exec(undo) }); uerr != nil && err == nil {
		err = uerr
	}
	return row, err
}

// Compiled describes how the authorizer shaped the statement the last
// Prepare compiled, for a caller that must run the same text elsewhere
// (SQL forwarded to a remote tenant's server, which has no authorizer of
// ours).
type Compiled struct {
	// NoOp: a PRAGMA accepted as a no-op (it compiled to nothing).
	NoOp bool
	// Nulled: a secret column reads as NULL here.
	Nulled bool
	// SchemaChange: the statement adds, drops or alters a schema object.
	SchemaChange bool
}

// LastCompiled reports how the last Prepare's statement was shaped.
func (c *Conn) LastCompiled() Compiled {
	return Compiled{NoOp: c.noop, Nulled: c.nulled, SchemaChange: c.schemaChange}
}
