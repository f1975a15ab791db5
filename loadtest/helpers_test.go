package loadtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/loadtesttest"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/microfi/tenantgate/loadtest/microfi"
)

const testRoot = "microfi.localhost"

var testSecret = []byte("test-secret-for-the-harness")

// mustFake starts the fake tenant API and provisions n tenants on it
// through the admin API, as a real run would.
func mustFake(tb testing.TB, n int) (*loadtesttest.Server, []*microfi.Tenant) {
	tb.Helper()
	srv, err := loadtesttest.Start(testRoot, testSecret)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	p := &microfi.Provisioner{BaseURL: srv.URL(), RootDomain: testRoot, Secret: testSecret, Prefix: "t-", Seed: microfi.SeedAPI, Concurrency: 4}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tenants, err := p.Provision(ctx, n)
	if err != nil {
		tb.Fatalf("provision: %v", err)
	}
	srv.Requests.Store(0)
	return srv, tenants
}

// mustRun runs cfg against srv with tenants and fails the test on error.
func mustRun(tb testing.TB, srv *loadtesttest.Server, tenants []*microfi.Tenant, mix string, ec executor.Config, thresholds ...string) *loadtest.Result {
	tb.Helper()
	m, err := loadtest.ParseMix(microfi.ScenarioNames(), mix)
	if err != nil {
		tb.Fatal(err)
	}
	var ths []metrics.Threshold
	for _, s := range thresholds {
		th, err := metrics.ParseThreshold(s)
		if err != nil {
			tb.Fatal(err)
		}
		ths = append(ths, th)
	}
	if ec.GracefulStop == 0 {
		ec.GracefulStop = 5 * time.Second
	}
	res, err := loadtest.Run(context.Background(), loadtest.RunConfig{
		BaseURL: srv.URL(), Workload: workload(tb, tenants), Mix: m, Executor: ec, Thresholds: ths, Seed: 42,
		ProgressInterval: 250 * time.Millisecond,
	})
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	return res
}

func value(tb testing.TB, r *loadtest.Result, metric, agg string) float64 {
	tb.Helper()
	v, ok := r.Collector.Value(metric, agg)
	if !ok {
		tb.Fatalf("no %s %s", metric, agg)
	}
	return v
}

// workload is the MicroFi workload over tenants.
func workload(tb testing.TB, tenants []*microfi.Tenant) loadtest.Workload {
	tb.Helper()
	w, err := microfi.Workload(tenants)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}
