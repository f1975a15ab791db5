package proxy

import (
	"math"
	"sync"
	"time"
)

// Login throttling: each (tenant, e-mail) pair may fail LoginBurst times in
// a row; after that one more attempt is allowed per LoginRefill. Attempts
// take a token up front (so a burst of concurrent guesses is bounded too)
// and a successful login gives it back and clears the record.
const (
	LoginBurst  = 5
	LoginRefill = time.Minute
	// maxLoginKeys bounds the table; past it, fully refilled entries are
	// dropped, then the table is cleared (erring towards letting people in).
	maxLoginKeys = 100_000
)

type loginKey struct {
	tenant int64
	email  string
}

type loginBucket struct {
	tokens float64
	last   time.Time
}

// loginThrottle is safe for concurrent use; its zero value is ready.
type loginThrottle struct {
	mu      sync.Mutex
	buckets map[loginKey]*loginBucket
}

// take spends one attempt for key. When none is left it returns false and
// how long until the next attempt is allowed.
func (l *loginThrottle) take(key loginKey, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[loginKey]*loginBucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLoginKeys {
			l.sweep(now)
		}
		b = &loginBucket{tokens: LoginBurst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(LoginBurst, b.tokens+float64(elapsed)/float64(LoginRefill))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(LoginRefill))
}

// succeeded forgets key's failures after a correct password.
func (l *loginThrottle) succeeded(key loginKey) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

func (l *loginThrottle) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/float64(LoginRefill) >= LoginBurst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLoginKeys {
		clear(l.buckets)
	}
}
