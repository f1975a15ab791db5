package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest/metrics"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in   string
		want metrics.Threshold
	}{
		{"http_req_duration:p(95)<100", metrics.Threshold{Metric: "http_req_duration", Source: "p(95)<100", Agg: "p(95)", Op: "<", Value: 100}},
		{"http_req_duration: p(99.9) <= 250.5", metrics.Threshold{Metric: "http_req_duration", Source: "p(99.9) <= 250.5", Agg: "p(99.9)", Op: "<=", Value: 250.5}},
		{"http_req_failed:rate<0.01", metrics.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01}},
		{"http_req_duration:avg<200", metrics.Threshold{Metric: "http_req_duration", Source: "avg<200", Agg: "avg", Op: "<", Value: 200}},
		{"http_req_duration:med<=50", metrics.Threshold{Metric: "http_req_duration", Source: "med<=50", Agg: "med", Op: "<=", Value: 50}},
		{"http_req_duration:min>0", metrics.Threshold{Metric: "http_req_duration", Source: "min>0", Agg: "min", Op: ">", Value: 0}},
		{"http_req_duration:max<1000", metrics.Threshold{Metric: "http_req_duration", Source: "max<1000", Agg: "max", Op: "<", Value: 1000}},
		{"http_reqs:count>=10", metrics.Threshold{Metric: "http_reqs", Source: "count>=10", Agg: "count", Op: ">=", Value: 10}},
		{"http_reqs:rate>100", metrics.Threshold{Metric: "http_reqs", Source: "rate>100", Agg: "rate", Op: ">", Value: 100}},
		{"dropped_iterations:count==0", metrics.Threshold{Metric: "dropped_iterations", Source: "count==0", Agg: "count", Op: "==", Value: 0}},
		{"vus_max:value!=3", metrics.Threshold{Metric: "vus_max", Source: "value!=3", Agg: "value", Op: "!=", Value: 3}},
		{"checks:rate===1", metrics.Threshold{Metric: "checks", Source: "rate===1", Agg: "rate", Op: "===", Value: 1}},
		{"http_req_duration{scenario:transfer}:p(95)<100", metrics.Threshold{Metric: "http_req_duration{scenario:transfer}", Source: "p(95)<100", Agg: "p(95)", Op: "<", Value: 100}},
		{"http_req_duration{ scenario: \"transfer\" , status:201 }:p(90)<5", metrics.Threshold{Metric: "http_req_duration{scenario:transfer,status:201}", Source: "p(90)<5", Agg: "p(90)", Op: "<", Value: 5}},
		{"http_req_failed:rate<0.01,abortOnFail", metrics.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01, AbortOnFail: true}},
		{"http_req_failed:rate<0.01,abortOnFail=true,delayAbortEval=10s", metrics.Threshold{Metric: "http_req_failed", Source: "rate<0.01", Agg: "rate", Op: "<", Value: 0.01, AbortOnFail: true, DelayAbortEval: 10 * time.Second}},
		{`http_req_failed:{"threshold":"rate<0.05","abortOnFail":true,"delayAbortEval":"2s"}`, metrics.Threshold{Metric: "http_req_failed", Source: "rate<0.05", Agg: "rate", Op: "<", Value: 0.05, AbortOnFail: true, DelayAbortEval: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := metrics.ParseThreshold(tt.in)
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
			_, err := metrics.ParseThreshold(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseThreshold(%q) = %v, want error containing %q", tt.in, err, tt.want)
			}
		})
	}
}
