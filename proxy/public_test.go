package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// startPublic runs a proxy whose tenant-creating endpoints are not
// rate-limited (tests that check the limiter configure it themselves).
func startPublic(t *testing.T, configure ...func(*proxy.Config)) *proxytest.Server {
	t.Helper()
	return proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.DemoLimit = proxy.RateLimit{Burst: 1_000_000, Every: time.Nanosecond}
		c.SignupLimit = proxy.RateLimit{Burst: 1_000_000, Every: time.Nanosecond}
		for _, f := range configure {
			f(c)
		}
	}})
}

func dbFile(srv *proxytest.Server, id int64) string {
	return filepath.Join(srv.DataDir, "tenants", fmt.Sprintf("%d.db", id))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPublicSite(t *testing.T) {
	srv := startPublic(t)
	root := proxytest.RootDomain

	t.Run("OK", func(t *testing.T) {
		for _, host := range []string{root, "www." + root, strings.ToUpper(root) + ":8080", root + "."} {
			r := srv.Do("GET", host, "/", "", nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), "Try Free Demo") || !strings.Contains(string(r.Body), "Start Your Platform") {
				t.Errorf("GET %s/: status %d, body %.80q", host, r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s/: content type %q", host, ct)
			}
		}
	})

	t.Run("ETag", func(t *testing.T) {
		r := srv.Do("GET", root, "/assets/site.css", "", nil)
		etag := r.Header.Get("ETag")
		if r.Status != 200 || etag == "" {
			t.Fatalf("status %d, etag %q", r.Status, etag)
		}
		r = srv.Do("GET", root, "/assets/site.css", "", nil, "If-None-Match", etag)
		if got, want := r.Status, http.StatusNotModified; got != want {
			t.Errorf("revalidation: status %d, want %d", got, want)
		}
	})

	t.Run("Countries", func(t *testing.T) {
		r := srv.Do("GET", root, "/api/public/countries", "", nil)
		var body struct {
			Countries []struct{ Code, Currency string }
		}
		r.JSON(t, &body)
		found := false
		for _, c := range body.Countries {
			found = found || c.Code == "GH" && c.Currency == "GHS"
		}
		if r.Status != 200 || !found {
			t.Errorf("status %d, GH/GHS listed: %v", r.Status, found)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/nope", "/api/public/nope", "/assets/nope.css", "/assets/"} {
			r := srv.Do("GET", root, p, "", nil)
			if r.Status != 404 || r.Error() != "Not found" {
				t.Errorf("GET %s: %d %q", p, r.Status, r.Error())
			}
		}
	})

	t.Run("ErrMethod", func(t *testing.T) {
		for _, c := range []struct{ method, path, allow string }{
			{"POST", "/", "GET, HEAD"},
			{"GET", "/api/public/demo", "POST"},
			{"PUT", "/api/public/signup", "POST"},
			{"DELETE", "/api/public/countries", "GET, HEAD"},
		} {
			r := srv.Do(c.method, root, c.path, "", nil)
			if r.Status != 405 || r.Header.Get("Allow") != c.allow || r.Error() != "Method not allowed" {
				t.Errorf("%s %s: %d allow %q %q", c.method, c.path, r.Status, r.Header.Get("Allow"), r.Error())
			}
		}
	})

	t.Run("Dashboard", func(t *testing.T) {
		srv.CreateTenant("dash")
		for _, p := range []string{"/", "/setup"} {
			r := srv.Do("GET", proxytest.Host("dash"), p, "", nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `id="login-form"`) {
				t.Errorf("GET dash%s: status %d", p, r.Status)
			}
		}
		r := srv.Do("GET", proxytest.Host("dash"), "/assets/dashboard.js", "", nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("dashboard.js: status %d, type %q", r.Status, r.Header.Get("Content-Type"))
		}
		if r := srv.Do("GET", proxytest.Host("nobody"), "/", "", nil); r.Status != 404 || r.Error() != "Tenant not found" {
			t.Errorf("unknown tenant: %d %q", r.Status, r.Error())
		}
	})
}

type signupResult struct {
	TenantID  int64  `json:"tenant_id"`
	Host      string `json:"host"`
	Subdomain string `json:"subdomain"`
	URL       string `json:"url"`
	SetupURL  string `json:"setupUrl"`
	Error     string `json:"error"`
	Fields    map[string]string
}

func signup(t *testing.T, srv *proxytest.Server, body any) (int, signupResult) {
	t.Helper()
	r := srv.Do("POST", proxytest.RootDomain, "/api/public/signup", "", body)
	var out signupResult
	r.JSON(t, &out)
	return r.Status, out
}

func TestSignup(t *testing.T) {
	srv := startPublic(t)
	port := srv.Addr[strings.LastIndexByte(srv.Addr, ':')+1:]

	t.Run("OK", func(t *testing.T) {
		status, got := signup(t, srv, map[string]string{
			"name": "Acme Microfinance", "country": "gh", "email": " Owner@Acme.Example ", "password": "correct horse 42",
		})
		if status != 201 {
			t.Fatalf("status %d: %+v", status, got)
		}
		if got.Subdomain != "acme-microfinance."+proxytest.RootDomain || got.Host != "acme-microfinance" {
			t.Errorf("subdomain %q host %q", got.Subdomain, got.Host)
		}
		if want := "http://acme-microfinance." + proxytest.RootDomain + ":" + port + "/setup"; got.SetupURL != want {
			t.Errorf("setupUrl %q, want %q", got.SetupURL, want)
		}
		tn, err := srv.Catalog.Get(context.Background(), got.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if tn.Status != catalog.StatusActive || tn.CountryCode != "GH" || tn.Name != "Acme Microfinance" || !tn.ExpiresAt.IsZero() {
			t.Errorf("stored tenant %+v", tn)
		}
		if !exists(dbFile(srv, got.TenantID)) {
			t.Errorf("no database file")
		}
	})

	t.Run("ExplicitSubdomain", func(t *testing.T) {
		status, got := signup(t, srv, map[string]string{
			"name": "Kumasi Savings", "country": "GH", "email": "a@kumasi.example", "password": "Sunrise-Market-7", "subdomain": "ksl",
		})
		if status != 201 || got.Host != "ksl" {
			t.Fatalf("status %d: %+v", status, got)
		}
	})

	t.Run("ErrTaken", func(t *testing.T) {
		status, got := signup(t, srv, map[string]string{
			"name": "Other", "country": "KE", "email": "b@other.example", "password": "Another-pass-99", "subdomain": "ksl",
		})
		if status != 409 || got.Error != "Subdomain taken" {
			t.Fatalf("status %d: %+v", status, got)
		}
		status, got = signup(t, srv, map[string]string{ // derived from the name
			"name": "ACME microfinance!", "country": "KE", "email": "c@other.example", "password": "Another-pass-99",
		})
		if status != 409 || got.Error != "Subdomain taken" {
			t.Fatalf("derived: status %d: %+v", status, got)
		}
	})
}

// TestSignupValidation covers every validation rule, each through the API.
func TestSignupValidation(t *testing.T) {
	srv := startPublic(t)
	valid := map[string]string{"name": "Valid Bank", "country": "GH", "email": "ok@valid.example", "password": "Str0ng-enough-pw"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name  string
		body  map[string]string
		field string
		want  string // substring of the field's message
	}{
		{"NameMissing", with("name", "<absent>"), "name", "is required"},
		{"NameBlank", with("name", "   "), "name", "is required"},
		{"NameShort", with("name", "A"), "name", "at least 2"},
		{"NameLong", with("name", strings.Repeat("n", 201)), "name", "at most 200"},
		{"NameControl", with("name", "Bad\x00Bank"), "name", "control characters"},
		{"CountryMissing", with("country", ""), "country", "is required"},
		{"CountryUnknown", with("country", "ZZ"), "country", "supported ISO 3166-1"},
		{"CountryAlpha3", with("country", "GHA"), "country", "supported ISO 3166-1"},
		{"EmailMissing", with("email", ""), "email", "is required"},
		{"EmailNoAt", with("email", "owner.example.com"), "email", "valid e-mail"},
		{"EmailNoDot", with("email", "owner@localhost"), "email", "valid e-mail"},
		{"EmailDisplayName", with("email", "Owner <owner@bank.example>"), "email", "valid e-mail"},
		{"EmailLong", with("email", strings.Repeat("a", 250)+"@b.example"), "email", "at most 254"},
		{"PasswordMissing", with("password", ""), "password", "is required"},
		{"PasswordShort", with("password", "Sh0rt-pw"), "password", "at least 10"},
		{"PasswordLong", with("password", strings.Repeat("Ab1", 90)), "password", "at most 256"},
		{"PasswordNoDigit", with("password", "only-letters-here"), "password", "letter and one digit"},
		{"PasswordNoLetter", with("password", "1234-5678-9012"), "password", "letter and one digit"},
		{"PasswordCommon", with("password", "Password123"), "password", "too common"},
		{"PasswordSimple", with("password", "aaaaabbbbb11"), "password", "too simple"},
		{"PasswordHasEmail", with("password", "x1ok@valid.example"), "password", "e-mail"},
		{"SubdomainShort", with("subdomain", "ab"), "subdomain", "3–40"},
		{"SubdomainLong", with("subdomain", strings.Repeat("a", 41)), "subdomain", "3–40"},
		{"SubdomainUpper", with("subdomain", "AcmeBank"), "subdomain", "lowercase"},
		{"SubdomainChars", with("subdomain", "acme_bank"), "subdomain", "a-z, digits and hyphens"},
		{"SubdomainDot", with("subdomain", "acme.bank"), "subdomain", "a-z, digits and hyphens"},
		{"SubdomainLeadingHyphen", with("subdomain", "-acme"), "subdomain", "start or end"},
		{"SubdomainTrailingHyphen", with("subdomain", "acme-"), "subdomain", "start or end"},
		{"SubdomainDoubleHyphen", with("subdomain", "xn--acme"), "subdomain", "consecutive"},
		{"SubdomainDemoPrefix", with("subdomain", "demo-abcdefghij"), "subdomain", "reserved"},
		{"DeriveImpossible", with("name", "!!"), "subdomain", "could not be derived"},
		{"DeriveReserved", with("name", "WWW"), "subdomain", "reserved"},
	}
	for _, reserved := range []string{"www", "admin", "api", "app", "mail", "status", "demo"} {
		tests = append(tests, struct {
			name  string
			body  map[string]string
			field string
			want  string
		}{"Reserved_" + reserved, with("subdomain", reserved), "subdomain", "is reserved"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := signup(t, srv, tt.body)
			if status != 400 || got.Error != "Invalid signup" {
				t.Fatalf("status %d, error %q, want 400 Invalid signup", status, got.Error)
			}
			if msg := got.Fields[tt.field]; !strings.Contains(msg, tt.want) {
				t.Errorf("fields[%s] = %q, want it to mention %q (all: %v)", tt.field, msg, tt.want, got.Fields)
			}
		})
	}

	t.Run("ManyFieldsAtOnce", func(t *testing.T) {
		status, got := signup(t, srv, map[string]string{"name": "", "country": "", "email": "", "password": ""})
		if status != 400 || len(got.Fields) != 4 {
			t.Errorf("status %d, fields %v", status, got.Fields)
		}
	})

	t.Run("BadJSON", func(t *testing.T) {
		for _, body := range []any{"", "{", "[]", `{"name":1}`, `{"nme":"x"}`, `{"name":"a"}{}`} {
			r := srv.Do("POST", proxytest.RootDomain, "/api/public/signup", "", body)
			if r.Status != 400 || r.Error() == "" {
				t.Errorf("body %q: %d %q", body, r.Status, r.Error())
			}
		}
	})

	// No rejected signup may leave a tenant behind.
	if _, total, err := srv.Catalog.List(context.Background(), catalog.ListOptions{}); err != nil || total != 0 {
		t.Errorf("tenants after rejected signups: %d (%v)", total, err)
	}
}

// TestSignupRace: 20 concurrent signups for one subdomain → exactly one
// 201, the rest 409, one catalog row and one database file.
func TestSignupRace(t *testing.T) {
	srv := startPublic(t)
	const n = 20
	statuses, answers := make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			body := fmt.Sprintf(`{"name":"Racer %d","country":"NG","email":"racer%d@race.example","password":"Race-condition-%d","subdomain":"racer"}`, i, i, i)
			req, _ := http.NewRequest("POST", srv.URL+"/api/public/signup", strings.NewReader(body))
			req.Host = proxytest.RootDomain
			resp, err := srv.Client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i], answers[i] = resp.StatusCode, string(b)
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i, s := range statuses {
		count[s]++
		if s != 201 && s != 409 {
			t.Logf("signup %d: %d %s", i, s, answers[i])
		}
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	list, total, err := srv.Catalog.List(context.Background(), catalog.ListOptions{})
	if err != nil || total != 1 || list[0].Host != "racer" {
		t.Fatalf("catalog: %d tenants (%v)", total, err)
	}
	files, _ := filepath.Glob(filepath.Join(srv.DataDir, "tenants", "*.db"))
	if len(files) != 1 || files[0] != dbFile(srv, list[0].ID) {
		t.Errorf("database files %v, want only tenant %d's", files, list[0].ID)
	}
}

// TestSignupNoOrphans: whatever the request deadline cuts short, a signup
// either succeeds completely or leaves no catalog row and no file.
func TestSignupNoOrphans(t *testing.T) {
	for _, timeout := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond} {
		t.Run(timeout.String(), func(t *testing.T) {
			srv := startPublic(t, func(c *proxy.Config) { c.RequestTimeout = timeout })
			for i := range 4 {
				host := fmt.Sprintf("orphan%d", i)
				status, got := signup(t, srv, map[string]string{
					"name": "Orphan Test", "country": "GH", "email": "o@orphan.example", "password": "No-orphans-123", "subdomain": host,
				})
				t.Logf("%s: status %d", host, status)
				tn, err := srv.Catalog.Resolve(context.Background(), host)
				switch {
				case status == 201:
					if err != nil || tn.ID != got.TenantID || !exists(dbFile(srv, tn.ID)) {
						t.Errorf("%s: 201 but row %v / file missing", host, err)
					}
				case errors.Is(err, catalog.ErrTenantNotFound):
				default:
					t.Errorf("%s: status %d left row %+v (%v)", host, status, tn, err)
				}
			}
			files, _ := filepath.Glob(filepath.Join(srv.DataDir, "tenants", "*"))
			_, total, _ := srv.Catalog.List(context.Background(), catalog.ListOptions{})
			dbs := 0
			for _, f := range files {
				if strings.HasSuffix(f, ".db") {
					dbs++
				}
			}
			if dbs != total {
				t.Errorf("%d database files for %d tenants: %v", dbs, total, files)
			}
		})
	}
}

type demoResult struct {
	TenantID  int64     `json:"tenant_id"`
	Host      string    `json:"host"`
	Subdomain string    `json:"subdomain"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Login     struct{ Email, Password string }
}

func createDemo(t *testing.T, srv *proxytest.Server) demoResult {
	t.Helper()
	r := srv.Do("POST", proxytest.RootDomain, "/api/public/demo", "", nil)
	if r.Status != 201 {
		t.Fatalf("create demo: %d %s", r.Status, r.Body)
	}
	var d demoResult
	r.JSON(t, &d)
	return d
}

func TestDemo(t *testing.T) {
	srv := startPublic(t)
	port := srv.Addr[strings.LastIndexByte(srv.Addr, ':')+1:]
	before := time.Now()
	d := createDemo(t, srv)

	t.Run("Response", func(t *testing.T) {
		if !regexp.MustCompile(`^demo-[a-z2-7]{10}$`).MatchString(d.Host) {
			t.Errorf("host %q is not demo-<10 base32 chars>", d.Host)
		}
		if d.Subdomain != d.Host+"."+proxytest.RootDomain {
			t.Errorf("subdomain %q", d.Subdomain)
		}
		if want := "http://" + d.Subdomain + ":" + port; d.URL != want {
			t.Errorf("url %q, want %q", d.URL, want)
		}
		if d.ExpiresAt.Before(before.Add(24*time.Hour-2*time.Second)) || d.ExpiresAt.After(time.Now().Add(24*time.Hour)) {
			t.Errorf("expires_at %v is not 24 h ahead", d.ExpiresAt)
		}
		if d.Login.Email == "" || len(d.Login.Password) < 10 {
			t.Errorf("login %+v", d.Login)
		}
		tn, err := srv.Catalog.Get(context.Background(), d.TenantID)
		if err != nil || tn.Status != catalog.StatusDemo || tn.Host != d.Host || !tn.ExpiresAt.Equal(d.ExpiresAt) {
			t.Errorf("stored %+v (%v)", tn, err)
		}
	})

	t.Run("SeededData", func(t *testing.T) {
		tok := srv.Token(d.TenantID, proxy.RoleAdmin, 1)
		r := srv.Do("GET", d.Subdomain, "/api/accounts", tok, nil)
		var body struct{ Accounts []struct{ Balance int64 } }
		r.JSON(t, &body)
		if r.Status != 200 || len(body.Accounts) < 3 {
			t.Errorf("accounts: %d, %d accounts", r.Status, len(body.Accounts))
		}
	})

	t.Run("Unguessable", func(t *testing.T) {
		hosts := map[string]bool{d.Host: true}
		for range 3 {
			h := createDemo(t, srv).Host
			if hosts[h] {
				t.Fatalf("host %s repeated", h)
			}
			hosts[h] = true
		}
	})

	t.Run("Country", func(t *testing.T) {
		r := srv.Do("POST", proxytest.RootDomain, "/api/public/demo", "", map[string]string{"country": "KE"})
		var got demoResult
		r.JSON(t, &got)
		tn, err := srv.Catalog.Get(context.Background(), got.TenantID)
		if r.Status != 201 || err != nil || tn.CountryCode != "KE" {
			t.Errorf("status %d, tenant %+v (%v)", r.Status, tn, err)
		}
		r = srv.Do("POST", proxytest.RootDomain, "/api/public/demo", "", map[string]string{"country": "ZZ"})
		if r.Status != 400 {
			t.Errorf("unsupported country: %d", r.Status)
		}
	})
}

func TestDemoRateLimit(t *testing.T) {
	srv := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.DemoLimit = proxy.RateLimit{Burst: 2, Every: time.Hour}
		c.SignupLimit = proxy.RateLimit{Burst: 1, Every: time.Hour}
	}})
	createDemo(t, srv)
	createDemo(t, srv)
	r := srv.Do("POST", proxytest.RootDomain, "/api/public/demo", "", nil)
	if r.Status != 429 || r.Error() != "Too many requests" {
		t.Fatalf("third demo: %d %q", r.Status, r.Error())
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// Signups have their own bucket; a refused one costs no tenant.
	body := map[string]string{"name": "Limit Bank", "country": "GH", "email": "l@limit.example", "password": "Limit-pass-123"}
	if status, got := signup(t, srv, body); status != 201 {
		t.Fatalf("first signup: %d %+v", status, got)
	}
	body["subdomain"] = "limit2"
	if status, got := signup(t, srv, body); status != 429 || got.Error != "Too many requests" {
		t.Fatalf("second signup: %d %+v", status, got)
	}
	if _, err := srv.Catalog.Resolve(context.Background(), "limit2"); !errors.Is(err, catalog.ErrTenantNotFound) {
		t.Errorf("throttled signup created a tenant (%v)", err)
	}
	if got := metricValue(t, srv, "tenantgate_throttled_requests_total", "limiter", "demo"); got != 1 {
		t.Errorf("throttled demo counter = %v, want 1", got)
	}
}

// TestDemoExpiry: an expired demo answers 410 until the reaper removes it
// completely (catalog row, cache entry, open handle, database file).
func TestDemoExpiry(t *testing.T) {
	srv := startPublic(t, func(c *proxy.Config) { c.ReapInterval = 50 * time.Millisecond })
	ctx := context.Background()
	d := createDemo(t, srv)
	keep := createDemo(t, srv)
	tok := srv.Token(d.TenantID, proxy.RoleAdmin, 1)
	if r := srv.Do("GET", d.Subdomain, "/api/accounts", tok, nil); r.Status != 200 {
		t.Fatalf("fresh demo: %d", r.Status)
	}
	openBefore := srv.Shards.OpenCount()
	if openBefore == 0 {
		t.Fatalf("demo database not open after a request")
	}
	file := dbFile(srv, d.TenantID)
	if !exists(file) {
		t.Fatalf("no database file %s", file)
	}

	// Expire it. Stop the reaper from racing the 410 check by checking
	// right after the update: either 410 or, if the reaper already ran, 404.
	past := time.Now().Add(-time.Minute)
	if _, err := srv.Catalog.Update(ctx, d.TenantID, catalog.Update{ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	r := srv.Do("GET", d.Subdomain, "/api/accounts", tok, nil)
	if !(r.Status == 410 && r.Error() == "Demo expired") && !(r.Status == 404 && r.Error() == "Tenant not found") {
		t.Fatalf("expired demo: %d %q", r.Status, r.Error())
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := srv.Catalog.Get(ctx, d.TenantID); errors.Is(err, catalog.ErrTenantNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reaper did not remove the expired demo")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Row gone; the cache must not serve it either.
	if r := srv.Do("GET", d.Subdomain, "/api/accounts", tok, nil); r.Status != 404 || r.Error() != "Tenant not found" {
		t.Errorf("reaped demo: %d %q", r.Status, r.Error())
	}
	if _, err := srv.Catalog.FindByHost(ctx, d.Host); !errors.Is(err, catalog.ErrTenantNotFound) {
		t.Errorf("FindByHost after reap: %v", err)
	}
	// The row goes first, then the audit record, the handle and the file;
	// the pass counts its demos when it ends, after all of them.
	for deadline := time.Now().Add(10 * time.Second); metricValue(t, srv, "tenantgate_demo_tenants_reaped_total") < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := metricValue(t, srv, "tenantgate_demo_tenants_reaped_total"); got != 1 {
		t.Errorf("reaped counter = %v, want 1", got)
	}
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		if exists(f) {
			t.Errorf("%s still exists", f)
		}
	}
	if n := srv.Shards.OpenCount(); n != openBefore-1 {
		t.Errorf("%d databases open, want %d: the reaped demo's handle was not closed", n, openBefore-1)
	}
	if got := metricValue(t, srv, "tenantgate_demo_reaper_runs_total"); got < 1 {
		t.Errorf("reaper runs = %v", got)
	}
	// The unexpired demo is untouched.
	if tn, err := srv.Catalog.Get(ctx, keep.TenantID); err != nil || tn.Status != catalog.StatusDemo || !exists(dbFile(srv, keep.TenantID)) {
		t.Errorf("unexpired demo: %+v (%v)", tn, err)
	}
}

// metricValue reads a counter or gauge from the server's registry; labels
// come in name, value pairs. A series that does not exist reads 0.
func metricValue(t *testing.T, srv *proxytest.Server, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := srv.Registry.Gather()
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
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// BenchmarkSignupToFirstCall measures onboarding end to end over loopback:
// POST /api/public/signup, then POST /api/auth/login on the new tenant's
// host (the first successful API call), then GET /api/accounts with the
// token. It reports the median and p99 of each milestone. Run with
// -benchtime=100x for the figures in BENCHMARKS.md.
func BenchmarkSignupToFirstCall(b *testing.B) {
	srv := proxytest.Start(b, proxytest.Options{Configure: func(c *proxy.Config) {
		c.SignupLimit = proxy.RateLimit{Burst: 1_000_000, Every: time.Nanosecond}
	}})
	var signupOnly, toFirstCall, toLogin, toAccounts []time.Duration
	b.ResetTimer()
	for i := range b.N {
		host := fmt.Sprintf("bench%d", i)
		email := fmt.Sprintf("owner%d@bench.example", i)
		t0 := time.Now()
		r := srv.Do("POST", proxytest.RootDomain, "/api/public/signup", "", map[string]string{
			"name": "Bench Bank", "country": "GH", "email": email, "password": "Bench-password-1", "subdomain": host,
		})
		if r.Status != 201 {
			b.Fatalf("signup: %d %s", r.Status, r.Body)
		}
		signedUp := time.Since(t0)
		var created struct{ Token string }
		r.JSON(b, &created)
		if r = srv.Do("GET", proxytest.Host(host), "/api/accounts", created.Token, nil); r.Status != 200 {
			b.Fatalf("accounts with the signup token: %d %s", r.Status, r.Body)
		}
		toFirstCall = append(toFirstCall, time.Since(t0))
		// The password path: log in, then read. Timed from the signup answer,
		// as if the signup token had not been used.
		t1 := time.Now()
		r = srv.Do("POST", proxytest.Host(host), "/api/auth/login", "", map[string]string{"email": email, "password": "Bench-password-1"})
		if r.Status != 200 {
			b.Fatalf("login: %d %s", r.Status, r.Body)
		}
		t2 := time.Now()
		var login struct{ Token string }
		r.JSON(b, &login)
		if r = srv.Do("GET", proxytest.Host(host), "/api/accounts", login.Token, nil); r.Status != 200 {
			b.Fatalf("accounts: %d %s", r.Status, r.Body)
		}
		t3 := time.Now()
		signupOnly = append(signupOnly, signedUp)
		toLogin = append(toLogin, signedUp+t2.Sub(t1))
		toAccounts = append(toAccounts, signedUp+t3.Sub(t1))
	}
	b.StopTimer()
	reportQuantiles(b, "signup", signupOnly)
	reportQuantiles(b, "to-first-call", toFirstCall)
	reportQuantiles(b, "to-login", toLogin)
	reportQuantiles(b, "to-accounts", toAccounts)
}

// BenchmarkDemoCreate measures POST /api/public/demo: a tenant database
// provisioned and seeded with users, accounts and two months of postings.
func BenchmarkDemoCreate(b *testing.B) {
	srv := proxytest.Start(b, proxytest.Options{Configure: func(c *proxy.Config) {
		c.DemoLimit = proxy.RateLimit{Burst: 1_000_000, Every: time.Nanosecond}
		c.ReapInterval = -1
	}})
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if r := srv.Do("POST", proxytest.RootDomain, "/api/public/demo", "", nil); r.Status != 201 {
			b.Fatalf("demo: %d %s", r.Status, r.Body)
		}
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	reportQuantiles(b, "demo", took)
}

// reportQuantiles adds <name>-p50-ms and <name>-p99-ms to the benchmark
// output (nearest-rank quantiles).
func reportQuantiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return float64(sorted[max(i, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), name+"-p50-ms")
	b.ReportMetric(q(0.99), name+"-p99-ms")
}
