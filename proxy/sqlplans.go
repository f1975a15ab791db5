package proxy

import (
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/hrana"
)

// DefaultSQLPlans are the SQL limits of each subscription plan. A zero
// field takes the server-wide value (Config.Hrana: --sql-max-streams,
// --sql-statement-timeout and hrana's row and byte caps), so the starter
// plan is exactly the server-wide limits.
func DefaultSQLPlans() map[string]hrana.Limits {
	return map[string]hrana.Limits{
		"starter":    {},
		"growth":     {MaxStreams: 128, StatementTimeout: 10 * time.Second},
		"enterprise": {MaxStreams: 256, StatementTimeout: 15 * time.Second, MaxRowsPerResponse: 250_000, MaxResponseBytes: 64 << 20},
	}
}

// sqlLimits are the SQL limits of tenant t's plan (a plan without an
// entry gets the server-wide ones), with its CPU weight.
func (s *Server) sqlLimits(t catalog.Tenant) hrana.Limits {
	l := s.cfg.SQLPlans[t.Plan]
	l.CPUWeight = s.cpuWeight(t)
	return l
}
