// Package tenantmetrics keeps bounded per-tenant Prometheus series: the
// busiest N tenants by a Space-Saving sketch, everyone else as "other".
package tenantmetrics

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Other is the tenant label value shared by every tenant outside the
// busiest N. A tenant whose host is literally "other" is always counted
// there, so the label value stays unambiguous.
const Other = "other"

// DefaultInterval is how often Series re-ranks tenants.
const DefaultInterval = 10 * time.Second

// tenantDurationBuckets are the classic buckets of the per-tenant latency
// histogram: fewer than the global histogram's, because they are repeated
// for each of the N+1 tenant label values.
var tenantDurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Series keeps bounded per-tenant request, error, throttling and latency
// series: one set for each of the N busiest tenants and one shared set labelled
// tenant="other" for everybody else, so a scrape holds at most N+1 tenant
// label values whatever the tenant count.
//
// Busyness is counted in a Space-Saving heavy-hitter sketch of fixed capacity
// (memory does not grow with the tenant count), decayed by half at every
// re-rank so it follows recent traffic. Empty slots are filled by the first
// tenants seen; every Interval the set is recomputed from the sketch and the
// series of tenants that dropped out are deleted.
//
// All methods are safe for concurrent use and are no-ops on a nil
// *Series, which is what New returns when disabled.
type Series struct {
	// Interval between re-rankings; DefaultInterval unless set
	// before Start.
	Interval time.Duration

	n         int
	requests  *prometheus.CounterVec
	errors    *prometheus.CounterVec
	throttled *prometheus.CounterVec
	duration  *prometheus.HistogramVec

	top   atomic.Pointer[map[string]*tenantChildren] // current top set, copy-on-write
	other *tenantChildren

	mu     sync.Mutex // guards sketch and top-set writes
	sketch *spaceSaving
}

// tenantChildren are the label children of one tenant label value, looked up
// once so Observe never allocates or re-creates a deleted series.
type tenantChildren struct {
	requests  prometheus.Counter
	err4xx    prometheus.Counter
	err5xx    prometheus.Counter
	throttled prometheus.Counter
	duration  prometheus.Observer
}

// New registers the per-tenant metrics on reg, tracking the n
// busiest tenants individually. It returns nil (a valid, inert value) when
// n <= 0, and registers nothing then.
func New(reg prometheus.Registerer, n int) *Series {
	if n <= 0 {
		return nil
	}
	f := promauto.With(reg)
	ts := &Series{
		Interval: DefaultInterval,
		n:        n,
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tenant_requests_total",
			Help: "Requests served on tenant hosts, for the busiest tenants (see --tenant-metrics); all others are tenant=\"other\".",
		}, []string{"tenant"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tenant_request_errors_total",
			Help: "Tenant-host responses with a 4xx or 5xx status, by status class, for the busiest tenants; all others are tenant=\"other\".",
		}, []string{"tenant", "status_class"}),
		throttled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tenant_throttled_requests_total",
			Help: "Tenant-host requests refused with 429 by the per-tenant limits, for the busiest tenants; all others are tenant=\"other\".",
		}, []string{"tenant"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "tenantgate_tenant_request_duration_seconds",
			Help:                            "Tenant-host request latency, for the busiest tenants; all others are tenant=\"other\".",
			Buckets:                         tenantDurationBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"tenant"}),
		// The sketch holds more candidates than slots so a tenant climbing
		// into the top N is already being counted when the set is recomputed.
		sketch: newSpaceSaving(max(8*n, 64)),
	}
	ts.other = ts.children(Other)
	empty := map[string]*tenantChildren{}
	ts.top.Store(&empty)
	return ts
}

// children looks up (and so creates) the series of one tenant label value.
func (ts *Series) children(label string) *tenantChildren {
	return &tenantChildren{
		requests:  ts.requests.WithLabelValues(label),
		err4xx:    ts.errors.WithLabelValues(label, "4xx"),
		err5xx:    ts.errors.WithLabelValues(label, "5xx"),
		throttled: ts.throttled.WithLabelValues(label),
		duration:  ts.duration.WithLabelValues(label),
	}
}

// delete removes every series of one tenant label value.
func (ts *Series) delete(label string) {
	ts.requests.DeleteLabelValues(label)
	ts.errors.DeleteLabelValues(label, "4xx")
	ts.errors.DeleteLabelValues(label, "5xx")
	ts.throttled.DeleteLabelValues(label)
	ts.duration.DeleteLabelValues(label)
}

// Observe records one request served for the tenant whose catalog host is
// host, with its response status and duration. host must come from the
// catalog (catalog.Tenant.Host), never from the request, because it becomes a
// label value. It does not allocate in the steady state.
func (ts *Series) Observe(host string, status int, d time.Duration) {
	if ts == nil {
		return
	}
	top := *ts.top.Load()
	c, ok := top[host]
	ts.mu.Lock()
	ts.sketch.add(host)
	if !ok && len(top) < ts.n && host != Other {
		// A free slot: admit the tenant now rather than waiting for the next
		// re-rank, so per-tenant panels fill in as soon as traffic starts.
		c = ts.admitLocked(host)
		ok = c != nil
	}
	ts.mu.Unlock()
	if !ok {
		c = ts.other
	}
	c.requests.Inc()
	switch {
	case status == 429:
		c.throttled.Inc()
		c.err4xx.Inc()
	case status >= 500:
		c.err5xx.Inc()
	case status >= 400:
		c.err4xx.Inc()
	}
	c.duration.Observe(d.Seconds())
}

// admitLocked adds host to the top set if there is still room, returning its
// children, or nil when the set filled up meanwhile. ts.mu must be held.
func (ts *Series) admitLocked(host string) *tenantChildren {
	cur := *ts.top.Load()
	if c, ok := cur[host]; ok {
		return c
	}
	if len(cur) >= ts.n {
		return nil
	}
	next := make(map[string]*tenantChildren, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	c := ts.children(host)
	next[host] = c
	ts.top.Store(&next)
	return c
}

// Run re-ranks the tenants every Interval until ctx is done; the caller
// owns the goroutine (proxy.Server.Start runs it under its WaitGroup).
func (ts *Series) Run(ctx context.Context) {
	if ts == nil {
		return
	}
	interval := ts.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ts.Rerank()
		}
	}
}

// Rerank recomputes the top set from the sketch now: the N tenants with the
// highest recent counts keep or get their own series, the series of every
// tenant that dropped out are deleted, and the counts are halved so older
// traffic weighs less at the next re-rank. Start calls it every Interval.
func (ts *Series) Rerank() {
	if ts == nil {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ranked := ts.sketch.top(ts.n, Other)
	ts.sketch.decay()

	cur := *ts.top.Load()
	next := make(map[string]*tenantChildren, len(ranked))
	for _, host := range ranked {
		if c, ok := cur[host]; ok {
			next[host] = c
		} else {
			next[host] = ts.children(host)
		}
	}
	ts.top.Store(&next)
	// Delete after publishing so new Observe calls no longer find the old
	// children; an increment racing with the switch is lost, never leaked
	// into a re-created series.
	for host := range cur {
		if _, ok := next[host]; !ok {
			ts.delete(host)
		}
	}
}

// Tracked returns the hosts that currently have their own series, sorted.
func (ts *Series) Tracked() []string {
	if ts == nil {
		return nil
	}
	cur := *ts.top.Load()
	hosts := make([]string, 0, len(cur))
	for h := range cur {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}
