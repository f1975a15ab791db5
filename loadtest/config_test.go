package loadtest_test

import (
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/metrics"
	"github.com/microfi/tenantgate/loadtest/microfi"
)

// TestThresholdValidate checks aggregations against metric types, as k6
// does, through the collector a run would use.
func TestThresholdValidate(t *testing.T) {
	mix, err := loadtest.ParseMix(microfi.ScenarioNames(), microfi.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{"http_req_duration:p(95)<100", true},
		{"http_req_duration{scenario:transfer}:avg<100", true},
		{"http_reqs{tenant:t1}:count>0", true},
		{"http_req_failed{status:500}:rate<1", true},
		{"checks:rate>0.99", true},
		{"iteration_start_delay:p(99)<5", true},
		{"http_req_duration:rate<1", false},                   // rate on a trend
		{"http_req_failed:p(95)<1", false},                    // percentile on a rate
		{"http_reqs:avg<1", false},                            // avg on a counter
		{"vus:count<1", false},                                // count on a gauge
		{"dropped_iterations{scenario:login}:count<1", false}, // no tags on this metric
		{"no_such_metric:count<1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			th, err := metrics.ParseThreshold(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			cfg := loadtest.RunConfig{Mix: mix, Thresholds: []metrics.Threshold{th}, Workload: workload(t, []*microfi.Tenant{{Sub: "t1", Accounts: []int64{1}}})}
			_, err = loadtest.NewRunCollector(&cfg)
			if got := err == nil; got != tt.ok {
				t.Fatalf("validate %q: err = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestParseStagesAndMix(t *testing.T) {
	st, err := executor.ParseStages("10s:100, 1m:2000,500ms:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []executor.Stage{{Duration: 10 * time.Second, Target: 100}, {Duration: time.Minute, Target: 2000}, {Duration: 500 * time.Millisecond, Target: 0}}
	if len(st) != len(want) {
		t.Fatalf("got %v, want %v", st, want)
	}
	for i := range st {
		if st[i] != want[i] {
			t.Fatalf("stage %d: got %v, want %v", i, st[i], want[i])
		}
	}
	for _, bad := range []string{"", "10s", "ten:5", "10s:-1"} {
		if _, err := executor.ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) succeeded", bad)
		}
	}
	m, err := loadtest.ParseMix(microfi.ScenarioNames(), "list_accounts=3,login=1,transfer=0")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Enabled(microfi.ScListAccounts) || !m.Enabled(microfi.ScLogin) || m.Enabled(microfi.ScTransfer) || m.Enabled(microfi.ScDeposit) {
		t.Fatalf("enabled scenarios wrong: %v", m.Weights)
	}
	for _, bad := range []string{"nope=1", "login", "login=-1", "login=0"} {
		if _, err := loadtest.ParseMix(microfi.ScenarioNames(), bad); err == nil {
			t.Errorf("ParseMix(%q) succeeded", bad)
		}
	}
}
