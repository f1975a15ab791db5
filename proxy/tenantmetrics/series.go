// Package tenantmetrics keeps bounded per-tenant Prometheus series: the
// busiest N tenants by a Space-Saving sketch, everyone else as "other".
// Requests, errors, throttling and latency are counted per request; CPU is
// charged by the SQL scheduler; database and WAL bytes are read at scrape
// time (sizes.go).
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
	cpu       *prometheus.CounterVec

	top   atomic.Pointer[topSet] // current top set, copy-on-write
	other *tenantChildren
	sizes atomic.Pointer[SizeFunc] // database and WAL bytes (sizes.go)

	mu     sync.Mutex // guards sketch and top-set writes
	sketch *spaceSaving

	// scrape is held for reading by a scrape (collector.go) and for
	// writing by Rerank, so a scrape sees one top set.
	scrape sync.RWMutex
}

// topSet is the tracked tenants, by host and by catalog id (the scheduler
// charges CPU by id). A tenant observed without its id is only in byHost.
type topSet struct {
	byHost map[string]*tenantChildren
	byID   map[int64]*tenantChildren
}

// with returns a copy of ts with c added under host (and its id, if known).
func (ts *topSet) with(host string, c *tenantChildren) *topSet {
	next := &topSet{byHost: make(map[string]*tenantChildren, len(ts.byHost)+1), byID: make(map[int64]*tenantChildren, len(ts.byID)+1)}
	for k, v := range ts.byHost {
		next.byHost[k] = v
	}
	for k, v := range ts.byID {
		next.byID[k] = v
	}
	next.byHost[host] = c
	if c.id != 0 {
		next.byID[c.id] = c
	}
	return next
}

// tenantChildren are the label children of one tenant label value, looked up
// once so Observe never allocates or re-creates a deleted series.
type tenantChildren struct {
	id        int64 // catalog id; 0 when unknown (and for "other")
	requests  prometheus.Counter
	err4xx    prometheus.Counter
	err5xx    prometheus.Counter
	throttled prometheus.Counter
	duration  prometheus.Observer
	cpu       prometheus.Counter
}

// New registers the per-tenant metrics on reg, tracking the n
// busiest tenants individually. It returns nil (a valid, inert value) when
// n <= 0, and registers nothing then.
func New(reg prometheus.Registerer, n int) *Series {
	if n <= 0 {
		return nil
	}
	// The vectors are not registered one by one: collector.go gathers
	// them together, under the scrape lock.
	f := promauto.With(nil)
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
		cpu: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tenant_cpu_seconds_total",
			Help: "Time the tenant's SQL statements spent running in SQLite's VM (waits for a CPU token excluded), for the busiest tenants; all others are tenant=\"other\".",
		}, []string{"tenant"}),
		// The sketch holds more candidates than slots so a tenant climbing
		// into the top N is already being counted when the set is recomputed.
		sketch: newSpaceSaving(max(8*n, 64)),
	}
	ts.other = ts.children(Other, 0)
	ts.top.Store(&topSet{byHost: map[string]*tenantChildren{}, byID: map[int64]*tenantChildren{}})
	if reg != nil {
		reg.MustRegister(collector{ts})
	}
	return ts
}

// children looks up (and so creates) the series of one tenant label value.
func (ts *Series) children(label string, id int64) *tenantChildren {
	return &tenantChildren{
		id:        id,
		cpu:       ts.cpu.WithLabelValues(label),
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
	ts.cpu.DeleteLabelValues(label)
}

// Observe records one request served for the tenant whose catalog host is
// host, with its response status and duration. host must come from the
// catalog (catalog.Tenant.Host), never from the request, because it becomes a
// label value. It does not allocate in the steady state.
func (ts *Series) Observe(host string, status int, d time.Duration) {
	ts.ObserveTenant(0, host, status, d)
}

// ObserveTenant is Observe for a tenant whose catalog id is known, so its CPU
// (charged by id, see AddCPU) and file sizes land in its own series.
func (ts *Series) ObserveTenant(id int64, host string, status int, d time.Duration) {
	if ts == nil {
		return
	}
	top := ts.top.Load()
	c, ok := top.byHost[host]
	ts.mu.Lock()
	ts.sketch.add(host, id)
	if !ok && len(top.byHost) < ts.n && host != Other {
		// A free slot: admit the tenant now rather than waiting for the next
		// re-rank, so per-tenant panels fill in as soon as traffic starts.
		c = ts.admitLocked(host, id)
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
func (ts *Series) admitLocked(host string, id int64) *tenantChildren {
	cur := ts.top.Load()
	if c, ok := cur.byHost[host]; ok {
		return c
	}
	if len(cur.byHost) >= ts.n {
		return nil
	}
	c := ts.children(host, id)
	ts.top.Store(cur.with(host, c))
	return c
}

// AddCPU charges d of SQL running time to the tenant with catalog id id:
// to its own series when it is tracked, to "other" otherwise. It is the
// fair CPU scheduler's OnCharge hook and does not allocate.
func (ts *Series) AddCPU(id int64, d time.Duration) {
	if ts == nil {
		return
	}
	c, ok := ts.top.Load().byID[id]
	if !ok {
		c = ts.other
	}
	c.cpu.Add(d.Seconds())
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
	// Series are created and deleted below: no scrape may see half of it
	// (the new tenants in one family and the old ones in another).
	ts.scrape.Lock()
	defer ts.scrape.Unlock()
	ranked := ts.sketch.top(ts.n, Other)
	ts.sketch.decay()

	cur := ts.top.Load()
	next := &topSet{byHost: make(map[string]*tenantChildren, len(ranked)), byID: make(map[int64]*tenantChildren, len(ranked))}
	for _, it := range ranked {
		c, ok := cur.byHost[it.key]
		if !ok || (c.id == 0 && it.id != 0) {
			if ok {
				c = &tenantChildren{id: it.id, requests: c.requests, err4xx: c.err4xx, err5xx: c.err5xx, throttled: c.throttled, duration: c.duration, cpu: c.cpu}
			} else {
				c = ts.children(it.key, it.id)
			}
		}
		next.byHost[it.key] = c
		if c.id != 0 {
			next.byID[c.id] = c
		}
	}
	ts.top.Store(next)
	// Delete after publishing so new Observe calls no longer find the old
	// children; an increment racing with the switch is lost, never leaked
	// into a re-created series.
	for host := range cur.byHost {
		if _, ok := next.byHost[host]; !ok {
			ts.delete(host)
		}
	}
}

// Tracked returns the hosts that currently have their own series, sorted.
func (ts *Series) Tracked() []string {
	if ts == nil {
		return nil
	}
	cur := ts.top.Load().byHost
	hosts := make([]string, 0, len(cur))
	for h := range cur {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}
