package proxy

import (
	"context"
	"net/netip"
	"time"

	"github.com/microfi/tenantgate/proxy/bankapi"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/valyala/fasthttp"
)

// Login throttling: each (tenant, e-mail) pair may fail LoginBurst times in
// a row; after that one more attempt is allowed per LoginRefill. Attempts
// take a token up front (so a burst of concurrent guesses is bounded too)
// and a successful login gives it back and clears the record. Per-address
// and per-tenant limits (Config.LoginIPLimit, LoginTenantLimit) come on top.
const (
	LoginBurst  = 5
	LoginRefill = time.Minute
)

// Default login limits per client address and per tenant: far above what
// people typing passwords need, far below what keeps the hashers busy.
var (
	DefaultLoginIPLimit     = RateLimit{Burst: 30, Every: 2 * time.Second}
	DefaultLoginTenantLimit = RateLimit{Burst: 100, Every: 50 * time.Millisecond}
)

type loginKey struct {
	tenant int64
	email  string
}

// loginThrottle holds the three login limiters. Each is a bounded LRU
// (maxLimiterKeys), so random e-mails or addresses cannot grow it. In a
// fleet the per-tenant limit is this proxy's share of it (fleetlimit.go);
// the per-address and per-e-mail ones are per proxy.
type loginThrottle struct {
	email  *limiter[loginKey]
	ip     *ipLimiter
	tenant *limiter[int64]
	shares *fleetShares // the tenants' login attempts
}

func newLoginThrottle(ip, tenant RateLimit) loginThrottle {
	l := loginThrottle{
		email:  newLimiter[loginKey](RateLimit{Burst: LoginBurst, Every: LoginRefill}, maxLimiterKeys),
		ip:     newIPLimiter(ip),
		tenant: newLimiter[int64](tenant, maxLimiterKeys),
		shares: &fleetShares{class: shareLogin},
	}
	if l.tenant != nil {
		l.tenant.scale = l.shares.weight
	}
	return l
}

// take spends one attempt of the client, the tenant and the e-mail. When
// one is exhausted it returns the refusing limiter's name and how long
// until the next attempt is allowed.
func (l *loginThrottle) take(key loginKey, client netip.Addr, now time.Time) (string, time.Duration) {
	l.shares.count(key.tenant)
	if ok, wait := l.ip.allow(clientKey(client), now); !ok {
		return "login_ip", wait
	}
	if ok, wait := l.tenant.allow(key.tenant, now); !ok {
		return "login_tenant", wait
	}
	if ok, wait := l.email.allow(key, now); !ok {
		return "login", wait
	}
	return "", 0
}

// succeeded forgets key's failures after a correct password.
func (l *loginThrottle) succeeded(key loginKey) { l.email.forget(key) }

// bankLimits are the login limits as the banking API's login asks them.
func (s *Server) bankLimits() bankapi.Limits {
	return bankapi.Limits{
		LoginAllowed: func(ctx *fasthttp.RequestCtx, tenant int64, email string) error {
			if name, wait := s.logins.take(loginKey{tenant: tenant, email: email}, s.clientAddr(ctx), time.Now()); name != "" {
				s.metrics.throttled.WithLabelValues(name).Inc()
				return httpapi.TooManyRequests(retrySeconds(wait))
			}
			return nil
		},
		LoginSucceeded: func(tenant int64, email string) { s.logins.succeeded(loginKey{tenant: tenant, email: email}) },
		HashTurn: func(c context.Context, tenant int64) (func(), error) {
			if err := s.loginQueue.acquire(c, tenant); err != nil {
				s.metrics.throttled.WithLabelValues("login_queue").Inc()
				return nil, err
			}
			return func() { s.loginQueue.release(tenant) }, nil
		},
		AuthFailed: func(reason string) { s.metrics.authFailures.WithLabelValues(reason).Inc() },
	}
}
