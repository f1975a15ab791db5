package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/proxy/httpapi"
)

// adminFleetPath lists the proxy registry.
const adminFleetPath = "/api/admin/fleet"

// adminFleet answers GET /api/admin/fleet: every registered proxy, its
// version, the tenant schema it serves, the changes it has applied and
// its heartbeat age (the same as `tenantgate fleet --json`).
func (s *API) adminFleet(ctx *fasthttp.RequestCtx) error {
	if m := string(ctx.Method()); m != "GET" && m != "HEAD" {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		return httpapi.ErrMethod
	}
	c, cancel := s.requestContext()
	defer cancel()
	self := ""
	if s.members != nil {
		self = s.members.ID()
	}
	view, err := registry.Snapshot(c, s.catalog, self)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, view)
	return nil
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

// acknowledge waits, within the request's deadline, until every live proxy
// has applied the catalog changes made so far, and says how that went.
// The change is committed either way; a laggard is named, not an error.
func (s *API) acknowledge(ctx context.Context) *ackView {
	if s.members == nil {
		return nil
	}
	timeout := s.timeout - time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d)-250*time.Millisecond)
	}
	ack, err := registry.AwaitLatest(ctx, s.catalog, max(timeout, 100*time.Millisecond))
	if err != nil {
		v := &ackView{Error: err.Error()}
		var lag *registry.LagError
		if errors.As(err, &lag) {
			for _, p := range lag.Lagging {
				v.Lagging = append(v.Lagging, p.ID)
			}
		}
		s.log.Warn("catalog change not acknowledged by every proxy", "err", err)
		return v
	}
	return &ackView{Acknowledged: true, Proxies: len(ack.Proxies), Seconds: ack.Elapsed.Seconds()}
}

// withAck adds the acknowledgement to a response body as "fleet" (nothing
// when the proxy is not registered).
func withAck(body map[string]any, v *ackView) map[string]any {
	if v != nil {
		body["fleet"] = v
	}
	return body
}
