package hrana

import (
	"fmt"
	"sync"
	"time"

	"github.com/microfi/tenantgate/shard/rawsqlite"
)

// stmtCacheSize is how many prepared statements a connection keeps.
const stmtCacheSize = 32

// dbConn is a raw connection with a small cache of prepared statements
// (opening a connection costs ~0.6 ms, preparing a statement several µs).
type dbConn struct {
	*rawsqlite.Conn
	cache     map[string]*cachedStmt
	order     []string  // cached texts, oldest first, each once
	idleSince time.Time // when it was last given back to its pool
}

type cachedStmt struct {
	st    *rawsqlite.Stmt
	inUse bool
}

// prepared returns the cached statement for a single-statement SQL text,
// marking it in use. Callers give it back with done.
func (c *dbConn) prepared(sql string) (*rawsqlite.Stmt, bool) {
	e, ok := c.cache[sql]
	if !ok || e.inUse {
		return nil, false
	}
	e.inUse = true
	return e.st, true
}

// done resets a statement and keeps it for reuse, evicting the oldest
// cached statement when the cache is full.
func (c *dbConn) done(sql string, st *rawsqlite.Stmt) {
	st.Reset()
	st.ClearBindings()
	if e, ok := c.cache[sql]; ok {
		if e.st == st {
			e.inUse = false
		} else {
			st.Finalize()
		}
		return
	}
	if len(c.cache) >= stmtCacheSize {
		for i, old := range c.order {
			if e := c.cache[old]; !e.inUse {
				e.st.Finalize()
				delete(c.cache, old)
				c.order = append(c.order[:i], c.order[i+1:]...)
				break
			}
		}
		if len(c.cache) >= stmtCacheSize { // every entry in use: do not grow
			st.Finalize()
			return
		}
	}
	c.cache[sql] = &cachedStmt{st: st}
	c.order = append(c.order, sql)
}

func (c *dbConn) close() {
	for k, e := range c.cache {
		e.st.Finalize()
		delete(c.cache, k)
	}
	c.order = nil
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
	return &dbConn{Conn: raw, cache: make(map[string]*cachedStmt)}, nil
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
	c.idleSince = time.Now()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// reap closes idle connections unused since before cutoff, so a tenant
// that went quiet holds no connections (or their page caches).
func (p *connPool) reap(cutoff time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].idleSince.Before(cutoff) {
		n++ // the stack's bottom holds the longest idle
	}
	old := append([]*dbConn(nil), p.idle[:n]...)
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.mu.Unlock()
	for _, c := range old {
		c.close()
	}
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
