package verify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DefaultAuditRate is how many tenants a minute the proxy's continuous
// audit verifies when none is configured.
const DefaultAuditRate = 60

// AuditorConfig configures the continuous audit.
type AuditorConfig struct {
	// PerMinute is how many tenants are verified each minute, one at a
	// time, round robin over the list. 0 = DefaultAuditRate; negative = off.
	PerMinute int
	// List returns the tenants to audit (local databases and remote ones
	// on libSQL servers); it is called again after each full round.
	List       func(ctx context.Context) ([]Target, error)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Closed, if set, is called after a local tenant's database was opened
	// (read-only) and closed again by an audit: the shard manager charges
	// what SQLite keeps of that connection while it holds the file open
	// (shard.Manager.ClosedOutside).
	Closed func(Target)
}

// Auditor verifies tenant databases continuously in the background.
type Auditor struct {
	cfg      AuditorConfig
	audits   prometheus.Counter
	failures *prometheus.CounterVec
	skipped  *prometheus.CounterVec
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewAuditor returns an Auditor; Start launches it.
func NewAuditor(cfg AuditorConfig) *Auditor {
	if cfg.PerMinute == 0 {
		cfg.PerMinute = DefaultAuditRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := promauto.With(cfg.Registerer)
	a := &Auditor{
		cfg: cfg,
		audits: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_ledger_audits_total",
			Help: "Tenant databases verified by the continuous ledger audit.",
		}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgate_ledger_audit_failures_total",
			Help: "Findings of the continuous ledger audit, by check (balance, idempotency, schema, … : any is an incident).",
		}, []string{"check"}),
	}
	a.skipped = f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_ledger_audit_skipped_total",
		Help: "Checks of the continuous ledger audit that a remote tenant's libSQL server could not run: integrity_check, or open (the server could not be reached or read).",
	}, []string{"check"})
	for _, c := range Checks {
		a.failures.WithLabelValues(c)
	}
	a.skipped.WithLabelValues(CheckIntegrity)
	a.skipped.WithLabelValues(CheckOpen)
	return a
}

// Start launches the audit loop (nothing when PerMinute is negative).
func (a *Auditor) Start(ctx context.Context) {
	if a.cfg.PerMinute < 0 || a.cfg.List == nil {
		return
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.loop(ctx)
	}()
}

// Close stops the loop and waits for it.
func (a *Auditor) Close() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

func (a *Auditor) loop(ctx context.Context) {
	tick := time.NewTicker(time.Minute / time.Duration(a.cfg.PerMinute))
	defer tick.Stop()
	var queue []Target
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if len(queue) == 0 {
			var err error
			if queue, err = a.cfg.List(ctx); err != nil {
				a.cfg.Logger.Warn("ledger audit: list tenants", "err", err)
				continue
			}
			if len(queue) == 0 {
				continue
			}
		}
		t := queue[0]
		queue = queue[1:]
		a.AuditOne(ctx, t)
	}
}

// AuditOne verifies one tenant now and records the result.
func (a *Auditor) AuditOne(ctx context.Context, t Target) Report {
	r, err := Tenant(ctx, t)
	if !r.Remote && a.cfg.Closed != nil {
		a.cfg.Closed(t)
	}
	if err != nil {
		return r
	}
	if r.Remote && len(r.Findings) == 1 && r.Findings[0].Check == CheckOpen {
		// A libSQL server that cannot be reached (or read) is an outage
		// of that server, which its own alerts cover; nothing was proved
		// either way, so it is not a ledger finding.
		a.skipped.WithLabelValues(CheckOpen).Inc()
		a.cfg.Logger.Warn("ledger audit: remote tenant database not reachable", "tenant_id", t.ID, "host", t.Host, "detail", r.Findings[0].Detail)
		return r
	}
	a.audits.Inc()
	for _, sk := range r.Skipped {
		a.skipped.WithLabelValues(sk.Check).Inc()
		a.cfg.Logger.Debug("ledger audit: check skipped", "tenant_id", t.ID, "host", t.Host, "check", sk.Check, "reason", sk.Reason)
	}
	for _, f := range r.Findings {
		a.failures.WithLabelValues(f.Check).Inc()
		a.cfg.Logger.Error("ledger audit finding", "tenant_id", t.ID, "host", t.Host,
			"check", f.Check, "account_id", f.AccountID, "table", f.Table, "detail", f.Detail)
	}
	return r
}
