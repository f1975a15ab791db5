package tlsedge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/microfi/tenantgate/catalog"
)

// ErrNotAllowed means no certificate may exist for a name: it is not the
// platform's, not a live tenant's subdomain and not an active tenant's
// custom domain. Such a handshake is refused without any ACME order.
var ErrNotAllowed = errors.New("no certificate for this name")

// errRateLimited aborts an order over the per-tenant or global budget.
var errRateLimited = errors.New("certificate order rate limit reached")

// name is what a server name is to the edge.
type name struct {
	tenantID int64 // 0 for the platform's own hosts
	custom   bool  // a tenant's custom domain
}

// decide says whether a certificate may be served or obtained for host, a
// normalised server name. It asks the catalog through its cache, so a flood
// of made-up names costs one cached miss each and never an order.
//
// Demo tenants get certificates for their subdomain (the demo is useless
// without HTTPS) but not for a custom domain: demos are created by anyone
// and live a day, and the CA's rate limits are the platform's to spend.
func (e *Edge) decide(ctx context.Context, host string) (name, error) {
	root := e.cfg.RootDomain
	switch {
	case host == root || host == "www."+root || host == "admin."+root:
		return name{}, nil
	case strings.HasSuffix(host, "."+root):
		label := strings.TrimSuffix(host, "."+root)
		if strings.Contains(label, ".") {
			return name{}, fmt.Errorf("%w: %s is deeper than a tenant subdomain", ErrNotAllowed, host)
		}
		t, err := e.cfg.Catalog.FindByHost(ctx, label)
		if err != nil {
			return name{}, refusal(host, err)
		}
		if t.Suspended() || t.Expired(time.Now()) {
			return name{}, fmt.Errorf("%w: tenant %s is %s", ErrNotAllowed, t.Host, t.Status)
		}
		return name{tenantID: t.ID}, nil
	}
	t, err := e.cfg.Catalog.FindByDomain(ctx, host)
	if err != nil {
		return name{}, refusal(host, err)
	}
	if t.Status != catalog.StatusActive {
		return name{}, fmt.Errorf("%w: %s belongs to a %s tenant", ErrNotAllowed, host, t.Status)
	}
	return name{tenantID: t.ID, custom: true}, nil
}

func refusal(host string, err error) error {
	if errors.Is(err, catalog.ErrTenantNotFound) {
		return fmt.Errorf("%w: %s is no tenant's", ErrNotAllowed, host)
	}
	return fmt.Errorf("decide %s: %w", host, err)
}

// allowOrder spends one order from the tenant's and the global budget.
// The tenant's token is only taken when the global one is there too.
func (e *Edge) allowOrder(tenantID int64) bool {
	tl, ok := e.tenantLimits.Get(tenantID)
	if !ok {
		tl = rate.NewLimiter(e.cfg.TenantOrderRate, e.cfg.TenantOrderBurst)
		e.tenantLimits.Add(tenantID, tl)
	}
	now := time.Now()
	r := tl.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false
	}
	if !e.orderLimit.AllowN(now, 1) {
		r.CancelAt(now)
		return false
	}
	return true
}
