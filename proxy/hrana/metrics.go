package hrana

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// errorKinds are the values of the kind label on the errors counter.
var errorKinds = []string{
	"protocol", "baton", "expired", "sql", "args", "refused", "timeout", "limit",
	"unavailable", "too_many_streams", "internal", "busy", "revoked",
}

// metrics are the Hrana counters, with label children looked up once.
type metrics struct {
	pipelines   map[string]prometheus.Counter
	statements  [2]prometheus.Counter // read, write
	duration    [2]prometheus.Observer
	expiries    prometheus.Counter
	streamWaits prometheus.Counter
	// snapshotCuts counts streams closed for holding a transaction past
	// MaxSnapshotAge.
	snapshotCuts prometheus.Counter
	errorsByKey  map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, openStreams func() float64) *metrics {
	f := promauto.With(reg)
	pipelines := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_hrana_pipelines_total",
		Help: "Hrana requests served, by endpoint (v2, v3, v3-protobuf, cursor, cursor-protobuf; ws counts WebSocket requests).",
	}, []string{"endpoint"})
	statements := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_hrana_statements_total",
		Help: "SQL statements run over Hrana, by kind (read or write).",
	}, []string{"kind"})
	duration := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tenantgate_hrana_statement_duration_seconds",
		Help:    "Time to run one Hrana SQL statement, by kind (read or write).",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"kind"})
	errs := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_hrana_errors_total",
		Help: "Hrana errors by kind (protocol, baton, expired, sql, args, refused, timeout, limit, unavailable, too_many_streams, internal, busy: a writer waited out the tenant's write lock, revoked: a WebSocket session closed because its token or tenant is no longer valid).",
	}, []string{"kind"})
	m := &metrics{
		pipelines: map[string]prometheus.Counter{},
		expiries: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_hrana_stream_expiries_total",
			Help: "Hrana streams closed because they were idle too long (their transaction rolled back).",
		}),
		snapshotCuts: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_hrana_snapshot_cuts_total",
			Help: "Hrana streams closed (transaction rolled back) for holding a transaction, and so a read snapshot that stops WAL checkpoints, longer than --sql-max-snapshot.",
		}),
		streamWaits: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_hrana_stream_waits_total",
			Help: "New Hrana streams that found their tenant at its stream cap and queued for a slot (those still without one after the wait count as errors{kind=\"too_many_streams\"}).",
		}),
		errorsByKey: map[string]prometheus.Counter{},
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tenantgate_hrana_streams_open",
		Help: "Hrana streams currently open (each holds a database connection and pins its tenant database).",
	}, openStreams)
	for _, e := range []string{"v2", "v3", "v3-protobuf", "cursor", "cursor-protobuf", "ws"} {
		m.pipelines[e] = pipelines.WithLabelValues(e)
	}
	for i, k := range []string{"read", "write"} {
		m.statements[i] = statements.WithLabelValues(k)
		m.duration[i] = duration.WithLabelValues(k)
	}
	for _, k := range errorKinds {
		m.errorsByKey[k] = errs.WithLabelValues(k)
	}
	return m
}

func (m *metrics) errors(kind string) prometheus.Counter {
	if c, ok := m.errorsByKey[kind]; ok {
		return c
	}
	return m.errorsByKey["internal"]
}

// observe records one statement.
func (m *metrics) observe(readOnly bool, start time.Time) {
	i := 1
	if readOnly {
		i = 0
	}
	m.statements[i].Inc()
	m.duration[i].Observe(time.Since(start).Seconds())
}
