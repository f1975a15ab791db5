package bank

import (
	"context"
	"database/sql"
	"fmt"
)

// Preparer is what the shard manager's Handle offers the store: prepared
// statements cached per database (without them every call re-parses its
// SQL, most of a short request's database cost), and one writer at a time.
type Preparer interface {
	// Stmt prepares query on a miss; never called inside a transaction.
	Stmt(ctx context.Context, query string) (*sql.Stmt, error)
	// CachedStmt only looks up; safe inside a transaction.
	CachedStmt(query string) *sql.Stmt
	// LockWrites admits one writer to the database; call the returned
	// function to let the next one in.
	LockWrites(ctx context.Context) (func(), error)
}

// NewPrepared is New with a statement cache.
func NewPrepared(db *sql.DB, tenantID int64, p Preparer) *Store {
	return &Store{db: db, tenantID: tenantID, prep: p}
}

// runner runs the store's fixed SQL texts on the database or inside tx,
// through cached prepared statements when the store has a Preparer.
type runner struct {
	s  *Store
	tx *sql.Tx
}

// on returns the runner for tx (nil: the database itself).
func (s *Store) on(tx *sql.Tx) runner { return runner{s: s, tx: tx} }

func (r runner) stmt(ctx context.Context, query string) *sql.Stmt {
	if r.s.prep == nil {
		return nil
	}
	if r.tx != nil {
		// Preparing would take a second connection while this transaction
		// holds one; use the statement only if it is prepared already.
		if st := r.s.prep.CachedStmt(query); st != nil {
			return r.tx.StmtContext(ctx, st)
		}
		return nil
	}
	st, err := r.s.prep.Stmt(ctx, query)
	if err != nil {
		return nil // fall back to an unprepared query
	}
	return st
}

// lockWrites waits for the database's single writer slot (a no-op without
// a Preparer, e.g. for seeding and tools).
func (s *Store) lockWrites(ctx context.Context) (func(), error) {
	if s.prep == nil {
		return func() {}, nil
	}
	unlock, err := s.prep.LockWrites(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for the write lock: %w", err)
	}
	return unlock, nil
}

// QueryRowContext is sql.DB.QueryRowContext through the cache.
func (r runner) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryRowContext(ctx, query, args...)
	}
	return r.s.db.QueryRowContext(ctx, query, args...)
}

// QueryContext is sql.DB.QueryContext through the cache.
func (r runner) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.QueryContext(ctx, query, args...)
	}
	return r.s.db.QueryContext(ctx, query, args...)
}

// ExecContext is sql.DB.ExecContext through the cache.
func (r runner) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := r.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if r.tx != nil {
		return r.tx.ExecContext(ctx, query, args...)
	}
	return r.s.db.ExecContext(ctx, query, args...)
}
