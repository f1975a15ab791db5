// Package output writes a run's results: the end-of-test summary in the
// shape of k6's, the k6 handleSummary JSON export, and the self-contained
// HTML report with its SVG charts.
package output

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/metrics"
)

// SummaryTrendStats are the trend aggregations shown in the summary and
// exported, as k6's summaryTrendStats (with p(99) added).
var SummaryTrendStats = []string{"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"}

const summaryWidth = 44 // name column, dots included

// WriteSummary prints the end-of-test summary in the shape of k6's.
func WriteSummary(w io.Writer, r *loadtest.Result) {
	col := r.Collector
	snaps := col.Snapshot(SummaryTrendStats)
	byName := map[string]metrics.MetricSnapshot{}
	for _, s := range snaps {
		byName[s.Name] = s
	}
	var b strings.Builder

	if len(r.Thresholds) > 0 {
		b.WriteString("\n  █ THRESHOLDS \n")
		var last string
		for _, t := range r.Thresholds {
			if t.Metric != last {
				fmt.Fprintf(&b, "\n    %s\n", t.Metric)
				last = t.Metric
			}
			mark := "✓"
			if !t.OK {
				mark = "✗"
			}
			fmt.Fprintf(&b, "    %s '%s' %s=%s\n", mark, t.Source, t.Agg, fmtAggValue(byName[t.Metric].Type, t.Agg, t.Observed))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n  █ TOTAL RESULTS \n\n")
	checks := col.Checks()
	var passes, fails int64
	for _, c := range checks {
		passes += c.Passes
		fails += c.Fails
	}
	el := r.Elapsed.Seconds()
	total := passes + fails
	line(&b, "checks_total", fmt.Sprintf("%-7d %s", total, metrics.FormatRate(perSec(float64(total), el))))
	line(&b, "checks_succeeded", fmt.Sprintf("%-7s %d out of %d", metrics.FormatPct(ratio(passes, total)), passes, total))
	line(&b, "checks_failed", fmt.Sprintf("%-7s %d out of %d", metrics.FormatPct(ratio(fails, total)), fails, total))
	b.WriteString("\n")
	for _, c := range checks {
		if c.Passes+c.Fails == 0 {
			continue
		}
		if c.Fails == 0 {
			fmt.Fprintf(&b, "    ✓ %s\n", c.Name)
		} else {
			fmt.Fprintf(&b, "    ✗ %s\n      ↳  %.0f%% — ✓ %d / ✗ %d\n", c.Name, 100*ratio(c.Passes, c.Passes+c.Fails), c.Passes, c.Fails)
		}
	}

	groups := []struct {
		title string
		names []string
	}{
		{"HTTP", []string{metrics.MetricReqDuration, metrics.MetricReqFailed, metrics.MetricReqs}},
		{"EXECUTION", []string{metrics.MetricDropped, metrics.MetricIterDuration, metrics.MetricStartDelay, metrics.MetricIterations, metrics.MetricVUs, metrics.MetricVUsMax}},
		{"NETWORK", []string{metrics.MetricDataReceived, metrics.MetricDataSent}},
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n    %s\n", g.title)
		for _, name := range g.names {
			for _, s := range snaps {
				if s.Name != name && !strings.HasPrefix(s.Name, name+"{") {
					continue
				}
				label := s.Name
				if s.Sub {
					label = "  { " + strings.TrimSuffix(s.Name[len(name)+1:], "}") + " }"
				}
				line(&b, label, fmtMetric(s))
			}
		}
	}

	f := col.Fairness(fairnessMinReqs)
	b.WriteString("\n    TENANTS\n")
	dist := "uniform"
	if r.Config.Picker != nil && r.Config.Picker.Zipf() {
		dist = fmt.Sprintf("zipf s=%g v=%g", r.Config.Picker.S(), r.Config.Picker.V())
	}
	line(&b, "tenants", fmt.Sprintf("%d of %d served, %s, requests per tenant min=%d max=%d", f.Tenants, len(r.Config.Workload.Targets), dist, f.MinReqs, f.MaxReqs))
	line(&b, "tenant_p95_worst", fmt.Sprintf("%s (%s)  median=%s best=%s", metrics.FormatMs(f.WorstP95), f.WorstTenant, metrics.FormatMs(f.MedianP95), metrics.FormatMs(f.BestP95)))
	worst := f.WorstFailed
	if worst == "" {
		worst = "none"
	}
	line(&b, "tenant_failed_worst", fmt.Sprintf("%s (%s)", metrics.FormatPct(f.WorstFailRt), worst))

	if r.Config.Cold {
		share, cold, total := loadtest.ColdShare(col)
		b.WriteString("\n    COLD OPENS\n")
		line(&b, "cold_share", fmt.Sprintf("%-7s %.0f of %.0f requests opened their tenant's database (the server's Server-Timing)", metrics.FormatPct(share), cold, total))
		// A refused open (503: shed, or every open database in use) has
		// no Server-Timing, so it counts in {cold:false}: say how many.
		line(&b, "unavailable_503", fmt.Sprintf("%d answers (opens shed or refused are not marked cold: they count in { cold:false })", r.Statuses[503]))
	}

	b.WriteString("\n    MACHINE\n")
	line(&b, "harness_cpu", cpuLine(r.HarnessCPU, r.Elapsed))
	if r.TargetCPU > 0 {
		line(&b, "target_cpu", cpuLine(r.TargetCPU, r.Elapsed))
	}
	line(&b, "load_average", fmt.Sprintf("%.2f before, %.2f after (1 min; %d cores, shared by the harness and the target)", r.LoadAvg[0], r.LoadAvg[1], r.Cores))

	if e := r.DescribeErrors(); e != "" {
		fmt.Fprintf(&b, "\n    ERRORS\n    %s\n", e)
	}

	iters, _ := col.Value(metrics.MetricIterations, "count")
	dropped, _ := col.Value(metrics.MetricDropped, "count")
	vmax, _ := col.Value(metrics.MetricVUsMax, "max")
	state := "complete"
	if r.Aborted {
		state = "aborted: " + r.AbortReason
	}
	fmt.Fprintf(&b, "\n\nrunning (%s), %.0f max VUs, %.0f complete and %.0f dropped iterations (%s)\n", metrics.FormatClock(r.Elapsed), vmax, iters, dropped, state)
	fmt.Fprintf(&b, "default %s %s  %s\n", mark(r.ThresholdsOK()), r.Executor.Kind(), r.Executor.Describe())
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "\nWARNING: %s\n", wn)
	}
	if !r.ThresholdsOK() {
		var failed []string
		for _, t := range r.Thresholds {
			if !t.OK {
				failed = append(failed, t.Metric)
			}
		}
		fmt.Fprintf(&b, "\nERRO[%04d] thresholds on metrics '%s' have been crossed\n", int(r.Elapsed.Seconds()), strings.Join(dedupe(failed), "', '"))
	}
	io.WriteString(w, b.String())
}

// cpuLine renders CPU time as seconds and cores used.
func cpuLine(cpu, elapsed time.Duration) string {
	cores := 0.0
	if elapsed > 0 {
		cores = cpu.Seconds() / elapsed.Seconds()
	}
	return fmt.Sprintf("%-7s %.2f cores on average", metrics.FormatFloat(cpu.Seconds())+"s", cores)
}

// fairnessMinReqs is the fewest requests a tenant needs to be ranked by p95.
const fairnessMinReqs = 20

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func line(b *strings.Builder, name, value string) {
	dots := summaryWidth - len([]rune(name))
	if dots < 3 {
		dots = 3
	}
	fmt.Fprintf(b, "    %s%s: %s\n", name, strings.Repeat(".", dots), value)
}

func perSec(v, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return v / seconds
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// fmtMetric renders a metric's values as k6's summary does.
func fmtMetric(s metrics.MetricSnapshot) string {
	v := s.Values
	switch s.Type {
	case metrics.TypeTrend:
		parts := make([]string, 0, len(SummaryTrendStats))
		for _, k := range SummaryTrendStats {
			parts = append(parts, fmt.Sprintf("%s=%-8s", k, metrics.FormatMs(v[k])))
		}
		return strings.TrimRight(strings.Join(parts, " "), " ")
	case metrics.TypeCounter:
		if s.Contains == "data" {
			return fmt.Sprintf("%-7s %s/s", metrics.FormatBytes(v["count"]), metrics.FormatBytes(v["rate"]))
		}
		return fmt.Sprintf("%-7.0f %s", v["count"], metrics.FormatRate(v["rate"]))
	case metrics.TypeRate:
		n := v["passes"] + v["fails"]
		return fmt.Sprintf("%-7s %.0f out of %.0f", metrics.FormatPct(v["rate"]), v["passes"], n)
	case metrics.TypeGauge:
		return fmt.Sprintf("%-7.0f min=%-6.0f max=%.0f", v["value"], v["min"], v["max"])
	}
	return ""
}

// fmtAggValue renders one threshold's observed value.
func fmtAggValue(t metrics.MetricType, agg string, v float64) string {
	switch {
	case t == metrics.TypeTrend:
		return metrics.FormatMs(v)
	case t == metrics.TypeRate:
		return metrics.FormatPct(v)
	case agg == "rate":
		return metrics.FormatRate(v)
	}
	return metrics.FormatFloat(v)
}
