package proxy

import (
	"math"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// RateLimit is a token bucket per client address: up to Burst requests at
// once, refilled at one request per Every. In Config the zero RateLimit
// means the default; a negative Burst disables the limit.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Default per-address limits of the public endpoints that create tenants.
var (
	DefaultDemoLimit   = RateLimit{Burst: 5, Every: 2 * time.Minute} // ~30 demos an hour
	DefaultSignupLimit = RateLimit{Burst: 10, Every: time.Minute}
)

// maxLimiterKeys bounds the limiter's memory under an address-spraying
// attack: past it, full buckets are dropped first and then the table is
// cleared (which only ever errs on the side of letting requests in).
const maxLimiterKeys = 100_000

// limiter is a per-key token bucket limiter. It is safe for concurrent use.
type limiter[K comparable] struct {
	limit   RateLimit
	mu      sync.Mutex
	buckets map[K]*bucket
}

// ipLimiter is keyed by client address (clientKey).
type ipLimiter = limiter[string]

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter[K comparable](l RateLimit) *limiter[K] {
	return &limiter[K]{limit: l, buckets: map[K]*bucket{}}
}

func newIPLimiter(l RateLimit) *ipLimiter { return newLimiter[string](l) }

// allow takes one token for key at now. When none is left it reports how
// long until the next one.
func (l *limiter[K]) allow(key K, now time.Time) (bool, time.Duration) {
	if l == nil || l.limit.Burst <= 0 {
		return true, 0
	}
	burst := float64(l.limit.Burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	b.refill(now, l.limit, burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.limit.Every <= 0 {
		return false, time.Second
	}
	wait := time.Duration((1 - b.tokens) * float64(l.limit.Every))
	return false, wait
}

func (b *bucket) refill(now time.Time, l RateLimit, burst float64) {
	if l.Every <= 0 {
		return // never refills: Burst requests per process lifetime
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+float64(elapsed)/float64(l.Every))
		b.last = now
	}
}

// sweep drops buckets that have refilled completely (they behave exactly
// like a fresh bucket) and, if that frees nothing, all of them.
func (l *limiter[K]) sweep(now time.Time) {
	burst := float64(l.limit.Burst)
	for k, b := range l.buckets {
		b.refill(now, l.limit, burst)
		if b.tokens >= burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterKeys {
		clear(l.buckets)
	}
}

// clientKey is the limiter key of a request: the peer address, with IPv6
// grouped by /64 (one subscriber usually owns a whole /64). Forwarded
// headers are ignored: they are trivially forged.
func clientKey(ctx *fasthttp.RequestCtx) string {
	ip := ctx.RemoteIP()
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// retrySeconds rounds a wait up to whole seconds for Retry-After.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
