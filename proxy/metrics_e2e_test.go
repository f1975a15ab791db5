package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/proxy/tenantmetrics"
	"github.com/microfi/tenantgate/shard/storage"
)

// The operational assets these tests prove, relative to this package.
const (
	alertsFile     = "../deploy/prometheus/alerts.yml"
	alertTestsFile = "../deploy/prometheus/alerts_test.yml"
	promConfigFile = "../deploy/prometheus/prometheus.yml"
	dashboardFile  = "../deploy/grafana/tenantgate.json"
)

// requireTool returns the path of an external program the test needs. It
// skips when the program is absent, except in CI, where that is a failure
// (`make test-deps` installs Debian's prometheus package).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (install Debian's prometheus package: make test-deps): %v", name, err)
	}
	t.Skipf("%s not installed (apt-get install prometheus, or make test-deps)", name)
	return ""
}

// scrapeResult is one scrape of the metrics listener.
type scrapeResult struct {
	text     []byte
	families map[string]*dto.MetricFamily
}

// scrape fetches /metrics in the classic text format and parses it.
func scrape(t *testing.T, s *proxytest.Server) scrapeResult {
	t.Helper()
	req, err := http.NewRequest("GET", s.OpsURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return scrapeResult{text: body, families: mfs}
}

// value is the sum of the samples of a counter, gauge or (for histograms and
// summaries) the sample count, over the series whose labels include the
// given name/value pairs. A missing family is 0.
func (r scrapeResult) value(name string, labels ...string) float64 {
	mf := r.families[name]
	if mf == nil {
		return 0
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.GetSummary().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// labelValues returns the distinct values of label over a family.
func (r scrapeResult) labelValues(name, label string) []string {
	var vals []string
	for _, m := range r.families[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && !slices.Contains(vals, lp.GetValue()) {
				vals = append(vals, lp.GetValue())
			}
		}
	}
	slices.Sort(vals)
	return vals
}

// has reports whether a series name from a query exists in the scrape:
// a family, or a histogram/summary family's _bucket, _count or _sum.
func (r scrapeResult) has(series string) bool {
	if _, ok := r.families[series]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(series, suffix)
		if !ok {
			continue
		}
		if mf, ok := r.families[base]; ok && (mf.GetType() == dto.MetricType_HISTOGRAM ||
			(suffix != "_bucket" && mf.GetType() == dto.MetricType_SUMMARY)) {
			return true
		}
	}
	return false
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// delta asserts how much each named value moved between two scrapes.
type delta struct {
	name   string
	labels []string
	want   float64
}

func assertDeltas(t *testing.T, step string, before, after scrapeResult, ds ...delta) {
	t.Helper()
	for _, d := range ds {
		got := after.value(d.name, d.labels...) - before.value(d.name, d.labels...)
		if got != d.want {
			t.Errorf("%s: %s%v moved by %v, want %v", step, d.name, d.labels, got, d.want)
		}
	}
}

// metricsTraffic is a server that has served one request of every kind the
// metrics describe: tenant API successes, cold opens, cache hits, misses and
// negative hits, every auth failure reason, a stamp mismatch, static pages,
// the public and admin hosts.
type metricsTraffic struct {
	s     *proxytest.Server
	alpha catalog.Tenant
	tokA  string // staff of alpha
	tokG  string // staff of gamma, whose db_url is alpha's database
}

// startMetricsServer starts a test proxy whose registry also has the Go and
// process collectors, as `tenantgate serve` registers them.
func startMetricsServer(t *testing.T, opts proxytest.Options) *proxytest.Server {
	t.Helper()
	s := proxytest.Start(t, opts)
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// settleCatalog waits for the catalog's change-log poller (50 ms in
// proxytest) to have seen the tenants just created: it invalidates their
// cache entries once more when it does.
func settleCatalog() { time.Sleep(300 * time.Millisecond) }

func startMetricsTraffic(t *testing.T) *metricsTraffic {
	t.Helper()
	s := startMetricsServer(t, proxytest.Options{TenantMetrics: 5})
	alpha := s.CreateTenant("alpha")
	beta := s.CreateTenant("beta")
	// A catalog row whose db_url points at alpha's database: an operator
	// mistake the stamp check must refuse.
	gamma, err := s.Catalog.Create(t.Context(), catalog.Tenant{
		Host: "gamma", Name: "Gamma", CountryCode: "GH", DBURL: "file:" + s.Shards.Path(alpha.ID),
	})
	if err != nil {
		t.Fatal(err)
	}
	mt := &metricsTraffic{s: s, alpha: alpha, tokA: s.Token(alpha.ID, proxy.RoleStaff, 1), tokG: s.Token(gamma.ID, proxy.RoleStaff, 1)}
	root := proxytest.RootDomain
	expired, _, err := s.Auth.Issue(proxy.Claims{Role: proxy.RoleStaff, TenantID: proxy.Int(alpha.ID)}, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, rq := range []struct {
		host, path, token string
		want              int
	}{
		{proxytest.Host("alpha"), "/api/accounts", mt.tokA, 200},
		{proxytest.Host("alpha"), "/api/accounts", mt.tokA, 200},
		{proxytest.Host("beta"), "/api/accounts", s.Token(beta.ID, proxy.RoleAdmin, 0), 200},
		{proxytest.Host("alpha"), "/", "", 200},
		{proxytest.Host("alpha"), "/api/accounts", "", 401},                                   // missing
		{proxytest.Host("alpha"), "/api/accounts", "not-a-jwt", 401},                          // invalid
		{proxytest.Host("alpha"), "/api/accounts", expired, 401},                              // expired
		{proxytest.Host("alpha"), "/api/accounts", s.Token(beta.ID, proxy.RoleStaff, 1), 401}, // mismatch
		{"admin." + root, "/api/admin/tenants", mt.tokA, 403},                                 // forbidden
		{proxytest.Host("gamma"), "/api/accounts", mt.tokG, 503},                              // stamp mismatch
		{proxytest.Host("nobody"), "/api/accounts", mt.tokA, 404},                             // cache miss (negative)
		{proxytest.Host("nobody"), "/api/accounts", mt.tokA, 404},                             // negative hit
		{root, "/", "", 200},
	} {
		r := s.Do("GET", rq.host, rq.path, rq.token, nil)
		if r.Status != rq.want {
			t.Fatalf("GET %s%s: %d %s, want %d", rq.host, rq.path, r.Status, r.Body, rq.want)
		}
	}
	sqlPipeline(t, s, proxytest.Host("alpha"), s.Token(alpha.ID, proxy.RoleService, 0))
	return mt
}

// sqlPipeline runs one read statement over Hrana v2.
func sqlPipeline(t *testing.T, s *proxytest.Server, host, token string) {
	t.Helper()
	body := `{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM accounts"}},{"type":"close"}]}`
	r := s.Do("POST", host, "/v2/pipeline", token, body)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"type":"ok"`) {
		t.Fatalf("POST /v2/pipeline: %d %s", r.Status, r.Body)
	}
}

// legacyTenantDB registers tenant id (host "legacy<id>") whose database
// file has only the first tenant migration applied, then extraSQL.
func legacyTenantDB(t *testing.T, s *proxytest.Server, id int64, extraSQL string) {
	t.Helper()
	ctx := t.Context()
	if err := os.MkdirAll(filepath.Dir(s.Shards.Path(id)), 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, "file:"+s.Shards.Path(id))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrations.Apply(ctx, db, migrations.Tenant.Migrations[0], false); err != nil {
		t.Fatal(err)
	}
	if err := storage.Stamp(ctx, db, id); err != nil {
		t.Fatal(err)
	}
	if extraSQL != "" {
		if _, err := db.ExecContext(ctx, extraSQL); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Catalog.Create(ctx, catalog.Tenant{ID: id, Host: fmt.Sprintf("legacy%d", id), Name: "Legacy", CountryCode: "GH"}); err != nil {
		t.Fatal(err)
	}
}

// TestMetrics_ValuesMove drives each event the catalogue describes and
// checks that exactly the right series move.
func TestMetrics_ValuesMove(t *testing.T) {
	t.Parallel()
	s := startMetricsServer(t, proxytest.Options{TenantMetrics: 5})
	alpha := s.CreateTenant("alpha")
	beta := s.CreateTenant("beta")
	settleCatalog()
	tokA := s.Token(alpha.ID, proxy.RoleStaff, 1)
	tokB := s.Token(beta.ID, proxy.RoleStaff, 1)
	hostA := proxytest.Host("alpha")
	get := func(host, token string, want int) {
		t.Helper()
		if r := s.Do("GET", host, "/api/accounts", token, nil); r.Status != want {
			t.Fatalf("GET %s: %d %s, want %d", host, r.Status, r.Body, want)
		}
	}

	t.Run("CacheMissThenHit", func(t *testing.T) {
		// The change-log poller invalidates a new tenant's host once more
		// when it sees the creation. settleCatalog waits for that; should a
		// loaded machine delay the poll further, the pair is retried with a
		// fresh tenant rather than misread.
		for attempt := range 3 {
			label := fmt.Sprintf("cache%d", attempt)
			tn := s.CreateTenant(label)
			tok := s.Token(tn.ID, proxy.RoleStaff, 1)
			settleCatalog()
			b := scrape(t, s)
			get(proxytest.Host(label), tok, 200)
			m := scrape(t, s)
			assertDeltas(t, "first lookup", b, m,
				delta{"tenantgate_catalog_cache_misses_total", nil, 1},
				delta{"tenantgate_catalog_cache_hits_total", nil, 0},
				delta{"tenantgate_catalog_lookup_duration_seconds", nil, 1})
			get(proxytest.Host(label), tok, 200)
			a := scrape(t, s)
			if attempt < 2 && a.value("tenantgate_catalog_cache_misses_total")-m.value("tenantgate_catalog_cache_misses_total") == 1 {
				t.Logf("a late change-log poll invalidated %s; retrying", label)
				continue
			}
			assertDeltas(t, "second lookup", m, a,
				delta{"tenantgate_catalog_cache_misses_total", nil, 0},
				delta{"tenantgate_catalog_cache_hits_total", nil, 1},
				delta{"tenantgate_catalog_lookup_duration_seconds", nil, 0})
			return
		}
	})

	t.Run("NegativeHit", func(t *testing.T) {
		b := scrape(t, s)
		get(proxytest.Host("ghost"), tokA, 404)
		get(proxytest.Host("ghost"), tokA, 404)
		a := scrape(t, s)
		assertDeltas(t, "unknown host twice", b, a,
			delta{"tenantgate_catalog_cache_misses_total", nil, 1},
			delta{"tenantgate_catalog_cache_negative_hits_total", nil, 1},
			delta{"tenantgate_http_requests_total", []string{"status", "404"}, 2})
	})

	t.Run("ColdOpen", func(t *testing.T) {
		s.Shards.Evict(alpha.ID)
		b := scrape(t, s)
		get(hostA, tokA, 200)
		m := scrape(t, s)
		assertDeltas(t, "after eviction", b, m,
			delta{"tenantgate_tenant_db_opens_total", []string{"result", "ok"}, 1},
			delta{"tenantgate_tenant_db_open_duration_seconds", nil, 1})
		if got := m.value("tenantgate_tenant_db_open"); got < 1 {
			t.Errorf("tenantgate_tenant_db_open = %v, want >= 1", got)
		}
		get(hostA, tokA, 200)
		a := scrape(t, s)
		assertDeltas(t, "warm", m, a,
			delta{"tenantgate_tenant_db_opens_total", []string{"result", "ok"}, 0},
			delta{"tenantgate_tenant_db_open_duration_seconds", nil, 0})
	})

	t.Run("AuthFailures", func(t *testing.T) {
		expired, _, err := s.Auth.Issue(proxy.Claims{Role: proxy.RoleStaff, TenantID: proxy.Int(alpha.ID)}, -time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		reasons := []string{"missing", "invalid", "expired", "mismatch", "forbidden"}
		for _, tc := range []struct {
			reason, host, path, token string
			want                      int
		}{
			{"missing", hostA, "/api/accounts", "", 401},
			{"invalid", hostA, "/api/accounts", "eyJhbGciOiJIUzI1NiJ9.e30.bad", 401},
			{"expired", hostA, "/api/accounts", expired, 401},
			{"mismatch", hostA, "/api/accounts", tokB, 401},
			{"forbidden", "admin." + proxytest.RootDomain, "/api/admin/tenants", tokA, 403},
		} {
			b := scrape(t, s)
			if r := s.Do("GET", tc.host, tc.path, tc.token, nil); r.Status != tc.want {
				t.Fatalf("%s: %d %s, want %d", tc.reason, r.Status, r.Body, tc.want)
			}
			a := scrape(t, s)
			for _, other := range reasons {
				want := 0.0
				if other == tc.reason {
					want = 1
				}
				assertDeltas(t, tc.reason, b, a, delta{"tenantgate_auth_failures_total", []string{"reason", other}, want})
			}
		}
	})

	t.Run("StampMismatch", func(t *testing.T) {
		// gamma's catalog row points at alpha's database file.
		gamma, err := s.Catalog.Create(t.Context(), catalog.Tenant{
			Host: "gamma", Name: "Gamma", CountryCode: "GH", DBURL: "file:" + s.Shards.Path(alpha.ID),
		})
		if err != nil {
			t.Fatal(err)
		}
		b := scrape(t, s)
		r := s.Do("GET", proxytest.Host("gamma"), "/api/accounts", s.Token(gamma.ID, proxy.RoleStaff, 1), nil)
		if r.Status != 503 || r.Error() != "Tenant unavailable" {
			t.Fatalf("stamp mismatch: %d %s, want 503 Tenant unavailable", r.Status, r.Body)
		}
		a := scrape(t, s)
		assertDeltas(t, "stamp mismatch", b, a,
			delta{"tenantgate_tenant_db_open_failures_total", []string{"reason", "stamp_mismatch"}, 1},
			delta{"tenantgate_tenant_db_opens_total", []string{"result", "ok"}, 0},
			delta{"tenantgate_http_requests_total", []string{"status", "503"}, 1})
		for _, other := range []string{"schema", "not_found", "backend"} {
			assertDeltas(t, "stamp mismatch", b, a, delta{"tenantgate_tenant_db_open_failures_total", []string{"reason", other}, 0})
		}
	})

	t.Run("MigrateOnOpen", func(t *testing.T) {
		// Tenant 900's database is at schema 1: opening it applies 0002.
		legacyTenantDB(t, s, 900, "")
		tok := s.Token(900, proxy.RoleStaff, 1)
		b := scrape(t, s)
		get(proxytest.Host("legacy900"), tok, 200)
		a := scrape(t, s)
		assertDeltas(t, "open at an old schema", b, a,
			delta{"tenantgate_migrations_applied_total", nil, float64(len(migrations.Tenant.Migrations) - 1)},
			delta{"tenantgate_migrations_failed_total", nil, 0},
			delta{"tenantgate_tenant_db_opens_total", []string{"result", "ok"}, 1})
	})

	t.Run("MigrationFails", func(t *testing.T) {
		// Tenant 901's database already has an object 0002 creates, so the
		// migration fails and the tenant is refused.
		legacyTenantDB(t, s, 901, `CREATE TRIGGER users_tenant_guard_insert BEFORE INSERT ON users BEGIN SELECT 1; END`)
		b := scrape(t, s)
		r := s.Do("GET", proxytest.Host("legacy901"), "/api/accounts", s.Token(901, proxy.RoleStaff, 1), nil)
		if r.Status != 503 || r.Error() != "Tenant unavailable" {
			t.Fatalf("failed migration: %d %s, want 503 Tenant unavailable", r.Status, r.Body)
		}
		a := scrape(t, s)
		assertDeltas(t, "failed migration", b, a,
			delta{"tenantgate_migrations_applied_total", nil, 0},
			delta{"tenantgate_migrations_failed_total", nil, 1},
			delta{"tenantgate_tenant_db_opens_total", []string{"result", "ok"}, 0},
			delta{"tenantgate_tenant_db_open_failures_total", nil, 1})
	})

	t.Run("SQLOverHTTP", func(t *testing.T) {
		b := scrape(t, s)
		sqlPipeline(t, s, hostA, s.Token(alpha.ID, proxy.RoleService, 0))
		a := scrape(t, s)
		assertDeltas(t, "one Hrana pipeline", b, a,
			delta{"tenantgate_hrana_pipelines_total", []string{"endpoint", "v2"}, 1},
			delta{"tenantgate_hrana_statements_total", []string{"kind", "read"}, 1},
			delta{"tenantgate_hrana_statements_total", []string{"kind", "write"}, 0},
			delta{"tenantgate_hrana_statement_duration_seconds", []string{"kind", "read"}, 1},
			delta{"tenantgate_http_requests_total", []string{"class", "sql", "method", "POST", "status", "200"}, 1})
	})

	t.Run("RequestsAndLatency", func(t *testing.T) {
		b := scrape(t, s)
		get(hostA, tokA, 200)
		a := scrape(t, s)
		assertDeltas(t, "one tenant API request", b, a,
			delta{"tenantgate_http_requests_total", []string{"class", "tenant_api", "method", "GET", "status", "200"}, 1},
			delta{"tenantgate_http_request_duration_seconds", []string{"class", "tenant_api"}, 1},
			delta{"tenantgate_tenant_requests_total", []string{"tenant", "alpha"}, 1})
		if got := a.value("tenantgate_http_requests_in_flight"); got != 0 {
			t.Errorf("in flight between requests = %v, want 0", got)
		}
		if got := a.value("tenantgate_build_info", "goversion", runtime.Version(), "version", proxy.BuildVersion()); got != 1 || proxy.BuildVersion() == "" {
			t.Errorf("tenantgate_build_info{goversion=%q,version=%q} = %v, want 1", runtime.Version(), proxy.BuildVersion(), got)
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if !a.has(name) {
				t.Errorf("no %s: Go and process collectors not registered", name)
			}
		}
	})
}

// TestMetrics_PromtoolCheckMetrics lints a live scrape taken after real
// traffic with promtool.
func TestMetrics_PromtoolCheckMetrics(t *testing.T) {
	t.Parallel()
	promtool := requireTool(t, "promtool")
	mt := startMetricsTraffic(t)
	sc := scrape(t, mt.s)
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(sc.text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetrics_PromtoolRules validates the alert rules and runs their unit
// tests.
func TestMetrics_PromtoolRules(t *testing.T) {
	t.Parallel()
	promtool := requireTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"check", "config", promConfigFile},
		{"test", "rules", alertTestsFile},
	} {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// seriesNamePattern finds the series names in PromQL text: ours, the Go and
// process collectors', and Prometheus' own up.
var seriesNamePattern = regexp.MustCompile(`\b(?:tenantgate|go|process)_[a-z0-9_]+\b|\bup\b`)

// dashboardQueries returns every PromQL expression in the dashboard,
// including template variable queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(dash)
	if len(exprs) < 30 {
		t.Fatalf("dashboard has only %d queries", len(exprs))
	}
	return exprs
}

// alertQueries returns the expr of every alert rule.
func alertQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	// The rules file is YAML; its exprs are either one line or a block
	// scalar, so collect the indented lines under each "expr:".
	var exprs []string
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		key := strings.Index(l, "expr:")
		if key < 0 || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		rest := strings.TrimSpace(l[key+len("expr:"):])
		if rest != "|" && rest != ">" {
			exprs = append(exprs, rest)
			continue
		}
		var b strings.Builder
		for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indent(lines[i+1]) > indent(l)) {
			i++
			b.WriteString(lines[i])
			b.WriteByte('\n')
		}
		exprs = append(exprs, b.String())
	}
	if len(exprs) < 8 {
		t.Fatalf("found %d alert exprs in %s, want >= 8", len(exprs), alertsFile)
	}
	return exprs
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// seriesNames returns the distinct series names the queries use.
func seriesNames(queries []string) []string {
	var names []string
	for _, q := range queries {
		for _, n := range seriesNamePattern.FindAllString(q, -1) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestMetrics_RulesAndDashboardUseRealNames cross-checks every series name
// used by the alert rules and the dashboard against a live scrape.
func TestMetrics_RulesAndDashboardUseRealNames(t *testing.T) {
	t.Parallel()
	mt := startMetricsTraffic(t)
	sc := scrape(t, mt.s)
	for _, src := range []struct {
		file    string
		queries []string
	}{
		{alertsFile, alertQueries(t)},
		{dashboardFile, dashboardQueries(t)},
	} {
		names := seriesNames(src.queries)
		if len(names) < 5 {
			t.Fatalf("%s: only %d series names found: %v", src.file, len(names), names)
		}
		for _, n := range names {
			if n == "up" { // written by Prometheus itself
				continue
			}
			if !sc.has(n) {
				t.Errorf("%s uses %s, which the proxy does not expose", src.file, n)
			}
		}
	}
}

// TestMetrics_TenantCardinality: 500 tenants with traffic and
// --tenant-metrics 10 give at most 11 tenant label values.
func TestMetrics_TenantCardinality(t *testing.T) {
	t.Parallel()
	s := startMetricsServer(t, proxytest.Options{TenantMetrics: 10, Configure: func(c *proxy.Config) {
		c.TenantMetricsInterval = 50 * time.Millisecond
	}})
	const tenants = 500
	ctx := t.Context()
	start := time.Now()
	// Catalog rows are enough: the tenant dashboard page needs no database.
	hosts := make([]string, tenants)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("t%03d", i)
		if _, err := s.Catalog.Create(ctx, catalog.Tenant{Host: hosts[i], Name: "T " + hosts[i], CountryCode: "KE"}); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Now()
	// Every tenant gets a request; t007, t123 and t456 get far more.
	heavy := []string{"t007", "t123", "t456"}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for h := range work {
				if r := s.Do("GET", proxytest.Host(h), "/", "", nil); r.Status != 200 {
					t.Errorf("GET %s: %d", h, r.Status)
				}
			}
		})
	}
	for i, h := range hosts {
		work <- h
		if i%10 == 0 {
			work <- heavy[(i/10)%3]
			work <- heavy[(i/10+1)%3]
		}
	}
	close(work)
	wg.Wait()

	check := func(stage string) scrapeResult {
		t.Helper()
		sc := scrape(t, s)
		vals := map[string]bool{}
		for name, mf := range sc.families {
			if !strings.HasPrefix(name, "tenantgate_") {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "tenant" {
						vals[lp.GetValue()] = true
					}
				}
			}
		}
		if len(vals) > 11 || !vals["other"] {
			t.Fatalf("%s: %d tenant label values (want <= 11, with \"other\"): %v", stage, len(vals), vals)
		}
		return sc
	}
	sc := check("after traffic")
	// Tenants without a slot are counted in "other"; nothing is counted
	// twice (series of tenants that drop out are deleted, never merged).
	sent := float64(tenants + 2*tenants/10)
	if got := sc.value("tenantgate_tenant_requests_total", "tenant", tenantmetrics.Other); got < 1 {
		t.Errorf("tenant=other counted %v requests, want some", got)
	}
	if got := sc.value("tenantgate_tenant_requests_total"); got > sent {
		t.Errorf("tenant series hold %v requests, more than the %v sent", got, sent)
	}
	t.Logf("%d tenants: created in %v, %d requests in %v", tenants, created.Sub(start), tenants+2*tenants/10, time.Since(created))
	// After a re-rank the heavy tenants hold their own series.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc = check("after re-rank")
		tracked := sc.labelValues("tenantgate_tenant_requests_total", "tenant")
		if slices.Contains(tracked, "t007") && slices.Contains(tracked, "t123") && slices.Contains(tracked, "t456") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heavy tenants never tracked: %v", tracked)
		}
		// Keep the heavy tenants busy so they rank first.
		for _, h := range heavy {
			s.Do("GET", proxytest.Host(h), "/", "", nil)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// prometheusServer is a real Prometheus scraping the proxy on loopback.
type prometheusServer struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// startPrometheus runs Debian's prometheus with a 1 s scrape of the proxy's
// metrics listener, the alert rules loaded, storage in a temp dir.
func startPrometheus(t *testing.T, target string, features ...string) *prometheusServer {
	t.Helper()
	bin := requireTool(t, "prometheus")
	dir := t.TempDir()
	rules, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: tenantgate
    static_configs:
      - targets: [%q]
`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	args := []string{
		"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}
	if len(features) > 0 {
		args = append(args, "--enable-feature="+strings.Join(features, ","))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &prometheusServer{url: "http://" + addr, cmd: cmd, log: &log}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeLoopbackAddr picks a free loopback port for a child process.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// promResult is an instant query answer: one sample per series.
type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (r promResult) float() float64 {
	s, _ := r.Value[1].(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// query runs an instant query; it fails the test on an API error.
func (p *prometheusServer) query(t *testing.T, q string) []promResult {
	t.Helper()
	resp, err := http.PostForm(p.url+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: decode: %v", q, err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s: %s", q, body.ErrorType, body.Error)
	}
	var res []promResult
	switch body.Data.ResultType {
	case "vector":
		if err := json.Unmarshal(body.Data.Result, &res); err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
	case "scalar":
		var v [2]any
		json.Unmarshal(body.Data.Result, &v)
		res = []promResult{{Value: v}}
	}
	return res
}

// eventually polls a query until ok accepts its result.
// names lists every metric name ingested from the proxy so far. It asks
// the label API, not an instant query: one scrape that timed out on a
// loaded machine marks the target's series stale, and an instant query
// would then miss names that were ingested.
func (p *prometheusServer) names(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/label/__name__/values?" + url.Values{"match[]": {`{job="tenantgate"}`}}.Encode())
	if err != nil {
		t.Fatalf("metric names: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("metric names: %v %s", err, body.Error)
	}
	return body.Data
}

func (p *prometheusServer) eventually(t *testing.T, q string, ok func([]promResult) bool) []promResult {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		res := p.query(t, q)
		if ok(res) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: never satisfied, last result %v", q, res)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func positive(res []promResult) bool {
	for _, r := range res {
		if f := r.float(); f > 0 && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return true
		}
	}
	return false
}

// TestMetrics_RealPrometheus scrapes the proxy with a real Prometheus while
// traffic flows, queries the request counter and a latency quantile, loads
// the alert rules, runs every dashboard query, and checks that every series
// the rules and dashboard use was ingested. A second Prometheus with native
// histograms enabled computes the quantile from the native histogram.
func TestMetrics_RealPrometheus(t *testing.T) {
	t.Parallel()
	requireTool(t, "prometheus")
	mt := startMetricsTraffic(t)
	target := strings.TrimPrefix(mt.s.OpsURL, "http://")
	classic := startPrometheus(t, target)
	native := startPrometheus(t, target, "native-histograms")

	// Traffic flows for the whole test.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		hosts := []string{"alpha", "alpha", "beta", "nobody"}
		for i := 0; ctx.Err() == nil; i++ {
			h := hosts[i%len(hosts)]
			tok := mt.tokA
			if h == "beta" {
				tok = ""
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", mt.s.URL+"/api/accounts", nil)
			req.Host = proxytest.Host(h)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if resp, err := mt.s.Client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	defer func() { stop(); wg.Wait() }()

	classic.eventually(t, `up{job="tenantgate"}`, positive)
	res := classic.eventually(t, `sum(tenantgate_http_requests_total{job="tenantgate",class="tenant_api",status="200"})`, positive)
	t.Logf("requests counter: %v", res[0].float())
	res = classic.eventually(t,
		`histogram_quantile(0.99, sum by (le) (rate(tenantgate_http_request_duration_seconds_bucket{job="tenantgate",class="tenant_api"}[10s])))`,
		positive)
	t.Logf("p99 tenant_api latency (classic buckets): %.6fs", res[0].float())
	res = native.eventually(t,
		`histogram_quantile(0.99, sum(rate(tenantgate_http_request_duration_seconds{job="tenantgate",class="tenant_api"}[10s])))`,
		positive)
	t.Logf("p99 tenant_api latency (native histogram): %.6fs", res[0].float())

	// Every series the rules and dashboard use was ingested (the dashboard's
	// native-histogram panel by the native Prometheus).
	ingested := map[string]bool{}
	for _, p := range []*prometheusServer{classic, native} {
		for _, n := range p.names(t) {
			ingested[n] = true
		}
	}
	for _, n := range seriesNames(append(alertQueries(t), dashboardQueries(t)...)) {
		if !ingested[n] {
			t.Errorf("rules or dashboard use %s, which Prometheus never ingested", n)
		}
	}

	// Every dashboard query runs without error against real data.
	vars := strings.NewReplacer("$__rate_interval", "10s", "$__range", "5m", "$job", "tenantgate", "$instance", ".*", "$tenant", ".*")
	for _, q := range dashboardQueries(t) {
		if strings.HasPrefix(q, "label_values(") {
			continue // a Grafana template function, not PromQL
		}
		classic.query(t, vars.Replace(q))
	}

	// The rules loaded and evaluate without errors.
	resp, err := http.Get(classic.url + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	var loaded []string
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			loaded = append(loaded, r.Name)
			if r.Health == "err" {
				t.Errorf("rule %s: %s", r.Name, r.LastError)
			}
		}
	}
	if len(loaded) < 8 {
		t.Fatalf("Prometheus loaded %d rules: %v", len(loaded), loaded)
	}
	// A stamp mismatch while Prometheus watches raises its alert.
	if r := mt.s.Do("GET", proxytest.Host("gamma"), "/api/accounts", mt.tokG, nil); r.Status != 503 {
		t.Fatalf("gamma: %d %s, want 503", r.Status, r.Body)
	}
	classic.eventually(t, `ALERTS{alertname="TenantgateStampMismatch",alertstate="firing"}`, positive)
}

// TestAlertRules_EveryAlertHasAUnitTest checks that alerts_test.yml has a
// firing case for every alert in alerts.yml, and covers the issue's list.
func TestAlertRules_EveryAlertHasAUnitTest(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		alerts = append(alerts, m[1])
	}
	// A firing case: "alertname: X" followed (before the next alertname) by
	// a non-empty exp_alerts list.
	firing := map[string]bool{}
	cases := regexp.MustCompile(`(?m)^\s*alertname: (\w+)\n\s*exp_alerts:(.*)`).FindAllStringSubmatch(string(tests), -1)
	for _, c := range cases {
		if strings.TrimSpace(c[2]) != "[]" {
			firing[c[1]] = true
		}
	}
	for _, a := range alerts {
		if !firing[a] {
			t.Errorf("alert %s has no firing case in %s", a, alertTestsFile)
		}
	}
	for _, want := range []string{
		"TenantgateHigh5xxRatio", "TenantgateLatencyP99High", "TenantgateCatalogUnreachable",
		"TenantgateTenantOpenFailures", "TenantgateStampMismatch", "TenantgateAuthFailureSpike",
		"TenantgateTenantThrottled", "TenantgateTargetDown",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts.yml has no %s", want)
		}
	}
}

// TestDashboard_Importable checks the dashboard's shape as Grafana imports
// it: a data source variable every panel uses, unique panel ids, panels
// inside the 24-column grid, and the rows the SREs expect.
func TestDashboard_Importable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	}
	var dash struct {
		Title         string  `json:"title"`
		UID           string  `json:"uid"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion < 30 {
		t.Fatalf("dashboard title %q uid %q schemaVersion %d", dash.Title, dash.UID, dash.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["job"] == "" || vars["instance"] == "" || vars["tenant"] == "" {
		t.Fatalf("template variables = %v, want datasource, job, instance, tenant", vars)
	}
	ids := map[int]bool{}
	var rows []string
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q outside the grid: %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the $datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
		}
	}
	for _, want := range []string{"Traffic", "Latency", "Errors", "Catalog cache", "Tenant databases", "Auth", "SQL streams", "Per tenant"} {
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("no %q row; rows: %v", want, rows)
		}
	}
}
