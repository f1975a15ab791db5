package bank

import (
	"context"
	"database/sql"
)

// Preparer hands out prepared statements cached per database (the shard
// manager's Handle is one). Without it the store parses every statement on
// every call, which is most of a short request's database cost.
type Preparer interface {
	Stmt(ctx context.Context, query string) (*sql.Stmt, error)
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
	st, err := r.s.prep.Stmt(ctx, query)
	if err != nil {
		return nil // fall back to an unprepared query
	}
	if r.tx != nil {
		return r.tx.StmtContext(ctx, st)
	}
	return st
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
