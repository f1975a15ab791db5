package shard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/seal"
	"github.com/microfi/tenantgate/shard/storage"
)

// Pool sizes of one tenant's *sql.DB. SQLite has one writer at a time, so
// more connections only add file descriptors. All of them may stay idle, so
// a burst does not close and reopen connections (each reopen re-parses the
// schema); ConnIdleTimeout sheds them once the tenant goes quiet.
const (
	MaxConnsPerTenant     = 4
	MaxIdleConnsPerTenant = MaxConnsPerTenant
	ConnIdleTimeout       = 2 * time.Minute
)

// errMigrateOnOpen marks a pending migration that failed when a tenant
// database was opened (reported as reason "schema").
var errMigrateOnOpen = errors.New("migrate on open")

// DefaultMaxOpen is the open-database cap when none is configured and the
// file limit cannot be read.
const DefaultMaxOpen = 1000

// Config configures a Manager.
type Config struct {
	DataDir    string // tenant files live in DataDir/tenants/<id>.db
	MaxOpen    int    // databases kept open at once (LRU); 0 = DefaultMaxOpen
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Manager opens tenant databases on demand and keeps at most MaxOpen of them
// open, closing the least recently used. A database is never closed while a
// Handle to it is held: eviction marks it and the last Release closes it.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	mu      sync.Mutex
	entries map[int64]*entry
	lru     *lru.Cache[int64, *entry]
	closed  bool
}

type entry struct {
	id      int64
	dbURL   string // the catalog's db_url it was opened for ("" = local default)
	url     string
	path    string        // local file path; "" for remote databases
	db      *sql.DB       // nil until ready
	err     error         // open failure, shared by waiters
	ready   chan struct{} // closed when db or err is set
	done    chan struct{} // closed when the entry starts closing
	refs    int
	evicted bool
	stmts   stmtCache     // prepared statements, closed with db
	writer  chan struct{} // one in-process writer at a time (LockWrites)
}

// Handle is a held tenant database. Call Release when the request is done.
type Handle struct {
	DB       *sql.DB
	TenantID int64
	e        *entry
	m        *Manager
	once     sync.Once
}

// Path is the local file path ("" for a remote database).
func (h *Handle) Path() string { return h.e.path }

// Remote reports whether the database is on a libSQL server.
func (h *Handle) Remote() bool { return h.e.path == "" }

// Done is closed when the database is being evicted or closed; long-lived
// users (SQL streams) must let go of it then.
func (h *Handle) Done() <-chan struct{} { return h.e.done }

// Release gives the handle back. It is safe to call more than once.
func (h *Handle) Release() { h.once.Do(func() { h.m.release(h.e) }) }

// NewManager returns a Manager; it opens nothing until asked.
func NewManager(cfg Config) *Manager {
	if cfg.MaxOpen <= 0 {
		cfg.MaxOpen = DefaultMaxOpen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, entries: map[int64]*entry{}, m: newMetrics(cfg.Registerer)}
	m.lru, _ = lru.NewWithEvict(cfg.MaxOpen, func(_ int64, e *entry) { m.evictLocked(e) })
	return m
}

// MaxOpen is the configured cap.
func (m *Manager) MaxOpen() int { return m.cfg.MaxOpen }

// Path is where a local tenant database lives.
func (m *Manager) Path(id int64) string {
	return filepath.Join(m.cfg.DataDir, "tenants", strconv.FormatInt(id, 10)+".db")
}

// URL is the database URL for a tenant: its own db_url, or its local file.
func (m *Manager) URL(id int64, dbURL string) string {
	if dbURL != "" {
		return dbURL
	}
	return "file:" + m.Path(id)
}

// Acquire returns an open, stamp-checked, migrated database for the tenant,
// opening it if needed. Concurrent acquires of one tenant share one open.
func (m *Manager) Acquire(ctx context.Context, id int64, dbURL string) (*Handle, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	e, ok := m.entries[id]
	if ok && e.dbURL != dbURL {
		// The tenant moved (db_url changed): retire the old handle.
		m.lru.Remove(id)
		ok = false
	}
	if !ok {
		e = &entry{id: id, dbURL: dbURL, url: m.URL(id, dbURL), ready: make(chan struct{}), done: make(chan struct{}), writer: make(chan struct{}, 1)}
		if !storage.IsRemote(e.url) {
			e.path = m.Path(id)
			if dbURL != "" {
				p, err := storage.LocalPath(dbURL)
				if err != nil {
					m.mu.Unlock()
					return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
				}
				e.path = p
			}
		}
		m.entries[id] = e
		e.refs++
		m.mu.Unlock()
		m.open(ctx, e)
	} else {
		e.refs++
		m.lru.Get(id) // mark recently used
		m.mu.Unlock()
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		m.release(e)
		return nil, ctx.Err()
	}
	if e.err != nil {
		m.release(e)
		return nil, e.err
	}
	return &Handle{DB: e.db, TenantID: id, e: e, m: m}, nil
}

// open opens e's database and publishes it, or the failure, to waiters.
func (m *Manager) open(ctx context.Context, e *entry) {
	start := time.Now()
	// The open is shared: one caller's cancellation must not fail the rest.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	db, err := m.openChecked(octx, e)
	m.mu.Lock()
	if err == nil && m.closed {
		// Close ran during the open: nothing would ever close this one.
		go db.Close()
		err = ErrClosed
	}
	if err != nil {
		e.err = err
		delete(m.entries, e.id)
		if !errors.Is(err, ErrClosed) {
			m.m.openFailures.WithLabelValues(failureReason(err)).Inc()
			m.log.Warn("tenant database unavailable", "tenant_id", e.id, "err", err)
		}
	} else {
		e.db = db
		m.m.opens.Inc()
		m.m.openDuration.Observe(time.Since(start).Seconds())
		m.lru.Add(e.id, e)
		m.m.open.Set(float64(m.lru.Len()))
	}
	close(e.ready)
	m.mu.Unlock()
}

func (m *Manager) openChecked(ctx context.Context, e *entry) (*sql.DB, error) {
	if e.path != "" {
		if _, err := os.Stat(e.path); err != nil {
			return nil, fmt.Errorf("%w: %w: %s", ErrUnavailable, ErrNotFound, e.path)
		}
	}
	if e.path != "" {
		// Stamp, migrations and the schema audit run on a maintenance
		// connection; the bank gets its own defensive pool afterwards.
		maint, err := storage.Open(ctx, e.url)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		err = prepare(ctx, maint, e.id, m.m)
		if err == nil {
			err = m.repairSchema(ctx, maint, e.id)
		}
		maint.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
		}
	}
	var db *sql.DB
	var err error
	if e.path != "" {
		db, err = storage.OpenBank(ctx, e.path, seal.BankAuthorizer)
	} else {
		db, err = storage.Open(ctx, e.url)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	db.SetMaxOpenConns(MaxConnsPerTenant)
	db.SetMaxIdleConns(MaxIdleConnsPerTenant)
	db.SetConnMaxIdleTime(ConnIdleTimeout)
	if e.path == "" { // a libSQL server: its own authorizer, no audit here
		if err := prepare(ctx, db, e.id, m.m); err != nil {
			db.Close()
			return nil, fmt.Errorf("%w: tenant %d: %w", ErrUnavailable, e.id, err)
		}
	}
	return db, nil
}

// prepare refuses a database stamped for another tenant and brings its
// schema up to date (each migration in its own short transaction), or
// refuses it if it is newer than this binary.
func prepare(ctx context.Context, db *sql.DB, id int64, mm *metrics) error {
	if err := storage.CheckStamp(ctx, db, id); err != nil {
		return err
	}
	pending, err := migrations.Pending(ctx, db, migrations.Tenant)
	if errors.Is(err, migrations.ErrSchemaAhead) {
		return fmt.Errorf("%w: %w", ErrSchemaAhead, err)
	}
	if err != nil {
		return err
	}
	for _, mig := range pending {
		if err := migrations.Apply(ctx, db, mig, false); err != nil {
			mm.migrationsFailed.Inc()
			return fmt.Errorf("%w: %w", errMigrateOnOpen, err)
		}
		mm.migrationsApplied.Inc()
	}
	return nil
}

func (m *Manager) release(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.evicted {
		m.closeEntry(e)
	}
}

// evictLocked runs under m.mu (the LRU calls it from Add/Remove).
func (m *Manager) evictLocked(e *entry) {
	if e.evicted {
		return
	}
	e.evicted = true
	close(e.done)
	if m.entries[e.id] == e {
		delete(m.entries, e.id)
	}
	m.m.evictions.Inc()
	m.m.open.Set(float64(m.lru.Len()))
	if e.refs == 0 {
		m.closeEntry(e)
	}
}

func (m *Manager) closeEntry(e *entry) {
	if e.db == nil {
		return
	}
	db := e.db
	e.db = nil
	// Closing waits for in-flight statements; never do it under m.mu.
	go func() {
		if err := db.Close(); err != nil {
			m.log.Warn("close tenant database", "tenant_id", e.id, "err", err)
		}
	}()
}

// Evict closes a tenant's database (once no request holds it), so the next
// Acquire re-opens and re-checks it. Used after suspend, delete and restore.
func (m *Manager) Evict(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[id]; ok {
		if !m.lru.Remove(id) {
			m.evictLocked(e)
		}
	}
}

// OpenCount is how many tenant databases are open now.
func (m *Manager) OpenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// Close closes every database; later Acquires fail with ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	var pending []*sql.DB
	for _, id := range m.lru.Keys() {
		if e, ok := m.lru.Peek(id); ok && e.db != nil && e.refs == 0 {
			pending = append(pending, e.db)
			e.db = nil
		}
	}
	m.lru.Purge()
	m.mu.Unlock()
	for _, db := range pending {
		db.Close()
	}
}

func failureReason(err error) string {
	switch {
	case errors.Is(err, ErrStampMismatch):
		return "stamp_mismatch"
	case errors.Is(err, ErrSchemaAhead), errors.Is(err, migrations.ErrChecksumMismatch), errors.Is(err, errMigrateOnOpen):
		return "schema"
	case errors.Is(err, errForeignSchema):
		return "foreign_schema"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	default:
		return "backend"
	}
}
