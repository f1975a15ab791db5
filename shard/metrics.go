package shard

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	opensOK, opensFailed, opensBusy, opensShed prometheus.Counter
	evictions                                  prometheus.Counter
	open, maxOpen, opensWaiting                prometheus.Gauge
	fdBudget                                   prometheus.Gauge
	fdsUsed                                    prometheus.Gauge
	rawOpen, rawIdle                           prometheus.Gauge
	openDuration                               prometheus.Observer
	openFailures                               *prometheus.CounterVec

	migrationsApplied, migrationsFailed prometheus.Counter
	migrationsHeld                      prometheus.Counter
	schemaRepairs                       prometheus.Counter
	checkFull, checkCached              prometheus.Counter
	autoVacuum, checkpoints             *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		evictions: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_tenant_db_evictions_total", Help: "Tenant databases closed by the LRU cap or on request."}),
		open:      f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_open", Help: "Tenant databases open (or opening) now."}),
		maxOpen:   f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_max_open", Help: "The open-database cap (from the fd and memory limits, or --max-open-tenants)."}),
		opensWaiting: f.NewGauge(prometheus.GaugeOpts{
			Name: "tenantgate_tenant_db_opens_waiting", Help: "Tenant database opens waiting for an open slot (bounded: past the bound they are shed).",
		}),
		fdBudget: f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_fd_budget", Help: "File descriptors tenant databases may hold (pools and raw connections)."}),
		fdsUsed:  f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_fds", Help: "File descriptors charged to open tenant databases and raw connections now."}),
		rawOpen:  f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_raw_connections", Help: "Raw SQLite connections (SQL over HTTP, and the bank API's hot reads) open now, idle ones included."}),
		rawIdle:  f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_tenant_db_raw_connections_idle", Help: "Raw SQLite connections idle in the per-tenant pools, waiting for a new SQL stream or read."}),
		openDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "tenantgate_tenant_db_open_duration_seconds", Help: "Time from the first request for a tenant database that is not open to the database being ready: the wait for an open slot and for room, then open and checks (cold-start latency).",
			Buckets:                     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			NativeHistogramBucketFactor: 1.1,
		}),
		openFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_tenant_db_open_failures_total",
			Help: "Tenant databases (or connections) that could not be served, by reason (stamp_mismatch is a security event; pinned: every open database was in use).",
		}, []string{"reason"}),
		migrationsApplied: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_migrations_applied_total", Help: "Schema migrations applied to tenant databases when they were opened."}),
		migrationsFailed:  f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_migrations_failed_total", Help: "Schema migrations that failed on a tenant database being opened (the tenant gets 503)."}),
		migrationsHeld: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_migrations_held_total",
			Help: "Tenant databases opened without their newest migrations because a live proxy in the fleet cannot serve them yet (not expand-only)."}),
	}
	m.schemaRepairs = f.NewCounter(prometheus.CounterOpts{
		Name: "tenantgate_tenant_db_schema_repairs_total",
		Help: "Foreign indexes, triggers and views touching a managed table, dropped when a tenant database was opened (each is a security event).",
	})
	opens := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_tenant_db_opens_total",
		Help: "Tenant database opens (cold starts) by result: ok; failed (see tenantgate_tenant_db_open_failures_total); busy (every open database in use for PinWait); shed (too many opening at once).",
	}, []string{"result"})
	m.opensOK, m.opensFailed = opens.WithLabelValues("ok"), opens.WithLabelValues("failed")
	m.opensBusy, m.opensShed = opens.WithLabelValues("busy"), opens.WithLabelValues("shed")
	checks := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_tenant_db_open_checks_total",
		Help: "Schema checks of local tenant databases being opened: full (migrations and seal audit on a maintenance connection) or cached (the file and its schema are unchanged since a full check passed).",
	}, []string{"check"})
	m.checkFull, m.checkCached = checks.WithLabelValues("full"), checks.WithLabelValues("cached")
	m.autoVacuum = f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_tenant_db_autovacuum_total",
		Help: "Tenant databases found on auto_vacuum=NONE when opened: converted to INCREMENTAL (a VACUUM), or pending (too big to convert on open).",
	}, []string{"result"})
	m.checkpoints = f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_tenant_wal_checkpoints_total",
		Help: "Checkpoints of tenant WALs grown past --wal-checkpoint-size, by result (truncated; partial: a reader or writer was in the way, retried next round; failed).",
	}, []string{"result"})
	for _, r := range []string{"truncated", "partial", "failed"} {
		m.checkpoints.WithLabelValues(r)
	}
	m.autoVacuum.WithLabelValues("converted")
	m.autoVacuum.WithLabelValues("pending")
	for _, r := range []string{"stamp_mismatch", "schema", "foreign_schema", "not_found", "backend", "pinned"} {
		m.openFailures.WithLabelValues(r)
	}
	return m
}
