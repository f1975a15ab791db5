package hrana

import (
	"fmt"
	"sync"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// stmtCacheSize is how many prepared statements a connection keeps.
const stmtCacheSize = 32

// dbConn is a raw connection with a small cache of prepared statements
// (opening a connection costs ~0.6 ms, preparing a statement several µs).
type dbConn struct {
	*rawsqlite.Conn
	cache map[string]*rawsqlite.Stmt
	order []string // insertion order, for eviction
}

// prepared returns a ready statement for a single-statement SQL text, from
// the cache when possible. Callers return it with done.
func (c *dbConn) prepared(sql string) (*rawsqlite.Stmt, bool) {
	st, ok := c.cache[sql]
	if ok {
		delete(c.cache, sql)
	}
	return st, ok
}

// done resets a statement and keeps it for reuse.
func (c *dbConn) done(sql string, st *rawsqlite.Stmt) {
	st.Reset()
	st.ClearBindings()
	if _, dup := c.cache[sql]; dup {
		st.Finalize()
		return
	}
	if len(c.cache) >= stmtCacheSize {
		for len(c.order) > 0 {
			old := c.order[0]
			c.order = c.order[1:]
			if s, ok := c.cache[old]; ok {
				s.Finalize()
				delete(c.cache, old)
				break
			}
		}
	}
	c.cache[sql] = st
	c.order = append(c.order, sql)
	if len(c.order) > 4*stmtCacheSize {
		// Compact the order list: drop names no longer cached.
		kept := c.order[:0]
		for _, k := range c.order {
			if _, ok := c.cache[k]; ok {
				kept = append(kept, k)
			}
		}
		c.order = kept
	}
}

func (c *dbConn) close() {
	for k, st := range c.cache {
		st.Finalize()
		delete(c.cache, k)
	}
	c.Conn.Close()
}

// poolKey identifies a pool: one per database file and access mode.
type poolKey struct {
	path     string
	readOnly bool
}

// connPool keeps a few idle connections to one tenant database.
type connPool struct {
	key     poolKey
	opts    rawsqlite.Options
	maxIdle int
	done    <-chan struct{}

	mu     sync.Mutex
	idle   []*dbConn
	closed bool
}

// get returns an idle connection or opens a new one.
func (p *connPool) get() (*dbConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errTenantClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	raw, err := rawsqlite.Open(p.key.path, p.opts)
	if err != nil {
		return nil, fmt.Errorf("open hrana connection: %w", err)
	}
	return &dbConn{Conn: raw, cache: make(map[string]*rawsqlite.Stmt)}, nil
}

// put returns a connection: rolled back, and kept unless the pool is full,
// closed, or the connection carries state another stream must not see.
func (p *connPool) put(c *dbConn) {
	if err := c.Rollback(); err != nil || c.Dirty() {
		c.close()
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// close closes the idle connections and refuses new ones; connections held
// by streams are closed when their streams give them back.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}
