package proxy_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

var noBudget = proxy.RateLimit{Burst: -1}

var loginSeq atomic.Int64

// login fails to log in to host (a new e-mail each time, so the per-e-mail
// failure throttle stays out of the way).
func login(s *proxytest.Server, host string) proxytest.Response {
	email := fmt.Sprintf("nobody%d@example.com", loginSeq.Add(1))
	return s.Do("POST", proxytest.Host(host), "/api/auth/login", "", map[string]string{"email": email, "password": "not-the-password"})
}

// Issue 14, open databases: token-less logins to many tenants' hosts opened
// one database each. Now a closed database opens for anonymous traffic only
// within the cold-open budgets (per client address, per tenant); an open
// one costs nothing, and requests with a token never touch the budgets.
func TestColdLoginBudgets(t *testing.T) {
	t.Run("PerClient", func(t *testing.T) {
		s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
			c.Budgets.ColdLoginClient = proxy.RateLimit{Burst: 3, Every: time.Hour}
			c.Budgets.ColdLoginTenant = noBudget
		}})
		for i := range 5 {
			s.CreateTenant(fmt.Sprintf("cold%d", i))
		}
		for i := range 5 { // CreateTenant may leave them open
			s.Shards.Evict(int64(i + 1))
		}
		for i := range 3 {
			if r := login(s, fmt.Sprintf("cold%d", i)); r.Status != 401 {
				t.Fatalf("cold login %d within the budget: %d %s", i, r.Status, r.Body)
			}
		}
		r := login(s, "cold3")
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("cold login past the client budget: %d %s", r.Status, r.Body)
		}
		if s.Shards.IsOpen(4) {
			t.Fatal("a refused anonymous login opened the database")
		}
		// Open databases cost nothing: logins to them go on.
		for range 5 {
			if r := login(s, "cold0"); r.Status != 401 {
				t.Fatalf("login to an open database: %d %s", r.Status, r.Body)
			}
		}
		// A token's requests are not anonymous.
		tok := s.Token(4, proxy.RoleStaff, 0)
		if r := s.Do("GET", proxytest.Host("cold3"), "/api/accounts", tok, nil); r.Status != 200 {
			t.Fatalf("request with a token: %d %s", r.Status, r.Body)
		}
		if v := counter(t, s, "tenantgate_throttled_requests_total", "limiter", "cold_login_client"); v != 1 {
			t.Fatalf("cold_login_client refusals = %v", v)
		}
	})
	t.Run("PerTenant", func(t *testing.T) {
		// One open database at a time: every login to the other tenant is
		// a cold open.
		s := proxytest.Start(t, proxytest.Options{MaxOpen: 1, Configure: func(c *proxy.Config) {
			c.Budgets.ColdLoginClient = noBudget
			c.Budgets.ColdLoginTenant = proxy.RateLimit{Burst: 2, Every: time.Hour}
		}})
		s.CreateTenant("flip")
		s.CreateTenant("flop")
		codes := []int{}
		for range 3 {
			codes = append(codes, login(s, "flip").Status, login(s, "flop").Status)
		}
		// flip's third cold open is refused, so flop stays open: its
		// login is warm and free.
		want := []int{401, 401, 401, 401, 429, 401}
		if fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Fatalf("alternating cold logins: %v, want %v", codes, want)
		}
	})
}

// Issue 14, creation: 10 addresses created 50 demos in seconds. Now demos
// and signups have a global budget besides the per-address one, and live
// demos are capped; refusals are 429 with Retry-After, and a refused
// (invalid) signup does not spend the budget.
func TestCreationBudgets(t *testing.T) {
	t.Run("DemoGlobal", func(t *testing.T) {
		s := startPublic(t, func(c *proxy.Config) { c.Budgets.DemoGlobal = proxy.RateLimit{Burst: 2, Every: time.Hour} })
		for i := range 3 {
			// startPublic lifts the per-address limit: the global one stops them.
			r := s.Do("POST", proxytest.RootDomain, "/api/public/demo", "", nil)
			if want := map[bool]int{true: 201, false: 429}[i < 2]; r.Status != want {
				t.Fatalf("demo %d: %d %s", i, r.Status, r.Body)
			}
			if r.Status == 429 && (r.Header.Get("Retry-After") == "" || r.Error() != "Too many requests") {
				t.Fatalf("refusal: %v %s", r.Header, r.Body)
			}
		}
	})
	t.Run("LiveDemos", func(t *testing.T) {
		s := startPublic(t, func(c *proxy.Config) { c.Budgets.MaxLiveDemos = 2 })
		for i := range 3 {
			r := s.Do("POST", proxytest.RootDomain, "/api/public/demo", "", nil)
			if want := map[bool]int{true: 201, false: 429}[i < 2]; r.Status != want {
				t.Fatalf("demo %d: %d %s", i, r.Status, r.Body)
			}
		}
		if v := counter(t, s, "tenantgate_throttled_requests_total", "limiter", "demo_live"); v != 1 {
			t.Fatalf("demo_live refusals = %v", v)
		}
	})
	t.Run("SignupGlobal", func(t *testing.T) {
		s := startPublic(t, func(c *proxy.Config) { c.Budgets.SignupGlobal = proxy.RateLimit{Burst: 2, Every: time.Hour} })
		if status, got := signup(t, s, map[string]string{"name": "x"}); status != 400 {
			t.Fatalf("invalid signup: %d %+v", status, got)
		}
		for i := range 3 {
			status, got := signup(t, s, map[string]string{
				"name": fmt.Sprintf("Budget Savings %c", 'a'+i), "country": "GH", "email": fmt.Sprintf("o%d@budget.example", i), "password": "correct horse 42",
			})
			if want := map[bool]int{true: 201, false: 429}[i < 2]; status != want {
				t.Fatalf("signup %d: %d %+v", i, status, got)
			}
		}
	})
}
