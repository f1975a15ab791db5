package shard

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// errStmtCacheFull tells the caller to run the query unprepared.
var errStmtCacheFull = errors.New("statement cache full")

// maxCachedStmts bounds each database's statement cache; the stores use a
// fixed set of SQL texts, so this is never reached in practice.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per SQL text for a database, so a
// hot query is parsed once per connection instead of once per request.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// CachedStmt returns the prepared statement for query if one was prepared
// already. It takes no connection, so it is safe inside a transaction
// (where preparing would need a second pooled connection and could wait on
// the very transaction that holds the first).
func (h *Handle) CachedStmt(query string) *sql.Stmt {
	c := &h.e.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// Stmt returns a prepared statement for query on the tenant's database,
// prepared once and reused for as long as the database stays open.
// database/sql re-prepares it lazily on each pooled connection. Never call
// it inside a transaction: use CachedStmt there.
func (h *Handle) Stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c := &h.e.stmts
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := h.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok { // lost a race: keep the first
		st.Close()
		return prev, nil
	}
	if len(c.m) >= maxCachedStmts {
		st.Close()
		return nil, errStmtCacheFull
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}
