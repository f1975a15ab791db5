package loadtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in   string
		want loadtest.Threshold
	}{
		{"http_req_duration:p(95)<100", loadtest.Threshold{Metric: "http_req_duration", Source: "p(95)<100", Agg: "p(95)", Op: "<", Value: 100}},
		{"http_req_duration: p(99.9) <= 250.5", loadtest.Threshold{Metric: "http_req_duration", Source: "p(99.9) <= 250.5", Agg: "p(99.9)", Op: "<=", Value: 250.5}},
		{"http_req_failed:rate<0.01", loadtest.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01}},
		{"http_req_duration:avg<200", loadtest.Threshold{Metric: "http_req_duration", Source: "avg<200", Agg: "avg", Op: "<", Value: 200}},
		{"http_req_duration:med<=50", loadtest.Threshold{Metric: "http_req_duration", Source: "med<=50", Agg: "med", Op: "<=", Value: 50}},
		{"http_req_duration:min>0", loadtest.Threshold{Metric: "http_req_duration", Source: "min>0", Agg: "min", Op: ">", Value: 0}},
		{"http_req_duration:max<1000", loadtest.Threshold{Metric: "http_req_duration", Source: "max<1000", Agg: "max", Op: "<", Value: 1000}},
		{"http_reqs:count>=10", loadtest.Threshold{Metric: "http_reqs", Source: "count>=10", Agg: "count", Op: ">=", Value: 10}},
		{"http_reqs:rate>100", loadtest.Threshold{Metric: "http_reqs", Source: "rate>100", Agg: "rate", Op: ">", Value: 100}},
		{"dropped_iterations:count==0", loadtest.Threshold{Metric: "dropped_iterations", Source: "count==0", Agg: "count", Op: "==", Value: 0}},
		{"vus_max:value!=3", loadtest.Threshold{Metric: "vus_max", Source: "value!=3", Agg: "value", Op: "!=", Value: 3}},
		{"checks:rate===1", loadtest.Threshold{Metric: "checks", Source: "rate===1", Agg: "rate", Op: "===", Value: 1}},
		{"http_req_duration{scenario:transfer}:p(95)<100", loadtest.Threshold{Metric: "http_req_duration{scenario:transfer}", Source: "p(95)<100", Agg: "p(95)", Op: "<", Value: 100}},
		{"http_req_duration{ scenario: \"transfer\" , status:201 }:p(90)<5", loadtest.Threshold{Metric: "http_req_duration{scenario:transfer,status:201}", Source: "p(90)<5", Agg: "p(90)", Op: "<", Value: 5}},
		{"http_req_failed:rate<0.01,abortOnFail", loadtest.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01, AbortOnFail: true}},
		{"http_req_failed:rate<0.01,abortOnFail=true,delayAbortEval=10s", loadtest.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01, AbortOnFail: true, DelayAbortEval: 10 * time.Second}},
		{`http_req_failed:{"threshold":"rate<0.05","abortOnFail":true,"delayAbortEval":"2s"}`, loadtest.Threshold{Metric: "http_req_failed", Source: "rate<0.05", Agg: "rate", Op: "<", Value: 0.05, AbortOnFail: true, DelayAbortEval: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := loadtest.ParseThreshold(tt.in)
			if err != nil {
				t.Fatalf("ParseThreshold(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseThreshold(%q)\n got  %+v\n want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseThresholdErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http_req_duration", "want METRIC:EXPRESSION"},
		{":p(95)<100", "no metric name"},
		{"http_req_duration:p95<100", "is not \"aggregation operator number\""},
		{"http_req_duration:p(95)<100ms", "is not \"aggregation operator number\""},
		{"http_req_duration:p(95)=>100", "is not \"aggregation operator number\""},
		{"http_req_duration:p(101)<100", "percentile out of range"},
		{"http_req_duration{scenario}:p(95)<100", "is not key:value"},
		{"http_req_duration{color:red}:p(95)<100", "unknown tag"},
		{"http_req_duration{scenario:x:p(95)<100", "want METRIC:EXPRESSION"},
		{"http req:p(95)<1", "invalid name"},
		{"http_req_failed:rate<0.01,abortOnFial", "unknown option"},
		{"http_req_failed:rate<0.01,delayAbortEval=soon", "delayAbortEval"},
		{`http_req_failed:{"threshold":`, "bad object"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := loadtest.ParseThreshold(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseThreshold(%q) = %v, want error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestThresholdValidate checks aggregations against metric types, as k6
// does, through the collector a run would use.
func TestThresholdValidate(t *testing.T) {
	mix, err := loadtest.ParseMix(loadtest.DefaultMix)
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
			th, err := loadtest.ParseThreshold(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			cfg := loadtest.RunConfig{Mix: mix, Thresholds: []loadtest.Threshold{th}, Tenants: []*loadtest.Tenant{{Sub: "t1"}}}
			_, err = loadtest.NewRunCollector(&cfg)
			if got := err == nil; got != tt.ok {
				t.Fatalf("validate %q: err = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestParseStagesAndMix(t *testing.T) {
	st, err := loadtest.ParseStages("10s:100, 1m:2000,500ms:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []loadtest.Stage{{10 * time.Second, 100}, {time.Minute, 2000}, {500 * time.Millisecond, 0}}
	if len(st) != len(want) {
		t.Fatalf("got %v, want %v", st, want)
	}
	for i := range st {
		if st[i] != want[i] {
			t.Fatalf("stage %d: got %v, want %v", i, st[i], want[i])
		}
	}
	for _, bad := range []string{"", "10s", "ten:5", "10s:-1"} {
		if _, err := loadtest.ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) succeeded", bad)
		}
	}
	m, err := loadtest.ParseMix("list_accounts=3,login=1,transfer=0")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Enabled(loadtest.ScListAccounts) || !m.Enabled(loadtest.ScLogin) || m.Enabled(loadtest.ScTransfer) || m.Enabled(loadtest.ScDeposit) {
		t.Fatalf("enabled scenarios wrong: %v", m.Weights)
	}
	for _, bad := range []string{"nope=1", "login", "login=-1", "login=0"} {
		if _, err := loadtest.ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) succeeded", bad)
		}
	}
}
