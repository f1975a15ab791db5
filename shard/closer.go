package shard

import (
	"database/sql"
	"log/slog"
	"sync"
)

// maxClosers bounds the goroutines closing databases at once: closing
// waits for in-flight statements, so it never runs under Manager.mu, and a
// mass eviction must not start thousands of goroutines.
const maxClosers = 8

// closer closes evicted databases and raw connections in the background
// with bounded concurrency; Manager.Close waits for it. Workers start on
// demand and exit when the queue is empty, so an idle Manager runs none.
type closer struct {
	log *slog.Logger

	mu      sync.Mutex
	queue   []func()
	workers int
	shut    bool // wait has returned: later closes run on their own
	wg      sync.WaitGroup
}

// close closes a database's idle raw connections and then db in the
// background, then calls closed (if not nil); the channel is closed once
// all that is done.
func (c *closer) close(db *sql.DB, raws []*RawConn, tenantID int64, closed func()) <-chan struct{} {
	done := make(chan struct{})
	c.enqueue(func() {
		defer close(done)
		for _, rc := range raws {
			rc.Conn.Close()
		}
		if err := db.Close(); err != nil {
			c.log.Warn("close tenant database", "tenant_id", tenantID, "err", err)
		}
		if closed != nil {
			closed()
		}
	})
	return done
}

// closeRaw closes an idle raw connection in the background, then calls
// closed.
func (c *closer) closeRaw(rc *RawConn, closed func()) {
	c.enqueue(func() {
		rc.Conn.Close()
		closed()
	})
}

func (c *closer) enqueue(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shut {
		// A database still held when Manager.Close returned closes when its
		// last user lets go, after nobody is waiting any more.
		go f()
		return
	}
	c.queue = append(c.queue, f)
	if c.workers < maxClosers {
		c.workers++
		c.wg.Add(1)
		go c.work()
	}
}

func (c *closer) work() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.workers--
			c.mu.Unlock()
			return
		}
		f := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		f()
	}
}

// wait returns once everything queued so far is closed; later closes run
// on their own goroutine (nothing waits for them any more).
func (c *closer) wait() {
	c.mu.Lock()
	c.shut = true
	c.mu.Unlock()
	c.wg.Wait()
}
