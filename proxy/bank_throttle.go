package proxy

import (
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
)

type loginKey struct {
	tenant int64
	email  string
}

// loginThrottle is safe for concurrent use; its zero value is ready. It is
// the token-bucket limiter of ratelimit.go with the login limits, so its
// table is bounded the same way (maxLimiterKeys: refilled entries are
// dropped first, then the table is cleared, erring towards letting people
// in).
type loginThrottle struct {
	init sync.Once
	limiter[loginKey]
}

// take spends one attempt for key. When none is left it returns false and
// how long until the next attempt is allowed.
func (l *loginThrottle) take(key loginKey, now time.Time) (bool, time.Duration) {
	l.init.Do(func() {
		l.limit = RateLimit{Burst: LoginBurst, Every: LoginRefill}
		l.buckets = map[loginKey]*bucket{}
	})
	return l.allow(key, now)
}

// succeeded forgets key's failures after a correct password.
func (l *loginThrottle) succeeded(key loginKey) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}
