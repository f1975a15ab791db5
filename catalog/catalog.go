package catalog

import (
	"context"
	"database/sql"
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
	DefaultCacheSize    = 100_000
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

// catalogIdleConns bounds the catalog connections kept idle.
const catalogIdleConns = 64

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
	// A burst of tenants not in the cache runs that many lookups at once:
	// keep their connections for the next burst. database/sql keeps 2 idle
	// by default, so each lookup past those opened (and parsed the schema
	// on) a connection of its own and closed it; under 1,000 cold tenants
	// a second that starved the proxy. Idle ones go after a minute.
	db.SetMaxIdleConns(catalogIdleConns)
	db.SetConnMaxIdleTime(time.Minute)
	c := &Catalog{db: db, opts: opts, log: opts.Logger, done: make(chan struct{}), epoch: time.Now(), appliedCh: make(chan struct{}, 1)}
	c.cache = newCache(c, opts, newMetrics(opts.Registerer))
	seq, err := c.lastChange(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	c.cache.seq = seq
	c.revoked = newRevocationCache(opts)
	if c.revoked.seq, err = c.lastRevocation(ctx); err != nil {
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
	return c.db.Close()
}

// DB exposes the catalog database for tooling that migrates or inspects it.
func (c *Catalog) DB() *sql.DB { return c.db }
