package output

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/microfi/tenantgate/loadtest"
	"github.com/microfi/tenantgate/loadtest/metrics"
)

// noisyStats are the victims' latency percentiles compared alone and
// beside the noise.
var noisyStats = []string{"med", "p(95)", "p(99)"}

// NoisyComparison is one latency figure of the victims, alone and beside
// the noise (milliseconds), and their ratio.
type NoisyComparison struct {
	Metric string  `json:"metric"` // e.g. http_req_duration{scenario:list_accounts}
	Stat   string  `json:"stat"`   // med, p(95), p(99)
	Alone  float64 `json:"alone_ms"`
	Noisy  float64 `json:"noisy_ms"`
	Ratio  float64 `json:"ratio"`
}

// NoiseOutcome sums one noise pattern's run.
type NoiseOutcome struct {
	Scenario  string           `json:"scenario"`
	Executor  string           `json:"executor"`
	Requests  int64            `json:"requests"`
	Throttled int64            `json:"throttled_429"`
	ServerErr int64            `json:"server_errors_5xx"`
	NoReply   int64            `json:"no_response"`
	Outcomes  map[string]int64 `json:"outcomes"` // passes of each check but the last (no 5xx), by check name
	Statuses  map[int]int64    `json:"statuses"`
}

// NoisyData is the noisy-neighbour part of a summary: the comparison and
// the noise's outcomes, as printed and exported.
type NoisyData struct {
	Comparisons    []NoisyComparison `json:"victims"`
	VictimRequests [2]int64          `json:"victim_requests"` // alone, beside the noise
	VictimFailed   [2]int64          `json:"victim_failed"`
	Victim5xx      [2]int64          `json:"victim_5xx"`
	Noise          []NoiseOutcome    `json:"noise"`
}

// Noisy computes the comparison and the noise outcomes of r.
func Noisy(r *loadtest.NoisyResult) NoisyData {
	var d NoisyData
	names := []string{metrics.MetricReqDuration}
	for i, s := range r.Noisy.Config.Workload.Scenarios {
		if r.Noisy.Config.Mix.Enabled(i) {
			names = append(names, metrics.MetricReqDuration+"{scenario:"+s.Name+"}")
		}
	}
	for _, n := range names {
		for _, st := range noisyStats {
			a, _ := r.Baseline.Collector.Value(n, st)
			b, _ := r.Noisy.Collector.Value(n, st)
			c := NoisyComparison{Metric: n, Stat: st, Alone: a, Noisy: b}
			if a > 0 {
				c.Ratio = b / a
			}
			d.Comparisons = append(d.Comparisons, c)
		}
	}
	for i, v := range []*loadtest.Result{r.Baseline, r.Noisy} {
		reqs, _ := v.Collector.Value(metrics.MetricReqs, "count")
		failed, _ := v.Collector.Value(metrics.MetricReqFailed, "passes")
		d.VictimRequests[i], d.VictimFailed[i] = int64(reqs), int64(failed)
		d.Victim5xx[i] = count5xx(v.Statuses)
	}
	for _, n := range r.Noise {
		o := NoiseOutcome{Executor: n.Executor.Describe(), Outcomes: map[string]int64{}, Statuses: n.Statuses}
		if sc := n.Config.Workload.Scenarios; len(sc) > 0 {
			o.Scenario = sc[0].Name
		}
		reqs, _ := n.Collector.Value(metrics.MetricReqs, "count")
		o.Requests = int64(reqs)
		o.Throttled = n.Statuses[429]
		o.ServerErr = count5xx(n.Statuses)
		o.NoReply = n.Statuses[0]
		checks := n.Collector.Checks()
		for i, c := range checks {
			if i < len(checks)-1 && !strings.Contains(c.Name, "429") { // 429s are counted already; the last check is "no 5xx"
				o.Outcomes[c.Name] = c.Passes
			}
		}
		d.Noise = append(d.Noise, o)
	}
	return d
}

func count5xx(st map[int]int64) int64 {
	var n int64
	for code, c := range st {
		if code >= 500 {
			n += c
		}
	}
	return n
}

// WriteNoisy prints the noisy-neighbour comparison after the victims'
// summary: their latency alone and beside the noise, as ratios, and what
// the noise got.
func WriteNoisy(w io.Writer, r *loadtest.NoisyResult, noisyTenants int) {
	d := Noisy(r)
	var b strings.Builder
	fmt.Fprintf(&b, "\n  █ NOISY NEIGHBOURS (%d noisy tenants, %d victims)\n\n", noisyTenants, len(r.Noisy.Config.Workload.Targets))
	fmt.Fprintf(&b, "    %-52s %10s %10s %8s\n", "victims", "alone", "in noise", "ratio")
	for _, c := range d.Comparisons {
		if c.Alone == 0 || c.Noisy == 0 {
			continue // a scenario the mix never picked in one of the runs
		}
		fmt.Fprintf(&b, "    %-52s %10s %10s %7.2f×\n", c.Metric+" "+c.Stat, metrics.FormatMs(c.Alone), metrics.FormatMs(c.Noisy), c.Ratio)
	}
	fmt.Fprintf(&b, "    %-52s %10d %10d\n", "requests", d.VictimRequests[0], d.VictimRequests[1])
	fmt.Fprintf(&b, "    %-52s %10d %10d\n", "failed", d.VictimFailed[0], d.VictimFailed[1])
	fmt.Fprintf(&b, "    %-52s %10d %10d\n", "5xx", d.Victim5xx[0], d.Victim5xx[1])
	b.WriteString("\n    noise\n")
	for _, o := range d.Noise {
		fmt.Fprintf(&b, "    %s (%s): %d requests, %d refused with 429, %d 5xx", o.Scenario, o.Executor, o.Requests, o.Throttled, o.ServerErr)
		if o.NoReply > 0 {
			fmt.Fprintf(&b, ", %d without a response", o.NoReply)
		}
		b.WriteString("\n")
		for _, name := range sortedNames(o.Outcomes) {
			fmt.Fprintf(&b, "      %s: %d\n", strings.TrimPrefix(name, o.Scenario+" "), o.Outcomes[name])
		}
	}
	io.WriteString(w, b.String())
}

func sortedNames(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }
