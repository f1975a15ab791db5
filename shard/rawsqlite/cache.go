package rawsqlite

// stmtCacheSize is how many prepared statements a connection keeps.
const stmtCacheSize = 32

// stmtCache keeps prepared single-statement texts of one connection for
// reuse (opening a connection costs ~0.6 ms, preparing a statement several
// µs). It lives and dies with the connection: Close finalizes it.
type stmtCache struct {
	m     map[string]*cachedStmt
	order []string // cached texts, oldest first, each once
}

type cachedStmt struct {
	st    *Stmt
	inUse bool
}

// Cached returns the cached statement for a single-statement SQL text,
// marking it in use. Give it back with Keep.
func (c *Conn) Cached(sql string) (*Stmt, bool) {
	e, ok := c.cache.m[sql]
	if !ok || e.inUse {
		return nil, false
	}
	e.inUse = true
	return e.st, true
}

// Keep resets a statement prepared from sql and keeps it for reuse,
// evicting the oldest cached statement when the cache is full (or
// finalizes it when every cached one is in use).
func (c *Conn) Keep(sql string, st *Stmt) {
	st.Reset()
	st.ClearBindings()
	c.keep(sql, st)
}

// KeepBound is Keep without clearing the bindings, for a caller that binds
// every parameter on each use: SQLite expires a statement whose plan
// depends on a bound value when its bindings are cleared, so Keep makes
// such a statement compile again on its next use.
func (c *Conn) KeepBound(sql string, st *Stmt) {
	st.Reset()
	c.keep(sql, st)
}

func (c *Conn) keep(sql string, st *Stmt) {
	k := &c.cache
	if e, ok := k.m[sql]; ok {
		if e.st == st {
			e.inUse = false
		} else {
			st.Finalize()
		}
		return
	}
	if len(k.m) >= stmtCacheSize {
		for i, old := range k.order {
			if e := k.m[old]; !e.inUse {
				e.st.Finalize()
				delete(k.m, old)
				k.order = append(k.order[:i], k.order[i+1:]...)
				break
			}
		}
		if len(k.m) >= stmtCacheSize { // every entry in use: do not grow
			st.Finalize()
			return
		}
	}
	if k.m == nil {
		k.m = make(map[string]*cachedStmt)
	}
	k.m[sql] = &cachedStmt{st: st}
	k.order = append(k.order, sql)
}

// finalizeCache finalizes every cached statement (before Close).
func (c *Conn) finalizeCache() {
	for k, e := range c.cache.m {
		e.st.Finalize()
		delete(c.cache.m, k)
	}
	c.cache.order = nil
}
