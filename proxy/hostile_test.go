package proxy_test

// Regression tests for bugs found by black-box attacks on a running
// tenantgate: each test reproduces one attack over real HTTP.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard"
)

// A create whose db_url names a file that already exists must be refused
// without touching that file: the failed provisioning used to roll
// back by deleting "its" database, i.e. somebody else's file (another
// tenant's database, the catalog, anything the process may delete) — and
// answered 500.
func TestHostileAdminCreateKeepsExistingDatabaseFile(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	victim := s.CreateTenant("victim")
	pa := s.Token(0, "platform_admin", 0)
	admin := proxytest.Host("admin")

	stray := filepath.Join(t.TempDir(), "precious.txt")
	if err := os.WriteFile(stray, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	victimDB := filepath.Join(s.DataDir, "tenants", "1.db")
	if victim.ID != 1 {
		t.Fatalf("victim id %d, want 1", victim.ID)
	}
	for i, dbURL := range []string{"file:" + stray, stray, "file:" + victimDB, "file:" + filepath.Join(s.DataDir, "catalog.db")} {
		r := s.Do("POST", admin, "/api/admin/tenants", pa, map[string]any{
			"host": "thief" + string(rune('a'+i)), "name": "Thief", "country": "GH", "db_url": dbURL,
		})
		// Over HTTP, local paths are refused outright.
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"db_url"`) {
			t.Errorf("db_url %s: %d %s, want 400 with a db_url field", dbURL, r.Status, r.Body)
		}
		// The operator's path (the CLI's provisioner) accepts local paths,
		// and must refuse an existing file without deleting it.
		_, err := s.Tenants.Create(t.Context(), tenants.CreateRequest{
			Host: "cli-thief" + string(rune('a'+i)), Name: "Thief", Country: "GH", DBURL: dbURL})
		if !errors.Is(err, shard.ErrExists) {
			t.Errorf("provision with db_url %s: err = %v, want shard.ErrExists", dbURL, err)
		}
	}
	if b, err := os.ReadFile(stray); err != nil || string(b) != "precious" {
		t.Errorf("stray file after refused create: %.40q, %v", b, err)
	}
	if _, err := os.Stat(victimDB); err != nil {
		t.Errorf("victim's database after refused create: %v", err)
	}
	if r := s.Do("GET", proxytest.Host("victim"), "/api/accounts", s.Token(victim.ID, "admin", 0), nil); r.Status != http.StatusOK {
		t.Errorf("victim after refused create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", admin, "/api/admin/tenants?q=thief", pa, nil); !strings.Contains(string(r.Body), `"total":0`) {
		t.Errorf("refused creates left catalog rows: %s", r.Body)
	}
}

// A db_url the proxy cannot use is bad input (400), and an unreachable
// libSQL server is the contract's 503: neither is a 500.
func TestHostileAdminCreateBadDBURL(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	pa := s.Token(0, "platform_admin", 0)
	admin := proxytest.Host("admin")
	r := s.Do("POST", admin, "/api/admin/tenants", pa, map[string]any{"host": "ftp1", "name": "F", "country": "GH", "db_url": "ftp://example.com/x.db"})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"db_url"`) {
		t.Errorf("ftp db_url: %d %s, want 400 with a db_url field", r.Status, r.Body)
	}
	r = s.Do("POST", admin, "/api/admin/tenants", pa, map[string]any{"host": "down1", "name": "Down Bank", "country": "GH", "db_url": "libsql://127.0.0.1:1"})
	if r.Status != http.StatusServiceUnavailable || r.Error() != "Tenant unavailable" {
		t.Errorf("unreachable libSQL server: %d %s, want 503 Tenant unavailable", r.Status, r.Body)
	}
	if r := s.Do("GET", admin, "/api/admin/tenants", pa, nil); !strings.Contains(string(r.Body), `"total":0`) {
		t.Errorf("refused creates left catalog rows: %s", r.Body)
	}
}

// Two Authorization headers are ambiguous (a front proxy may check one and
// tenantgate use the other), so they are an invalid token, not "the first
// one wins".
func TestHostileDuplicateAuthorizationHeaders(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	a := s.CreateTenant("alpha")
	b := s.CreateTenant("bravo")
	good := s.Token(a.ID, "admin", 0)
	other := s.Token(b.ID, "admin", 0)
	for _, host := range []string{proxytest.Host("alpha"), proxytest.Host("admin")} {
		path := "/api/accounts"
		if strings.HasPrefix(host, "admin.") {
			path, good, other = "/api/admin/tenants", s.Token(0, "platform_admin", 0), s.Token(b.ID, "admin", 0)
		}
		req, err := http.NewRequest("GET", s.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Add("Authorization", "Bearer "+good)
		req.Header.Add("Authorization", "Bearer "+other)
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Error != "Invalid token" {
			t.Errorf("%s with two Authorization headers: %d %q, want 401 Invalid token", host, resp.StatusCode, body.Error)
		}
	}
}

// Field names are matched exactly: encoding/json's case-insensitive match
// let {"amount":5,"AMOUNT":700} post 700, and a repeated key silently
// overrode the first — a body a reviewer, log or front-end validator reads
// differently from the ledger.
func TestHostileJSONFieldNamesExact(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn, _ := s.CreateDemoTenant("money")
	host := proxytest.Host("money")
	tok := s.Token(tn.ID, "admin", 1)
	for _, body := range []string{
		`{"type":"deposit","account_id":1,"amount":5,"AMOUNT":700}`,
		`{"type":"deposit","account_id":1,"Amount":700}`,
		`{"type":"deposit","account_id":1,"amount":5,"amount":700}`,
	} {
		r := s.Do("POST", host, "/api/transactions", tok, body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, r.Status, r.Body)
		}
	}
	r := s.Do("POST", host, "/api/transactions", tok, `{"type":"deposit","account_id":1,"amount":5}`)
	if r.Status != http.StatusCreated {
		t.Errorf("plain deposit: %d %s", r.Status, r.Body)
	}
}

// One SQL statement must not make the process allocate a gigabyte: values
// larger than any response may carry fail with SQLITE_TOOBIG instead of
// being built (the memory stayed with the process afterwards).
func TestHostileHranaHugeValueRefused(t *testing.T) {
	hranaTargets(t, "sqlbig", testHostileHranaHugeValueRefused)
}

func testHostileHranaHugeValueRefused(t *testing.T, s *proxytest.Server, id int64) {
	tok := s.Token(id, "service", 0)
	for _, sql := range []string{
		`SELECT length(randomblob(100000000))`,
		`SELECT length(printf('%.*c', 200000000, 'x'))`,
	} {
		r := s.Do("POST", proxytest.Host("sqlbig"), "/v2/pipeline", tok, map[string]any{
			"requests": []any{map[string]any{"type": "execute", "stmt": map[string]any{"sql": sql}}},
		})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"SQLITE_TOOBIG"`) {
			t.Errorf("%s: %d %.300s, want a SQLITE_TOOBIG result", sql, r.Status, r.Body)
		}
	}
	r := s.Do("POST", proxytest.Host("sqlbig"), "/v2/pipeline", tok, map[string]any{
		"requests": []any{map[string]any{"type": "execute", "stmt": map[string]any{"sql": `SELECT length(randomblob(1000000))`}}},
	})
	if !strings.Contains(string(r.Body), `"1000000"`) {
		t.Errorf("1 MB value: %d %.300s", r.Status, r.Body)
	}
}

// A read-only token ("a":"ro") must not write by continuing a read-write
// stream: the baton was bound to the subject only, which both tokens share
// ("service:0"), so the read-only token's INSERT ran on the read-write
// connection.
func TestHostileReadOnlyTokenCannotContinueWritableStream(t *testing.T) {
	hranaTargets(t, "rostream", testHostileReadOnlyTokenCannotContinueWritableStream)
}

func testHostileReadOnlyTokenCannotContinueWritableStream(t *testing.T, s *proxytest.Server, id int64) {
	host := proxytest.Host("rostream")
	rw := s.Token(id, "service", 0)
	ro, _, err := s.Auth.Issue(proxy.Claims{TenantID: proxy.Int(id), Role: "service", Access: "ro"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(tok, baton, sql string) proxytest.Response {
		body := map[string]any{"requests": []any{map[string]any{"type": "execute", "stmt": map[string]any{"sql": sql}}}}
		if baton != "" {
			body["baton"] = baton
		}
		return s.Do("POST", host, "/v2/pipeline", tok, body)
	}
	r := exec(rw, "", "CREATE TABLE notes (x)")
	var out struct{ Baton string }
	r.JSON(t, &out)
	if r.Status != http.StatusOK || out.Baton == "" {
		t.Fatalf("read-write stream: %d %s", r.Status, r.Body)
	}
	r = exec(ro, out.Baton, "INSERT INTO notes VALUES (1)")
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "BATON_INVALID") {
		t.Errorf("read-only token on a read-write stream: %d %s, want 400 BATON_INVALID", r.Status, r.Body)
	}
	r = exec(rw, "", "SELECT count(*) FROM notes")
	if !strings.Contains(string(r.Body), `"value":"0"`) {
		t.Errorf("read-only token wrote: %s", r.Body)
	}
}

// Anonymous traffic must not use up a tenant's request quota: anyone could
// flood a tenant's host with token-less requests (401s, the dashboard page)
// and every real user of that tenant then got 429. The tenant limits count
// requests whose token belongs to the tenant.
func TestHostileAnonymousFloodDoesNotThrottleTenant(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.TenantRate = proxy.RateLimit{Burst: 3, Every: time.Hour}
	}})
	tn := s.CreateTenant("flooded")
	host := proxytest.Host("flooded")
	for range 10 {
		s.Do("GET", host, "/api/accounts", "", nil)
		s.Do("GET", host, "/api/accounts", "not-a-token", nil)
		s.Do("GET", host, "/", "", nil)
		s.Do("GET", host, "/api/accounts", s.Token(tn.ID+1, proxy.RoleStaff, 1), nil) // another tenant's token
	}
	tok := s.Token(tn.ID, proxy.RoleStaff, 1)
	if r := s.Do("GET", host, "/api/accounts", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("tenant's own request after an anonymous flood: %d %s", r.Status, r.Body)
	}
	for range 3 {
		s.Do("GET", host, "/api/accounts", tok, nil)
	}
	if r := s.Do("GET", host, "/api/accounts", tok, nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the tenant's own requests past its quota: %d %s, want 429", r.Status, r.Body)
	}
}

// The operator listener (scraped across the network) must not hand out the
// process command line: with --jwt-secret=… or --catalog-url=…?authToken=…
// on it, /debug/pprof/cmdline gave anyone who can reach the metrics port
// the key to sign platform_admin tokens. pprof itself is off unless asked
// for (--pprof).
func TestHostileOpsListenerHidesCommandLine(t *testing.T) {
	off := proxytest.Start(t, proxytest.Options{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		resp, err := off.Client.Get(off.OpsURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("pprof off: %s answered %d, want 404", path, resp.StatusCode)
		}
	}
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) { c.Pprof = true }})
	resp, err := s.Client.Get(s.OpsURL + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), os.Args[0]) {
		t.Errorf("/debug/pprof/cmdline: %d %q, want 404 without the command line", resp.StatusCode, b)
	}
	if resp, err := s.Client.Get(s.OpsURL + "/debug/pprof/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/debug/pprof/ index: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// Tenant names are limited in characters, as the errors say, not bytes:
// the catalog counted bytes, so a public signup with an 80-character
// Chinese name (240 bytes, within signup's 100 characters) was a 500, and
// the admin API refused 150 accented characters.
func TestHostileTenantNameLimitCountsCharacters(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	r0 := s.Do("POST", proxytest.RootDomain, "/api/public/signup", "", map[string]any{
		"name": strings.Repeat("銀行", 40), "country": "GH", "email": "boss@bank.example", "password": "Str0ngpassw0rd", "subdomain": "cjkbank",
	})
	if r0.Status != http.StatusCreated {
		t.Errorf("signup with an 80-character Chinese name: %d %s", r0.Status, r0.Body)
	}
	pa := s.Token(0, "platform_admin", 0)
	admin := proxytest.Host("admin")
	name := strings.Repeat("é", 150) // 150 characters, 300 bytes
	r := s.Do("POST", admin, "/api/admin/tenants", pa, map[string]any{"host": "longname", "name": name, "country": "GH"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create with a 150-character name: %d %s", r.Status, r.Body)
	}
	var out struct{ Tenant struct{ ID int64 } }
	r.JSON(t, &out)
	path := "/api/admin/tenants/" + strconv.FormatInt(out.Tenant.ID, 10)
	if r := s.Do("PATCH", admin, path, pa, map[string]any{"name": strings.Repeat("ש", 200)}); r.Status != http.StatusOK {
		t.Errorf("rename to 200 characters: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PATCH", admin, path, pa, map[string]any{"name": strings.Repeat("x", 201)}); r.Status != http.StatusBadRequest {
		t.Errorf("rename to 201 characters: %d %s, want 400", r.Status, r.Body)
	}
}

// hranaTargets runs an SQL-over-HTTP test against a local tenant and
// against a remote one: the same host on a front whose tenant lives on a
// shard (another tenantgate, reached with a service token of its tenant),
// so every SQL safety test holds for both. f gets the server the SQL goes
// to and the tenant's id there.
func hranaTargets(t *testing.T, label string, f func(t *testing.T, s *proxytest.Server, id int64)) {
	t.Run("local", func(t *testing.T) {
		s := proxytest.Start(t, proxytest.Options{})
		f(t, s, s.CreateTenant(label).ID)
	})
	t.Run("remote", func(t *testing.T) {
		origin := proxytest.Start(t, proxytest.Options{})
		tn := origin.CreateTenant(label)
		dbURL := origin.URL + "/t/" + label + "?authToken=" + url.QueryEscape(origin.Token(tn.ID, proxy.RoleService, 0))
		edge := proxytest.Start(t, proxytest.Options{})
		if _, err := edge.Catalog.Create(context.Background(), catalog.Tenant{ID: tn.ID, Host: label, Name: "Remote " + label, CountryCode: "GH", DBURL: dbURL}); err != nil {
			t.Fatal(err)
		}
		f(t, edge, tn.ID)
	})
}
