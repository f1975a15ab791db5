package registry

import (
	"context"

	"github.com/microfi/tenantgate/catalog"
)

// View is the registry as the admin API and `tenantgate fleet` show it:
// every proxy with the catalog's current change position, so a reader sees
// who lags behind it.
type View struct {
	Position catalog.Position `json:"position"`
	Live     int              `json:"live"`
	Proxies  []ViewProxy      `json:"proxies"`
}

// ViewProxy is one proxy of a View.
type ViewProxy struct {
	Proxy
	AgeSeconds       float64 `json:"age_seconds"`        // since its last heartbeat
	DeadAfterSeconds float64 `json:"dead_after_seconds"` // its own dead timeout
	Self             bool    `json:"self"`               // the proxy answering (self)
}

// Snapshot reads the View; self names the reading proxy ("" = none).
func Snapshot(ctx context.Context, cat *catalog.Catalog, self string) (View, error) {
	pos, err := cat.Position(ctx)
	if err != nil {
		return View{}, err
	}
	all, err := List(ctx, cat)
	if err != nil {
		return View{}, err
	}
	v := View{Position: pos, Proxies: make([]ViewProxy, len(all))}
	for i, p := range all {
		v.Proxies[i] = ViewProxy{Proxy: p, AgeSeconds: p.Age.Seconds(), DeadAfterSeconds: p.DeadAfter.Seconds(), Self: self != "" && p.ID == self}
		if p.Live() {
			v.Live++
		}
	}
	return v, nil
}
