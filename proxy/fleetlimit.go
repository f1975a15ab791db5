package proxy

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/microfi/tenantgate/catalog/registry"
)

// Fleet-wide per-tenant limits without a shared store.
//
// Each proxy counts the requests each tenant offers it (before any limit
// decides) and publishes the recent rate with its registry heartbeat.
// After each heartbeat it reads every serving peer's rates and takes, for
// each tenant, its own share of that tenant's traffic across the fleet,
//
//	share = own / (own + Σ peers)      (at least minShare)
//
// and enforces that share of the tenant's rate, burst and concurrency
// limits. However the load balancer spreads a tenant, the shares add up to
// one, so the fleet admits the tenant's limit, not N times it. A proxy
// that sees a tenant no peer reports takes the whole limit.
//
// Error bound: the shares come from the previous heartbeat interval, so
// (1) when a tenant's split across proxies changes, the fleet's admitted
// rate is off by at most the change in split for up to two intervals
// (4 s by default), and (2) in steady state, each proxy's estimate of the
// others lags by one interval, an error of the rate's own variation over
// an interval (a few percent for steady traffic); (3) the floor adds at
// most minShare × limit per proxy that has almost none of the tenant's
// traffic; (4) a tenant first seen by several proxies at once gets the
// whole limit on each until the next heartbeat; (5) a peer that stops
// heartbeating (killed) keeps its share for two intervals, after which its
// stale report is ignored. BENCHMARKS.md measures an 80/15/5 split.

// minShare is the least share a proxy keeps of a tenant other proxies
// serve, so a tenant the load balancer moves here is not refused outright
// for an interval.
const minShare = 0.02

// fleetShares holds this proxy's share of each tenant's limits and counts
// the traffic it is computed from.
type fleetShares struct {
	offered sync.Map                          // tenant id → *atomic.Int64 requests since the last report
	weights atomic.Pointer[map[int64]float64] // tenant id → share; absent = 1
	mu      sync.Mutex                        // the report below
	rates   map[int64]float64                 // smoothed offered rate, per second
	last    time.Time
}

// count records one request the tenant offered (every request that
// carries its token, admitted or not). The hot path: a map load and an
// atomic add.
func (f *fleetShares) count(id int64) {
	if c, ok := f.offered.Load(id); ok {
		c.(*atomic.Int64).Add(1)
		return
	}
	c, _ := f.offered.LoadOrStore(id, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

// weight is this proxy's share of the tenant's limits.
func (f *fleetShares) weight(id int64) float64 {
	if m := f.weights.Load(); m != nil {
		if w, ok := (*m)[id]; ok {
			return w
		}
	}
	return 1
}

// report is the heartbeat's load: the offered rate per tenant ("t:<id>"),
// smoothed over the last two intervals.
func (f *fleetShares) report(now time.Time) map[string]float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rates == nil {
		f.rates = map[int64]float64{}
	}
	elapsed := now.Sub(f.last).Seconds()
	first := f.last.IsZero()
	f.last = now
	seen := map[int64]bool{}
	f.offered.Range(func(k, v any) bool {
		id, n := k.(int64), v.(*atomic.Int64).Swap(0)
		if n == 0 {
			f.offered.Delete(k) // idle: the next request adds it again
			return true
		}
		seen[id] = true
		if first || elapsed <= 0 {
			return true
		}
		r := float64(n) / elapsed
		if old, ok := f.rates[id]; ok {
			r = (r + old) / 2
		}
		f.rates[id] = r
		return true
	})
	out := make(map[string]float64, len(f.rates))
	for id, r := range f.rates {
		if !seen[id] {
			if r /= 2; r < 0.01 {
				delete(f.rates, id)
				continue
			}
			f.rates[id] = r
		}
		out["t:"+strconv.FormatInt(id, 10)] = r
	}
	return out
}

// reweight recomputes the shares from the live peers' reports (self is
// this proxy's id) and applies them to the tenant throttle.
func (f *fleetShares) reweight(self string, live []registry.Proxy, t *tenantThrottle) {
	own := map[int64]float64{}
	peers := map[int64]float64{}
	for _, p := range live {
		if p.State != registry.StateServing && p.ID != self {
			continue // a draining proxy's traffic is going elsewhere
		}
		if p.ID != self && p.DeadAfter > 0 && p.Age > p.DeadAfter*2/5 {
			// Two heartbeats missed (the dead timeout is five): its report
			// is stale and its traffic has gone to the proxies left, which
			// must not keep only the floor share until it is declared dead.
			continue
		}
		for k, r := range p.Load {
			id, ok := tenantKey(k)
			if !ok || r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
				continue
			}
			if p.ID == self {
				own[id] += r
			} else {
				peers[id] += r
			}
		}
	}
	w := make(map[int64]float64, len(peers))
	for id, others := range peers {
		w[id] = shareOf(own[id], others)
	}
	f.weights.Store(&w)
	t.rescale(f)
}

// shareOf is a proxy's share of a tenant given its own rate and the rest
// of the fleet's.
func shareOf(own, others float64) float64 {
	if others <= 0 {
		return 1
	}
	return max(own/(own+others), minShare)
}

func tenantKey(k string) (int64, bool) {
	s, ok := strings.CutPrefix(k, "t:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

// scaled is a limit scaled by a share: rate and burst (at least one).
func scaled(l rate.Limit, burst int, w float64) (rate.Limit, int) {
	return l * rate.Limit(w), max(1, int(math.Round(float64(burst)*w)))
}
