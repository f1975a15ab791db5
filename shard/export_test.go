package shard

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
