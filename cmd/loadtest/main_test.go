package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/loadtest/loadtesttest"
	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// TestMain lets --spawn-floor re-execute this test binary as `floor`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var secret = "cmd-test-secret"

func fake(t *testing.T) *loadtesttest.Server {
	t.Helper()
	srv, err := loadtesttest.Start("microfi.localhost", []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // --spawn builds the proxy first: minutes on a loaded 2-core machine
	defer cancel()
	code = Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// summaryFile decodes a --summary-export file.
type summaryFile struct {
	Metrics map[string]struct {
		Type       string
		Values     map[string]float64
		Thresholds map[string]struct{ OK bool }
	}
	State   struct{ TestRunDurationMs float64 }
	Tenants struct {
		Tenants     int    `json:"tenants"`
		WorstTenant string `json:"worst_tenant"`
	}
}

func readSummary(t *testing.T, path string) summaryFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s summaryFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return s
}

func TestThresholdExitCodes(t *testing.T) {
	srv := fake(t)
	base := []string{"--target", srv.URL(), "--jwt-secret", secret, "--tenants", "3", "--duration", "1s", "--rate", "30", "--self-ceiling", "0", "--quiet"}

	t.Run("OK", func(t *testing.T) {
		export := filepath.Join(t.TempDir(), "s.json")
		code, out, errs := runMain(t, append(base, "--threshold", "http_req_duration:p(95)<10000", "--threshold", "http_req_failed:rate<0.01", "--summary-export", export)...)
		if code != exitOK {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errs)
		}
		if !strings.Contains(out, "✓ 'p(95)<10000'") || !strings.Contains(out, "✓ 'rate<0.01'") {
			t.Fatalf("summary lacks passed thresholds:\n%s", out)
		}
		s := readSummary(t, export)
		if !s.Metrics["http_req_duration"].Thresholds["p(95)<10000"].OK || s.Metrics["http_reqs"].Values["count"] != 30 {
			t.Fatalf("summary export = %+v", s.Metrics["http_req_duration"])
		}
	})

	t.Run("Failed", func(t *testing.T) {
		export := filepath.Join(t.TempDir(), "s.json")
		report := filepath.Join(t.TempDir(), "r.html")
		code, out, errs := runMain(t, append(base, "--threshold", "http_req_duration:p(95)<0.000001", "--summary-export", export, "--report", report)...)
		if code != exitThresholdsFailed {
			t.Fatalf("exit %d, want 99\n%s\n%s", code, out, errs)
		}
		if !strings.Contains(out, "✗ 'p(95)<0.000001'") || !strings.Contains(out, "thresholds on metrics 'http_req_duration' have been crossed") {
			t.Fatalf("summary lacks the failed threshold:\n%s", out)
		}
		if s := readSummary(t, export); s.Metrics["http_req_duration"].Thresholds["p(95)<0.000001"].OK {
			t.Fatal("export says the failed threshold is ok")
		}
		if fi, err := os.Stat(report); err != nil || fi.Size() == 0 {
			t.Fatalf("report not written: %v", err)
		}
	})

	t.Run("SubMetric", func(t *testing.T) {
		code, out, _ := runMain(t, append(base, "--mix", "list_accounts=1,deposit=1", "--threshold", "http_req_duration{scenario:deposit}:max<0.000001", "--threshold", "http_reqs{scenario:transfer}:count==0")...)
		if code != exitThresholdsFailed {
			t.Fatalf("exit %d, want 99\n%s", code, out)
		}
		if !strings.Contains(out, "✗ 'max<0.000001'") || !strings.Contains(out, "✓ 'count==0'") {
			t.Fatalf("sub-metric thresholds wrong:\n%s", out)
		}
	})

	t.Run("AbortOnFail", func(t *testing.T) {
		srv.FailPath.Store("/api/accounts")
		defer srv.FailPath.Store("")
		start := time.Now()
		code, out, _ := runMain(t, "--target", srv.URL(), "--jwt-secret", secret, "--tenants", "2", "--duration", "30s", "--rate", "50",
			"--self-ceiling", "0", "--quiet", "--mix", "list_accounts=1", "--threshold", "http_req_failed:rate<0.01,abortOnFail")
		if code != exitThresholdsFailed || !strings.Contains(out, "aborted: threshold http_req_failed:rate<0.01 crossed (abortOnFail)") {
			t.Fatalf("exit %d, want 99 with an abort\n%s", code, out)
		}
		if time.Since(start) > 25*time.Second {
			t.Fatal("abortOnFail did not stop the 30 s run")
		}
	})
}

func TestUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"NoTarget":       {"--duration", "1s"},
		"TwoTargets":     {"--spawn", "--target", "http://127.0.0.1:1"},
		"BadThreshold":   {"--target", "http://127.0.0.1:1", "--threshold", "http_req_duration:p95<1"},
		"UnknownMetric":  {"--target", "http://127.0.0.1:1", "--threshold", "nope:count<1"},
		"BadAggregation": {"--target", "http://127.0.0.1:1", "--threshold", "http_req_failed:avg<1"},
		"BadExecutor":    {"--target", "http://127.0.0.1:1", "--executor", "shared-iterations"},
		"RampNoStages":   {"--target", "http://127.0.0.1:1", "--executor", "ramping-arrival-rate"},
		"BadMix":         {"--target", "http://127.0.0.1:1", "--mix", "withdraw=1"},
		"BadDist":        {"--target", "http://127.0.0.1:1", "--tenant-dist", "pareto"},
		"UnknownFlag":    {"--target", "http://127.0.0.1:1", "--vu", "3"},
		"BadProfile":     {"--target", "http://127.0.0.1:1", "--profile", "hot"},
		"ColdClosed":     {"--target", "http://127.0.0.1:1", "--profile", "cold", "--executor", "constant-vus"},
		"ColdZipf":       {"--target", "http://127.0.0.1:1", "--profile", "cold", "--tenant-dist", "zipf"},
		"ColdFloor":      {"--spawn-floor", "--profile", "cold"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errs := runMain(t, args...); code != exitUsage {
				t.Fatalf("exit %d, want 2 (%s)", code, errs)
			}
		})
	}
	// Help on stdout, exit 0; a bad flag value is one line on stderr.
	for _, args := range [][]string{{"--help"}, {"floor", "--help"}} {
		code, out, errs := runMain(t, args...)
		if code != exitOK || errs != "" || !strings.Contains(out, "Example:") || strings.Contains(out, "tenantgate serve  ") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", args, code, out, errs)
		}
		if strings.Contains(out, "-proxy-arg tenantgate") {
			t.Errorf("%v: placeholder from a quoted phrase:\n%s", args, out)
		}
	}
	if code, out, errs := runMain(t, "--rate", "fast"); code != exitUsage || out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, `invalid value "fast" for flag -rate`) {
		t.Errorf("bad value: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	if code, _, errs := runMain(t, "--target", "http://127.0.0.1:1", "--self-ceiling", "0"); code != exitError || !strings.Contains(errs, "--jwt-secret") {
		t.Fatalf("target without a key: exit %d, %s", code, errs)
	}
}

// TestExecutorsThroughCLI runs each executor for a moment through the flags.
func TestExecutorsThroughCLI(t *testing.T) {
	srv := fake(t)
	base := []string{"--target", srv.URL(), "--jwt-secret", secret, "--tenants", "2", "--self-ceiling", "0", "--quiet", "--threshold", "http_req_failed:rate==0"}
	for name, args := range map[string][]string{
		"ConstantArrivalRate": {"--executor", "constant-arrival-rate", "--rate", "20", "--duration", "500ms"},
		"RampingArrivalRate":  {"--executor", "ramping-arrival-rate", "--stages", "500ms:40,250ms:0", "--max-vus", "20"},
		"ConstantVUs":         {"--executor", "constant-vus", "--vus", "2", "--duration", "500ms"},
		"RampingVUs":          {"--executor", "ramping-vus", "--stages", "250ms:3,250ms:0"},
		"Zipf":                {"--rate", "40", "--duration", "500ms", "--tenant-dist", "zipf", "--zipf-s", "1.5"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runMain(t, append(base, args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			if !regexp.MustCompile(`http_reqs\.+: [1-9]\d* `).MatchString(out) {
				t.Fatalf("no requests:\n%s", out)
			}
		})
	}
}

// TestSpawnFloor runs the physical-floor server as a child process and
// drives GET /api/accounts against it.
func TestSpawnFloor(t *testing.T) {
	export := filepath.Join(t.TempDir(), "s.json")
	code, out, errs := runMain(t, "--spawn-floor", "--tenants", "3", "--duration", "1s", "--rate", "50", "--self-ceiling", "0", "--quiet",
		"--threshold", "http_req_failed:rate==0", "--threshold", "checks:rate==1", "--summary-export", export)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if s := readSummary(t, export); s.Metrics["http_reqs"].Values["count"] != 50 || s.Tenants.Tenants != 3 {
		t.Fatalf("floor run: %+v %+v", s.Metrics["http_reqs"], s.Tenants)
	}
}

// TestSpawn is the harness against the real proxy: build it, start it on a
// temporary data dir, provision tenants (admin API + tenant API + bulk
// seeding), run the default mix briefly, and check the summary's shape.
func TestSpawn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the proxy")
	}
	mod, err := microfi.FindModuleDir(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mod, "cmd", "tenantgate")); err != nil {
		t.Fatalf("cmd/tenantgate missing: %v", err)
	}
	export := filepath.Join(t.TempDir(), "s.json")
	code, out, errs := runMain(t, "--spawn", "--tenants", "12", "--duration", "3s", "--rate", "30", "--self-ceiling", "500ms",
		"--threshold", "http_req_failed:rate<0.01", "--threshold", "checks:rate>0.99", "--threshold", "http_req_duration:p(95)<60000",
		"--summary-export", export)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"█ THRESHOLDS", "✓ 'rate<0.01'", "✓ 'rate>0.99'", "█ TOTAL RESULTS",
		"✓ list_accounts status is 200", "✓ transfer body has transaction", "✓ sql_read body has rows",
		"http_req_duration", "{ scenario:get_account }", "http_reqs", "dropped_iterations", "TENANTS", "12 of 12 served",
		"harness ceiling: ~",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(out, ", log /") {
		t.Errorf("the target line points at a log that is deleted at exit:\n%s", out)
	}
	if !strings.Contains(errs, "bulk seeding") {
		t.Errorf("12 tenants should be seeded in bulk after the first:\n%s", errs)
	}
	s := readSummary(t, export)
	if n := s.Metrics["http_reqs"].Values["count"]; n != 90 {
		t.Errorf("http_reqs count %v, want 90 (30/s for 3 s)", n)
	}
	if s.Metrics["http_req_failed"].Values["rate"] != 0 {
		t.Errorf("failed requests against the real proxy: %v\n%s", s.Metrics["http_req_failed"].Values, out)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}

// TestSpawnCold: --profile cold against the real proxy (8 tenants, 2 kept
// open) reports the requests that opened their tenant's database apart
// from the rest, from the proxy's Server-Timing answers.
func TestSpawnCold(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the proxy")
	}
	export := filepath.Join(t.TempDir(), "s.json")
	code, out, errs := runMain(t, "--spawn", "--profile", "cold", "--tenants", "8", "--duration", "2s", "--rate", "40", "--self-ceiling", "0", "--quiet",
		"--summary-export", export)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"{ cold:true }", "{ cold:false }", "COLD OPENS", "cold_share", "sql_read 14"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(out, "login") || strings.Contains(out, "WARNING: --profile cold") {
		t.Errorf("the cold profile runs without logins and sees cold answers:\n%s", out)
	}
	s := readSummary(t, export)
	total := s.Metrics["http_reqs"].Values["count"]
	cold := s.Metrics["http_reqs{cold:true}"].Values["count"]
	// A quarter of the tenants stay open: most requests open a database,
	// some find theirs open (generous bounds: the split is random).
	if total != 80 || cold == 0 || cold == total || s.Metrics["http_req_duration{cold:true}"].Values["max"] <= 0 || s.Metrics["http_req_duration{cold:false}"].Values["max"] <= 0 {
		t.Errorf("requests %v: cold %v\n%s", total, cold, out)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}

// TestTenantsFile: the first run provisions and saves the tenants, the
// second reuses them (and their accounts) without provisioning.
func TestTenantsFile(t *testing.T) {
	srv := fake(t)
	file := filepath.Join(t.TempDir(), "tenants.json")
	args := []string{"--target", srv.URL(), "--jwt-secret", secret, "--tenants", "3", "--duration", "300ms", "--rate", "20",
		"--self-ceiling", "0", "--quiet", "--tenants-file", file, "--threshold", "http_req_failed:rate==0"}
	code, out, errs := runMain(t, args...)
	if code != exitOK || !strings.Contains(errs, "provisioning 3 tenants") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runMain(t, append(args[:len(args):len(args)], "--tenants", "2")...)
	if code != exitOK || !strings.Contains(errs, "reusing 2 tenants") || strings.Contains(errs, "provisioning") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runMain(t, append(args[:len(args):len(args)], "--tenants", "5")...); code != exitError || !strings.Contains(errs, "fewer than --tenants 5") {
		t.Fatalf("too few saved tenants: exit %d, %s", code, errs)
	}
}

// TestCleanup: against a running proxy, the tenants a run provisions are
// deleted at its end unless --cleanup=false.
func TestCleanup(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	count := func(prefix string) int {
		ts, _, err := s.Catalog.List(t.Context(), catalog.ListOptions{Query: prefix, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	for _, tc := range []struct {
		prefix, flag string
		left         int
		log          string
	}{
		{"ltclean-", "", 0, "cleanup: deleted the 2 tenants this run created"},
		{"ltkeep-", "--cleanup=false", 2, ""},
	} {
		args := []string{"--target", s.URL, "--jwt-secret", proxytest.Secret, "--root-domain", proxytest.RootDomain,
			"--tenants", "2", "--tenant-prefix", tc.prefix, "--duration", "300ms", "--rate", "10", "--self-ceiling", "0", "--quiet"}
		if tc.flag != "" {
			args = append(args, tc.flag)
		}
		code, out, errs := runMain(t, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", tc.prefix, code, out, errs)
		}
		if n := count(tc.prefix); n != tc.left {
			t.Errorf("%s: %d tenants left in the catalog, want %d\n%s", tc.prefix, n, tc.left, errs)
		}
		if tc.log != "" && !strings.Contains(errs, tc.log) {
			t.Errorf("%s: no cleanup line:\n%s", tc.prefix, errs)
		}
	}
}

// noisyExport is the "noisy" block of a --noisy summary export.
type noisyExport struct {
	Noisy struct {
		Victims []struct {
			Metric, Stat string
			Alone        float64 `json:"alone_ms"`
			Noisy        float64 `json:"noisy_ms"`
			Ratio        float64
		}
		VictimRequests [2]int64 `json:"victim_requests"`
		VictimFailed   [2]int64 `json:"victim_failed"`
		Victim5xx      [2]int64 `json:"victim_5xx"`
		Noise          []struct {
			Scenario  string
			Requests  int64
			Throttled int64 `json:"throttled_429"`
			ServerErr int64 `json:"server_errors_5xx"`
			Outcomes  map[string]int64
		}
	}
}

// TestSpawnNoisy runs --noisy against a real proxy: one tenant misbehaves
// while two run the mix, alone and then beside it. Each pattern is refused
// (429, interrupted statements, the quota, a cut-off snapshot), never with
// a 5xx, and the victims see no errors. Two runs, because a tenant whose
// heavy SQL is refused gets 429 for all its SQL: run together, the CPU
// noise would keep the writes from ever reaching the quota.
func TestSpawnNoisy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the proxy")
	}
	mod, err := microfi.FindModuleDir(".")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := microfi.BuildTenantgate(t.Context(), mod, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(patterns string, extra ...string) noisyExport {
		t.Helper()
		export := filepath.Join(t.TempDir(), "s.json")
		args := append([]string{"--spawn", "--proxy-bin", bin, "--tenants", "3", "--noisy", "1", "--noisy-patterns", patterns,
			"--duration", "2s", "--rate", "20", "--noisy-lead", "1s", "--graceful-stop", "6s", "--self-ceiling", "0", "--quiet",
			"--threshold", "http_req_failed:rate==0", "--summary-export", export}, extra...)
		code, out, errs := runMain(t, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", patterns, code, out, errs)
		}
		if !strings.Contains(out, "█ NOISY NEIGHBOURS (1 noisy tenants, 2 victims)") || !strings.Contains(out, "http_req_duration p(99)") {
			t.Errorf("%s: summary lacks the comparison:\n%s", patterns, out)
		}
		b, err := os.ReadFile(export)
		if err != nil {
			t.Fatal(err)
		}
		var e noisyExport
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		n := e.Noisy
		if n.VictimRequests != [2]int64{40, 40} || n.VictimFailed != [2]int64{} || n.Victim5xx != [2]int64{} {
			t.Errorf("%s: victims requests %v, failed %v, 5xx %v; want 40 each run, no failures", patterns, n.VictimRequests, n.VictimFailed, n.Victim5xx)
		}
		if len(n.Victims) == 0 || n.Victims[0].Alone <= 0 || n.Victims[0].Ratio <= 0 {
			t.Errorf("%s: no latency comparison: %+v", patterns, n.Victims)
		}
		for _, o := range n.Noise {
			if o.Requests == 0 || o.ServerErr != 0 {
				t.Errorf("%s: %d requests, %d 5xx", o.Scenario, o.Requests, o.ServerErr)
			}
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", out, errs)
		}
		return e
	}

	e := run("cpu,login,api", "--noisy-cpu-vus", "8")
	cpu, login, api := e.Noisy.Noise[0], e.Noisy.Noise[1], e.Noisy.Noise[2]
	if api.Scenario != "noisy_api" || api.Requests == 0 || api.ServerErr != 0 {
		t.Errorf("API noise: %+v", api)
	}
	// 8 endless statements against 1 running and 4 waiting: the rest are
	// refused, by 429 or by interrupting the statement.
	if cpu.Scenario != "noisy_cpu" || cpu.Throttled+cpu.Outcomes["noisy_cpu interrupted: CPU share exceeded"] == 0 {
		t.Errorf("CPU noise never refused: %+v", cpu)
	}
	if login.Scenario != "noisy_login" || login.Throttled == 0 {
		t.Errorf("login flood never throttled: %+v", login)
	}

	// Not beside the API pattern: the noisy tenant's own API flood fills
	// its CPU queue, and its SQL (the held snapshot) then queues behind it
	// and may get 429 before it is held long enough to be cut off.
	e = run("write,snapshot", "--noisy-quota", "3145728", "--proxy-arg=--sql-max-snapshot=1s")
	write, snap := e.Noisy.Noise[0], e.Noisy.Noise[1]
	if write.Outcomes["noisy_write refused: storage quota exceeded"] == 0 {
		t.Errorf("1 MiB writes never met the 3 MiB quota: %+v", write)
	}
	if snap.Outcomes["noisy_snapshot cut off: SNAPSHOT_TOO_OLD"] == 0 {
		t.Errorf("a transaction held past --sql-max-snapshot=1s was never cut off: %+v", snap)
	}
}
