package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microfi/tenantgate/proxy"
)

// rateFlag is a proxy.RateLimit on the command line: "BURST:EVERY" (up to
// BURST at once, one more every EVERY), or "off".
type rateFlag struct{ l *proxy.RateLimit }

func (r rateFlag) String() string {
	if r.l == nil {
		return ""
	}
	if r.l.Burst < 0 {
		return "off"
	}
	return fmt.Sprintf("%d:%s", r.l.Burst, r.l.Every)
}

func (r rateFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "off" {
		*r.l = proxy.RateLimit{Burst: -1}
		return nil
	}
	burst, every, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(burst)
	if !ok || err != nil || n < 1 {
		return fmt.Errorf("want BURST:EVERY (e.g. 20:30s) or off")
	}
	d, err := time.ParseDuration(every)
	if err != nil || d <= 0 {
		return fmt.Errorf("want BURST:EVERY (e.g. 20:30s) or off")
	}
	*r.l = proxy.RateLimit{Burst: n, Every: d}
	return nil
}

// registerBudgets adds the anonymous-open and creation budget flags.
func registerBudgets(f *flag.FlagSet, b *proxy.Budgets) {
	b.ColdLoginTenant, b.ColdLoginClient = proxy.DefaultColdLoginTenant, proxy.DefaultColdLoginClient
	b.DemoGlobal, b.SignupGlobal = proxy.DefaultDemoGlobal, proxy.DefaultSignupGlobal
	f.Var(rateFlag{&b.ColdLoginTenant}, "cold-login-tenant-budget", "`RATE` (BURST:EVERY, e.g. 5:1s): token-less requests (login, password reset) that may open one tenant's closed database, per tenant, or off")
	f.Var(rateFlag{&b.ColdLoginClient}, "cold-login-client-budget", "`RATE` (BURST:EVERY): the same per client address, across tenants, or off")
	f.Var(rateFlag{&b.DemoGlobal}, "demo-budget", "`RATE` (BURST:EVERY, e.g. 20:30s): demos created on the public site by all addresses together, or off")
	f.Var(rateFlag{&b.SignupGlobal}, "signup-budget", "`RATE` (BURST:EVERY): signups by all addresses together, or off")
	f.IntVar(&b.MaxLiveDemos, "max-live-demos", proxy.DefaultMaxLiveDemos, "demos alive at once; more get 429 until the reaper frees some (negative = unlimited)")
}

// registerLoginLimits adds the login limit flags (per client address and
// per tenant; the per-e-mail limit is fixed: proxy.LoginBurst).
func registerLoginLimits(f *flag.FlagSet, ip, tenant *proxy.RateLimit) {
	*ip, *tenant = proxy.DefaultLoginIPLimit, proxy.DefaultLoginTenantLimit
	f.Var(rateFlag{ip}, "login-ip-limit", "`RATE` (BURST:EVERY, e.g. 30:2s): login attempts per client address (IPv6 by /64), or off")
	f.Var(rateFlag{tenant}, "login-tenant-limit", "`RATE` (BURST:EVERY, e.g. 100:50ms): login attempts per tenant, fleet-wide (each proxy enforces its share), or off")
}
