package tenantmetrics_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/microfi/tenantgate/proxy/tenantmetrics"
)

// tenantLabels gathers reg and returns the distinct tenant label values over
// every tenantgate_tenant_* family, and the number of series per family.
func tenantLabels(t *testing.T, reg *prometheus.Registry) (values []string, series map[string]int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	seen := map[string]bool{}
	series = map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "tenant" {
					seen[lp.GetValue()] = true
					series[mf.GetName()]++
				}
			}
		}
	}
	for v := range seen {
		values = append(values, v)
	}
	slices.Sort(values)
	return values, series
}

func TestTenantSeries_Disabled(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 0)
	if ts != nil {
		t.Fatalf("New(reg, 0) = %v, want nil", ts)
	}
	// A nil Series is inert: the server can call it unconditionally.
	ts.Observe("acme", 200, time.Millisecond)
	ts.Rerank()
	ts.Run(t.Context()) // returns at once
	if got := ts.Tracked(); got != nil {
		t.Fatalf("Tracked() = %v, want nil", got)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Fatalf("GatherAndCount = %d, %v; want 0 series", n, err)
	}
}

func TestTenantSeries_Values(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 5)
	for _, status := range []int{200, 201, 404, 429, 503, 500} {
		ts.Observe("acme", status, 3*time.Millisecond)
	}
	want := `
# HELP tenantgate_tenant_request_errors_total Tenant-host responses with a 4xx or 5xx status, by status class, for the busiest tenants; all others are tenant="other".
# TYPE tenantgate_tenant_request_errors_total counter
tenantgate_tenant_request_errors_total{status_class="4xx",tenant="acme"} 2
tenantgate_tenant_request_errors_total{status_class="4xx",tenant="other"} 0
tenantgate_tenant_request_errors_total{status_class="5xx",tenant="acme"} 2
tenantgate_tenant_request_errors_total{status_class="5xx",tenant="other"} 0
# HELP tenantgate_tenant_requests_total Requests served on tenant hosts, for the busiest tenants (see --tenant-metrics); all others are tenant="other".
# TYPE tenantgate_tenant_requests_total counter
tenantgate_tenant_requests_total{tenant="acme"} 6
tenantgate_tenant_requests_total{tenant="other"} 0
# HELP tenantgate_tenant_throttled_requests_total Tenant-host requests refused with 429 by the per-tenant limits, for the busiest tenants; all others are tenant="other".
# TYPE tenantgate_tenant_throttled_requests_total counter
tenantgate_tenant_throttled_requests_total{tenant="acme"} 1
tenantgate_tenant_throttled_requests_total{tenant="other"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tenantgate_tenant_requests_total", "tenantgate_tenant_request_errors_total",
		"tenantgate_tenant_throttled_requests_total"); err != nil {
		t.Fatal(err)
	}
	h := histogramOf(t, reg, "tenantgate_tenant_request_duration_seconds", "acme")
	if got, want := h.GetSampleCount(), uint64(6); got != want {
		t.Fatalf("histogram count = %d, want %d", got, want)
	}
	if got, want := h.GetSampleSum(), 0.018; got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("histogram sum = %v, want %v", got, want)
	}
	// Native histogram buckets are exposed too (protobuf exposition).
	if h.GetSchema() == 0 && len(h.GetPositiveSpan()) == 0 {
		t.Fatalf("histogram has no native buckets: %v", h)
	}
}

func TestTenantSeries_CardinalityBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 10)
	// 500 tenants, tenant i gets i%7+1 requests, plus three clear heavy hitters.
	for i := range 500 {
		host := fmt.Sprintf("t%03d", i)
		for range i%7 + 1 {
			ts.Observe(host, 200, time.Millisecond)
		}
	}
	for _, h := range []string{"big1", "big2", "big3"} {
		for range 500 {
			ts.Observe(h, 200, time.Millisecond)
		}
	}
	check := func(stage string) {
		t.Helper()
		values, series := tenantLabels(t, reg)
		if len(values) > 11 {
			t.Fatalf("%s: %d tenant label values, want <= 11: %v", stage, len(values), values)
		}
		if !slices.Contains(values, tenantmetrics.Other) {
			t.Fatalf("%s: no tenant=%q series: %v", stage, tenantmetrics.Other, values)
		}
		if got := series["tenantgate_tenant_requests_total"]; got > 11 {
			t.Fatalf("%s: %d request series, want <= 11", stage, got)
		}
	}
	check("before rerank")
	ts.Rerank()
	check("after rerank")
	tracked := ts.Tracked()
	if len(tracked) != 10 {
		t.Fatalf("Tracked() = %v, want 10 tenants", tracked)
	}
	for _, h := range []string{"big1", "big2", "big3"} {
		if !slices.Contains(tracked, h) {
			t.Errorf("heavy tenant %s not tracked: %v", h, tracked)
		}
	}
}

func TestTenantSeries_DropOutDeletesSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 2)
	ts.Observe("early1", 200, time.Millisecond)
	ts.Observe("early2", 200, time.Millisecond)
	if got, want := ts.Tracked(), []string{"early1", "early2"}; !slices.Equal(got, want) {
		t.Fatalf("free slots: Tracked() = %v, want %v", got, want)
	}
	// The set is full: a third tenant goes to "other" until the next re-rank.
	for range 50 {
		ts.Observe("busy1", 200, time.Millisecond)
		ts.Observe("busy2", 500, time.Millisecond)
	}
	if got := counterValue(t, reg, "tenantgate_tenant_requests_total", tenantmetrics.Other); got != 100 {
		t.Fatalf("other requests = %v, want 100", got)
	}
	ts.Rerank()
	if got, want := ts.Tracked(), []string{"busy1", "busy2"}; !slices.Equal(got, want) {
		t.Fatalf("after rerank: Tracked() = %v, want %v", got, want)
	}
	values, _ := tenantLabels(t, reg)
	if want := []string{"busy1", "busy2", tenantmetrics.Other}; !slices.Equal(values, want) {
		t.Fatalf("tenant label values = %v, want %v (dropped tenants' series deleted)", values, want)
	}
	// New traffic for a dropped tenant lands in "other" and never
	// re-creates its series.
	ts.Observe("early1", 200, time.Millisecond)
	values, _ = tenantLabels(t, reg)
	if slices.Contains(values, "early1") {
		t.Fatalf("dropped tenant re-created: %v", values)
	}
}

func TestTenantSeries_RecentTrafficWins(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 1)
	for range 100 {
		ts.Observe("yesterday", 200, time.Millisecond)
	}
	ts.Rerank()
	if got := ts.Tracked(); !slices.Equal(got, []string{"yesterday"}) {
		t.Fatalf("Tracked() = %v", got)
	}
	// Counts halve at every re-rank: a tenant that stops sending loses its
	// place to one that is busy now.
	for i := range 4 {
		for range 40 {
			ts.Observe("today", 200, time.Millisecond)
		}
		ts.Rerank()
		if i == 3 && !slices.Equal(ts.Tracked(), []string{"today"}) {
			t.Fatalf("after %d reranks Tracked() = %v, want [today]", i+1, ts.Tracked())
		}
	}
}

func TestTenantSeries_OtherHostNeverTracked(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 3)
	for range 10 {
		ts.Observe(tenantmetrics.Other, 200, time.Millisecond)
	}
	ts.Rerank()
	if got := ts.Tracked(); len(got) != 0 {
		t.Fatalf("Tracked() = %v, want none", got)
	}
	if got := counterValue(t, reg, "tenantgate_tenant_requests_total", tenantmetrics.Other); got != 10 {
		t.Fatalf("other requests = %v, want 10", got)
	}
}

func TestTenantSeries_Run(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 1)
	ts.Interval = 5 * time.Millisecond
	ts.Observe("first", 200, time.Millisecond)
	for range 20 {
		ts.Observe("second", 200, time.Millisecond)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { ts.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(ts.Tracked(), []string{"second"}) {
		if time.Now().After(deadline) {
			t.Fatalf("Run never re-ranked: Tracked() = %v", ts.Tracked())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTenantSeries_Concurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 10)
	var wg sync.WaitGroup
	const workers, perWorker = 4, 2000
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				ts.Observe(fmt.Sprintf("t%d", (i*(w+1))%300), 200+(i%4)*100, time.Duration(i)*time.Microsecond)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			ts.Rerank()
		}
	})
	wg.Wait()
	values, _ := tenantLabels(t, reg)
	if len(values) > 11 {
		t.Fatalf("%d tenant label values, want <= 11: %v", len(values), values)
	}
}

func TestTenantSeries_ObserveDoesNotAllocate(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 2)
	ts.Observe("tracked", 200, time.Millisecond)
	ts.Observe("tracked2", 200, time.Millisecond)
	for _, host := range []string{"tracked", "untracked"} {
		if n := testing.AllocsPerRun(1000, func() { ts.Observe(host, 200, time.Millisecond) }); n != 0 {
			t.Errorf("Observe(%q) allocates %v times per call, want 0", host, n)
		}
	}
}

func BenchmarkTenantSeriesObserve(b *testing.B) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 10)
	hosts := make([]string, 1000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("tenant%04d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			// Skewed traffic: half of it goes to ten tenants.
			h := hosts[i%1000]
			if i%2 == 0 {
				h = hosts[i%10]
			}
			ts.Observe(h, 200, time.Millisecond)
			i++
		}
	})
}

// findMetric gathers reg and returns the series of family name whose tenant
// label is tenant.
func findMetric(t *testing.T, reg *prometheus.Registry, name, tenant string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "tenant" && lp.GetValue() == tenant {
					return m
				}
			}
		}
	}
	t.Fatalf("no %s{tenant=%q} series", name, tenant)
	return nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, tenant string) float64 {
	t.Helper()
	return findMetric(t, reg, name, tenant).GetCounter().GetValue()
}

func histogramOf(t *testing.T, reg *prometheus.Registry, name, tenant string) *dto.Histogram {
	t.Helper()
	return findMetric(t, reg, name, tenant).GetHistogram()
}

// CPU is charged by catalog id: to the tracked tenant's own series when its
// id is known, to "other" otherwise; after a re-rank the id stays bound.
func TestTenantSeries_CPU(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 2)
	ts.ObserveTenant(7, "acme", 200, time.Millisecond)
	ts.ObserveTenant(8, "bravo", 200, time.Millisecond)
	ts.ObserveTenant(9, "charlie", 200, time.Millisecond) // no slot left: "other"
	ts.AddCPU(7, 1500*time.Millisecond)
	ts.AddCPU(9, 250*time.Millisecond)
	ts.AddCPU(42, 250*time.Millisecond) // never seen
	want := `
# HELP tenantgate_tenant_cpu_seconds_total Time the tenant's SQL statements spent running in SQLite's VM (waits for a CPU token excluded), for the busiest tenants; all others are tenant="other".
# TYPE tenantgate_tenant_cpu_seconds_total counter
tenantgate_tenant_cpu_seconds_total{tenant="acme"} 1.5
tenantgate_tenant_cpu_seconds_total{tenant="bravo"} 0
tenantgate_tenant_cpu_seconds_total{tenant="other"} 0.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tenantgate_tenant_cpu_seconds_total"); err != nil {
		t.Fatal(err)
	}
	// charlie becomes the busiest; acme keeps a slot, bravo drops out.
	for range 10 {
		ts.ObserveTenant(9, "charlie", 200, time.Millisecond)
		ts.ObserveTenant(7, "acme", 200, time.Millisecond)
	}
	ts.Rerank()
	ts.AddCPU(9, time.Second)
	ts.AddCPU(8, time.Second) // bravo is "other" now
	want = `
# HELP tenantgate_tenant_cpu_seconds_total Time the tenant's SQL statements spent running in SQLite's VM (waits for a CPU token excluded), for the busiest tenants; all others are tenant="other".
# TYPE tenantgate_tenant_cpu_seconds_total counter
tenantgate_tenant_cpu_seconds_total{tenant="acme"} 1.5
tenantgate_tenant_cpu_seconds_total{tenant="charlie"} 1
tenantgate_tenant_cpu_seconds_total{tenant="other"} 1.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tenantgate_tenant_cpu_seconds_total"); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { ts.AddCPU(7, time.Millisecond) }); n != 0 {
		t.Errorf("AddCPU allocates %v times per call, want 0", n)
	}
}

// The file-size gauges are read at scrape time for the tracked tenants
// whose id is known, plus "other"; they lint clean.
func TestTenantSeries_Sizes(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 3)
	ts.ObserveTenant(7, "acme", 200, time.Millisecond)
	ts.ObserveTenant(8, "remote", 200, time.Millisecond) // no local file: no series
	ts.Observe("noid", 200, time.Millisecond)            // id unknown: no series
	if n, err := testutil.GatherAndCount(reg, "tenantgate_tenant_db_bytes"); err != nil || n != 0 {
		t.Fatalf("before SetSizes: %d series, %v; want none", n, err)
	}
	var asked []int64
	ts.SetSizes(func(ids []int64) (map[int64]tenantmetrics.Size, tenantmetrics.Size) {
		asked = append(asked[:0], ids...)
		return map[int64]tenantmetrics.Size{7: {DB: 4096, WAL: 8192}}, tenantmetrics.Size{DB: 1 << 20, WAL: 0}
	})
	want := `
# HELP tenantgate_tenant_db_bytes Size of the tenant's database file, for the busiest tenants; tenant="other" is the total of every other tenant database open on this proxy.
# TYPE tenantgate_tenant_db_bytes gauge
tenantgate_tenant_db_bytes{tenant="acme"} 4096
tenantgate_tenant_db_bytes{tenant="other"} 1.048576e+06
# HELP tenantgate_tenant_wal_bytes Size of the tenant's write-ahead log, for the busiest tenants; tenant="other" is the total of every other tenant database open on this proxy.
# TYPE tenantgate_tenant_wal_bytes gauge
tenantgate_tenant_wal_bytes{tenant="acme"} 8192
tenantgate_tenant_wal_bytes{tenant="other"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tenantgate_tenant_db_bytes", "tenantgate_tenant_wal_bytes"); err != nil {
		t.Fatal(err)
	}
	slices.Sort(asked)
	if !slices.Equal(asked, []int64{7, 8}) {
		t.Fatalf("sizes asked for %v, want the tracked ids [7 8]", asked)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// A scrape sees one top set: however re-ranks and scrapes interleave, one
// gather holds at most N+1 tenant label values across all the families.
func TestTenantSeries_ScrapeSeesOneTopSet(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := tenantmetrics.New(reg, 3)
	ts.SetSizes(func(ids []int64) (map[int64]tenantmetrics.Size, tenantmetrics.Size) {
		each := map[int64]tenantmetrics.Size{}
		for _, id := range ids {
			each[id] = tenantmetrics.Size{DB: 4096}
		}
		return each, tenantmetrics.Size{}
	})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for round := 0; ; round++ {
			select {
			case <-done:
				return
			default:
			}
			// Each round a different trio is busiest, so every re-rank
			// swaps the tracked tenants.
			for i := range 3 {
				id := int64(round%5*3 + i + 1)
				for range 20 {
					ts.ObserveTenant(id, fmt.Sprintf("t%d", id), 200, time.Millisecond)
				}
				ts.AddCPU(id, time.Millisecond)
			}
			ts.Rerank()
		}
	})
	defer func() { close(done); wg.Wait() }()
	for range 300 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		vals := map[string]bool{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "tenant" {
						vals[lp.GetValue()] = true
					}
				}
			}
		}
		if len(vals) > 4 {
			t.Fatalf("one scrape holds %d tenant label values, want at most 4: %v", len(vals), vals)
		}
	}
}
