package loadtest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/executor"
	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/loadtest/output"
)

func shortRun(t *testing.T, thresholds ...string) *loadtest.Result {
	t.Helper()
	srv, tenants := mustFake(t, 4)
	return mustRun(t, srv, tenants, microfi.DefaultMix, executor.Config{
		Kind: executor.ConstantArrivalRate, Rate: 100, Duration: 600 * time.Millisecond, VUs: 4, MaxVUs: 50,
	}, thresholds...)
}

// TestSummaryShape checks the k6-shaped text summary: thresholds block with
// marks, results, the HTTP/EXECUTION/NETWORK groups, and the fairness line.
func TestSummaryShape(t *testing.T) {
	res := shortRun(t, "http_req_duration:p(95)<10000", "http_req_failed:rate<0.01", "http_req_duration{scenario:transfer}:max<0.000001")
	var b bytes.Buffer
	output.WriteSummary(&b, res)
	out := b.String()
	for _, want := range []string{
		"█ THRESHOLDS",
		"    http_req_duration\n    ✓ 'p(95)<10000' p(95)=",
		"    http_req_failed\n    ✓ 'rate<0.01' rate=0.00%",
		"    http_req_duration{scenario:transfer}\n    ✗ 'max<0.000001' max=",
		"█ TOTAL RESULTS",
		"checks_total", "checks_succeeded", "checks_failed",
		"✓ list_accounts status is 200",
		"    HTTP\n", "    EXECUTION\n", "    NETWORK\n", "    TENANTS\n",
		"dropped_iterations", "iterations", "vus_max", "data_received", "data_sent",
		"{ expected_response:true }", "{ scenario:transfer }",
		"tenant_p95_worst", "tenant_failed_worst",
		"thresholds on metrics 'http_req_duration{scenario:transfer}' have been crossed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q\n%s", want, out)
		}
	}
	trend := regexp.MustCompile(`(?m)^    http_req_duration\.+: avg=\S+ +min=\S+ +med=\S+ +max=\S+ +p\(90\)=\S+ +p\(95\)=\S+ +p\(99\)=\S+$`)
	if !trend.MatchString(out) {
		t.Errorf("no http_req_duration line with avg/min/med/max/p(90)/p(95)/p(99):\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^    http_reqs\.+: 60 +\d+\.\d+/s$`).MatchString(out) {
		t.Errorf("no http_reqs line with the count 60 and a rate:\n%s", out)
	}
	if !regexp.MustCompile(`tenant_p95_worst\.+: \S+ \(t-0000[1-4]\)`).MatchString(out) {
		t.Errorf("fairness line does not name a tenant:\n%s", out)
	}
}

// TestSummaryExportShape checks the JSON against k6's handleSummary shape.
func TestSummaryExportShape(t *testing.T) {
	res := shortRun(t, "http_req_duration:p(95)<10000", "http_req_duration{scenario:deposit}:p(99.9)<0.000001")
	path := filepath.Join(t.TempDir(), "summary.json")
	if err := output.WriteSummaryJSON(path, res, false, false); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		RootGroup struct {
			Checks []struct {
				Name          string
				Passes, Fails int64
			}
		} `json:"root_group"`
		State struct {
			TestRunDurationMs float64
		}
		Metrics map[string]struct {
			Type       string
			Contains   string
			Values     map[string]float64
			Thresholds map[string]struct{ OK *bool }
		}
		Tenants struct {
			Tenants     int     `json:"tenants"`
			WorstTenant string  `json:"worst_tenant"`
			WorstP95    float64 `json:"worst_p95"`
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	if d.State.TestRunDurationMs < 600 {
		t.Errorf("testRunDurationMs %v, want >= the 600 ms run", d.State.TestRunDurationMs)
	}
	wantKeys := map[string][]string{
		"http_req_duration":  {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"},
		"http_reqs":          {"count", "rate"},
		"http_req_failed":    {"rate", "passes", "fails"},
		"dropped_iterations": {"count", "rate"},
		"checks":             {"rate", "passes", "fails"},
		"iterations":         {"count", "rate"},
		"vus":                {"value", "min", "max"},
		"data_received":      {"count", "rate"},
	}
	wantType := map[string]string{"http_req_duration": "trend", "http_reqs": "counter", "http_req_failed": "rate",
		"dropped_iterations": "counter", "checks": "rate", "iterations": "counter", "vus": "gauge", "data_received": "counter"}
	for name, keys := range wantKeys {
		m, ok := d.Metrics[name]
		if !ok {
			t.Errorf("metrics.%s missing", name)
			continue
		}
		if m.Type != wantType[name] {
			t.Errorf("metrics.%s.type = %q, want %q", name, m.Type, wantType[name])
		}
		for _, k := range keys {
			if _, ok := m.Values[k]; !ok {
				t.Errorf("metrics.%s.values.%s missing", name, k)
			}
		}
	}
	if d.Metrics["http_reqs"].Values["count"] != 60 {
		t.Errorf("http_reqs count %v, want 60", d.Metrics["http_reqs"].Values["count"])
	}
	if d.Metrics["http_req_duration"].Contains != "time" {
		t.Errorf("http_req_duration contains %q, want time", d.Metrics["http_req_duration"].Contains)
	}
	th := d.Metrics["http_req_duration"].Thresholds["p(95)<10000"]
	if th.OK == nil || !*th.OK {
		t.Errorf(`metrics.http_req_duration.thresholds["p(95)<10000"] = %+v, want {"ok": true}`, th)
	}
	sub := d.Metrics["http_req_duration{scenario:deposit}"]
	if ok := sub.Thresholds["p(99.9)<0.000001"].OK; ok == nil || *ok {
		t.Errorf("sub-metric threshold = %v, want ok=false", sub.Thresholds)
	}
	if _, ok := sub.Values["p(99.9)"]; !ok {
		t.Errorf("sub-metric values lack the threshold's p(99.9): %v", sub.Values)
	}
	if len(d.RootGroup.Checks) == 0 || d.RootGroup.Checks[0].Name == "" {
		t.Errorf("root_group.checks = %+v", d.RootGroup.Checks)
	}
	if d.Tenants.Tenants != 4 || d.Tenants.WorstTenant == "" || d.Tenants.WorstP95 <= 0 {
		t.Errorf("tenants = %+v", d.Tenants)
	}
}

// TestReportSelfContained checks the HTML report has inline SVG charts and
// pulls in nothing from elsewhere.
func TestReportSelfContained(t *testing.T) {
	res := shortRun(t, "http_req_duration:p(95)<10000")
	path := filepath.Join(t.TempDir(), "report.html")
	if err := output.WriteReport(path, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if n := strings.Count(html, "<svg"); n != 3 {
		t.Errorf("%d inline SVG charts, want 3 (latency, throughput, VUs)", n)
	}
	for _, want := range []string{"<polyline", "p99", "http_reqs", "p(95)&lt;10000", "Tenant fairness", "t-0000"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link", "@import", "url(http"} {
		if strings.Contains(html, bad) {
			t.Errorf("report is not self-contained: has %q", bad)
		}
	}
}
