package output

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/metrics"
)

// SummaryData is the shape of k6's handleSummary data (durations in
// milliseconds), plus a "tenants" block with the fairness figures and a
// "harness" block about the load generator itself.
type SummaryData struct {
	RootGroup SummaryGroup             `json:"root_group"`
	Options   SummaryOptions           `json:"options"`
	State     SummaryState             `json:"state"`
	Metrics   map[string]SummaryMetric `json:"metrics"`
	Tenants   metrics.Fairness         `json:"tenants"`
	Harness   SummaryHarness           `json:"harness"`
	// Noisy is the noisy-neighbour comparison of `loadtest --noisy` (the
	// rest of the summary is then the victims' run beside the noise).
	Noisy *NoisyData `json:"noisy,omitempty"`
}

// SummaryGroup is k6's root_group with its checks.
type SummaryGroup struct {
	Name   string         `json:"name"`
	Path   string         `json:"path"`
	ID     string         `json:"id"`
	Groups []SummaryGroup `json:"groups"`
	Checks []SummaryCheck `json:"checks"`
}

// SummaryCheck is one check in k6's shape.
type SummaryCheck struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	ID     string `json:"id"`
	Passes int64  `json:"passes"`
	Fails  int64  `json:"fails"`
}

// SummaryOptions mirrors k6's options block.
type SummaryOptions struct {
	SummaryTrendStats []string `json:"summaryTrendStats"`
	SummaryTimeUnit   string   `json:"summaryTimeUnit"`
	NoColor           bool     `json:"noColor"`
}

// SummaryState mirrors k6's state block.
type SummaryState struct {
	IsStdOutTTY       bool    `json:"isStdOutTTY"`
	IsStdErrTTY       bool    `json:"isStdErrTTY"`
	TestRunDurationMs float64 `json:"testRunDurationMs"`
}

// SummaryMetric is one metric in k6's shape.
type SummaryMetric struct {
	Type       metrics.MetricType          `json:"type"`
	Contains   string                      `json:"contains"`
	Values     map[string]float64          `json:"values"`
	Thresholds map[string]SummaryThreshold `json:"thresholds,omitempty"`
}

// SummaryThreshold is one threshold's outcome.
type SummaryThreshold struct {
	OK bool `json:"ok"`
}

// SummaryHarness describes the run and the load generator.
type SummaryHarness struct {
	Executor          string             `json:"executor"`
	Description       string             `json:"description"`
	Target            string             `json:"target"`
	TenantCount       int                `json:"tenant_count"`
	Mix               map[string]float64 `json:"mix"`
	Aborted           bool               `json:"aborted"`
	AbortReason       string             `json:"abort_reason,omitempty"`
	SelfCeilingRPS    float64            `json:"self_ceiling_rps,omitempty"`
	Warnings          []string           `json:"warnings,omitempty"`
	Statuses          map[string]int64   `json:"statuses"`
	Errors            map[string]int64   `json:"errors,omitempty"`
	Series            []metrics.Point    `json:"series"`
	HarnessCPUSeconds float64            `json:"harness_cpu_seconds"`
	TargetCPUSeconds  float64            `json:"target_cpu_seconds,omitempty"`
	LoadAverage       [2]float64         `json:"load_average_1m"`
	Cores             int                `json:"cores"`
}

func checkID(path string) string {
	h := md5.Sum([]byte(path))
	return hex.EncodeToString(h[:])
}

// Summary builds the handleSummary-shaped data for r.
func Summary(r *loadtest.Result, stdoutTTY, stderrTTY bool) SummaryData {
	d := SummaryData{
		RootGroup: SummaryGroup{Name: "", Path: "", ID: checkID(""), Groups: []SummaryGroup{}, Checks: []SummaryCheck{}},
		Options:   SummaryOptions{SummaryTrendStats: SummaryTrendStats},
		State:     SummaryState{IsStdOutTTY: stdoutTTY, IsStdErrTTY: stderrTTY, TestRunDurationMs: float64(r.Elapsed.Microseconds()) / 1000},
		Metrics:   map[string]SummaryMetric{},
		Tenants:   r.Collector.Fairness(fairnessMinReqs),
	}
	for _, c := range r.Collector.Checks() {
		if c.Passes+c.Fails == 0 {
			continue
		}
		d.RootGroup.Checks = append(d.RootGroup.Checks, SummaryCheck{Name: c.Name, Path: "::" + c.Name, ID: checkID("::" + c.Name), Passes: c.Passes, Fails: c.Fails})
	}
	for _, s := range r.Collector.Snapshot(SummaryTrendStats) {
		d.Metrics[s.Name] = SummaryMetric{Type: s.Type, Contains: s.Contains, Values: s.Values}
	}
	for _, t := range r.Thresholds {
		m := d.Metrics[t.Metric]
		if m.Thresholds == nil {
			m.Thresholds = map[string]SummaryThreshold{}
		}
		// k6 keys thresholds by their source; add the value the
		// threshold read, in case it is not among the summary stats.
		m.Thresholds[t.Source] = SummaryThreshold{OK: t.OK}
		if _, ok := m.Values[t.Agg]; !ok {
			m.Values[t.Agg] = t.Observed
		}
		d.Metrics[t.Metric] = m
	}
	h := &d.Harness
	h.Executor = r.Executor.Kind()
	h.Description = r.Executor.Describe()
	h.Target = r.Config.BaseURL
	h.TenantCount = len(r.Config.Workload.Targets)
	h.Mix = map[string]float64{}
	for i, w := range r.Config.Mix.Weights {
		if w > 0 {
			h.Mix[r.Config.Mix.Names[i]] = w
		}
	}
	h.Aborted, h.AbortReason = r.Aborted, r.AbortReason
	h.SelfCeilingRPS = r.SelfCeiling
	h.Warnings = r.Warnings
	h.Statuses = map[string]int64{}
	for k, v := range r.Statuses {
		h.Statuses[fmt.Sprint(k)] = v
	}
	h.Errors = r.Errors
	h.HarnessCPUSeconds, h.TargetCPUSeconds = r.HarnessCPU.Seconds(), r.TargetCPU.Seconds()
	h.LoadAverage, h.Cores = r.LoadAvg, r.Cores
	h.Series = r.Collector.Series()
	if h.Series == nil {
		h.Series = []metrics.Point{}
	}
	return d
}

// WriteSummaryJSON writes the handleSummary-shaped JSON to path.
func WriteSummaryJSON(path string, r *loadtest.Result, stdoutTTY, stderrTTY bool) error {
	return writeSummaryData(path, Summary(r, stdoutTTY, stderrTTY))
}

// WriteNoisySummaryJSON writes the summary of the victims' run beside the
// noise, with the noisy-neighbour comparison under "noisy".
func WriteNoisySummaryJSON(path string, r *loadtest.NoisyResult, stdoutTTY, stderrTTY bool) error {
	d := Summary(r.Noisy, stdoutTTY, stderrTTY)
	n := Noisy(r)
	d.Noisy = &n
	return writeSummaryData(path, d)
}

func writeSummaryData(path string, d SummaryData) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary %s: %w", path, err)
	}
	return nil
}
