package proxy_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tursodatabase/libsql-client-go/libsql"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// Hrana through the real proxy: host routing, JWT checks, the tenant's own
// database, and the real libSQL clients.

type hranaResp struct {
	Baton   *string          `json:"baton"`
	Results []map[string]any `json:"results"`
	Error   string           `json:"error"`
	Message string           `json:"message"`
	Code    string           `json:"code"`
}

func hranaDo(t *testing.T, s *proxytest.Server, host, token, body string) (int, hranaResp, string) {
	t.Helper()
	r := s.Do("POST", proxytest.Host(host), "/v2/pipeline", token, body)
	var out hranaResp
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q (status %d): %s", ct, r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return r.Status, out, string(r.Body)
}

func goClientDB(t *testing.T, s *proxytest.Server, host, token string) *sql.DB {
	t.Helper()
	c, err := libsql.NewConnector("http://"+proxytest.Host(host), libsql.WithProxy(s.URL), libsql.WithAuthToken(token))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestHranaGoClientThroughProxy(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("acme")
	db := goClientDB(t, s, "acme", s.Token(tn.ID, proxy.RoleService, 0))
	hranatest.RunGoClient(t, db)
	// The rows landed in acme's own file.
	raw, err := sql.Open("sqlite", filepath.Join(s.DataDir, "tenants", strconv.FormatInt(tn.ID, 10)+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM vals`).Scan(&n); err != nil || n != 4 {
		t.Errorf("vals in tenant file = %d, %v", n, err)
	}
}

func TestHranaJSClientThroughProxy(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("jsco")
	hranatest.RunJSClient(t, "http://"+proxytest.Host("jsco"), s.Addr, s.Token(tn.ID, proxy.RoleService, 0), "js")
}

func TestHranaAuthAndTenancy(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	t1 := s.CreateTenant("one")
	t2 := s.CreateTenant("two")
	tok1 := s.Token(t1.ID, proxy.RoleService, 0)
	tok2 := s.Token(t2.ID, proxy.RoleService, 0)
	sel := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT tenant_id FROM tenant_stamp"}}]}`

	status, body, raw := hranaDo(t, s, "one", "", sel)
	if status != 401 || body.Error != "Authentication required" || body.Message == "" || body.Code == "" {
		t.Errorf("no token: %d %s", status, raw)
	}
	status, body, raw = hranaDo(t, s, "one", "wrong", `not json`)
	if status != 401 || body.Error != "Invalid token" {
		t.Errorf("bad token with malformed body: %d %s", status, raw)
	}
	status, body, raw = hranaDo(t, s, "one", tok2, sel)
	if status != 401 || body.Error != "Tenant mismatch" {
		t.Errorf("tenant2 token on tenant1: %d %s", status, raw)
	}
	status, body, raw = hranaDo(t, s, "one", s.Token(t1.ID, proxy.RoleStaff, 1), sel)
	if status != 403 || body.Error != "Forbidden" {
		t.Errorf("staff token: %d %s", status, raw)
	}
	r := s.Do("POST", proxytest.Host("one"), "/v2/pipeline", "", sel, "Authorization", "bearer "+tok1)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"value":"`+strconv.FormatInt(t1.ID, 10)+`"`) {
		t.Errorf("lower-case bearer: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", proxytest.Host("one"), "/v3-protobuf", tok1, nil); r.Status != 200 {
		t.Errorf("GET /v3-protobuf = %d", r.Status)
	}
	if r := s.Do("GET", proxytest.Host("one"), "/v2", tok1, nil); r.Status != 200 {
		t.Errorf("GET /v2 = %d", r.Status)
	}

	// Each host reaches its own database.
	_, body, _ = hranaDo(t, s, "two", tok2, sel)
	if got := mustJSON(body.Results[0]); !strings.Contains(got, `"value":"`+strconv.FormatInt(t2.ID, 10)+`"`) {
		t.Errorf("tenant2 stamp: %s", got)
	}

	// A baton from tenant1 is useless on tenant2's host.
	_, body, _ = hranaDo(t, s, "one", tok1, `{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}}]}`)
	if body.Baton == nil {
		t.Fatal("no baton")
	}
	status, body, raw = hranaDo(t, s, "two", tok2, `{"baton":"`+*body.Baton+`","requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}}]}`)
	if status != 400 || body.Code != "BATON_INVALID" {
		t.Errorf("tenant1 baton on tenant2: %d %s", status, raw)
	}

	// A read-only token gets a read-only connection.
	ro, _, err := s.Auth.Issue(proxy.Claims{TenantID: proxy.Int(t1.ID), Role: proxy.RoleService, Access: "ro"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, body, raw = hranaDo(t, s, "one", ro, `{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE nope(x)"}},{"type":"execute","stmt":{"sql":"SELECT count(*) FROM users"}}]}`)
	if body.Results[0]["type"] != "error" || !strings.Contains(mustJSON(body.Results[0]), "SQLITE_READONLY") || body.Results[1]["type"] != "ok" {
		t.Errorf("read-only token: %s", raw)
	}
}

// tenantDump is a tenant file's schema, stamp and row counts, read with a
// connection of its own.
func tenantDump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema string
	var stamp, users, accounts int64
	err = db.QueryRow(`SELECT group_concat(type || ':' || name || ':' || coalesce(sql, ''), '|') FROM (SELECT * FROM sqlite_schema ORDER BY name)`).Scan(&schema)
	if err == nil {
		err = db.QueryRow(`SELECT (SELECT tenant_id FROM tenant_stamp), (SELECT count(*) FROM users), (SELECT count(*) FROM accounts)`).Scan(&stamp, &users, &accounts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s\nstamp=%d users=%d accounts=%d", schema, stamp, users, accounts)
}

func TestHranaSafetyThroughProxy(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	t1 := s.CreateTenant("safe")
	t2 := s.CreateTenant("victim")
	tok := s.Token(t1.ID, proxy.RoleService, 0)
	path1 := filepath.Join(s.DataDir, "tenants", strconv.FormatInt(t1.ID, 10)+".db")
	path2 := filepath.Join(s.DataDir, "tenants", strconv.FormatInt(t2.ID, 10)+".db")
	before1, before2 := tenantDump(t, path1), tenantDump(t, path2)
	into := filepath.Join(t.TempDir(), "copy.db")
	foreign := strconv.FormatInt(t2.ID, 10)
	cases := []string{
		"ATTACH DATABASE '" + path2 + "' AS victim",
		"SELECT load_extension('/usr/lib/x.so')",
		"VACUUM INTO '" + into + "'",
		"DROP TABLE tenant_stamp",
		"DROP TRIGGER accounts_tenant_guard_insert",
		"INSERT INTO users(tenant_id, email, name, password_hash, role) VALUES (" + foreign + ", 'x@y', 'X', 'h', 'staff')",
	}
	reqs := make([]string, 0, len(cases))
	for _, c := range cases {
		b, _ := json.Marshal(c)
		reqs = append(reqs, `{"type":"execute","stmt":{"sql":`+string(b)+`}}`)
	}
	status, body, raw := hranaDo(t, s, "safe", tok, `{"requests":[`+strings.Join(reqs, ",")+`,{"type":"execute","stmt":{"sql":"SELECT (SELECT tenant_id FROM tenant_stamp), (SELECT count(*) FROM users), (SELECT count(*) FROM sqlite_schema WHERE name LIKE '%tenant_guard%')"}},{"type":"close"}]}`)
	if status != 200 {
		t.Fatalf("status %d %s", status, raw)
	}
	for i, c := range cases {
		res := body.Results[i]
		if res["type"] != "error" {
			t.Errorf("%s: not refused: %s", c, mustJSON(res))
		}
	}
	last := mustJSON(body.Results[len(cases)])
	if !strings.Contains(last, `"value":"`+strconv.FormatInt(t1.ID, 10)+`"},{"type":"integer","value":"0"}`) {
		t.Errorf("stamp/users after refusals: %s", last)
	}
	if _, err := os.Stat(into); !os.IsNotExist(err) {
		t.Error("VACUUM INTO wrote a file")
	}
	if got := tenantDump(t, path2); got != before2 {
		t.Errorf("victim's database changed:\n%s\n---\n%s", before2, got)
	}
	if got := tenantDump(t, path1); got != before1 {
		t.Errorf("tenant's database changed:\n%s\n---\n%s", before1, got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// pointReadBody is the benchmark's request: one primary-key read, as a
// libSQL client sends it outside a transaction ([execute, close] for the
// proxy; tursodb's sync server accepts only execute and batch, and closes
// its stream itself, so it gets [execute]).
func pointReadBody(id int, withClose bool) []byte {
	b := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT id, name, balance FROM acct WHERE id = ?","args":[{"type":"integer","value":"` + strconv.Itoa(id) + `"}],"want_rows":true}}`
	if withClose {
		b += `,{"type":"close"}`
	}
	return []byte(b + `]}`)
}

// seedAcct creates acct with 1000 rows through any Hrana endpoint.
func seedAcct(tb testing.TB, post func(body []byte) (int, []byte)) {
	tb.Helper()
	reqs := []string{`{"type":"execute","stmt":{"sql":"CREATE TABLE acct(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)"}}`}
	for i := 1; i <= 1000; i++ {
		reqs = append(reqs, `{"type":"execute","stmt":{"sql":"INSERT INTO acct VALUES (?, ?, ?)","args":[{"type":"integer","value":"`+strconv.Itoa(i)+`"},{"type":"text","value":"user`+strconv.Itoa(i)+`"},{"type":"integer","value":"`+strconv.Itoa(i*100)+`"}]}}`)
	}
	status, body := post([]byte(`{"requests":[` + strings.Join(reqs, ",") + `]}`))
	if status != 200 || strings.Contains(string(body), `"type":"error"`) {
		tb.Fatalf("seed: %d %.300s", status, body)
	}
}

// tursodbPath finds the tursodb binary: $TURSODB, or the one `npm ci` puts
// under proxy/hrana/testdata/turso.
func tursodbPath() string {
	if p := os.Getenv("TURSODB"); p != "" {
		return p
	}
	p := filepath.Join("hrana", "testdata", "turso", "node_modules", "@tursodatabase", "cli-linux-x64-gnu", "tursodb")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// BenchmarkHranaPointRead compares a single-statement pipeline point read
// through the proxy (JWT, host routing, tenant checks, Hrana) with the same
// read served by `tursodb --sync-server` on the same data, side by side.
// Both servers run as their own processes (the proxy is the real
// `tenantgate serve` binary, built here), and the same in-process client
// drives both. It reports requests per second and latency percentiles.
//
//	npm ci --prefix proxy/hrana/testdata/turso   # once, for tursodb
//	go test ./proxy -run '^$' -bench HranaPointRead -benchtime 5s
func BenchmarkHranaPointRead(b *testing.B) {
	b.Run("proxy", func(b *testing.B) {
		url, host, tok := spawnProxy(b)
		client := &fasthttp.Client{MaxConnsPerHost: 512}
		seedAcct(b, poster(b, client, url+"/v2/pipeline", host, "Bearer "+tok))
		pointReadModes(b, url+"/v2/pipeline", host, "Bearer "+tok, true, client)
	})
	b.Run("tursodb", func(b *testing.B) {
		bin := tursodbPath()
		if bin == "" {
			b.Skip("tursodb not installed (npm ci --prefix proxy/hrana/testdata/turso, or set TURSODB)")
		}
		addr := freeAddr(b)
		cmd := exec.Command(bin, "--sync-server", addr, filepath.Join(b.TempDir(), "turso.db"))
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(b, addr)
		client := &fasthttp.Client{MaxConnsPerHost: 512}
		seedAcct(b, poster(b, client, "http://"+addr+"/v2/pipeline", "", ""))
		pointReadModes(b, "http://"+addr+"/v2/pipeline", "", "", false, client)
	})
}

// spawnProxy builds cmd/tenantgate, serves it on a fresh data dir, creates
// tenant "bench" and a service token for it, and returns the base URL, the
// tenant's host and the token.
func spawnProxy(b *testing.B) (url, host, token string) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "tenantgate")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../cmd/tenantgate").CombinedOutput(); err != nil {
		b.Fatalf("build tenantgate: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	const secret = "bench-secret-0123456789abcdef0123456789"
	addr, ops := freeAddr(b), freeAddr(b)
	// Per-tenant rate limiting is off: this measures serving capacity.
	serve := exec.Command(bin, "serve", "--data-dir", data, "--listen", addr, "--metrics-listen", ops, "--jwt-secret", secret, "--tenant-rate", "0")
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { serve.Process.Signal(os.Interrupt); serve.Wait() })
	waitListening(b, addr)
	cli := func(args ...string) string {
		out, err := exec.Command(bin, append(args, "--data-dir", data)...).Output()
		if err != nil {
			b.Fatalf("tenantgate %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	cli("tenants", "create", "--host", "bench", "--name", "Bench", "--country", "GH")
	token = cli("token", "--tenant", "bench", "--role", "service", "--jwt-secret", secret)
	host = "bench." + proxy.DefaultRootDomain
	url = "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(url + "/v2")
		req.UseHostHeader = true
		req.Header.SetHost(host)
		req.Header.Set("Authorization", "Bearer "+token)
		err := fasthttp.Do(req, resp)
		ok := err == nil && resp.StatusCode() == 200
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
		if ok {
			return url, host, token
		}
		if time.Now().After(deadline) {
			b.Fatalf("tenant host not served: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poster posts a body to a Hrana pipeline URL.
func poster(b *testing.B, client *fasthttp.Client, url, host, auth string) func([]byte) (int, []byte) {
	return func(body []byte) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod("POST")
		if host != "" {
			req.UseHostHeader = true
			req.Header.SetHost(host)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.SetBody(body)
		if err := client.Do(req, resp); err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}
}

// pointReadModes runs the point read two ways: closed loop (16 clients
// sending back to back: the throughput) and open loop at a fixed rate below
// both servers' capacity (the latency a client sees when the server is not
// saturated; latency counts from the scheduled send time, so a stall is not
// hidden by the client waiting for it).
func pointReadModes(b *testing.B, url, host, auth string, withClose bool, client *fasthttp.Client) {
	b.Run("closed-16", func(b *testing.B) { runPointReads(b, url, host, auth, withClose, client, 0) })
	b.Run("rate-500", func(b *testing.B) { runPointReads(b, url, host, auth, withClose, client, 500) })
}

// runPointReads sends b.N point reads, from 16 clients back to back
// (rate 0) or at a fixed rate per second, and reports throughput and
// latency percentiles.
func runPointReads(b *testing.B, url, host, auth string, withClose bool, client *fasthttp.Client, rate int) {
	var mu sync.Mutex
	all := make([]time.Duration, 0, b.N)
	var failures atomic.Int64
	var firstFailure atomic.Value
	var next atomic.Int64
	workers := 16
	if rate > 0 {
		workers = 64
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			lat := make([]time.Duration, 0, 1024)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					break
				}
				t0 := time.Now()
				if rate > 0 {
					t0 = start.Add(time.Duration(i) * time.Second / time.Duration(rate))
					time.Sleep(time.Until(t0))
				}
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod("POST")
				if host != "" {
					req.UseHostHeader = true
					req.Header.SetHost(host)
				}
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				req.SetBody(pointReadBody(1+rng.IntN(1000), withClose))
				err := client.Do(req, resp)
				lat = append(lat, time.Since(t0))
				if err != nil || resp.StatusCode() != 200 || !bytes.Contains(resp.Body(), []byte(`"type":"text","value":"user`)) {
					if failures.Add(1) == 1 {
						firstFailure.Store(fmt.Sprintf("err=%v status=%d body=%.200s", err, resp.StatusCode(), resp.Body()))
					}
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", n, len(all), firstFailure.Load())
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds())
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func freeAddr(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(tb testing.TB, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("nothing listening on %s", addr)
}

// TestReplicationRefused: the native client's embedded-replica endpoints
// answer at once with what it gives up on (see replication.go): /info and
// the sync endpoints a JSON 404, the gRPC-web replication log
// FAILED_PRECONDITION NAMESPACE_DOESNT_EXIST.
func TestReplicationRefused(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("rep")
	tok := s.Token(tn.ID, proxy.RoleService, 0)
	for _, c := range []struct{ method, path string }{{"GET", "/info"}, {"GET", "/export/1"}, {"POST", "/sync/1/2/3"}} {
		r := s.Do(c.method, proxytest.Host("rep"), c.path, tok, nil)
		if r.Status != 404 || r.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(r.Body), "Embedded replicas") {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	for _, m := range []string{"Hello", "LogEntries", "Snapshot"} {
		r := s.Do("POST", proxytest.Host("rep"), "/wal_log.ReplicationLog/"+m, tok, []byte{0, 0, 0, 0, 0},
			"Content-Type", "application/grpc-web+proto")
		if r.Status != 200 || r.Header.Get("Grpc-Status") != "9" || r.Header.Get("Grpc-Message") != "NAMESPACE_DOESNT_EXIST" ||
			r.Header.Get("Content-Type") != "application/grpc-web+proto" {
			t.Errorf("%s: %d %v", m, r.Status, r.Header)
		}
	}
}

// TestHranaOversizedRequestSeenByClient: a pipeline over the body cap is
// answered 413 after the proxy reads (and discards) what the client is
// still sending, so the Go client reports the 413 itself rather than a
// reset connection, and the next query on the pool works.
func TestHranaOversizedRequestSeenByClient(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("big")
	db := goClientDB(t, s, "big", s.Token(tn.ID, proxy.RoleService, 0))
	_, err := db.Exec("SELECT length(?)", strings.Repeat("x", proxy.MaxRequestBody+1<<20))
	if err == nil || !strings.Contains(err.Error(), "413") || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("oversized pipeline: %v, want the client to report 413 too large", err)
	}
	var n int
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the 413: %d, %v", n, err)
	}
	// @libsql/client: LibsqlError REQUEST_TOO_LARGE (client_test.mjs).
	hranatest.RunJSScript(t, "client_test.mjs", "http://"+proxytest.Host("big"), s.Addr, s.Token(tn.ID, proxy.RoleService, 0), "big",
		"HRANA_BIG_BYTES="+strconv.Itoa(proxy.MaxRequestBody+1<<20))
}
