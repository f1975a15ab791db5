package proxy

import (
	"math"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/microfi/tenantgate/proxy/connlimit"
)

// RateLimit is a token bucket per key (client address, tenant, …): up to
// Burst requests at once, refilled at one request per Every (Every <= 0:
// never refilled). In Config the zero RateLimit means the default; a
// negative Burst disables the limit.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Default per-address limits of the public endpoints that create tenants.
var (
	DefaultDemoLimit   = RateLimit{Burst: 5, Every: 2 * time.Minute} // ~30 demos an hour
	DefaultSignupLimit = RateLimit{Burst: 10, Every: time.Minute}
)

// maxLimiterKeys bounds a limiter's memory under an address-spraying
// attack: past it the least recently used key is forgotten (that client
// starts again from a full bucket; nobody else is affected).
const maxLimiterKeys = 65_536

// limiter is a bounded LRU of x/time/rate token buckets, one per key. It is
// safe for concurrent use; a nil limiter allows everything.
type limiter[K comparable] struct {
	limit   rate.Limit
	burst   int
	buckets *lru.Cache[K, *rate.Limiter]
	// scale, when set, is the share of the limit a new key's bucket gets
	// (fleet-wide limits; see fleetlimit.go).
	scale func(K) float64
}

// ipLimiter is keyed by client address (clientKey).
type ipLimiter = limiter[netip.Addr]

// newLimiter returns a limiter for l, or nil if l is disabled.
func newLimiter[K comparable](l RateLimit, size int) *limiter[K] {
	if l.Burst <= 0 {
		return nil
	}
	var r rate.Limit // 0: the bucket never refills
	if l.Every > 0 {
		r = rate.Every(l.Every)
	}
	c, err := lru.New[K, *rate.Limiter](size)
	if err != nil {
		panic(err) // only for size <= 0
	}
	return &limiter[K]{limit: r, burst: l.Burst, buckets: c}
}

func newIPLimiter(l RateLimit) *ipLimiter { return newLimiter[netip.Addr](l, maxLimiterKeys) }

// allow takes one token for key at now. When none is left it reports how
// long until the next one.
func (l *limiter[K]) allow(key K, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	b, ok := l.buckets.Get(key)
	if !ok {
		r, burst := l.limit, l.burst
		if l.scale != nil {
			if w := l.scale(key); w < 1 {
				r, burst = scaled(r, burst, w)
			}
		}
		b = rate.NewLimiter(r, burst)
		if prev, found, _ := l.buckets.PeekOrAdd(key, b); found {
			b = prev
		}
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	if b.Limit() == 0 {
		return false, time.Second // never refills: say "later", not "never"
	}
	// Time until one token is back, from the bucket's own view of now.
	return false, time.Duration((1 - b.TokensAt(now)) / float64(b.Limit()) * float64(time.Second))
}

// rescale applies the current scale to the buckets of keys already seen
// (after a fleet reweighting). Tokens above a smaller burst are dropped; a
// bigger bucket fills at its new rate, never at once.
func (l *limiter[K]) rescale(now time.Time) {
	if l == nil || l.scale == nil {
		return
	}
	for _, k := range l.buckets.Keys() {
		if b, ok := l.buckets.Peek(k); ok {
			r, burst := scaled(l.limit, l.burst, l.scale(k))
			if b.Limit() != r || b.Burst() != burst {
				b.SetLimitAt(now, r)
				b.SetBurstAt(now, burst)
			}
		}
	}
}

// forget drops key's bucket (it starts full again).
func (l *limiter[K]) forget(key K) {
	if l != nil {
		l.buckets.Remove(key)
	}
}

// clientKey is the limiter key of a client address: IPv4 as is, IPv6 by
// /64 (one subscriber usually owns a whole /64).
func clientKey(a netip.Addr) netip.Addr { return connlimit.KeyOf(a) }

// retrySeconds rounds a wait up to whole seconds for Retry-After.
func retrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
