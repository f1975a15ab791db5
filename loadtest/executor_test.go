package loadtest_test

import (
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/microfi/tenantgate/loadtest/microfi"
)

// TestConstantArrivalRate: the schedule is exact (rate × duration
// iterations, each either run or dropped) and every run iteration reached
// the server once.
func TestConstantArrivalRate(t *testing.T) {
	srv, tenants := mustFake(t, 3)
	res := mustRun(t, srv, tenants, microfi.DefaultMix, executor.Config{
		Kind: executor.ConstantArrivalRate, Rate: 200, Duration: time.Second, VUs: 5, MaxVUs: 100,
	})
	iters := value(t, res, metrics.MetricIterations, "count")
	dropped := value(t, res, metrics.MetricDropped, "count")
	if got := iters + dropped; got != 200 {
		t.Fatalf("iterations %v + dropped %v = %v, want exactly 200 scheduled", iters, dropped, got)
	}
	if reqs := value(t, res, metrics.MetricReqs, "count"); reqs != iters || float64(srv.Requests.Load()) != reqs {
		t.Fatalf("http_reqs %v, iterations %v, server saw %d", reqs, iters, srv.Requests.Load())
	}
	if f := value(t, res, metrics.MetricReqFailed, "rate"); f != 0 {
		t.Fatalf("http_req_failed rate %v, want 0 (statuses %v, errors %v)", f, res.Statuses, res.Errors)
	}
	if c := value(t, res, metrics.MetricChecks, "rate"); c != 1 {
		t.Fatalf("checks rate %v, want 1", c)
	}
	// Every enabled scenario ran and has its own sub-metric.
	for _, sc := range []string{"list_accounts", "get_account", "deposit", "transfer", "sql_read"} {
		if n := value(t, res, "http_req_duration{scenario:"+sc+"}", "count"); n == 0 {
			t.Errorf("scenario %s never ran", sc)
		}
	}
}

// TestArrivalRateDropsWhenVUsRunOut: with a slow server and few VUs the
// open model does not slow down; it drops what it cannot start.
func TestArrivalRateDropsWhenVUsRunOut(t *testing.T) {
	srv, tenants := mustFake(t, 2)
	srv.Delay.Store(int64(50 * time.Millisecond))
	res := mustRun(t, srv, tenants, "list_accounts=1", executor.Config{
		Kind: executor.ConstantArrivalRate, Rate: 100, Duration: time.Second, VUs: 1, MaxVUs: 2,
	})
	iters := value(t, res, metrics.MetricIterations, "count")
	dropped := value(t, res, metrics.MetricDropped, "count")
	if iters+dropped != 100 {
		t.Fatalf("iterations %v + dropped %v != 100", iters, dropped)
	}
	if dropped == 0 {
		t.Fatalf("no dropped iterations with 2 VUs, 50 ms per request and 100 iterations/s")
	}
	if m := srv.MaxInFlight.Load(); m > 2 {
		t.Fatalf("server saw %d concurrent requests, want <= max VUs 2", m)
	}
	if v := value(t, res, metrics.MetricVUsMax, "max"); v != 2 {
		t.Fatalf("vus_max %v, want 2", v)
	}
}

// TestArrivalRateCountsFromScheduledStart: when the server stalls, the
// iterations scheduled during the stall carry the stall in their duration
// (no coordinated omission), however many VUs the harness has.
func TestArrivalRateCountsFromScheduledStart(t *testing.T) {
	srv, tenants := mustFake(t, 1)
	srv.Delay.Store(int64(300 * time.Millisecond))
	res := mustRun(t, srv, tenants, "list_accounts=1", executor.Config{
		Kind: executor.ConstantArrivalRate, Rate: 50, Duration: 500 * time.Millisecond, VUs: 50, MaxVUs: 50,
	})
	if min := value(t, res, metrics.MetricReqDuration, "min"); min < 300 {
		t.Fatalf("http_req_duration min %vms, want >= the server's 300 ms", min)
	}
	if d := value(t, res, metrics.MetricDropped, "count"); d != 0 {
		t.Fatalf("dropped %v with enough VUs", d)
	}
}

// TestRampingArrivalRate: a linear ramp from 0 to 100/s over 1 s schedules
// exactly the integral, 50 iterations.
func TestRampingArrivalRate(t *testing.T) {
	srv, tenants := mustFake(t, 2)
	res := mustRun(t, srv, tenants, "list_accounts=1,get_account=1", executor.Config{
		Kind: executor.RampingArrivalRate, StartRate: 0, VUs: 2, MaxVUs: 50,
		Stages: []executor.Stage{{Duration: time.Second, Target: 100}, {Duration: 500 * time.Millisecond, Target: 100}},
	})
	iters := value(t, res, metrics.MetricIterations, "count")
	dropped := value(t, res, metrics.MetricDropped, "count")
	if got := iters + dropped; got != 100 {
		t.Fatalf("iterations %v + dropped %v = %v, want 50 + 50 scheduled", iters, dropped, got)
	}
}

// TestConstantVUs: the closed model never has more requests in flight than
// VUs.
func TestConstantVUs(t *testing.T) {
	srv, tenants := mustFake(t, 2)
	srv.Delay.Store(int64(5 * time.Millisecond))
	res := mustRun(t, srv, tenants, microfi.DefaultMix, executor.Config{
		Kind: executor.ConstantVUs, VUs: 3, Duration: 500 * time.Millisecond,
	})
	if m := srv.MaxInFlight.Load(); m > 3 || m == 0 {
		t.Fatalf("server saw at most %d concurrent requests, want 1..3", m)
	}
	if n := value(t, res, metrics.MetricIterations, "count"); n == 0 {
		t.Fatal("no iterations")
	}
	if v := value(t, res, metrics.MetricVUsMax, "value"); v != 3 {
		t.Fatalf("vus_max %v, want 3", v)
	}
	if d := value(t, res, metrics.MetricDropped, "count"); d != 0 {
		t.Fatalf("closed model dropped %v iterations", d)
	}
}

// TestRampingVUs: VUs ramp up to the stage target and back down.
func TestRampingVUs(t *testing.T) {
	srv, tenants := mustFake(t, 2)
	srv.Delay.Store(int64(5 * time.Millisecond))
	res := mustRun(t, srv, tenants, "list_accounts=1", executor.Config{
		Kind: executor.RampingVUs, VUs: 0,
		Stages: []executor.Stage{{Duration: 400 * time.Millisecond, Target: 4}, {Duration: 400 * time.Millisecond, Target: 0}},
	})
	if m := srv.MaxInFlight.Load(); m > 4 || m == 0 {
		t.Fatalf("server saw at most %d concurrent requests, want 1..4", m)
	}
	if v := value(t, res, metrics.MetricVUsMax, "max"); v != 4 {
		t.Fatalf("vus_max %v, want 4", v)
	}
	if n := value(t, res, metrics.MetricIterations, "count"); n == 0 {
		t.Fatal("no iterations")
	}
}

// TestZipfSkew: with a Zipf tenant choice one tenant gets far more than
// its uniform share.
func TestZipfSkew(t *testing.T) {
	srv, tenants := mustFake(t, 20)
	picker, err := loadtest.NewTenantPicker(len(tenants), "zipf", 1.5, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := loadtest.ParseMix(microfi.ScenarioNames(), "list_accounts=1")
	res, err := loadtest.Run(t.Context(), loadtest.RunConfig{
		BaseURL: srv.URL(), Workload: workload(t, tenants), Mix: m, Picker: picker, Seed: 3,
		Executor: executor.Config{Kind: executor.ConstantArrivalRate, Rate: 400, Duration: 500 * time.Millisecond, VUs: 10, MaxVUs: 50, GracefulStop: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Collector.Fairness(1)
	total := value(t, res, metrics.MetricReqs, "count")
	if float64(f.MaxReqs) < 3*total/20 {
		t.Fatalf("hottest tenant got %d of %v requests: no skew", f.MaxReqs, total)
	}
}

// TestAbortOnFail: a failing abortOnFail threshold stops the run early.
func TestAbortOnFail(t *testing.T) {
	srv, tenants := mustFake(t, 1)
	srv.FailPath.Store("/api/")
	res := mustRun(t, srv, tenants, "list_accounts=1", executor.Config{
		Kind: executor.ConstantArrivalRate, Rate: 50, Duration: 20 * time.Second, VUs: 5, MaxVUs: 10,
	}, "http_req_failed:rate<0.01,abortOnFail")
	if !res.Aborted || res.ThresholdsOK() {
		t.Fatalf("aborted=%v thresholdsOK=%v, want an aborted run with a failed threshold", res.Aborted, res.ThresholdsOK())
	}
	if res.Elapsed >= 20*time.Second {
		t.Fatalf("run lasted %v: abortOnFail did not stop it", res.Elapsed)
	}
	if res.Statuses[500] == 0 {
		t.Fatalf("statuses %v: want the injected 500s", res.Statuses)
	}
}
