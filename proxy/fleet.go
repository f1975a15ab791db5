package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
)

// adminFleetPath lists the proxy registry.
const adminFleetPath = "/api/admin/fleet"

// fleetProxy is one proxy as the admin API shows it.
type fleetProxy struct {
	registry.Proxy
	AgeSeconds       float64 `json:"age_seconds"`        // since its last heartbeat
	DeadAfterSeconds float64 `json:"dead_after_seconds"` // its own dead timeout
	Self             bool    `json:"self"`               // the proxy answering this request
}

// fleetView is the registry with the catalog's current change position, so
// a reader can see who lags behind it.
type fleetView struct {
	Position catalog.Position `json:"position"`
	Live     int              `json:"live"`
	Proxies  []fleetProxy     `json:"proxies"`
}

// adminFleet answers GET /api/admin/fleet.
func (s *Server) adminFleet(ctx *fasthttp.RequestCtx) error {
	if m := string(ctx.Method()); m != "GET" && m != "HEAD" {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		return errMethod
	}
	c, cancel := contextFor(s)
	defer cancel()
	view, err := FleetView(c, s.catalog, s.selfID())
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, view)
	return nil
}

// FleetView reads the registry for the admin API and `tenantgate fleet`.
func FleetView(ctx context.Context, cat *catalog.Catalog, self string) (fleetView, error) {
	pos, err := cat.Position(ctx)
	if err != nil {
		return fleetView{}, err
	}
	all, err := registry.List(ctx, cat)
	if err != nil {
		return fleetView{}, err
	}
	v := fleetView{Position: pos, Proxies: make([]fleetProxy, len(all))}
	for i, p := range all {
		v.Proxies[i] = fleetProxy{Proxy: p, AgeSeconds: p.Age.Seconds(), DeadAfterSeconds: p.DeadAfter.Seconds(), Self: p.ID == self}
		if p.Live() {
			v.Live++
		}
	}
	return v, nil
}

func (s *Server) selfID() string {
	if s.cfg.Registry == nil {
		return ""
	}
	return s.cfg.Registry.ID()
}

// fleetReady adds the registry's part of readiness: registered and not
// draining, with a change poller that has not gone stale.
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

// acknowledge waits (bounded by the request's deadline less a margin)
// until every live proxy has applied the catalog changes made so far, and
// says how that went for the response.
func (s *Server) acknowledge(ctx context.Context) *ackView {
	if s.cfg.Registry == nil {
		return nil
	}
	timeout := s.cfg.RequestTimeout - time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d)-250*time.Millisecond)
	}
	ack, err := registry.AwaitLatest(ctx, s.catalog, max(timeout, 100*time.Millisecond))
	if err != nil {
		v := &ackView{Acknowledged: false, Error: err.Error()}
		if lag, ok := err.(*registry.LagError); ok {
			for _, p := range lag.Lagging {
				v.Lagging = append(v.Lagging, p.ID)
			}
		}
		s.log.Warn("catalog change not acknowledged by every proxy", "err", err)
		return v
	}
	return &ackView{Acknowledged: true, Proxies: len(ack.Proxies), Seconds: ack.Elapsed.Seconds()}
}

// ackView is the "fleet" member of a response to a change that must be in
// force on every proxy (suspension, deletion, revocation).
type ackView struct {
	Acknowledged bool     `json:"acknowledged"`
	Proxies      int      `json:"proxies,omitempty"` // live proxies that applied it
	Seconds      float64  `json:"seconds,omitempty"`
	Lagging      []string `json:"lagging,omitempty"` // proxy ids that had not
	Error        string   `json:"error,omitempty"`
}

// withAck adds the acknowledgement to a response body as "fleet" (nothing
// when the proxy is not registered).
func withAck(body map[string]any, v *ackView) map[string]any {
	if v != nil {
		body["fleet"] = v
	}
	return body
}

// SetRegistry attaches the proxy's fleet membership (before Start): it
// joins readiness, names this proxy in the admin API and acknowledges
// changes that must be in force everywhere.
func (s *Server) SetRegistry(r *registry.Registry) { s.cfg.Registry = r }
