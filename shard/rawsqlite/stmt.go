package rawsqlite

import (
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Type is a value's SQLite storage class.
type Type int

// Storage classes, as sqlite3_column_type reports them.
const (
	Integer Type = sqlite3.SQLITE_INTEGER
	Float   Type = sqlite3.SQLITE_FLOAT
	Text    Type = sqlite3.SQLITE_TEXT
	Blob    Type = sqlite3.SQLITE_BLOB
	Null    Type = sqlite3.SQLITE_NULL
)

// Stmt is one prepared statement. Finalize it before closing its Conn.
type Stmt struct {
	c   *Conn
	p   uintptr
	ddl bool // creates or renames a schema object: checked after it runs
	// text is the statement's SQL, for the authorizer when SQLite compiles
	// it again (after a schema change).
	text string
}

// Prepare compiles the first statement of sql and returns the rest of the
// text (the tail). A nil Stmt with a nil error means sql held no statement
// (only whitespace, comments or semicolons).
func (c *Conn) Prepare(sql string) (*Stmt, string, error) {
	if c.db == 0 {
		return nil, "", ErrClosed
	}
	n := len(sql)
	const ptr = unsafe.Sizeof(uintptr(0))
	// One allocation: the NUL-terminated text, then (aligned) the two
	// out-pointers sqlite3_prepare_v2 fills.
	buf := c.malloc(n + 1 + int(3*ptr))
	defer c.free(buf)
	zSQL := buf
	copy(unsafe.Slice((*byte)(cptr(zSQL)), n), sql)
	*(*byte)(cptr(zSQL + uintptr(n))) = 0
	ppStmt := (buf + uintptr(n) + 1 + ptr - 1) &^ (ptr - 1)
	pzTail := ppStmt + ptr
	*(*uintptr)(cptr(ppStmt)) = 0
	*(*uintptr)(cptr(pzTail)) = 0
	c.denied = ""
	c.ddl, c.schemaOp = false, false
	c.noop, c.nulled, c.schemaChange = false, false, false
	c.compiling(sql)
	rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, zSQL, int32(n+1), ppStmt, pzTail)
	if rc != sqlite3.SQLITE_OK {
		return nil, "", c.errorFor(rc)
	}
	p := *(*uintptr)(cptr(ppStmt))
	tail := ""
	if t := *(*uintptr)(cptr(pzTail)); t != 0 {
		if off := int(t - zSQL); off >= 0 && off < n {
			tail = sql[off:]
		}
	}
	if p == 0 {
		return nil, tail, nil
	}
	st := &Stmt{c: c, p: p, text: sql[:len(sql)-len(tail)]}
	st.ddl = c.ddl && c.schemaCheck != nil && c.probe == nil && !c.internal && !st.IsExplain()
	return st, tail, nil
}

// compiling tells the authorizer which text SQLite may compile next.
func (c *Conn) compiling(text string) {
	if c.text != text {
		c.text, c.ctes, c.ctesKnown = text, nil, false
	}
}

// Finalize destroys the statement.
func (s *Stmt) Finalize() {
	if s.p != 0 && s.c.db != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
	}
	s.p = 0
}

// Reset rewinds the statement so it can run again (bindings are kept).
func (s *Stmt) Reset() { sqlite3.Xsqlite3_reset(s.c.tls, s.p) }

// ClearBindings sets every parameter back to NULL.
func (s *Stmt) ClearBindings() { sqlite3.Xsqlite3_clear_bindings(s.c.tls, s.p) }

// SQL is the statement's text.
func (s *Stmt) SQL() string { return libc.GoString(sqlite3.Xsqlite3_sql(s.c.tls, s.p)) }

// ReadOnly reports whether the statement makes no direct change to the
// database file (sqlite3_stmt_readonly).
func (s *Stmt) ReadOnly() bool { return sqlite3.Xsqlite3_stmt_readonly(s.c.tls, s.p) != 0 }

// IsExplain reports whether the statement is EXPLAIN or EXPLAIN QUERY PLAN.
func (s *Stmt) IsExplain() bool { return sqlite3.Xsqlite3_stmt_isexplain(s.c.tls, s.p) != 0 }

// ParamCount is the largest parameter index (sqlite3_bind_parameter_count).
func (s *Stmt) ParamCount() int { return int(sqlite3.Xsqlite3_bind_parameter_count(s.c.tls, s.p)) }

// ParamName is the name of parameter i (1-based) with its prefix (":a",
// "@a", "$a", "?3"), or "" for a bare "?".
func (s *Stmt) ParamName(i int) string {
	return libc.GoString(sqlite3.Xsqlite3_bind_parameter_name(s.c.tls, s.p, int32(i)))
}

// BindNull binds NULL to parameter i (1-based).
func (s *Stmt) BindNull(i int) error {
	return s.check(sqlite3.Xsqlite3_bind_null(s.c.tls, s.p, int32(i)))
}

// BindInt64 binds an INTEGER.
func (s *Stmt) BindInt64(i int, v int64) error {
	return s.check(sqlite3.Xsqlite3_bind_int64(s.c.tls, s.p, int32(i), v))
}

// BindFloat binds a REAL.
func (s *Stmt) BindFloat(i int, v float64) error {
	return s.check(sqlite3.Xsqlite3_bind_double(s.c.tls, s.p, int32(i), v))
}

// BindText binds TEXT; SQLite copies the bytes.
func (s *Stmt) BindText(i int, v string) error {
	n := len(v)
	p := s.c.malloc(n + 1)
	defer s.c.free(p)
	copy(unsafe.Slice((*byte)(cptr(p)), n), v)
	return s.check(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(n), sqlite3.SQLITE_TRANSIENT))
}

// BindBlob binds a BLOB; SQLite copies the bytes. An empty (or nil) slice
// binds an empty blob, not NULL.
func (s *Stmt) BindBlob(i int, v []byte) error {
	if len(v) == 0 {
		return s.check(sqlite3.Xsqlite3_bind_zeroblob(s.c.tls, s.p, int32(i), 0))
	}
	p := s.c.malloc(len(v))
	defer s.c.free(p)
	copy(unsafe.Slice((*byte)(cptr(p)), len(v)), v)
	return s.check(sqlite3.Xsqlite3_bind_blob(s.c.tls, s.p, int32(i), p, int32(len(v)), sqlite3.SQLITE_TRANSIENT))
}

// Step runs the statement to its next row: true when a row is ready, false
// when it is done.
func (s *Stmt) Step() (bool, error) {
	if s.ddl {
		return s.stepChecked()
	}
	return s.step()
}

func (s *Stmt) step() (bool, error) {
	s.c.compiling(s.text)
	switch rc := sqlite3.Xsqlite3_step(s.c.tls, s.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.errorFor(rc)
	}
}

// ColumnCount is the number of result columns (0 for most writes).
func (s *Stmt) ColumnCount() int { return int(sqlite3.Xsqlite3_column_count(s.c.tls, s.p)) }

// ColumnName is the name of result column i (0-based).
func (s *Stmt) ColumnName(i int) string {
	return libc.GoString(sqlite3.Xsqlite3_column_name(s.c.tls, s.p, int32(i)))
}

// ColumnDeclType is the declared type of result column i, and false for an
// expression (no declared type).
func (s *Stmt) ColumnDeclType(i int) (string, bool) {
	p := sqlite3.Xsqlite3_column_decltype(s.c.tls, s.p, int32(i))
	if p == 0 {
		return "", false
	}
	return libc.GoString(p), true
}

// ColumnType is the storage class of column i in the current row.
func (s *Stmt) ColumnType(i int) Type {
	return Type(sqlite3.Xsqlite3_column_type(s.c.tls, s.p, int32(i)))
}

// ColumnInt64 reads column i as an integer.
func (s *Stmt) ColumnInt64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// ColumnFloat reads column i as a float.
func (s *Stmt) ColumnFloat(i int) float64 {
	return sqlite3.Xsqlite3_column_double(s.c.tls, s.p, int32(i))
}

// ColumnText reads column i as text (a Go-owned copy).
func (s *Stmt) ColumnText(i int) string {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i)))
	if p == 0 || n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(cptr(p)), n))
}

// ColumnTextView is column i as text, in SQLite's memory: valid only until
// the next Step, Reset or Finalize (copy what must outlive them). It spares
// the copy of a value the caller only compares.
func (s *Stmt) ColumnTextView(i int) []byte {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i)))
	if p == 0 || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cptr(p)), n)
}

// ColumnBlob reads column i as bytes (a Go-owned copy, non-nil even when
// empty).
func (s *Stmt) ColumnBlob(i int) []byte {
	p := sqlite3.Xsqlite3_column_blob(s.c.tls, s.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i)))
	out := make([]byte, n)
	if p != 0 && n > 0 {
		copy(out, unsafe.Slice((*byte)(cptr(p)), n))
	}
	return out
}

// ColumnBytes is the size in bytes of column i's text or blob.
func (s *Stmt) ColumnBytes(i int) int {
	return int(sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i)))
}

func (s *Stmt) check(rc int32) error {
	if rc == sqlite3.SQLITE_OK {
		return nil
	}
	return s.c.errorFor(rc)
}
