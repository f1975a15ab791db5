package sqlcheck

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/seal"
)

// Defaults for Config fields left zero.
const (
	DefaultSchemas       = 64   // schemas whose scratch copies are kept
	DefaultIdlePerSchema = 4    // idle scratch copies kept per schema
	DefaultVerdicts      = 8192 // cached verdicts
	// DefaultDDLTimeout bounds running one schema change on a scratch copy
	// (a CREATE TABLE … AS SELECT over a generator could otherwise spin).
	DefaultDDLTimeout = 250 * time.Millisecond
	// maxCachedSQL: longer texts are checked every time, not cached.
	maxCachedSQL = 4096
)

// Config tunes a Checker.
type Config struct {
	Schemas, IdlePerSchema, Verdicts int
	DDLTimeout                       time.Duration
}

// Checker hands out check sessions. It is safe for concurrent use.
type Checker struct {
	cfg      Config
	mu       sync.Mutex
	pools    *lru.Cache[[32]byte, *pool]
	verdicts *lru.Cache[verdictKey, Verdict]
}

type pool struct {
	mu   sync.Mutex
	idle []*rawsqlite.Conn
}

type verdictKey struct {
	schema   [32]byte
	readOnly bool
	sql      string
}

// New returns a Checker; it opens nothing until asked.
func New(cfg Config) *Checker {
	if cfg.Schemas <= 0 {
		cfg.Schemas = DefaultSchemas
	}
	if cfg.IdlePerSchema <= 0 {
		cfg.IdlePerSchema = DefaultIdlePerSchema
	}
	if cfg.Verdicts <= 0 {
		cfg.Verdicts = DefaultVerdicts
	}
	if cfg.DDLTimeout <= 0 {
		cfg.DDLTimeout = DefaultDDLTimeout
	}
	pools, _ := lru.NewWithEvict(cfg.Schemas, func(_ [32]byte, p *pool) { p.close() })
	verdicts, _ := lru.New[verdictKey, Verdict](cfg.Verdicts)
	return &Checker{cfg: cfg, pools: pools, verdicts: verdicts}
}

// Close closes every idle scratch copy.
func (c *Checker) Close() { c.pools.Purge() }

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, conn := range p.idle {
		conn.Close()
	}
	p.idle = nil
}

// Verdict is what a checked statement may do.
type Verdict struct {
	// ReadOnly: the statement does not write (sqlite3_stmt_readonly).
	ReadOnly bool
	// SchemaChange: it adds, drops or alters a schema object (the
	// tenant's schema copy is stale once it ran on the server).
	SchemaChange bool
	// NoOp: a statement accepted and ignored (a PRAGMA tenantgate keeps
	// its own setting for): answer it with an empty result, never send it.
	NoOp bool
	// Transaction: BEGIN, SAVEPOINT, COMMIT, END, ROLLBACK or RELEASE.
	Transaction bool
}

// Session checks the statements of one request, in order, against one
// schema: schema changes among them apply to the session's copy, so later
// statements see them. Release it when done. Not safe for concurrent use.
type Session struct {
	c        *Checker
	schema   *Schema
	readOnly bool
	conn     *rawsqlite.Conn // nil until a statement misses the verdict cache
	changed  bool            // a schema change ran on conn: it no longer matches schema
}

// Session starts checking statements against schema; readOnly refuses
// every statement that writes (a read-only token).
func (c *Checker) Session(schema *Schema, readOnly bool) *Session {
	return &Session{c: c, schema: schema, readOnly: readOnly}
}

// Changed reports whether a checked statement changed the schema.
func (s *Session) Changed() bool { return s.changed }

// Release returns the session's scratch copy to its pool (or closes it
// when a schema change made it differ from the schema).
func (s *Session) Release() {
	if s.conn == nil {
		return
	}
	conn := s.conn
	s.conn = nil
	if s.changed || !conn.Autocommit() {
		conn.Close()
		return
	}
	c := s.c
	c.mu.Lock()
	p, ok := c.pools.Get(s.schema.hash)
	if !ok {
		p = &pool{}
		c.pools.Add(s.schema.hash, p)
	}
	c.mu.Unlock()
	p.mu.Lock()
	if len(p.idle) < c.cfg.IdlePerSchema {
		p.idle = append(p.idle, conn)
		conn = nil
	}
	p.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// Refusals a caller may tell apart with errors.As(*rawsqlite.Error): every
// refusal is a *rawsqlite.Error with SQLite's code (SQLITE_AUTH for the
// policy, SQLITE_READONLY for a write on a read-only token, SQLITE_ERROR &c.
// for a statement that does not compile against the schema).

// Check checks the first statement of sql and returns its verdict and the
// rest of the text. A nil error with empty==true means sql held no
// statement. A refusal is a *rawsqlite.Error.
func (s *Session) Check(sql string) (v Verdict, tail string, empty bool, err error) {
	if err := s.scratch(); err != nil {
		return v, "", false, err
	}
	st, tail, err := s.conn.Prepare(sql)
	if err != nil {
		return v, "", false, err
	}
	if st == nil {
		return v, tail, true, nil
	}
	v, err = s.judge(st, sql[:len(sql)-len(tail)])
	return v, tail, false, err
}

// CheckOne checks text that must hold exactly one statement, as an
// execute or batch step does; more than one is ErrManyStatements, none
// ErrNoStatement.
func (s *Session) CheckOne(sql string) (Verdict, error) {
	key := verdictKey{schema: s.schema.hash, readOnly: s.readOnly, sql: sql}
	if !s.changed && len(sql) <= maxCachedSQL {
		if v, ok := s.c.verdicts.Get(key); ok {
			return v, nil
		}
	}
	v, tail, empty, err := s.Check(sql)
	if err != nil {
		return v, err
	}
	if empty {
		return v, ErrNoStatement
	}
	if strings.TrimSpace(tail) != "" {
		next, _, err := s.conn.Prepare(tail)
		if next != nil {
			next.Finalize()
		}
		if next != nil || err != nil {
			return v, ErrManyStatements
		}
	}
	if !s.changed && !v.SchemaChange && len(sql) <= maxCachedSQL {
		s.c.verdicts.Add(key, v)
	}
	return v, nil
}

// Peek checks that sql holds one statement the policy lets compile, without
// running anything (Hrana's describe).
func (s *Session) Peek(sql string) error {
	if err := s.scratch(); err != nil {
		return err
	}
	st, tail, err := s.conn.Prepare(sql)
	if err != nil {
		return err
	}
	if st == nil {
		return ErrNoStatement
	}
	st.Finalize()
	if strings.TrimSpace(tail) != "" {
		next, _, err := s.conn.Prepare(tail)
		if next != nil {
			next.Finalize()
		}
		if next != nil || err != nil {
			return ErrManyStatements
		}
	}
	return nil
}

// Shape errors of CheckOne (not refusals: the caller answers them with
// its protocol's own codes).
var (
	ErrNoStatement    = errors.New("SQL string does not contain any statement")
	ErrManyStatements = errors.New("SQL string contains more than one statement")
)

// judge decides a prepared statement (text is its own SQL) and finalizes it.
func (s *Session) judge(st *rawsqlite.Stmt, text string) (Verdict, error) {
	defer st.Finalize()
	shape := s.conn.LastCompiled()
	v := Verdict{ReadOnly: st.ReadOnly(), SchemaChange: shape.SchemaChange, NoOp: shape.NoOp, Transaction: isTransaction(text)}
	switch {
	case shape.Nulled:
		// Locally a secret column reads as NULL; the server would return
		// the secret itself.
		return v, &rawsqlite.Error{Code: rawsqlite.CodeAuth, Msg: "not authorized: secret columns (user_totp.secret) cannot be read over SQL on a remote tenant; leave them out of the column list"}
	case isVacuum(text):
		// Locally VACUUM fails when it runs (no database may be attached);
		// it compiles, so refuse it here.
		return v, &rawsqlite.Error{Code: rawsqlite.CodeAuth, Msg: "not authorized: ATTACH, DETACH and VACUUM are not allowed"}
	case s.readOnly && !v.ReadOnly:
		return v, &rawsqlite.Error{Code: codeReadOnly, Msg: "attempt to write a readonly database"}
	}
	if !v.SchemaChange || st.IsExplain() {
		return v, nil
	}
	// Run the schema change on the copy: the schema check (seal.Check)
	// runs after it exactly as on a local tenant, and later statements
	// of the request see the new object.
	s.changed = true
	s.conn.SetDeadline(time.Now().Add(s.c.cfg.DDLTimeout))
	defer s.conn.SetDeadline(time.Time{})
	for {
		row, err := st.Step()
		if err != nil {
			var se *rawsqlite.Error
			if errors.As(err, &se) && se.Primary() == rawsqlite.CodeInterrupt {
				return v, &rawsqlite.Error{Code: rawsqlite.CodeAuth, Msg: "not authorized: the schema change could not be checked in time"}
			}
			return v, err
		}
		if !row {
			return v, nil
		}
	}
}

const codeReadOnly = 8 // SQLITE_READONLY

// isVacuum reports whether a statement's first keyword is VACUUM.
func isVacuum(sql string) bool { return strings.EqualFold(firstKeyword(sql), "vacuum") }

// isTransaction reports a transaction-control statement.
func isTransaction(sql string) bool {
	switch strings.ToLower(firstKeyword(sql)) {
	case "begin", "savepoint", "commit", "end", "rollback", "release":
		return true
	}
	return false
}

// firstKeyword returns a statement's first word, after comments.
func firstKeyword(sql string) string {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n\f;")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return ""
			}
			s = s[i+2:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
			if end < 0 {
				end = len(s)
			}
			return s[:end]
		}
	}
}

// scratch gets the session a copy of its schema: an idle one, or a new one.
func (s *Session) scratch() error {
	if s.conn != nil {
		return nil
	}
	c := s.c
	c.mu.Lock()
	p, ok := c.pools.Get(s.schema.hash)
	c.mu.Unlock()
	if ok {
		p.mu.Lock()
		if n := len(p.idle); n > 0 {
			s.conn = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if s.conn != nil {
			return nil
		}
	}
	conn, err := Scratch(s.schema)
	if err != nil {
		return err
	}
	s.conn = conn
	return nil
}

// Scratch builds an in-memory database with the schema (no rows), under
// the SQL engine's authorizer and schema check; the caller closes it.
// Objects are created in schema order, retrying those that depend on a
// later one; an object that cannot be recreated is left out (statements
// using it then fail to compile: refused, never let through).
func Scratch(schema *Schema) (*rawsqlite.Conn, error) {
	conn, err := rawsqlite.Open(":memory:", rawsqlite.Options{SchemaCheck: seal.Check})
	if err != nil {
		return nil, fmt.Errorf("sqlcheck: scratch database: %w", err)
	}
	analyze := false
	pending := make([]Object, 0, len(schema.Objects))
	for _, o := range schema.Objects {
		if strings.HasPrefix(strings.ToLower(o.Name), "sqlite_") {
			analyze = analyze || strings.HasPrefix(strings.ToLower(o.Name), "sqlite_stat")
			continue // SQLite's own: made by AUTOINCREMENT, ANALYZE
		}
		pending = append(pending, o)
	}
	err = conn.Internal(func() error {
		for len(pending) > 0 {
			var again []Object
			for _, o := range pending {
				if err := conn.Exec(o.createSQL()); err != nil && !strings.Contains(err.Error(), "already exists") {
					again = append(again, o)
				}
			}
			if len(again) == len(pending) {
				break // no progress: the rest cannot be made
			}
			pending = again
		}
		if analyze {
			return conn.Exec("ANALYZE")
		}
		return nil
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlcheck: load schema: %w", err)
	}
	return conn, nil
}
