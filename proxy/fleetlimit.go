package proxy

import (
	"math"
	"slices"
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
//
// The same shares hold the per-tenant login limit fleet-wide (class "l":
// a tenant's login attempts) and the platform's demo and signup budgets
// (class "b"). A budget nobody has asked for lately is split equally
// between the live proxies rather than taken whole by each, since every
// proxy may be asked for it at once. Budget error bound: over any window
// W the fleet admits at most burst + rate × W, plus (a) one request per
// proxy (each proxy's burst rounds to at least one), plus (b) rate × two
// intervals per proxy while shares settle after the split changes (the
// buckets refill at the new rate; tokens are never added at once). The
// per-address and per-e-mail login limits and the cold-open budgets stay
// per proxy (README, "A fleet of proxies").

// minShare is the least share a proxy keeps of a key other proxies
// serve, so a tenant the load balancer moves here is not refused outright
// for an interval.
const minShare = 0.02

// Load report classes (fleetShares.class): the key prefix of each kind of fleet-wide limit.
const (
	shareTenant = "t" // a tenant's requests (rate and concurrency)
	shareLogin  = "l" // a tenant's login attempts (the per-tenant login limit)
	shareBudget = "b" // platform creation budgets, named (budgetNames)
)

// fleetShares holds this proxy's share of one class of fleet-wide limits,
// per key, and counts the traffic it is computed from.
type fleetShares struct {
	class string
	// names, when set, are the keys' names in the report (key = index);
	// otherwise the key is its decimal id.
	names []string
	// split: a key no proxy reports is split equally between the live
	// proxies (a platform budget every proxy may be asked for at once),
	// instead of taken whole (a tenant first seen here).
	split   bool
	offered sync.Map                   // key → *atomic.Int64 requests since the last report
	weights atomic.Pointer[shareTable] // nil: every key whole
	mu      sync.Mutex                 // the report below
	rates   map[int64]float64          // smoothed offered rate, per second
	last    time.Time
}

// shareTable is one reweighting's result.
type shareTable struct {
	w      map[int64]float64 // keys some proxy reports
	absent float64           // every other key
}

// count records one request the key offered (admitted or not). The hot
// path: a map load and an atomic add.
func (f *fleetShares) count(id int64) {
	if c, ok := f.offered.Load(id); ok {
		c.(*atomic.Int64).Add(1)
		return
	}
	c, _ := f.offered.LoadOrStore(id, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

// weight is this proxy's share of the key's limits.
func (f *fleetShares) weight(id int64) float64 {
	m := f.weights.Load()
	if m == nil {
		return 1
	}
	if w, ok := m.w[id]; ok {
		return w
	}
	return m.absent
}

func (f *fleetShares) key(id int64) string {
	if f.names != nil {
		if id >= 0 && int(id) < len(f.names) {
			return f.class + ":" + f.names[id]
		}
		return ""
	}
	return f.class + ":" + strconv.FormatInt(id, 10)
}

// parse is key's inverse: the id of a report key of this class.
func (f *fleetShares) parse(k string) (int64, bool) {
	s, ok := strings.CutPrefix(k, f.class+":")
	if !ok {
		return 0, false
	}
	if f.names != nil {
		i := slices.Index(f.names, s)
		return int64(i), i > 0
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

// report adds the heartbeat's load of this class to out: the offered rate
// per key, smoothed over the last two intervals.
func (f *fleetShares) report(now time.Time, out map[string]float64) {
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
	for id, r := range f.rates {
		if !seen[id] {
			if r /= 2; r < 0.01 {
				delete(f.rates, id)
				continue
			}
			f.rates[id] = r
		}
		if k := f.key(id); k != "" {
			out[k] = r
		}
	}
}

// reweight recomputes the shares from the live peers' reports (self is
// this proxy's id). The caller rescales the limiters that use them.
func (f *fleetShares) reweight(self string, live []registry.Proxy) {
	own := map[int64]float64{}
	peers := map[int64]float64{}
	members := 0
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
		members++
		for k, r := range p.Load {
			id, ok := f.parse(k)
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
	// This proxy's report holds at most its busiest keys
	// (registry.MaxLoadKeys): a key it left out still has its real local
	// rate here, which must not fall to the floor share while peers
	// report the key.
	f.mu.Lock()
	for id, r := range f.rates {
		if _, ok := own[id]; !ok {
			own[id] = r
		}
	}
	f.mu.Unlock()
	m := &shareTable{w: make(map[int64]float64, len(peers)+len(own)), absent: 1}
	for id, others := range peers {
		m.w[id] = shareOf(own[id], others)
	}
	if f.split {
		m.absent = 1 / float64(max(1, members))
		for id := range own {
			if _, ok := m.w[id]; !ok {
				m.w[id] = 1 // only this proxy is asked for it
			}
		}
	}
	f.weights.Store(m)
}

// shareOf is a proxy's share of a key given its own rate and the rest of
// the fleet's.
func shareOf(own, others float64) float64 {
	if others <= 0 {
		return 1
	}
	return max(own/(own+others), minShare)
}

// scaled is a limit scaled by a share: rate and burst (at least one).
func scaled(l rate.Limit, burst int, w float64) (rate.Limit, int) {
	if w >= 1 {
		return l, burst
	}
	return l * rate.Limit(w), max(1, int(math.Round(float64(burst)*w)))
}
