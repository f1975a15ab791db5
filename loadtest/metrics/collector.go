// Package metrics holds a run's k6 metrics: the samples, their aggregates
// (HDR histograms for trends), the collector with sub-metrics by tag, the
// time series, and thresholds in k6 syntax. It knows nothing of HTTP or of
// the workload.
package metrics

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Metric names, as in k6.
const (
	MetricReqDuration  = "http_req_duration"
	MetricReqs         = "http_reqs"
	MetricReqFailed    = "http_req_failed"
	MetricIterations   = "iterations"
	MetricIterDuration = "iteration_duration"
	MetricStartDelay   = "iteration_start_delay"
	MetricDataSent     = "data_sent"
	MetricDataReceived = "data_received"
	MetricChecks       = "checks"
	MetricDropped      = "dropped_iterations"
	MetricVUs          = "vus"
	MetricVUsMax       = "vus_max"
)

// metric is one registered metric with its sub-metrics.
type metric struct {
	name     string
	typ      MetricType
	contains string // "time", "data" or "default", as in k6
	observe  func(s *Sample, a *Agg)
	main     *Agg
	subs     []*subMetric
}

// subMetric is a metric restricted to samples whose tags match.
type subMetric struct {
	name string // full name, e.g. http_req_duration{scenario:transfer}
	sel  []tagSel
	agg  *Agg
}

type tagSel struct{ key, value string }

// CheckStat counts one check's passes and fails.
type CheckStat struct {
	Name   string `json:"name"`
	Passes int64  `json:"passes"`
	Fails  int64  `json:"fails"`
}

// TenantStat is one tenant's share of the run.
type TenantStat struct {
	Host  string
	Reqs  int64
	Fails int64
	dur   *Agg
}

// P95 is the tenant's 95th percentile http_req_duration in milliseconds.
func (t *TenantStat) P95() float64 {
	if t.dur == nil {
		return 0
	}
	return t.dur.Percentile(95)
}

// Point is one interval of the run's time series (for the HTML report).
type Point struct {
	T       float64 `json:"t"` // seconds since the start, end of the interval
	Reqs    int64   `json:"reqs"`
	Fails   int64   `json:"fails"`
	Dropped int64   `json:"dropped"`
	P50     float64 `json:"p50"` // milliseconds
	P90     float64 `json:"p90"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	VUs     int     `json:"vus"`
	VUsMax  int     `json:"vus_max"`
}

// Collector receives samples from every VU and aggregates them. It is safe
// for concurrent use.
type Collector struct {
	mu        sync.Mutex
	start     time.Time
	end       time.Time
	frozen    bool
	scenarios []string
	tenants   []string
	metrics   map[string]*metric
	order     []string
	checks    []CheckStat
	perTenant []TenantStat

	// current interval, closed by Tick
	ivHist    *hdr.Histogram
	ivReqs    int64
	ivFails   int64
	ivDropped int64
	ivMax     float64
	series    []Point
	vus       int
	vusMax    int
}

// NewCollector returns a collector for the given scenario names, tenant
// hosts and check names (indexes in Samples refer to these slices).
func NewCollector(scenarios, tenants, checks []string) *Collector {
	c := &Collector{
		scenarios: scenarios,
		tenants:   tenants,
		metrics:   map[string]*metric{},
		checks:    make([]CheckStat, len(checks)),
		perTenant: make([]TenantStat, len(tenants)),
		ivHist:    hdr.New(histLowestMicros, histHighestMicros, 2),
	}
	for i, n := range checks {
		c.checks[i].Name = n
	}
	for i, h := range tenants {
		c.perTenant[i].Host = h
	}
	add := func(name string, t MetricType, contains string, f func(*Sample, *Agg)) {
		c.metrics[name] = &metric{name: name, typ: t, contains: contains, observe: f, main: newAgg(t, 3)}
		c.order = append(c.order, name)
	}
	add(MetricChecks, TypeRate, "default", func(s *Sample, a *Agg) {
		for i := 0; i < s.CheckN; i++ {
			a.AddRate(s.CheckPass&(1<<i) != 0)
		}
	})
	add(MetricDataReceived, TypeCounter, "data", nil)
	add(MetricDataSent, TypeCounter, "data", nil)
	add(MetricDropped, TypeCounter, "default", nil)
	add(MetricReqDuration, TypeTrend, "time", func(s *Sample, a *Agg) { a.AddDuration(s.Duration) })
	add(MetricReqFailed, TypeRate, "default", func(s *Sample, a *Agg) { a.AddRate(s.Failed) })
	add(MetricReqs, TypeCounter, "default", func(s *Sample, a *Agg) { a.AddCount(1) })
	add(MetricIterDuration, TypeTrend, "time", func(s *Sample, a *Agg) { a.AddDuration(s.Duration) })
	add(MetricStartDelay, TypeTrend, "time", func(s *Sample, a *Agg) { a.AddDuration(s.Delay) })
	add(MetricIterations, TypeCounter, "default", func(s *Sample, a *Agg) { a.AddCount(1) })
	add(MetricVUs, TypeGauge, "default", nil)
	add(MetricVUsMax, TypeGauge, "default", nil)
	return c
}

// MetricType returns the type of a registered metric.
func (c *Collector) MetricType(name string) (MetricType, bool) {
	m, ok := c.metrics[name]
	if !ok {
		return "", false
	}
	return m.typ, true
}

// AddSubMetric registers a sub-metric such as
// "http_req_duration{scenario:transfer,status:201}". Registering the same
// name twice is a no-op.
func (c *Collector) AddSubMetric(full string) error {
	base, sel, err := parseMetricName(full)
	if err != nil {
		return err
	}
	if len(sel) == 0 {
		return fmt.Errorf("sub-metric %q: no tags", full)
	}
	m, ok := c.metrics[base]
	if !ok {
		return fmt.Errorf("sub-metric %q: unknown metric %q", full, base)
	}
	if m.observe == nil {
		return fmt.Errorf("sub-metric %q: metric %s has no tags", full, base)
	}
	name := subMetricName(base, sel)
	for _, s := range m.subs {
		if s.name == name {
			return nil
		}
	}
	c.mu.Lock()
	m.subs = append(m.subs, &subMetric{name: name, sel: sel, agg: newAgg(m.typ, 3)})
	c.mu.Unlock()
	return nil
}

// subMetricName renders the canonical name of a sub-metric.
func subMetricName(base string, sel []tagSel) string {
	parts := make([]string, len(sel))
	for i, s := range sel {
		parts[i] = s.key + ":" + s.value
	}
	return base + "{" + strings.Join(parts, ",") + "}"
}

// Start marks the beginning of the measured run.
func (c *Collector) Start(t time.Time) {
	c.mu.Lock()
	c.start = t
	c.mu.Unlock()
}

// Add records one sample. Samples arriving after Freeze are ignored.
func (c *Collector) Add(s *Sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return
	}
	for _, name := range c.order {
		m := c.metrics[name]
		if m.observe == nil {
			continue
		}
		m.observe(s, m.main)
		for _, sub := range m.subs {
			if c.matches(s, sub.sel) {
				m.observe(s, sub.agg)
			}
		}
	}
	for i := 0; i < s.CheckN; i++ {
		if s.CheckPass&(1<<i) != 0 {
			c.checks[s.CheckBase+i].Passes++
		} else {
			c.checks[s.CheckBase+i].Fails++
		}
	}
	ts := &c.perTenant[s.Tenant]
	ts.Reqs++
	if s.Failed {
		ts.Fails++
	}
	if ts.dur == nil {
		// Two significant digits keep 10,000 tenants within a few hundred MB.
		ts.dur = newAgg(TypeTrend, 2)
	}
	ts.dur.AddDuration(s.Duration)

	us := s.Duration.Microseconds()
	if us > histHighestMicros {
		us = histHighestMicros
	}
	_ = c.ivHist.RecordValue(max(us, histLowestMicros))
	c.ivReqs++
	if s.Failed {
		c.ivFails++
	}
	c.ivMax = max(c.ivMax, float64(s.Duration)/1e6)
}

func (c *Collector) matches(s *Sample, sel []tagSel) bool {
	for _, t := range sel {
		if c.tagValue(s, t.key) != t.value {
			return false
		}
	}
	return true
}

// Dropped counts n iterations the executor could not start.
func (c *Collector) Dropped(n int64) {
	c.mu.Lock()
	if !c.frozen {
		c.metrics[MetricDropped].main.AddCount(float64(n))
		c.ivDropped += n
	}
	c.mu.Unlock()
}

// SetData sets the byte counters to the totals sent and received so far.
func (c *Collector) SetData(sent, received int64) {
	c.mu.Lock()
	if !c.frozen {
		ds, dr := c.metrics[MetricDataSent].main, c.metrics[MetricDataReceived].main
		ds.sum, dr.sum = float64(sent), float64(received)
	}
	c.mu.Unlock()
}

// SetVUs records the number of busy and allocated VUs.
func (c *Collector) SetVUs(active, allocated int) {
	c.mu.Lock()
	if !c.frozen {
		c.metrics[MetricVUs].main.SetGauge(float64(active))
		c.metrics[MetricVUsMax].main.SetGauge(float64(allocated))
		c.vus, c.vusMax = active, allocated
	}
	c.mu.Unlock()
}

// Tick closes the current interval of the time series at now and returns it.
func (c *Collector) Tick(now time.Time) Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := Point{
		T:       now.Sub(c.start).Seconds(),
		Reqs:    c.ivReqs,
		Fails:   c.ivFails,
		Dropped: c.ivDropped,
		VUs:     c.vus,
		VUsMax:  c.vusMax,
		Max:     c.ivMax,
	}
	if c.ivHist.TotalCount() > 0 {
		ps := c.ivHist.ValueAtPercentiles([]float64{50, 90, 95, 99})
		p.P50, p.P90, p.P95, p.P99 = float64(ps[50])/1000, float64(ps[90])/1000, float64(ps[95])/1000, float64(ps[99])/1000
		p.P50, p.P90, p.P95, p.P99 = min(p.P50, p.Max), min(p.P90, p.Max), min(p.P95, p.Max), min(p.P99, p.Max)
	}
	// The closing tick may follow a regular one by microseconds; an empty
	// sliver of an interval would only draw a false dip in the charts.
	sliver := len(c.series) > 0 && p.T-c.series[len(c.series)-1].T < 0.1 && p.Reqs == 0 && p.Dropped == 0
	if !c.frozen && !sliver {
		c.series = append(c.series, p)
	}
	c.ivHist.Reset()
	c.ivReqs, c.ivFails, c.ivDropped, c.ivMax = 0, 0, 0, 0
	return p
}

// Freeze stops recording at end; later samples are ignored.
func (c *Collector) Freeze(end time.Time) {
	c.mu.Lock()
	c.frozen = true
	c.end = end
	c.mu.Unlock()
}

// Elapsed is the measured duration: start to Freeze (or to now).
func (c *Collector) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsedLocked()
}

func (c *Collector) elapsedLocked() time.Duration {
	if c.frozen {
		return c.end.Sub(c.start)
	}
	return time.Since(c.start)
}

// lookup returns the aggregate for a metric or canonical sub-metric name.
func (c *Collector) lookup(name string) (*Agg, bool) {
	base, sel, err := parseMetricName(name)
	if err != nil {
		return nil, false
	}
	m, ok := c.metrics[base]
	if !ok {
		return nil, false
	}
	if len(sel) == 0 {
		return m.main, true
	}
	want := subMetricName(base, sel)
	for _, s := range m.subs {
		if s.name == want {
			return s.agg, true
		}
	}
	return nil, false
}

// Value reads one aggregation of a metric (thread-safe).
func (c *Collector) Value(name, key string) (float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.lookup(name)
	if !ok {
		return 0, false
	}
	return a.Value(key, c.elapsedLocked())
}

// MetricSnapshot is one metric's (or sub-metric's) aggregated values.
type MetricSnapshot struct {
	Name     string
	Type     MetricType
	Contains string
	Values   map[string]float64
	Sub      bool
}

// Snapshot returns every metric and sub-metric, sorted by name (sub-metrics
// right after their metric), with the given trend stats.
func (c *Collector) Snapshot(trendStats []string) []MetricSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.elapsedLocked()
	names := append([]string(nil), c.order...)
	sort.Strings(names)
	var out []MetricSnapshot
	for _, n := range names {
		m := c.metrics[n]
		out = append(out, MetricSnapshot{Name: n, Type: m.typ, Contains: m.contains, Values: m.main.Values(trendStats, el)})
		for _, s := range m.subs {
			out = append(out, MetricSnapshot{Name: s.name, Type: m.typ, Contains: m.contains, Values: s.agg.Values(trendStats, el), Sub: true})
		}
	}
	return out
}

// Checks returns the checks' pass/fail counts.
func (c *Collector) Checks() []CheckStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CheckStat(nil), c.checks...)
}

// Series returns the closed intervals of the time series.
func (c *Collector) Series() []Point {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Point(nil), c.series...)
}

// Fairness summarises the per-tenant spread of http_req_duration.
type Fairness struct {
	Tenants     int     `json:"tenants"`      // tenants that received requests
	WorstTenant string  `json:"worst_tenant"` // host with the highest p95
	WorstP95    float64 `json:"worst_p95"`    // its p95, ms
	MedianP95   float64 `json:"median_p95"`   // median of the tenants' p95s, ms
	BestP95     float64 `json:"best_p95"`     // lowest tenant p95, ms
	MinReqs     int64   `json:"min_reqs"`     // fewest requests any served tenant got
	MaxReqs     int64   `json:"max_reqs"`     // most requests any tenant got
	WorstFailed string  `json:"worst_failed_tenant,omitempty"`
	WorstFailRt float64 `json:"worst_failed_rate"` // highest per-tenant http_req_failed rate
}

// Fairness computes the per-tenant fairness figures. Tenants with fewer
// than minReqs requests are ignored for the p95 ranking (a percentile of
// two samples says little), unless no tenant reaches it.
func (c *Collector) Fairness(minReqs int64) Fairness {
	c.mu.Lock()
	defer c.mu.Unlock()
	var f Fairness
	var p95s []float64
	rank := func(min int64) {
		p95s = p95s[:0]
		f.WorstP95, f.WorstTenant = -1, ""
		for i := range c.perTenant {
			t := &c.perTenant[i]
			if t.Reqs == 0 || t.Reqs < min {
				continue
			}
			p := t.P95()
			p95s = append(p95s, p)
			if p > f.WorstP95 {
				f.WorstP95, f.WorstTenant = p, t.Host
			}
		}
	}
	rank(minReqs)
	if len(p95s) == 0 {
		rank(1)
	}
	if len(p95s) == 0 {
		f.WorstP95 = 0
		return f
	}
	sort.Float64s(p95s)
	f.MedianP95 = p95s[len(p95s)/2]
	f.BestP95 = p95s[0]
	f.MinReqs = -1
	for i := range c.perTenant {
		t := &c.perTenant[i]
		if t.Reqs == 0 {
			continue
		}
		f.Tenants++
		if f.MinReqs < 0 || t.Reqs < f.MinReqs {
			f.MinReqs = t.Reqs
		}
		f.MaxReqs = max(f.MaxReqs, t.Reqs)
		if r := float64(t.Fails) / float64(t.Reqs); r > f.WorstFailRt {
			f.WorstFailRt, f.WorstFailed = r, t.Host
		}
	}
	return f
}

// ServedTenants lists the tenants that got at least one request. Call it
// after the run (Freeze): the stats are not copied.
func (c *Collector) ServedTenants() []*TenantStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ts []*TenantStat
	for i := range c.perTenant {
		if c.perTenant[i].Reqs > 0 {
			ts = append(ts, &c.perTenant[i])
		}
	}
	return ts
}
