package output

import (
	"fmt"
	"html/template"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/metrics"
)

var reportTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tenantgate load test report</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1000px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37}.bad{color:#cf222e}
.warn{background:#fff8c5;padding:.5rem 1rem;border:1px solid #d4a72c}
code{background:#f4f4f4;padding:0 .2rem}
</style></head><body>
<h1>tenantgate load test report</h1>
<p>{{.When}} · target <code>{{.Target}}</code> · {{.Executor}}: {{.Describe}} · {{.Tenants}} tenants ({{.Dist}}) · mix: {{.Mix}} · run {{.Elapsed}}{{if .Aborted}} · <b class="bad">aborted: {{.AbortReason}}</b>{{end}}</p>
{{range .Warnings}}<p class="warn">⚠ {{.}}</p>{{end}}
<h2>Thresholds</h2>
{{if .Thresholds}}<table><tr><th></th><th>metric</th><th>threshold</th><th>observed</th></tr>
{{range .Thresholds}}<tr><td class="{{if .OK}}ok{{else}}bad{{end}}">{{if .OK}}✓{{else}}✗{{end}}</td><td>{{.Metric}}</td><td><code>{{.Source}}</code>{{if .AbortOnFail}} (abortOnFail){{end}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table>{{else}}<p>No thresholds.</p>{{end}}
<h2>Latency over time</h2>
{{.LatencyChart}}
<h2>Throughput over time</h2>
{{.ThroughputChart}}
<h2>VUs over time</h2>
{{.VUChart}}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>type</th><th>values</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Text}}</td></tr>
{{end}}</table>
<h2>Checks</h2>
<table><tr><th></th><th>check</th><th class="n">passes</th><th class="n">fails</th></tr>
{{range .Checks}}<tr><td class="{{if .Fails}}bad{{else}}ok{{end}}">{{if .Fails}}✗{{else}}✓{{end}}</td><td>{{.Name}}</td><td class="n">{{.Passes}}</td><td class="n">{{.Fails}}</td></tr>
{{end}}</table>
<h2>Tenant fairness</h2>
<table>
<tr><td>tenants served</td><td class="n">{{.Fair.Tenants}}</td></tr>
<tr><td>worst tenant p95</td><td class="n">{{.WorstP95}} ({{.Fair.WorstTenant}})</td></tr>
<tr><td>median tenant p95</td><td class="n">{{.MedianP95}}</td></tr>
<tr><td>best tenant p95</td><td class="n">{{.BestP95}}</td></tr>
<tr><td>requests per tenant</td><td class="n">min {{.Fair.MinReqs}}, max {{.Fair.MaxReqs}}</td></tr>
</table>
{{if .Slowest}}<h3>Slowest tenants by p95</h3><table><tr><th>tenant</th><th class="n">requests</th><th class="n">failed</th><th class="n">p95</th></tr>
{{range .Slowest}}<tr><td>{{.Host}}</td><td class="n">{{.Reqs}}</td><td class="n">{{.Fails}}</td><td class="n">{{.P95}}</td></tr>
{{end}}</table>{{end}}
{{if .Errors}}<h2>Errors</h2><p>{{.Errors}}</p>{{end}}
<p style="color:#777;font-size:.8rem">Durations count from each iteration's scheduled start (open model); percentiles come from HDR histograms; the time series uses {{.Interval}} intervals.</p>
</body></html>
`))

type reportRow struct {
	Name, Type, Text string
}

type reportTenant struct {
	Host        string
	Reqs, Fails int64
	P95         string
}

// WriteReport writes a self-contained HTML report (inline SVG charts, no
// external resources) to path.
func WriteReport(path string, r *loadtest.Result) error {
	series := r.Collector.Series()
	var xs, p50, p90, p95, p99, rps, fps, dps, vus, vmax []float64
	prev := 0.0
	for _, p := range series {
		dt := p.T - prev
		if dt <= 0 {
			dt = 1
		}
		prev = p.T
		xs = append(xs, p.T)
		p50, p90, p95, p99 = append(p50, p.P50), append(p90, p.P90), append(p95, p.P95), append(p99, p.P99)
		rps = append(rps, float64(p.Reqs)/dt)
		fps = append(fps, float64(p.Fails)/dt)
		dps = append(dps, float64(p.Dropped)/dt)
		vus, vmax = append(vus, float64(p.VUs)), append(vmax, float64(p.VUsMax))
	}
	snaps := r.Collector.Snapshot(SummaryTrendStats)
	var rows []reportRow
	for _, s := range snaps {
		rows = append(rows, reportRow{Name: s.Name, Type: string(s.Type), Text: strings.Join(strings.Fields(fmtMetric(s)), " ")})
	}
	type thRow struct {
		metrics.ThresholdResult
		Value string
	}
	var ths []thRow
	types := map[string]metrics.MetricType{}
	for _, s := range snaps {
		types[s.Name] = s.Type
	}
	for _, t := range r.Thresholds {
		ths = append(ths, thRow{t, t.Agg + "=" + fmtAggValue(types[t.Metric], t.Agg, t.Observed)})
	}
	f := r.Collector.Fairness(fairnessMinReqs)
	dist := "uniform"
	if r.Config.Picker != nil && r.Config.Picker.Zipf() {
		dist = fmt.Sprintf("zipf s=%g", r.Config.Picker.S())
	}
	data := map[string]any{
		"When":        time.Now().UTC().Format(time.RFC3339),
		"Target":      r.Config.BaseURL,
		"Executor":    r.Executor.Kind(),
		"Describe":    r.Executor.Describe(),
		"Tenants":     len(r.Config.Workload.Targets),
		"Dist":        dist,
		"Mix":         r.Config.Mix.String(),
		"Elapsed":     r.Elapsed.Round(time.Millisecond).String(),
		"Aborted":     r.Aborted,
		"AbortReason": r.AbortReason,
		"Warnings":    r.Warnings,
		"Thresholds":  ths,
		"LatencyChart": template.HTML(svgLineChart("http_req_duration percentiles per interval", "ms", xs, []chartSeries{
			{"p50", "#2da44e", p50}, {"p90", "#0969da", p90}, {"p95", "#bf8700", p95}, {"p99", "#cf222e", p99},
		})),
		"ThroughputChart": template.HTML(svgLineChart("requests per second", "/s", xs, []chartSeries{
			{"http_reqs", "#0969da", rps}, {"failed", "#cf222e", fps}, {"dropped", "#8250df", dps},
		})),
		"VUChart": template.HTML(svgLineChart("virtual users", "", xs, []chartSeries{
			{"busy VUs", "#0969da", vus}, {"allocated", "#999999", vmax},
		})),
		"Metrics":   rows,
		"Checks":    r.Collector.Checks(),
		"Fair":      f,
		"WorstP95":  metrics.FormatMs(f.WorstP95),
		"MedianP95": metrics.FormatMs(f.MedianP95),
		"BestP95":   metrics.FormatMs(f.BestP95),
		"Slowest":   slowestTenants(r.Collector, 10),
		"Errors":    r.DescribeErrors(),
		"Interval":  r.Config.ProgressInterval.String(),
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	if err := reportTmpl.Execute(fh, data); err != nil {
		fh.Close()
		return fmt.Errorf("render report: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// slowestTenants lists the n tenants with the highest p95.
func slowestTenants(c *metrics.Collector, n int) []reportTenant {
	ts := c.ServedTenants()
	sort.Slice(ts, func(i, j int) bool { return ts[i].P95() > ts[j].P95() })
	if len(ts) > n {
		ts = ts[:n]
	}
	out := make([]reportTenant, len(ts))
	for i, t := range ts {
		out[i] = reportTenant{Host: t.Host, Reqs: t.Reqs, Fails: t.Fails, P95: metrics.FormatMs(t.P95())}
	}
	return out
}
