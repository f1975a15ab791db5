package proxy_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// counter reads one series of the server's registry, for families other
// packages add label values to (where testutil.GatherAndCompare would have
// to list them all).
func counter(t *testing.T, s *proxytest.Server, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// Demo-to-signup conversion: a demo's signup link carries its host, the
// signup is attributed once, the counters and the admin figures follow.
func TestDemoConversion(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.DemoLimit = proxy.RateLimit{Burst: 100, Every: time.Second}
		c.SignupLimit = proxy.RateLimit{Burst: 100, Every: time.Second}
	}})
	public := proxytest.RootDomain
	// Pre-registered at 0, so rate() and alerts see them from the start.
	if n, err := testutil.GatherAndCount(s.Registry, "tenantgate_signups_total", "tenantgate_demos_created_total"); err != nil || n != 3 {
		t.Fatalf("series before any demo: %d, %v", n, err)
	}

	var demos []string
	for range 2 {
		r := s.Do("POST", public, "/api/public/demo", "", nil)
		if r.Status != 201 {
			t.Fatalf("demo: %d %s", r.Status, r.Body)
		}
		var d struct{ Host string }
		json.Unmarshal(r.Body, &d)
		demos = append(demos, d.Host)
	}
	// The demo page learns its signup link without a token.
	r := s.Do("GET", proxytest.Host(demos[0]), "/api/tenant", "", nil)
	var info struct {
		Name      string
		SignupURL string `json:"signup_url"`
		Demo      bool
	}
	if err := json.Unmarshal(r.Body, &info); err != nil || r.Status != 200 || !info.Demo ||
		info.SignupURL != "http://"+public+":"+strings.Split(s.Addr, ":")[1]+"/?from_demo="+demos[0]+"#signup" {
		t.Fatalf("GET /api/tenant on a demo: %d %s", r.Status, r.Body)
	}

	signup := func(sub, fromDemo string) (int, map[string]any) {
		body := map[string]string{"name": "Coop " + sub, "country": "UG", "email": "boss@" + sub + ".example",
			"password": "Harvest-season-2026", "subdomain": sub}
		if fromDemo != "" {
			body["from_demo"] = fromDemo
		}
		r := s.Do("POST", public, "/api/public/signup", "", body)
		var out map[string]any
		json.Unmarshal(r.Body, &out)
		return r.Status, out
	}
	status, out := signup("first-coop", demos[0])
	if status != 201 || out["from_demo"] != demos[0] {
		t.Fatalf("signup from a demo: %d %v", status, out)
	}
	// snake_case, with the first release's name kept as an alias.
	if out["setup_url"] == nil || out["setup_url"] != out["setupUrl"] || out["token_expires_at"] == nil {
		t.Errorf("signup answer names: %v", out)
	}
	id := int64(out["tenant_id"].(float64))
	if got, err := s.Catalog.FromDemo(t.Context(), id); err != nil || got != demos[0] {
		t.Errorf("stored from_demo = %q, %v", got, err)
	}
	// A demo converts once; an unknown demo is not attributed but the
	// signup still succeeds; a malformed one is a field error.
	if status, out := signup("second-coop", demos[0]); status != 201 || out["from_demo"] != nil {
		t.Errorf("second signup from the same demo: %d %v", status, out)
	}
	if status, out := signup("third-coop", "demo-aaaaaaaaaa"); status != 201 || out["from_demo"] != nil {
		t.Errorf("signup from an unknown demo: %d %v", status, out)
	}
	if status, out := signup("fourth-coop", "acme"); status != 400 || out["fields"].(map[string]any)["from_demo"] == nil {
		t.Errorf("malformed from_demo: %d %v", status, out)
	}
	want := `
# HELP tenantgate_demos_created_total Demo tenants created on the public site.
# TYPE tenantgate_demos_created_total counter
tenantgate_demos_created_total 2
# HELP tenantgate_signups_total Self-service signups, by whether they came from a demo (from_demo=true|false).
# TYPE tenantgate_signups_total counter
tenantgate_signups_total{from_demo="false"} 2
tenantgate_signups_total{from_demo="true"} 1
`
	if err := testutil.GatherAndCompare(s.Registry, strings.NewReader(want), "tenantgate_signups_total", "tenantgate_demos_created_total"); err != nil {
		t.Error(err)
	}

	// The admin figures: 1 of 2 demos converted, in both windows.
	r = s.Do("GET", "admin."+public, "/api/admin/conversion", s.Token(0, proxy.RolePlatformAdmin, 0), nil)
	var conv struct {
		Windows []struct {
			Days, Demos, Converted int
			Rate                   float64
		}
	}
	if err := json.Unmarshal(r.Body, &conv); err != nil || r.Status != 200 || len(conv.Windows) != 2 {
		t.Fatalf("conversion: %d %s", r.Status, r.Body)
	}
	for i, days := range []int{7, 30} {
		if w := conv.Windows[i]; w.Days != days || w.Demos != 2 || w.Converted != 1 || w.Rate != 0.5 {
			t.Errorf("window %d: %+v", days, w)
		}
	}
	if r := s.Do("GET", "admin."+public, "/api/admin/conversion", s.Token(1, proxy.RoleAdmin, 1), nil); r.Status != 403 {
		t.Errorf("conversion for a tenant admin: %d", r.Status)
	}
}

// Login failures and lockouts are counted with pre-registered labels.
func TestLoginMetrics(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("acme")
	host := proxytest.Host("acme")
	if got := counter(t, s, "tenantgate_auth_failures_total", "reason", "credentials"); got != 0 {
		t.Fatalf("credentials before any login = %v", got)
	}
	if got := counter(t, s, "tenantgate_throttled_requests_total", "limiter", "login"); got != 0 {
		t.Fatalf("login lockouts before any login = %v", got)
	}
	_ = tn
	statuses := map[int]int{}
	for range proxy.LoginBurst + 2 {
		r := s.Do("POST", host, "/api/auth/login", "", map[string]string{"email": "nobody@acme.example", "password": "wrong-password-1"})
		statuses[r.Status]++
	}
	if statuses[401] != proxy.LoginBurst || statuses[429] != 2 {
		t.Fatalf("statuses %v", statuses)
	}
	if got := counter(t, s, "tenantgate_auth_failures_total", "reason", "credentials"); got != proxy.LoginBurst {
		t.Errorf("credentials failures = %v, want %d", got, proxy.LoginBurst)
	}
	if got := counter(t, s, "tenantgate_throttled_requests_total", "limiter", "login"); got != 2 {
		t.Errorf("login lockouts = %v, want 2", got)
	}
}

// Browsers get a page on host-level errors; API clients keep the JSON.
func TestHostErrorPages(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	s.CreateTenant("closed")
	suspended := "suspended"
	closed, err := s.Catalog.Resolve(t.Context(), "closed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Catalog.Update(t.Context(), closed.ID, catalog.Update{Status: &suspended}); err != nil {
		t.Fatal(err)
	}
	ended := s.CreateTenant("ended")
	demo, past := catalog.StatusDemo, time.Now().Add(-time.Hour)
	if _, err := s.Catalog.Update(t.Context(), ended.ID, catalog.Update{Status: &demo, ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	browserAccept := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		host   string
		status int
		json   string
		text   string
	}{
		{proxytest.Host("closed"), 403, "Tenant suspended", "is suspended"},
		{proxytest.Host("nobody"), 404, "Tenant not found", "There is no MicroFi institution at this address"},
		{proxytest.Host("ended"), 410, "Demo expired", "This demo has ended"},
	} {
		var r proxytest.Response
		deadline := time.Now().Add(5 * time.Second)
		for {
			r = s.Do("GET", tc.host, "/", "", nil, "Accept", browserAccept)
			if r.Status == tc.status || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if r.Status != tc.status || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(r.Body), tc.text) || !strings.Contains(string(r.Body), `href="http://`+proxytest.RootDomain) {
			t.Errorf("%s as a browser: %d %s %s", tc.host, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		for _, accept := range []string{"", "application/json", "*/*"} {
			r := s.Do("GET", tc.host, "/", "", nil, "Accept", accept)
			if r.Status != tc.status || r.Error() != tc.json {
				t.Errorf("%s with Accept %q: %d %s", tc.host, accept, r.Status, r.Body)
			}
		}
	}
}
