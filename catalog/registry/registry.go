// Package registry is the proxy registry: every serving proxy keeps a row
// in the catalog's proxies table, refreshed by a heartbeat, with its
// address, version, the newest tenant schema it can serve, the change-log
// position it has applied and its recent traffic per tenant. From it the
// fleet knows who is running (List, `tenantgate fleet`), a change can wait
// until every live proxy has applied it (Await), `migrate` knows how far it
// may take the tenants, and each proxy learns its share of fleet-wide
// limits (Options.OnPeers).
//
// Liveness is judged on the catalog's clock: a proxy is dead when its last
// heartbeat is older than its own dead_after (DeadAfterBeats heartbeats).
// Its catalog caches stop being trusted well before that (the catalog's
// StaleAfter is half of it), which is what makes it safe for Await to stop
// waiting for a dead proxy.
package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/microfi/tenantgate/catalog"
)

// Defaults.
const (
	// DefaultInterval is the heartbeat period.
	DefaultInterval = 2 * time.Second
	// DeadAfterBeats heartbeats missed make a proxy dead: 10 s by default.
	DeadAfterBeats = 5
	// forgetAfter is how long a dead proxy's row is kept for the listing.
	forgetAfter = time.Hour
	// MaxLoadKeys bounds the load a heartbeat carries (the busiest keys;
	// Options.Load may choose which itself by returning no more).
	MaxLoadKeys = 1000
)

// States of a proxy.
const (
	StateServing  = "serving"
	StateDraining = "draining" // deregistered from traffic: finishing in-flight requests
	StateDead     = "dead"     // no heartbeat within its dead_after
)

// nowMS is the catalog's clock in milliseconds since the epoch: every
// heartbeat time is written and compared by SQL, so proxies on machines
// with different clocks agree.
const nowMS = `CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`

// Options configures a Registry. ID and Address are required.
type Options struct {
	ID           string // unique in the fleet; default Address
	Address      string // where the proxy serves (host:port)
	Version      string
	TenantSchema int           // newest tenant schema version this binary can serve
	Interval     time.Duration // heartbeat period; 0 = DefaultInterval
	// Load, when set, returns the proxy's recent request rate per key
	// (tenant id, or a named budget); it is published with each heartbeat.
	Load func() map[string]float64
	// OnPeers, when set, is called after each heartbeat with every live
	// proxy, this one included (from the heartbeat goroutine).
	OnPeers    func(self string, live []Proxy)
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// DeadAfter is the timeout after which a proxy heartbeating every interval
// is counted dead.
func DeadAfter(interval time.Duration) time.Duration {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return DeadAfterBeats * interval
}

// Registry is this proxy's membership in the fleet. New starts nothing;
// Start registers and launches the heartbeat; Drain marks the proxy
// draining; Close stops the heartbeat and removes the row.
type Registry struct {
	cat  *catalog.Catalog
	db   *sql.DB
	opts Options
	log  *slog.Logger
	m    metrics

	registered atomic.Bool
	draining   atomic.Bool
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeOnce  sync.Once
}

type metrics struct {
	beats, failures prometheus.Counter
	live            prometheus.Gauge
}

// New returns the registry of one proxy on cat.
func New(cat *catalog.Catalog, opts Options) (*Registry, error) {
	if opts.Address == "" {
		return nil, errors.New("registry: Address is required")
	}
	if opts.ID == "" {
		opts.ID = opts.Address
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f := promauto.With(opts.Registerer)
	r := &Registry{cat: cat, db: cat.DB(), opts: opts, log: opts.Logger, cancel: func() {}}
	r.m = metrics{
		beats: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_fleet_heartbeats_total",
			Help: "Heartbeats (and change acknowledgements) written to the proxy registry."}),
		failures: f.NewCounter(prometheus.CounterOpts{Name: "tenantgate_fleet_heartbeat_failures_total",
			Help: "Heartbeats that could not be written or whose peers could not be read."}),
		live: f.NewGauge(prometheus.GaugeOpts{Name: "tenantgate_fleet_live_proxies",
			Help: "Live proxies in the registry (this one included), as of the last heartbeat."}),
	}
	return r, nil
}

// ID is this proxy's id in the registry.
func (r *Registry) ID() string { return r.opts.ID }

// Registered reports whether the proxy's row has been written.
func (r *Registry) Registered() bool { return r.registered.Load() }

// Draining reports whether Drain was called.
func (r *Registry) Draining() bool { return r.draining.Load() }

// Start registers the proxy (one heartbeat, synchronously) and launches
// the heartbeat. A failed registration is logged and retried by the
// heartbeat; until one succeeds Registered is false (readiness fails).
func (r *Registry) Start(ctx context.Context) {
	if err := r.beat(ctx, true); err != nil {
		r.log.Warn("proxy registration failed; retrying with the heartbeat", "proxy", r.opts.ID, "err", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.run(bg) })
}

// run heartbeats every Interval and acknowledges each change the catalog
// poller applies as soon as it is applied.
func (r *Registry) run(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.beat(ctx, !r.registered.Load()); err != nil && ctx.Err() == nil {
				r.log.Warn("proxy heartbeat failed", "proxy", r.opts.ID, "err", err)
			}
		case <-r.cat.AppliedChanged():
			if err := r.ack(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("proxy change acknowledgement failed", "proxy", r.opts.ID, "err", err)
			}
		}
	}
}

// beat writes the proxy's row (first: its start time too), then reads the
// live proxies for OnPeers and forgets long-dead rows.
func (r *Registry) beat(ctx context.Context, first bool) (err error) {
	defer func() {
		if err != nil {
			r.m.failures.Inc()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, r.opTimeout())
	defer cancel()
	load := []byte("{}")
	if r.opts.Load != nil {
		if load, err = json.Marshal(TopLoad(r.opts.Load(), MaxLoadKeys)); err != nil {
			return fmt.Errorf("encode load: %w", err)
		}
	}
	state := StateServing
	if r.draining.Load() {
		state = StateDraining
	}
	pos := r.cat.Applied()
	started := `started_ms`
	if first {
		started = `excluded.started_ms`
	}
	_, err = r.db.ExecContext(ctx, `INSERT INTO proxies (id, address, version, tenant_schema, applied_changes,
			applied_revocations, state, dead_after_ms, started_ms, heartbeat_ms, load)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, `+nowMS+`, `+nowMS+`, ?)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version,
			tenant_schema = excluded.tenant_schema, applied_changes = excluded.applied_changes,
			applied_revocations = excluded.applied_revocations, state = excluded.state,
			dead_after_ms = excluded.dead_after_ms, started_ms = `+started+`,
			heartbeat_ms = excluded.heartbeat_ms, load = excluded.load`,
		r.opts.ID, r.opts.Address, r.opts.Version, r.opts.TenantSchema, pos.Changes, pos.Revocations,
		state, DeadAfter(r.opts.Interval).Milliseconds(), string(load))
	if err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	r.m.beats.Inc()
	r.registered.Store(true)
	if _, err := r.db.ExecContext(ctx, `DELETE FROM proxies WHERE heartbeat_ms < `+nowMS+` - dead_after_ms - ?`,
		forgetAfter.Milliseconds()); err != nil {
		r.log.Debug("forget dead proxies", "err", err)
	}
	all, err := list(ctx, r.db)
	if err != nil {
		return err
	}
	live := Live(all)
	r.m.live.Set(float64(len(live)))
	if r.opts.OnPeers != nil {
		r.opts.OnPeers(r.opts.ID, live)
	}
	return nil
}

// opTimeout bounds one registry write: at least a few seconds, so a busy
// catalog (a writer holding the file) delays a heartbeat rather than fails it.
func (r *Registry) opTimeout() time.Duration { return max(r.opts.Interval, 3*time.Second) }

// ack publishes the applied position at once (it is also a heartbeat).
func (r *Registry) ack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opTimeout())
	defer cancel()
	pos := r.cat.Applied()
	_, err := r.db.ExecContext(ctx, `UPDATE proxies SET applied_changes = ?, applied_revocations = ?, heartbeat_ms = `+nowMS+`
		WHERE id = ?`, pos.Changes, pos.Revocations, r.opts.ID)
	if err != nil {
		r.m.failures.Inc()
		return fmt.Errorf("write acknowledgement: %w", err)
	}
	r.m.beats.Inc()
	return nil
}

// Drain marks the proxy draining: readiness fails (the load balancer stops
// sending new requests) and peers stop counting it for limits, while it
// still heartbeats and applies changes for the requests it finishes.
func (r *Registry) Drain(ctx context.Context) error {
	r.draining.Store(true)
	ctx, cancel := context.WithTimeout(ctx, r.opTimeout())
	defer cancel()
	if _, err := r.db.ExecContext(ctx, `UPDATE proxies SET state = ?, heartbeat_ms = `+nowMS+` WHERE id = ?`,
		StateDraining, r.opts.ID); err != nil {
		return fmt.Errorf("mark proxy %s draining: %w", r.opts.ID, err)
	}
	return nil
}

// Close stops the heartbeat and removes the proxy's row: it no longer
// serves anything, so no change waits for it and no migration counts it.
func (r *Registry) Close(ctx context.Context) error {
	var err error
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		if !r.registered.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, r.opTimeout())
		defer cancel()
		if _, e := r.db.ExecContext(ctx, `DELETE FROM proxies WHERE id = ?`, r.opts.ID); e != nil {
			err = fmt.Errorf("deregister proxy %s: %w", r.opts.ID, e)
		}
	})
	return err
}

// TopLoad keeps the n busiest keys of a load report.
func TopLoad(load map[string]float64, n int) map[string]float64 {
	if len(load) <= n {
		return load
	}
	type kv struct {
		k string
		v float64
	}
	all := make([]kv, 0, len(load))
	for k, v := range load {
		all = append(all, kv{k, v})
	}
	// A partial selection would do; n is small and this runs every few seconds.
	sortDesc(all, func(a kv) float64 { return a.v })
	out := make(map[string]float64, n)
	for _, e := range all[:n] {
		out[e.k] = e.v
	}
	return out
}
