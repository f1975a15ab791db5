package fairshare

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scheduler's Prometheus series. A nil *Metrics records
// nothing.
type Metrics struct {
	waiting prometheus.Gauge
	cpu     prometheus.Counter
	refusal map[string]prometheus.Counter
	heavy   map[string]prometheus.Counter // by kind: sql, api
}

// NewMetrics registers the scheduler's series on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantgate_sql_cpu_waiting_statements",
			Help: "Heavy SQL statements and API calls waiting for a CPU token.",
		}),
		cpu: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_sql_cpu_seconds_total",
			Help: "Time SQL statements spent running in SQLite's VM (waits for a CPU token excluded), all tenants.",
		}),
		refusal: map[string]prometheus.Counter{},
		heavy:   map[string]prometheus.Counter{},
	}
	heavy := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_cpu_heavy_starts_total",
		Help: "Statements (kind=sql) and API calls (kind=api) that waited for a CPU token before they started, their tenant's recent work having cost more than its light share.",
	}, []string{"kind"})
	for _, k := range []string{"sql", "api"} {
		m.heavy[k] = heavy.WithLabelValues(k)
	}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_sql_cpu_refusals_total",
		Help: "Tenant work refused by the fair CPU scheduler, by reason: admit (request 429), queue_full or deadline (statement interrupted, API call 429).",
	}, []string{"reason"})
	for _, r := range []string{"admit", "queue_full", "deadline"} {
		m.refusal[r] = refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.waiting, m.cpu, refused, heavy)
	}
	return m
}

func (m *Metrics) refused(reason string) {
	if m != nil {
		m.refusal[reason].Inc()
	}
}

func (m *Metrics) heavyStart(kind string) {
	if m != nil {
		m.heavy[kind].Inc()
	}
}

func (m *Metrics) charge(d time.Duration) {
	if m != nil {
		m.cpu.Add(d.Seconds())
	}
}

func (m *Metrics) wait(delta float64) {
	if m != nil {
		m.waiting.Add(delta)
	}
}
