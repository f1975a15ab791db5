package shard

import (
	"context"
	"fmt"
	"time"
)

// A tenant's pool opens one connection when the database is opened (its
// descriptors are in FDsPerDatabase) and grows, up to MaxConnsPerTenant,
// only when requests of that tenant run concurrently. Each connection past
// the first is charged FDsPerConn when the pool opens it (poolConnecting),
// and the charge is returned once database/sql has closed it again (after
// ConnIdleTimeout; reconcilePools) or the database closes.

// poolConnecting is the bank pool's hook before it opens a connection: past
// the first, it charges the connection to the fd budget, making room (idle
// raw connections, idle databases) or waiting up to PinWait for it like a
// raw connection does, then ErrBusy.
func (m *Manager) poolConnecting(e *entry) func(context.Context) error {
	return func(ctx context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if e.db == nil {
			e.connecting = true // the open's own connection (leftoversClosed)
			return nil
		}
		// database/sql counts the connection it is opening.
		want := e.db.Stats().OpenConnections - 1
		var deadline <-chan time.Time
		for e.extraConns < want {
			switch {
			case m.closed:
				return ErrClosed
			case e.evicted, m.fds+FDsPerConn <= m.cfg.FDBudget:
				// A closing database's last requests are not refused a
				// connection: its whole charge returns when it closes.
				m.chargeConnLocked(e, false)
				e.extraConns++
				m.grown[e] = struct{}{}
				m.gaugesLocked()
				continue
			case m.closeOldestRawLocked():
				continue
			}
			if m.evictForRoomLocked() {
				continue
			}
			if deadline == nil {
				deadline = time.After(m.cfg.PinWait)
			}
			if err := m.waitLocked(ctx, deadline); err != nil {
				m.m.openFailures.WithLabelValues("pinned").Inc()
				return fmt.Errorf("%w (tenant %d: file-descriptor budget spent)", ErrBusy, e.id)
			}
		}
		return nil
	}
}

// reconcilePools returns the charge of pooled connections database/sql has
// closed (idle past ConnIdleTimeout) in databases nobody holds, but for
// the descriptors SQLite keeps pending.
func (m *Manager) reconcilePools() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := range m.grown {
		if e.refs > 0 || e.db == nil {
			continue
		}
		n := e.db.Stats().OpenConnections
		extra := max(n-1, 0)
		if extra >= e.extraConns {
			continue
		}
		// Each closed one's database descriptor stays pending while the
		// file has a connection left (linger.go).
		for ; e.extraConns > extra; e.extraConns-- {
			m.refundConnLocked(e, false, fileOpenLocked(e))
		}
		if extra == 0 {
			delete(m.grown, e)
		}
	}
	m.gaugesLocked()
}
