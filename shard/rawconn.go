package shard

import (
	"context"
	"fmt"
	"time"

	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/seal"
)

// RawConn is a direct SQLite connection to a tenant database (for SQL over
// HTTP), handed out by the Manager so the fd budget counts it. Give it back
// with Release; never Close it yourself.
type RawConn struct {
	*rawsqlite.Conn
	m         *Manager
	e         *entry
	readOnly  bool
	trusted   bool
	idleSince time.Time
}

// Conn returns a raw connection to the handle's local database: an idle one
// of the same mode, or a new one when the fd budget has room (closing idle
// connections or databases nobody holds to make some, waiting up to
// PinWait when everything is in use: then ErrBusy).
func (h *Handle) Conn(ctx context.Context, readOnly bool) (*RawConn, error) {
	return h.ConnAs(ctx, readOnly, false)
}

// ConnAs is Conn with the bank's rights when trusted (see
// rawsqlite.Options.Trusted): for a front proxy using this tenantgate as
// its shard. Trusted and tenant connections are pooled apart.
func (h *Handle) ConnAs(ctx context.Context, readOnly, trusted bool) (*RawConn, error) {
	m, e := h.m, h.e
	if e.path == "" {
		return nil, fmt.Errorf("%w: tenant %d is on a libSQL server, not a local file", ErrUnavailable, e.id)
	}
	m.mu.Lock()
	if c := m.takeIdleRawLocked(e, readOnly, trusted); c != nil {
		m.mu.Unlock()
		return c, nil
	}
	var deadline <-chan time.Time
	for m.fds+FDsPerConn > m.cfg.FDBudget {
		if m.closed || e.evicted {
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: tenant %d is being closed", ErrUnavailable, e.id)
		}
		if m.closeOldestRawLocked() {
			continue
		}
		if m.evictForRoomLocked() {
			continue
		}
		if deadline == nil {
			deadline = time.After(m.cfg.PinWait)
		}
		if err := m.waitLocked(ctx, deadline); err != nil {
			m.mu.Unlock()
			m.m.openFailures.WithLabelValues("pinned").Inc()
			return nil, fmt.Errorf("%w (tenant %d: file-descriptor budget spent)", ErrBusy, e.id)
		}
	}
	m.chargeConnLocked(e, readOnly)
	e.rawOpen++
	m.gaugesLocked()
	m.mu.Unlock()
	return m.openRaw(e, readOnly, trusted)
}

// takeIdleRawLocked takes an idle raw connection of the mode off e's idle
// list, or returns nil.
func (m *Manager) takeIdleRawLocked(e *entry, readOnly, trusted bool) *RawConn {
	for i := len(e.raw) - 1; i >= 0; i-- { // newest first: its pages are warm
		if c := e.raw[i]; c.readOnly == readOnly && c.trusted == trusted {
			e.raw = append(e.raw[:i], e.raw[i+1:]...)
			if len(e.raw) == 0 {
				delete(m.rawIdle, e)
			}
			m.m.rawIdle.Dec()
			return c
		}
	}
	return nil
}

// openRaw opens a raw connection whose descriptors the caller has charged
// (m.fds, e.rawOpen); a failure gives them back.
func (m *Manager) openRaw(e *entry, readOnly, trusted bool) (*RawConn, error) {
	raw, err := rawsqlite.Open(e.path, rawsqlite.Options{ReadOnly: readOnly, BusyTimeout: m.cfg.RawBusyTimeout, SchemaCheck: seal.Check, MaxPages: e.maxPages, Trusted: trusted})
	if err != nil {
		m.mu.Lock()
		m.dropRawLocked(nil, e, readOnly)
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
	}
	m.m.rawOpen.Inc()
	return &RawConn{Conn: raw, m: m, e: e, readOnly: readOnly, trusted: trusted}, nil
}

// HotReads is how many reads a database serves through its pool (h.DB)
// before Reader opens a raw connection for it: a database touched now and
// then (the long tail of tenants) never pays for a second connection.
const HotReads = 32

// Reader returns a raw read-only connection with the bank's rights for a
// hot read (bank.Store's reads: no database/sql, no per-call goroutines,
// no per-call mutexes): an idle one, or a new one once the database has
// served HotReads reads and the descriptor budget has room without
// closing anything. False means: read through the pool. Give the
// connection back with Release.
func (h *Handle) Reader() (*RawConn, bool) {
	m, e := h.m, h.e
	if e.path == "" {
		return nil, false
	}
	m.mu.Lock()
	if c := m.takeIdleRawLocked(e, true, true); c != nil {
		m.mu.Unlock()
		return c, true
	}
	if e.reads++; e.reads < HotReads || m.closed || e.evicted || m.fds+FDsPerConn > m.cfg.FDBudget {
		m.mu.Unlock()
		return nil, false
	}
	m.chargeConnLocked(e, true)
	e.rawOpen++
	m.gaugesLocked()
	m.mu.Unlock()
	c, err := m.openRaw(e, true, true)
	if err != nil {
		m.log.Warn("raw reader", "tenant", e.id, "err", err)
		return nil, false
	}
	return c, true
}

// ReadConn is Reader for bank.Store (bank.RawReader).
func (h *Handle) ReadConn() (*rawsqlite.Conn, func(), bool) {
	c, ok := h.Reader()
	if !ok {
		return nil, nil, false
	}
	return c.Conn, c.Release, true
}

// Release gives the connection back: rolled back and kept for reuse, or
// closed if it carries state another stream must not see, its database is
// closing, or enough are idle already.
func (c *RawConn) Release() {
	m, e := c.m, c.e
	if err := c.Rollback(); err != nil || c.Dirty() {
		c.close()
		return
	}
	m.mu.Lock()
	if e.evicted || m.closed || len(e.raw) >= m.cfg.RawIdlePerTenant {
		m.mu.Unlock()
		c.close()
		return
	}
	c.idleSince = time.Now()
	e.raw = append(e.raw, c)
	m.rawIdle[e] = struct{}{}
	m.signalLocked()
	m.mu.Unlock()
	m.m.rawIdle.Inc()
}

// close closes a connection that is not idle and returns its descriptors.
// It closes first: whether SQLite keeps its database descriptor depends on
// the connections open when it really closes (linger.go).
func (c *RawConn) close() {
	c.Conn.Close()
	c.m.mu.Lock()
	c.m.dropRawLocked(c, c.e, c.readOnly)
	c.m.mu.Unlock()
}

// dropRawLocked takes a raw connection off the books (c may be nil for
// one that failed to open); its descriptors return as linger.go says. One
// not closed yet must be counted in e.closing first (closeLaterLocked).
func (m *Manager) dropRawLocked(c *RawConn, e *entry, readOnly bool) {
	e.rawOpen--
	m.refundConnLocked(e, readOnly, fileOpenLocked(e))
	if c != nil {
		m.m.rawOpen.Dec()
	}
	m.gaugesLocked()
}

// closeOldestRawLocked closes one idle raw connection, of any tenant, to
// free descriptors; it reports false when none is idle.
func (m *Manager) closeOldestRawLocked() bool {
	for e := range m.rawIdle {
		c := e.raw[0]
		e.raw = e.raw[1:]
		if len(e.raw) == 0 {
			delete(m.rawIdle, e)
		}
		m.m.rawIdle.Dec()
		m.closeLaterLocked(c)
		m.closer.closeRaw(c, func() { m.rawClosed(e, c.readOnly) })
		return true
	}
	return false
}

// closeLaterLocked takes an idle raw connection that is closed after m.mu
// is released off the books: its descriptors return now, to make room, but
// for its database descriptor, pending and not reusable until it is
// closed (rawClosed then settles it).
func (m *Manager) closeLaterLocked(c *RawConn) {
	c.e.closing[connMode(c.readOnly)]++
	m.dropRawLocked(c, c.e, c.readOnly)
}

// reapRaw closes raw connections idle since before cutoff, so a tenant
// that went quiet holds no connections (or their page caches).
func (m *Manager) reapRaw(cutoff time.Time) {
	var old []*RawConn
	m.mu.Lock()
	for e := range m.rawIdle {
		n := 0
		for n < len(e.raw) && e.raw[n].idleSince.Before(cutoff) {
			n++ // oldest first
		}
		for _, c := range e.raw[:n] {
			m.closeLaterLocked(c)
			old = append(old, c)
		}
		e.raw = append(e.raw[:0], e.raw[n:]...)
		if len(e.raw) == 0 {
			delete(m.rawIdle, e)
		}
	}
	m.mu.Unlock()
	for _, c := range old {
		m.m.rawIdle.Dec()
		c.Conn.Close()
		m.rawClosed(c.e, c.readOnly)
	}
}

// LockWrites admits one writer at a time to the tenant's database, API
// requests and SQL streams alike, and returns the release function. SQLite
// has a single writer anyway; waiting here, instead of in SQLite's busy
// handler while holding a pooled connection, keeps the other connections
// free for readers, so a burst of writes cannot starve reads (or the
// writer itself) of connections.
func (h *Handle) LockWrites(ctx context.Context) (func(), error) {
	select {
	case h.e.writer <- struct{}{}:
		return h.unlockWrites, nil
	default:
	}
	select {
	case h.e.writer <- struct{}{}:
		return h.unlockWrites, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TryLockWrites is LockWrites bounded by wait instead of a context.
func (h *Handle) TryLockWrites(wait time.Duration) (func(), bool) {
	select {
	case h.e.writer <- struct{}{}:
		return h.unlockWrites, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case h.e.writer <- struct{}{}:
		return h.unlockWrites, true
	case <-t.C:
		return nil, false
	}
}

func (h *Handle) unlockWrites() { <-h.e.writer }
