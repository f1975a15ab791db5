package shard

// IsOpen reports whether the tenant's database is open (or opening) now,
// so a caller can tell a cheap request from one that costs an open.
func (m *Manager) IsOpen(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.entries[id]
	return ok
}
