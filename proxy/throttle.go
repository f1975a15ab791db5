package proxy

import (
	"math"
	"sync"
	"time"

	"github.com/microfi/tenantgate/proxy/httpapi"
)

// Per-tenant limits: one busy or abusive institution must not starve the
// others on a shared proxy. Both answer the contract's 429 with Retry-After.
var (
	// DefaultTenantRate is each tenant's sustained request rate (1,000/s)
	// with a burst of 2,000.
	DefaultTenantRate = RateLimit{Burst: 2000, Every: time.Millisecond}
	// DefaultTenantMaxInFlight caps one tenant's concurrent requests.
	DefaultTenantMaxInFlight = 256
)

// tenantThrottle limits each tenant's request rate and concurrency.
// In a fleet each proxy enforces its share of both (fleetlimit.go).
type tenantThrottle struct {
	rate        *limiter[int64] // keyed by tenant id; nil = unlimited
	maxInFlight int             // <= 0 = unlimited
	mu          sync.Mutex
	inFlight    map[int64]int
	fleet       fleetShares
}

func newTenantThrottle(rate RateLimit, maxInFlight int) *tenantThrottle {
	// Keyed by tenant id: the LRU holds every active tenant comfortably.
	t := &tenantThrottle{rate: newLimiter[int64](rate, maxLimiterKeys), maxInFlight: maxInFlight, inFlight: map[int64]int{},
		fleet: fleetShares{class: shareTenant}}
	if t.rate != nil {
		t.rate.scale = t.fleet.weight // a new bucket starts at this proxy's share
	}
	return t
}

// enter admits one request of the tenant or says which limit refused it.
// The caller must call leave after an admitted request.
func (t *tenantThrottle) enter(id int64, now time.Time) (limiter string, err error) {
	t.fleet.count(id)
	if ok, wait := t.rate.allow(id, now); !ok {
		return "tenant_rate", httpapi.TooManyRequests(retrySeconds(wait))
	}
	if t.maxInFlight <= 0 {
		return "", nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight[id] >= t.localMaxInFlight(id) {
		return "tenant_concurrency", httpapi.TooManyRequests(1)
	}
	t.inFlight[id]++
	return "", nil
}

func (t *tenantThrottle) leave(id int64) {
	if t.maxInFlight <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight[id]--; t.inFlight[id] <= 0 {
		delete(t.inFlight, id)
	}
}

// localMaxInFlight is this proxy's share of the tenant's concurrency cap
// (at least one).
func (t *tenantThrottle) localMaxInFlight(id int64) int {
	w := t.fleet.weight(id)
	if w >= 1 {
		return t.maxInFlight
	}
	return max(1, int(math.Ceil(float64(t.maxInFlight)*w)))
}

// rescale applies new shares to the buckets of tenants already seen.
func (t *tenantThrottle) rescale(now time.Time) { t.rate.rescale(now) }
