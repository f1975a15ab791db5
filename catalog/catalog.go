package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// Defaults for Options.
const (
	DefaultCacheSize = 100_000
	// LookupConns bounds the connections that load cache misses.
	LookupConns         = 4
	DefaultPositiveTTL  = 5 * time.Minute
	DefaultNegativeTTL  = 10 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
	DefaultStaleAfter   = 5 * time.Second
)

// Options configures a Catalog. Zero fields take the defaults.
type Options struct {
	CacheSize    int           // entries in each of the positive and negative caches
	PositiveTTL  time.Duration // how long a found tenant is trusted without a change notice
	NegativeTTL  time.Duration // how long an unknown host stays unknown
	PollInterval time.Duration // how often the change log is read; < 0 disables polling
	// StaleAfter: when no change poll has succeeded for this long the
	// caches are dropped (and Stale reports true) until one does; < 0 = never.
	StaleAfter time.Duration
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Catalog is the tenant catalog database with its host cache.
type Catalog struct {
	db      *sql.DB
	remote  bool    // a libSQL server, not a local file (see poll)
	lookups *sql.DB // the caches' loads: a bounded pool of its own (LookupConns)
	// The loads' statements, compiled once per lookup connection (a miss
	// compiled its statement anew: about half of its CPU).
	byHost, byDomain, revocations *sql.Stmt

	cache   *cache
	revoked *revocationCache
	opts    Options
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}

	// Written by the poller, read by Applied, Stale and the registry.
	epoch              time.Time    // monotonic base of lastPoll
	lastPoll           atomic.Int64 // since epoch, of the last successful poll
	appliedChanges     atomic.Int64
	appliedRevocations atomic.Int64
	appliedCh          chan struct{}
}

// Open opens (and migrates) the catalog at url — a file: URL or path, or a
// libsql://, https:// or http:// libSQL server — and starts the change
// poller that keeps the cache in step with other processes.
func Open(ctx context.Context, url string, opts Options) (*Catalog, error) {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.PositiveTTL <= 0 {
		opts.PositiveTTL = DefaultPositiveTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.StaleAfter == 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := storage.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	if _, err := migrations.Migrate(ctx, db, migrations.Catalog); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate catalog: %w", err)
	}
	// Cache misses get a pool of their own, bounded and kept open. Each new
	// connection parses the catalog's schema (about a millisecond), and
	// database/sql keeps only two idle ones by default: a burst of misses
	// (every tenant's first request after a start) opened and closed a
	// connection per lookup, without bound, and that CPU starved the rest
	// of the proxy (BENCHMARKS.md, "10,000 tenants"). Apart from db, a
	// lookup never waits behind a transaction holding the last connection.
	lookups, err := storage.Open(ctx, url)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	lookups.SetMaxOpenConns(LookupConns)
	lookups.SetMaxIdleConns(LookupConns)
	db.SetMaxIdleConns(LookupConns)
	c := &Catalog{db: db, remote: storage.IsRemote(url), lookups: lookups, opts: opts, log: opts.Logger, done: make(chan struct{}), epoch: time.Now(), appliedCh: make(chan struct{}, 1)}
	c.cache = newCache(c, opts, newMetrics(opts.Registerer))
	seq, err := c.lastChange(ctx)
	if err == nil {
		err = c.prepareLookups(ctx)
	}
	if err != nil {
		c.closeLookups()
		db.Close()
		return nil, err
	}
	c.cache.seq = seq
	c.revoked = newRevocationCache(opts)
	if c.revoked.seq, err = c.lastRevocation(ctx); err != nil {
		c.closeLookups()
		db.Close()
		return nil, err
	}
	c.publishApplied()
	pollCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if opts.PollInterval > 0 {
		go c.poll(pollCtx)
	} else {
		close(c.done)
	}
	return c, nil
}

// Close stops the poller and closes the database.
func (c *Catalog) Close() error {
	c.cancel()
	<-c.done
	return errors.Join(c.closeLookups(), c.db.Close())
}

func (c *Catalog) prepareLookups(ctx context.Context) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		if st, err = c.lookups.PrepareContext(ctx, q); err != nil {
			err = fmt.Errorf("prepare catalog lookup: %w", err)
		}
		return st
	}
	c.byHost = prep(`SELECT ` + tenantColumns + ` FROM tenants WHERE host = ? AND ` + visible)
	c.byDomain = prep(`SELECT ` + tenantColumns + ` FROM tenants WHERE custom_domain = ? AND ` + visible)
	c.revocations = prep(revocationsQuery)
	return err
}

func (c *Catalog) closeLookups() error {
	for _, st := range []*sql.Stmt{c.byHost, c.byDomain, c.revocations} {
		if st != nil {
			st.Close()
		}
	}
	return c.lookups.Close()
}

// DB exposes the catalog database for tooling that migrates or inspects it.
func (c *Catalog) DB() *sql.DB { return c.db }
