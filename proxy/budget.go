package proxy

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
)

// Budgets bound what clients without a token can make this proxy do:
// open tenant databases (to log in) and create tenants (demos, signups).
// Per-address limits alone let a few addresses create many demos, or log
// in to many tenants to churn the open databases; these add per-tenant
// and global budgets, and a cap on live demos. Zero fields take the
// defaults below; a negative Burst (or MaxLiveDemos) turns one off. In a
// fleet each proxy enforces its share of DemoGlobal and SignupGlobal
// (fleetlimit.go); MaxLiveDemos counts the catalog's demos, so it holds
// for the fleet; the cold-open budgets guard this proxy's open databases
// and stay per proxy.
type Budgets struct {
	// ColdLoginTenant: anonymous requests (login, password reset) that
	// must open one tenant's closed database, per tenant.
	ColdLoginTenant RateLimit
	// ColdLoginClient: the same, per client address across tenants.
	ColdLoginClient RateLimit
	// DemoGlobal and SignupGlobal: creations for every address together.
	DemoGlobal   RateLimit
	SignupGlobal RateLimit
	// MaxLiveDemos caps the demos alive at once.
	MaxLiveDemos int
}

// Default budgets: generous for people, small for scripts.
var (
	DefaultColdLoginTenant = RateLimit{Burst: 5, Every: time.Second}
	DefaultColdLoginClient = RateLimit{Burst: 10, Every: 2 * time.Second}
	DefaultDemoGlobal      = RateLimit{Burst: 20, Every: 30 * time.Second} // ~120 demos an hour
	DefaultSignupGlobal    = RateLimit{Burst: 30, Every: 10 * time.Second} // ~360 signups an hour
)

// DefaultMaxLiveDemos is the live-demo cap (about 200 KB each on disk,
// within a 16 MiB quota).
const DefaultMaxLiveDemos = 500

// liveDemoRetry is the Retry-After of a refusal at the live-demo cap: the
// reaper frees demos as they expire.
const liveDemoRetry = 60

func (b *Budgets) withDefaults() {
	for _, d := range []struct {
		l   *RateLimit
		def RateLimit
	}{
		{&b.ColdLoginTenant, DefaultColdLoginTenant}, {&b.ColdLoginClient, DefaultColdLoginClient},
		{&b.DemoGlobal, DefaultDemoGlobal}, {&b.SignupGlobal, DefaultSignupGlobal},
	} {
		if *d.l == (RateLimit{}) {
			*d.l = d.def
		}
	}
	if b.MaxLiveDemos == 0 {
		b.MaxLiveDemos = DefaultMaxLiveDemos
	}
}

// budgets holds the limiters of Budgets.
type budgets struct {
	cfg          Budgets
	coldTenant   *limiter[int64]
	coldClient   *ipLimiter
	demoGlobal   *limiter[struct{}]
	signupGlobal *limiter[struct{}]
	shares       fleetShares // the creation budgets' traffic (budgetDemo, budgetSignup)
}

// The creation budgets' keys in the fleet's load report.
const (
	budgetDemo int64 = iota + 1
	budgetSignup
)

var budgetNames = []string{"", "demo", "signup"} // indexed by the keys above

func newBudgets(b Budgets) *budgets {
	b.withDefaults()
	bs := &budgets{
		cfg:          b,
		coldTenant:   newLimiter[int64](b.ColdLoginTenant, maxLimiterKeys),
		coldClient:   newIPLimiter(b.ColdLoginClient),
		demoGlobal:   newLimiter[struct{}](b.DemoGlobal, 1),
		signupGlobal: newLimiter[struct{}](b.SignupGlobal, 1),
		shares:       fleetShares{class: shareBudget, names: budgetNames, split: true},
	}
	for l, key := range map[*limiter[struct{}]]int64{bs.demoGlobal: budgetDemo, bs.signupGlobal: budgetSignup} {
		if l != nil {
			l.scale = func(struct{}) float64 { return bs.shares.weight(key) }
		}
	}
	return bs
}

// budgetLabels are the throttled-request reasons of the budgets.
var budgetLabels = []string{"cold_login_tenant", "cold_login_client", "demo_global", "signup_global", "demo_live"}

// refuse counts a refusal and returns the 429.
func (s *Server) refuse(name string, wait time.Duration) error {
	s.metrics.throttled.WithLabelValues(name).Inc()
	return httpapi.TooManyRequests(retrySeconds(wait))
}

// coldOpenBudget is taken by a request without a token that needs tenant
// t's database when that database is not open: anonymous traffic opens a
// database only to log in, and at a bounded rate per tenant and per
// client address, so logins to many tenants cannot churn the open set.
func (s *Server) coldOpenBudget(ctx *fasthttp.RequestCtx, t catalog.Tenant) error {
	if s.shards.IsOpen(t.ID) {
		return nil
	}
	now := time.Now()
	if ok, wait := s.budgets.coldClient.allow(clientKey(s.clientAddr(ctx)), now); !ok {
		return s.refuse("cold_login_client", wait)
	}
	if ok, wait := s.budgets.coldTenant.allow(t.ID, now); !ok {
		return s.refuse("cold_login_tenant", wait)
	}
	return nil
}

// creationBudget is the public site's Budget hook: "demo" or "signup".
func (s *Server) creationBudget(c context.Context, name string) error {
	if name == "demo" {
		return s.demoBudget(c)
	}
	return s.signupBudget()
}

// demoBudget is taken before a demo is created: the global rate and the
// live-demo cap.
func (s *Server) demoBudget(c context.Context) error {
	s.budgets.shares.count(budgetDemo)
	if ok, wait := s.budgets.demoGlobal.allow(struct{}{}, time.Now()); !ok {
		return s.refuse("demo_global", wait)
	}
	if s.budgets.cfg.MaxLiveDemos < 0 {
		return nil
	}
	_, live, err := s.catalog.List(c, catalog.ListOptions{Status: catalog.StatusDemo, Limit: 1})
	if err != nil {
		return err
	}
	if live >= s.budgets.cfg.MaxLiveDemos {
		return s.refuse("demo_live", liveDemoRetry*time.Second)
	}
	return nil
}

// signupBudget is taken before a (valid) signup is provisioned.
func (s *Server) signupBudget() error {
	s.budgets.shares.count(budgetSignup)
	if ok, wait := s.budgets.signupGlobal.allow(struct{}{}, time.Now()); !ok {
		return s.refuse("signup_global", wait)
	}
	return nil
}
