package proxy

import (
	"maps"
	"time"

	"github.com/microfi/tenantgate/catalog/registry"
)

// FleetLoad is the registry heartbeat's load report: this proxy's recent
// request rate per tenant, login attempts per tenant and creation budget
// requests (registry.Options.Load).
func (s *Server) FleetLoad() map[string]float64 {
	now := time.Now()
	tenants, logins, out := map[string]float64{}, map[string]float64{}, map[string]float64{}
	s.tenantLimit.fleet.report(now, tenants)
	s.logins.shares.report(now, logins)
	s.budgets.shares.report(now, out)
	// The report holds registry.MaxLoadKeys keys. The budgets' few keys
	// always go (however slow, a budget left out would be taken whole by
	// every proxy); the rest is shared between the two tenant classes,
	// busiest first, so many tenants' requests cannot crowd out logins.
	room := registry.MaxLoadKeys - len(out)
	nl := min(len(logins), max(room/2, room-len(tenants)))
	maps.Copy(out, registry.TopLoad(logins, nl))
	maps.Copy(out, registry.TopLoad(tenants, room-nl))
	return out
}

// Reweight takes this proxy's share of each fleet-wide limit from the live
// proxies' load reports (registry.Options.OnPeers; see fleetlimit.go).
func (s *Server) Reweight(self string, live []registry.Proxy) {
	now := time.Now()
	s.tenantLimit.fleet.reweight(self, live)
	s.tenantLimit.rescale(now)
	s.logins.shares.reweight(self, live)
	s.logins.tenant.rescale(now)
	s.budgets.shares.reweight(self, live)
	s.budgets.demoGlobal.rescale(now)
	s.budgets.signupGlobal.rescale(now)
}

// fleetReady adds the fleet's part of readiness: a change poller that has
// not gone stale, and the proxy registered and not draining.
func (s *Server) fleetReady(checks map[string]string) bool {
	ok := true
	if s.catalog.Stale() {
		checks["catalog_changes"] = "stale: no change poll succeeded recently"
		ok = false
	}
	if r := s.cfg.Registry; r != nil {
		switch {
		case r.Draining():
			checks["registry"] = "draining"
			ok = false
		case !r.Registered():
			checks["registry"] = "not registered yet"
			ok = false
		default:
			checks["registry"] = "ok"
		}
	}
	return ok
}
