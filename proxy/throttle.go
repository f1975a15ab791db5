package proxy

import (
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
type tenantThrottle struct {
	rate        *limiter[int64] // keyed by tenant id; nil = unlimited
	maxInFlight int             // <= 0 = unlimited
	mu          sync.Mutex
	inFlight    map[int64]int
}

func newTenantThrottle(rate RateLimit, maxInFlight int) *tenantThrottle {
	// Keyed by tenant id: the LRU holds every active tenant comfortably.
	return &tenantThrottle{rate: newLimiter[int64](rate, maxLimiterKeys), maxInFlight: maxInFlight, inFlight: map[int64]int{}}
}

// enter admits one request of the tenant or says which limit refused it.
// The caller must call leave after an admitted request.
func (t *tenantThrottle) enter(id int64, now time.Time) (limiter string, err error) {
	if ok, wait := t.rate.allow(id, now); !ok {
		return "tenant_rate", httpapi.TooManyRequests(retrySeconds(wait))
	}
	if t.maxInFlight <= 0 {
		return "", nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inFlight[id] >= t.maxInFlight {
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
