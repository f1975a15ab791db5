package hrana_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/shard"
)

// testServer is a Handler served on a loopback port, over a real shard
// manager (the only source of tenant connections). Requests choose their
// tenant with the X-Test-Tenant header (default 1) and their principal with
// X-Test-Principal (default "service:1"), standing in for the proxy's host
// routing and JWT checks.
type testServer struct {
	URL   string
	H     *hrana.Handler
	M     *shard.Manager
	Reg   *prometheus.Registry
	Paths map[int64]string
	// DBURLs, when set, puts tenants on a libSQL server (remote_helpers_test.go).
	DBURLs  map[int64]string
	tb      testing.TB
	closeFn func()
}

// mustTenantDB creates a migrated tenant database stamped with tenantID.
func mustTenantDB(tb testing.TB, dir string, tenantID int64) string {
	tb.Helper()
	path := filepath.Join(dir, strconv.FormatInt(tenantID, 10)+".db")
	if err := shard.Provision(context.Background(), "file:"+path, tenantID); err != nil {
		tb.Fatal(err)
	}
	return path
}

// newTestServer serves tenants 1 and 2; shardCfg, if given, adjusts the
// manager's configuration.
func newTestServer(tb testing.TB, cfg hrana.Config, shardCfg ...func(*shard.Config)) *testServer {
	tb.Helper()
	s := &testServer{Reg: prometheus.NewRegistry(), tb: tb}
	mc := shard.Config{DataDir: tb.TempDir(), Registerer: s.Reg}
	for _, f := range shardCfg {
		f(&mc)
	}
	s.M = shard.NewManager(mc)
	s.Paths = map[int64]string{}
	for _, id := range []int64{1, 2} {
		if err := s.M.Provision(context.Background(), id, ""); err != nil {
			tb.Fatal(err)
		}
		s.Paths[id] = s.M.Path(id)
	}
	s.M.Start()
	s.H = hrana.NewHandler(cfg, s.Reg)
	s.H.Start()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			id := int64(1)
			if v := ctx.Request.Header.Peek("X-Test-Tenant"); len(v) > 0 {
				id, _ = strconv.ParseInt(string(v), 10, 64)
			}
			if p, ok := tenantPath(ctx); ok {
				id = p // a remote front reaches its tenants by path
			}
			principal := "service:1"
			if v := ctx.Request.Header.Peek("X-Test-Principal"); len(v) > 0 {
				principal = string(v)
			}
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h, err := s.M.Acquire(c, id, s.DBURLs[id])
			if err != nil {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				ctx.SetBodyString(`{"error":"Tenant unavailable"}`)
				return
			}
			defer h.Release()
			target := hrana.Target{
				TenantID: id, DB: h, Principal: principal,
				ReadOnly: string(ctx.Request.Header.Peek("X-Test-RO")) == "1",
			}
			if websocket.FastHTTPIsWebSocketUpgrade(ctx) {
				// The hello's JWT stands in for the token: "bad" is refused.
				s.H.ServeWS(ctx, "", hrana.WSAuth{
					Authorize: func(jwt string) (hrana.Target, error) {
						if jwt == "bad" {
							return hrana.Target{}, errors.New("Invalid token")
						}
						return target, nil
					},
					Admit: func() (func(), error) { return func() {}, nil },
				})
				return
			}
			s.H.Serve(ctx, hrana.Target{
				TenantID: id, DB: h, Principal: principal,
				ReadOnly: string(ctx.Request.Header.Peek("X-Test-RO")) == "1",
			})
		},
		MaxRequestBodySize: 64 << 20,
	}
	go srv.Serve(ln)
	s.URL = "http://" + ln.Addr().String()
	s.closeFn = func() {
		srv.Shutdown()
		s.H.Close()
		s.M.Close()
	}
	tb.Cleanup(s.closeFn)
	return s
}

// evict closes a tenant's database as the admin API does on suspend or
// restore (Manager.Evict); the next request reopens it.
func (s *testServer) evict(id int64) { s.M.Evict(id) }

// resp is a decoded response.
type resp struct {
	Status      int
	ContentType string
	Raw         string
	Body        map[string]any
}

func (s *testServer) do(method, path, body string, headers ...string) resp {
	s.tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		s.tb.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Raw: string(raw)}
	if strings.HasPrefix(out.ContentType, "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.Body); err != nil {
			s.tb.Fatalf("decode %s: %v", raw, err)
		}
	}
	return out
}

// pipeline posts a v2 pipeline and requires a 200.
func (s *testServer) pipeline(body string, headers ...string) resp {
	s.tb.Helper()
	r := s.do("POST", "/v2/pipeline", body, headers...)
	if r.Status != 200 {
		s.tb.Fatalf("pipeline %s: status %d: %s", body, r.Status, r.Raw)
	}
	return r
}

// exec runs one statement on a fresh stream and closes it.
func (s *testServer) exec(sql string, headers ...string) resp {
	s.tb.Helper()
	b, _ := json.Marshal(sql)
	return s.pipeline(`{"requests":[{"type":"execute","stmt":{"sql":`+string(b)+`}},{"type":"close"}]}`, headers...)
}

// result returns results[i].
func (r resp) result(tb testing.TB, i int) map[string]any {
	tb.Helper()
	results, ok := r.Body["results"].([]any)
	if !ok || i >= len(results) {
		tb.Fatalf("no results[%d] in %s", i, r.Raw)
	}
	return results[i].(map[string]any)
}

// ok returns results[i].response, failing on an error result.
func (r resp) ok(tb testing.TB, i int) map[string]any {
	tb.Helper()
	res := r.result(tb, i)
	if res["type"] != "ok" {
		tb.Fatalf("results[%d] is not ok: %s", i, r.Raw)
	}
	return res["response"].(map[string]any)
}

// errCode returns results[i].error.code, failing on an ok result.
func (r resp) errCode(tb testing.TB, i int) (code, message string) {
	tb.Helper()
	res := r.result(tb, i)
	if res["type"] != "error" {
		tb.Fatalf("results[%d] is not an error: %s", i, r.Raw)
	}
	e := res["error"].(map[string]any)
	return e["code"].(string), e["message"].(string)
}

// rows returns the rows of results[i] as compact JSON.
func (r resp) rows(tb testing.TB, i int) string {
	tb.Helper()
	res := r.ok(tb, i)["result"].(map[string]any)
	b, _ := json.Marshal(res["rows"])
	return string(b)
}

func (r resp) baton() string {
	b, _ := r.Body["baton"].(string)
	return b
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func eq(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if mustJSON(got) != mustJSON(want) {
		tb.Errorf("%s:\n got  %s\n want %s", what, mustJSON(got), mustJSON(want))
	}
}

// jsonEq compares a JSON text with an expected JSON text, ignoring layout.
func jsonEq(tb testing.TB, what, got, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		tb.Fatalf("%s: bad JSON %s", what, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("%s: bad expected JSON %s", what, want)
	}
	eq(tb, what, g, w)
}

func waitFor(tb testing.TB, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
