package shard

import (
	"fmt"

	"github.com/microfi/tenantgate/shard/remote"
)

// Hrana returns the Hrana client of a database on a libSQL server (the
// server's address and credential from the tenant's db_url), for SQL
// forwarding. A local database has none (ErrUnavailable).
func (h *Handle) Hrana() (*remote.Client, error) {
	m, e := h.m, h.e
	if e.path != "" {
		return nil, fmt.Errorf("%w: tenant %d is a local file, not on a libSQL server", ErrUnavailable, e.id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.hrana == nil {
		c, err := m.cfg.Remote.New(e.url)
		if err != nil {
			return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
		}
		e.hrana = c
	}
	return e.hrana, nil
}
