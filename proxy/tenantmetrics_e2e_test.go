package proxy_test

import (
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/proxy/tenantmetrics"
)

// The per-tenant CPU, database and WAL series, from real SQL over HTTP on
// real tenant files: the two tracked tenants get their own values, the third
// is in "other".
func TestMetrics_TenantCPUAndFiles(t *testing.T) {
	t.Parallel()
	s := startMetricsServer(t, proxytest.Options{TenantMetrics: 2})
	var toks []string
	var ids []int64
	for _, h := range []string{"alpha", "beta", "gamma"} {
		tn := s.CreateTenant(h)
		ids = append(ids, tn.ID)
		if r := s.Do("GET", proxytest.Host(h), "/api/accounts", s.Token(tn.ID, proxy.RoleStaff, 1), nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", h, r.Status, r.Body)
		}
		toks = append(toks, s.Token(tn.ID, proxy.RoleService, 0))
	}
	pipeline := func(host, token string, sql ...string) {
		t.Helper()
		var b strings.Builder
		b.WriteString(`{"requests":[`)
		for _, q := range sql {
			b.WriteString(`{"type":"execute","stmt":{"sql":"` + q + `"}},`)
		}
		b.WriteString(`{"type":"close"}]}`)
		r := s.Do("POST", proxytest.Host(host), "/v2/pipeline", token, b.String())
		if r.Status != 200 || strings.Contains(string(r.Body), `"type":"error"`) {
			t.Fatalf("%s: %d %s", host, r.Status, r.Body)
		}
	}
	const count = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 2000) SELECT count(*) FROM c`
	before := scrape(t, s)
	pipeline("alpha", toks[0], count, "CREATE TABLE junk(b)", "INSERT INTO junk VALUES (zeroblob(2000000))")
	pipeline("gamma", toks[2], count)
	// API calls are charged too (issue 14: API handlers and SQL alike).
	if r := s.Do("GET", proxytest.Host("beta"), "/api/accounts", s.Token(ids[1], proxy.RoleStaff, 1), nil); r.Status != 200 {
		t.Fatalf("beta: %d %s", r.Status, r.Body)
	}
	sc := scrape(t, s)
	cpu := func(host string) float64 {
		return sc.value("tenantgate_tenant_cpu_seconds_total", "tenant", host) - before.value("tenantgate_tenant_cpu_seconds_total", "tenant", host)
	}
	if cpu("alpha") <= 0 || cpu(tenantmetrics.Other) <= 0 {
		t.Errorf("CPU charged: alpha %v, other %v; want both > 0", cpu("alpha"), cpu(tenantmetrics.Other))
	}
	if got := cpu("beta"); got <= 0 {
		t.Errorf("beta's API call was not charged (%v s)", got)
	}
	if got := sc.labelValues("tenantgate_tenant_cpu_seconds_total", "tenant"); strings.Join(got, ",") != "alpha,beta,other" {
		t.Errorf("CPU series for %v, want alpha, beta and other", got)
	}
	files := func(host string) (db, wal float64) {
		return sc.value("tenantgate_tenant_db_bytes", "tenant", host), sc.value("tenantgate_tenant_wal_bytes", "tenant", host)
	}
	// The 2 MB blob is in the WAL or, after a checkpoint, the file.
	if db, wal := files("alpha"); db <= 0 || db+wal < 2e6 {
		t.Errorf("alpha: db %v B, WAL %v B; want the 2 MB blob counted", db, wal)
	}
	if db, _ := files("beta"); db <= 0 {
		t.Errorf("beta: db %v B", db)
	}
	if db, _ := files(tenantmetrics.Other); db <= 0 {
		t.Errorf("other (gamma is open): db %v B", db)
	}
	if got := sc.labelValues("tenantgate_tenant_db_bytes", "tenant"); strings.Join(got, ",") != "alpha,beta,other" {
		t.Errorf("db series for %v, want alpha, beta and other", got)
	}
}
