package proxy

import (
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/version"

	"github.com/microfi/tenantgate/proxy/connlimit"
)

// BuildVersion is the version this binary was built from. The Makefile
// stamps it from `git describe` with -ldflags -X
// github.com/prometheus/common/version.Version=…; a plain `go build` in a
// checkout falls back to the module version Go derives from the VCS, and
// anything else is "dev". The first call settles it (before the collector
// reads it).
func BuildVersion() string {
	buildVersionOnce.Do(func() {
		if version.Version != "" {
			return
		}
		version.Version = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version.Version = bi.Main.Version
		}
	})
	return version.Version
}

var buildVersionOnce sync.Once

// Route classes label request metrics: a small, fixed set.
const (
	classPublic = "public"
	classAdmin  = "admin"
	classTenant = "tenant_api"
	classSQL    = "sql"
	classStatic = "static"
	classNone   = "unrouted"
)

// statusLabels are the status label values of codes 0–599, made once so a
// request's metrics need no strconv (an allocation per request).
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

// statusLabel is the status code as a metric label value.
func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// Metrics are the proxy's own Prometheus metrics. The catalog and shard
// packages register theirs on the same registry.
type Metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	authFailures *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	reaperRuns   prometheus.Counter
	demosReaped  prometheus.Counter
	signups      *prometheus.CounterVec
	demos        prometheus.Counter
	// Edge (edge.go): connections refused or shed, bodies refused unread.
	connsRejected *prometheus.CounterVec
	bodyRejected  prometheus.Counter

	replicationRefused prometheus.Counter

	// The children of requests and duration, looked up once per label
	// set rather than on every request (hashing the label values each
	// time). The label sets are bounded: fixed classes and methods,
	// statuses the server sets.
	durations       sync.Map // class -> prometheus.Observer
	requestCounters sync.Map // requestKey -> prometheus.Counter
}

// requestKey is one label set of requests: a fixed class and method, and a
// status the server itself set.
type requestKey struct {
	class, method string
	status        int
}

// requestCounter is requests' child for the label set.
func (m *Metrics) requestCounter(class, method string, status int) prometheus.Counter {
	k := requestKey{class, method, status}
	if c, ok := m.requestCounters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(class, method, statusLabel(status))
	m.requestCounters.Store(k, c)
	return c
}

// durationOf is duration's child for the route class.
func (m *Metrics) durationOf(class string) prometheus.Observer {
	if o, ok := m.durations.Load(class); ok {
		return o.(prometheus.Observer)
	}
	o := m.duration.WithLabelValues(class)
	m.durations.Store(class, o)
	return o
}

// NewMetrics registers the proxy's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_http_requests_total", Help: "HTTP requests by route class, method and status code.",
		}, []string{"class", "method", "status"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "tenantgate_http_request_duration_seconds",
			Help:                        "HTTP request latency by route class.",
			Buckets:                     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
			NativeHistogramBucketFactor: 1.1,
		}, []string{"class"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "tenantgate_http_requests_in_flight", Help: "HTTP requests being served now.",
		}),
		authFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_auth_failures_total", Help: "Refused requests by reason: missing, invalid, expired, mismatch, forbidden, revoked, credentials (wrong e-mail or password at login), disabled, second_factor.",
		}, []string{"reason"}),
		throttled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_throttled_requests_total", Help: "Requests refused with 429 by limiter.",
		}, []string{"limiter"}),
		reaperRuns: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_demo_reaper_runs_total", Help: "Demo reaper passes.",
		}),
		signups: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_signups_total", Help: "Self-service signups, by whether they came from a demo (from_demo=true|false).",
		}, []string{"from_demo"}),
		demos: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_demos_created_total", Help: "Demo tenants created on the public site.",
		}),
		demosReaped: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_demo_tenants_reaped_total", Help: "Expired demo tenants removed.",
		}),
		connsRejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_connections_rejected_total",
			Help: "Connections refused at accept or closed to make room, by reason: max_conns, per_ip, resources (accept failed: out of descriptors or buffers), idle_shed, idle_cap.",
		}, []string{"reason"}),
		bodyRejected: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_request_body_rejected_total", Help: "Requests refused with 413 before their body was read.",
		}),
		replicationRefused: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_replication_refused_total", Help: "Embedded-replica and offline-sync requests refused (not supported).",
		}),
	}
	for _, r := range connlimit.Reasons {
		m.connsRejected.WithLabelValues(r)
	}
	for _, r := range []string{"missing", "invalid", "expired", "mismatch", "forbidden", "revoked", "credentials", "disabled", "second_factor"} {
		m.authFailures.WithLabelValues(r)
	}
	for _, l := range []string{"demo", "signup", "tenant_rate", "tenant_concurrency", "login_ip", "login_tenant", "login", "login_queue", "cpu"} { // exported at 0 so alerts and rate() see them from the start
		m.throttled.WithLabelValues(l)
	}
	for _, l := range budgetLabels {
		m.throttled.WithLabelValues(l)
	}
	for _, v := range []string{"true", "false"} {
		m.signups.WithLabelValues(v)
	}
	BuildVersion()
	if reg != nil {
		reg.MustRegister(versioncollector.NewCollector("tenantgate")) // tenantgate_build_info
	}
	return m
}
