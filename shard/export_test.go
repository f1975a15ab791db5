package shard

import "time"

// Shed evicts a tenant's database as the open cap does (its schema check
// stays remembered, unlike Evict) and waits until it is closed.
func (m *Manager) Shed(id int64) {
	m.mu.Lock()
	var closed <-chan struct{}
	if e, ok := m.entries[id]; ok {
		closed = m.evictLocked(e)
	}
	m.mu.Unlock()
	if closed != nil {
		<-closed
	}
}

// ReconcilePools runs the janitor's pool reconciliation now.
func (m *Manager) ReconcilePools() { m.reconcilePools() }

// Settle waits until the closer has closed everything queued so far.
func (m *Manager) Settle() {
	for {
		m.closer.mu.Lock()
		idle := m.closer.workers == 0 && len(m.closer.queue) == 0
		m.closer.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
