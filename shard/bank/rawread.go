package bank

import (
	"context"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// RawReader is what the shard manager's Handle offers the store for its hot
// reads: a read-only SQLite connection with the bank's rights, without
// database/sql (whose driver takes a mutex on every column read, boxes
// every value and starts two goroutines per query under a deadline). ok is
// false when the store should read through its pool instead.
type RawReader interface {
	ReadConn() (c *rawsqlite.Conn, release func(), ok bool)
}

// rawReader returns the store's raw read connection, if its Preparer has
// one to give now.
func (s *Store) rawReader() (rawRunner, func(), bool) {
	rr, ok := s.prep.(RawReader)
	if !ok {
		return rawRunner{}, nil, false
	}
	c, release, ok := rr.ReadConn()
	if !ok {
		return rawRunner{}, nil, false
	}
	return rawRunner{c}, release, true
}

// rawRunner runs the store's fixed read-only SQL texts on a raw connection,
// through the connection's statement cache.
type rawRunner struct{ c *rawsqlite.Conn }

// rawRows is one running statement; Close gives it back to the cache.
type rawRows struct {
	*rawsqlite.Stmt
	c     *rawsqlite.Conn
	query string
}

// QueryContext starts query with integer arguments, bounded by ctx's
// deadline (checked by the connection's progress handler).
func (r rawRunner) QueryContext(ctx context.Context, query string, args ...int64) (rawRows, error) {
	if err := ctx.Err(); err != nil { // as database/sql would
		return rawRows{}, err
	}
	st, ok := r.c.Cached(query)
	if !ok {
		var err error
		if st, _, err = r.c.Prepare(query); err != nil {
			return rawRows{}, classifyRaw(err)
		}
	}
	for i, a := range args {
		if err := st.BindInt64(i+1, a); err != nil {
			r.c.Keep(query, st) // a partial binding must not stay
			return rawRows{}, classifyRaw(err)
		}
	}
	if d, ok := ctx.Deadline(); ok {
		r.c.SetDeadline(d)
	}
	return rawRows{Stmt: st, c: r.c, query: query}, nil
}

// Next steps to the next row.
func (r rawRows) Next() (bool, error) {
	ok, err := r.Step()
	return ok, classifyRaw(err)
}

// Close resets the statement into the cache and lifts the deadline. Every
// parameter is bound on each use, so the bindings need no clearing.
func (r rawRows) Close() {
	r.c.KeepBound(r.query, r.Stmt)
	r.c.SetDeadline(time.Time{})
}

// classifyRaw is classify for rawsqlite's errors.
func classifyRaw(err error) error {
	var e *rawsqlite.Error
	if errors.As(err, &e) && (e.Primary() == sqlite3.SQLITE_BUSY || e.Primary() == sqlite3.SQLITE_LOCKED) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}
