package proxy

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
