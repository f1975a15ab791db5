package proxy

import (
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/shard/fairshare"
)

// DefaultCPUWeights are the plans' weights in the fair CPU scheduler: under
// contention a tenant gets CPU in proportion to its weight, and may use
// proportionally more before its work counts as heavy. Demo tenants weigh
// least whatever their plan.
func DefaultCPUWeights() map[string]float64 {
	return map[string]float64{"demo": 1, "starter": 2, "growth": 4, "enterprise": 8}
}

// cpuWeight is tenant t's weight in the CPU scheduler.
func (s *Server) cpuWeight(t catalog.Tenant) float64 {
	key := t.Plan
	if t.Status == catalog.StatusDemo {
		key = "demo"
	}
	if w, ok := s.cfg.CPUWeights[key]; ok && w > 0 {
		return w
	}
	return 1
}

// meterAPI starts metering one tenant API call (the handler and its
// statements on the bank pool, which the progress handler cannot see): a
// request with the tenant's own token takes the tenant's fair share, so a
// heavy tenant's calls wait for a CPU token in its own bounded queue and
// past it get 429. A token-less one (a login) is only charged to the
// tenant's CPU series, and so is a remote tenant's: its time here is mostly
// round trips, and its statements are metered by the shard that runs them.
// Call Done on the result when the call ends.
func (s *Server) meterAPI(r *httpapi.Request) (fairshare.Meter, error) {
	if r.Claims == nil || (r.Handle != nil && r.Handle.Remote()) {
		return s.cpu.Account(r.Tenant.ID), nil
	}
	m, err := s.cpu.Begin(r.C, r.Tenant.ID, s.cpuWeight(r.Tenant))
	if err != nil {
		s.metrics.throttled.WithLabelValues("cpu").Inc()
		return m, httpapi.TooManyRequests(1)
	}
	return m, nil
}
