package shard

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/remote"
	"github.com/microfi/tenantgate/shard/sqlcheck"
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

// Defaults for Config fields left zero.
const (
	// DefaultMaxOpen is the open-database cap when none is configured and
	// the file limit cannot be read.
	DefaultMaxOpen = 1000
	// DefaultPinWait is how long opening a database (or a connection) waits
	// for room when every open database is in use.
	DefaultPinWait = 2 * time.Second
	// DefaultRawIdlePerTenant and DefaultRawIdleTimeout shape the idle raw
	// connections (SQL over HTTP) kept per tenant database.
	DefaultRawIdlePerTenant = 16
	DefaultRawIdleTimeout   = 30 * time.Second
	// DefaultOpenQueue and DefaultOpenQueueWait bound the opens waiting
	// for one of the OpenConcurrency slots (2 per CPU by default).
	DefaultOpenQueue     = 256
	DefaultOpenQueueWait = time.Second
)

// Config configures a Manager. Zero fields take the defaults (withDefaults).
type Config struct {
	DataDir string // tenant files live in DataDir/tenants/<id>.db
	MaxOpen int    // databases kept open at once; 0 = DefaultMaxOpen
	// FDBudget is how many file descriptors tenant databases may hold:
	// FDsPerDatabase for each open database's pool, FDsPerConn for each raw
	// connection. 0 = MaxOpen × (FDsPerDatabase + 4 raw connections).
	FDBudget int
	// PinWait bounds the wait for room when every open database is pinned
	// (held by a request, a stream or a transaction) or the fd budget is
	// spent; then the open fails with ErrBusy. 0 = DefaultPinWait.
	PinWait time.Duration
	// RawIdlePerTenant and RawIdleTimeout bound the idle raw connections of
	// a tenant database (0 = the defaults above).
	RawIdlePerTenant int
	RawIdleTimeout   time.Duration
	// OpenConcurrency bounds the databases opening at once (0 = two per
	// CPU); OpenQueue and OpenQueueWait bound the opens waiting for a slot
	// (0 = the defaults): past either, an open fails at once with
	// ErrOverloaded instead of queueing.
	OpenConcurrency int
	OpenQueue       int
	OpenQueueWait   time.Duration
	// RawBusyTimeout bounds a raw connection's lock waits
	// (rawsqlite.DefaultBusyTimeout if zero).
	RawBusyTimeout time.Duration
	// WALCheckpointBytes: a local database whose WAL grows past this is
	// checkpointed and its WAL truncated, off the request path
	// (checkpoint.go); 0 = DefaultWALCheckpointBytes.
	WALCheckpointBytes int64
	Logger             *slog.Logger
	Registerer         prometheus.Registerer
	// SchemaCeiling, when set, is the newest tenant schema version that
	// migrate-on-open may apply: in a fleet with older proxies, a migration
	// they cannot serve (not expand-only) waits until they are gone (the
	// registry computes it; see registry.SchemaCeiling). nil = no ceiling.
	SchemaCeiling func() int

	// CheckerID names the build whose full checks the check log
	// (DataDir/tenant-checks.log) keeps across restarts; "" = a hash of
	// this executable. Tests set it to stand in for another build.
	CheckerID string

	// Remote is the HTTP pool for Hrana to tenants on libSQL servers
	// (Handle.Hrana); nil = a new one.
	Remote *remote.Transport
}

func (c *Config) withDefaults() {
	if c.MaxOpen <= 0 {
		c.MaxOpen = DefaultMaxOpen
	}
	if c.FDBudget <= 0 {
		c.FDBudget = c.MaxOpen * (FDsPerDatabase + 4*FDsPerConn)
	}
	if c.PinWait <= 0 {
		c.PinWait = DefaultPinWait
	}
	if c.RawIdlePerTenant <= 0 {
		c.RawIdlePerTenant = DefaultRawIdlePerTenant
	}
	if c.RawIdleTimeout <= 0 {
		c.RawIdleTimeout = DefaultRawIdleTimeout
	}
	if c.OpenConcurrency <= 0 {
		c.OpenConcurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if c.OpenQueue <= 0 {
		c.OpenQueue = DefaultOpenQueue
	}
	if c.OpenQueueWait <= 0 {
		c.OpenQueueWait = DefaultOpenQueueWait
	}
	if c.WALCheckpointBytes <= 0 {
		c.WALCheckpointBytes = DefaultWALCheckpointBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Remote == nil {
		c.Remote = remote.NewTransport(remote.Options{})
	}
}

// Manager hands out every connection to a tenant database: pooled
// *sql.DB handles for the API and raw connections for SQL over HTTP. It
// opens databases on demand and keeps at most MaxOpen of them open within
// an fd budget, closing the least recently used idle one to make room.
//
// A database in use (a Handle is held: by a request, an SQL stream or its
// transaction) is pinned: it is never evicted for room. When every open
// database is pinned, a new open waits up to PinWait and then fails with
// ErrBusy; it never steals. Evict (suspend, delete, restore) closes a
// database once the last Handle is released.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	closer  closer
	gate    *openGate
	checked checkedFiles
	// Remote tenants (remoteopen.go): their own open gate, the schemas
	// read at open, interned, and their metrics.
	remoteGate *openGate
	schemas    *lru.Cache[[32]byte, *sqlcheck.Schema]
	rm         remoteMetrics

	mu      sync.Mutex
	entries map[int64]*entry
	idle    idleLists // entries no Handle holds, by admission segment
	rawIdle map[*entry]struct{}
	grown   map[*entry]struct{} // entries with extraConns > 0
	fds     int                 // file descriptors charged (see FDBudget)
	freed   chan struct{}       // closed (and replaced) when room may have appeared
	waiters int                 // goroutines waiting on freed
	closed  bool

	stop chan struct{} // closed by Close: ends the janitor
	wg   sync.WaitGroup
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
	elem    *list.Element // in list (Manager.idle) while refs == 0
	list    *list.List
	// probation: opened for the first time in a while; main: touched
	// twice (admission.go).
	probation, main bool
	stmts           stmtCache     // prepared statements, closed with db
	writer          chan struct{} // one writer at a time (LockWrites), API and SQL alike
	raw             []*RawConn    // idle raw connections, oldest first
	rawOpen         int           // raw connections open (idle or in use)
	reads           int           // Reader calls that found no idle connection (HotReads)
	charged         bool          // FDsPerDatabase counted in Manager.fds
	// extraConns are pooled connections past the first charged to the
	// budget (pool.go).
	extraConns int
	limits     Limits // what it was opened with (AcquireWith)
	// maxPages is limits.MaxBytes in pages of this database (0: no quota),
	// set before ready is closed; every connection starts with it.
	maxPages int64
	// lingers: the open ran a maintenance connection beside the pool,
	// whose descriptor SQLite keeps pending (openLocal); charged in pending
	// when the open succeeded.
	lingers bool
	// connecting: the open's first pooled connection is opening or open.
	connecting bool
	// pending are database descriptors SQLite keeps from closed
	// connections while others of the file are open, by connMode, charged
	// until reused or the file's last connection closes (linger.go);
	// closing are raw connections the closer has not closed yet (counted
	// in pending, not reusable before they close).
	pending, closing [2]int

	hrana  *remote.Client   // Hrana client of a remote database (Handle.Hrana), made on first use
	schema *sqlcheck.Schema // a remote database's schema when it was opened (RemoteSchema)
}

// Handle is a held tenant database. Call Release when done.
type Handle struct {
	DB       *sql.DB
	TenantID int64
	e        *entry
	m        *Manager
	once     sync.Once
	coldWait time.Duration
}

// ColdWait is how long Acquire waited for the database to open (an open
// slot, room, the open and its checks), or 0 if it was open already.
func (h *Handle) ColdWait() time.Duration { return h.coldWait }

// Path is the local file path ("" for a remote database).
func (h *Handle) Path() string { return h.e.path }

// Remote reports whether the database is on a libSQL server.
func (h *Handle) Remote() bool { return h.e.path == "" }

// Done is closed when the database is being evicted or closed; long-lived
// users (SQL streams) must let go of it then.
func (h *Handle) Done() <-chan struct{} { return h.e.done }

// Release gives the handle back. It is safe to call more than once.
func (h *Handle) Release() { h.once.Do(func() { h.m.release(h.e) }) }

// Retain returns a second Handle on the same database, for a user that
// outlives the request (an SQL stream): the database stays pinned until it
// is released too. It fails once the database is being closed.
func (h *Handle) Retain() (*Handle, error) {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if h.e.evicted || h.m.closed {
		return nil, fmt.Errorf("%w: tenant %d is being closed", ErrUnavailable, h.e.id)
	}
	h.m.ref(h.e)
	return &Handle{DB: h.DB, TenantID: h.TenantID, e: h.e, m: h.m}, nil
}

// NewManager returns a Manager; it opens nothing and starts nothing until
// asked (Start runs the idle-connection janitor).
func NewManager(cfg Config) *Manager {
	cfg.withDefaults()
	m := &Manager{
		cfg: cfg, log: cfg.Logger, m: newMetrics(cfg.Registerer),
		entries: map[int64]*entry{}, idle: newIdleLists(cfg.MaxOpen), rawIdle: map[*entry]struct{}{},
		grown: map[*entry]struct{}{},
		freed: make(chan struct{}), stop: make(chan struct{}),
	}
	m.closer.log = cfg.Logger
	m.checked.l, m.checked.log = cfg.Logger, newCheckLog(cfg.DataDir, cfg.CheckerID)
	m.gate = newOpenGate(cfg.OpenConcurrency, cfg.OpenQueue, cfg.OpenQueueWait, m.m)
	m.remoteGate = newOpenGate(remoteOpenConcurrency, cfg.OpenQueue, cfg.OpenQueueWait, m.m)
	m.schemas, m.rm = newSchemaCache(), newRemoteMetrics(cfg.Registerer)
	m.m.fdBudget.Set(float64(cfg.FDBudget))
	m.m.maxOpen.Set(float64(cfg.MaxOpen))
	return m
}

// Start runs the janitor that closes raw connections idle for longer than
// RawIdleTimeout and returns the charge of pooled connections the pools
// closed, and the WAL checkpointer (checkpoint.go), until Close.
//
// It also loads the prints of the files this build checked before a
// restart (checkLog), so unchanged files open on the fast path.
func (m *Manager) Start() {
	m.checked.load()
	m.wg.Add(1)
	go m.checkpointLoop()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		every := min(m.cfg.RawIdleTimeout/4, time.Second)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case now := <-t.C:
				m.reapRaw(now.Add(-m.cfg.RawIdleTimeout))
				m.reconcilePools()
			}
		}
	}()
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
//
// A database that is not open takes an open slot first (openGate): when
// too many are opening, Acquire fails at once, or after a short wait, with
// ErrOverloaded rather than queueing without bound.
func (m *Manager) Acquire(ctx context.Context, id int64, dbURL string) (*Handle, error) {
	return m.acquire(ctx, id, dbURL, nil)
}

func (m *Manager) acquire(ctx context.Context, id int64, dbURL string, lim *Limits) (*Handle, error) {
	start := time.Now()
	m.mu.Lock()
	leave := func() {}
	if e, ok := m.entries[id]; !ok || e.dbURL != dbURL || (lim != nil && *lim != e.limits) {
		m.mu.Unlock()
		var err error
		gate := m.gate
		if storage.IsRemote(m.URL(id, dbURL)) {
			gate = m.remoteGate
		}
		if leave, err = gate.enter(ctx, id); err != nil {
			if errors.Is(err, ErrOverloaded) {
				m.m.opensShed.Inc()
			}
			return nil, err
		}
		m.mu.Lock()
	}
	e, created, err := m.entryLocked(ctx, id, dbURL, lim)
	if err != nil {
		m.mu.Unlock()
		leave()
		return nil, err
	}
	m.ref(e)
	m.mu.Unlock()
	cold := created
	if created {
		m.open(ctx, e, start) // concurrent acquires wait on e.ready
	} else {
		select {
		case <-e.ready:
		default:
			cold = true // another request is opening it
		}
	}
	leave()
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
	h := &Handle{DB: e.db, TenantID: id, e: e, m: m}
	if cold {
		h.coldWait = max(time.Since(start), time.Nanosecond)
	}
	return h, nil
}

// entryLocked finds the tenant's entry or makes room for a new one, which
// the caller then opens.
func (m *Manager) entryLocked(ctx context.Context, id int64, dbURL string, lim *Limits) (e *entry, created bool, err error) {
	var deadline <-chan time.Time
	remoteURL := storage.IsRemote(m.URL(id, dbURL))
	for {
		if m.closed {
			return nil, false, ErrClosed
		}
		if e, ok := m.entries[id]; ok {
			if e.dbURL == dbURL && (lim == nil || *lim == e.limits) {
				m.touchLocked(e)
				return e, false, nil
			}
			// The tenant moved (db_url changed) or its limits changed,
			// which its pools and connections carry for life: retire it.
			// Streams holding it finish on the old one.
			m.evictLocked(e)
		}
		// A remote database holds no file descriptor of its own (its
		// requests share the per-server pool, storage.SizeRemotePool).
		if len(m.entries) < m.cfg.MaxOpen && (remoteURL || m.fds+FDsPerDatabase <= m.cfg.FDBudget) {
			break
		}
		if m.makeRoomLocked() {
			continue
		}
		// Every open database is pinned: wait for one to be released.
		if deadline == nil {
			deadline = time.After(m.cfg.PinWait)
		}
		if err := m.waitLocked(ctx, deadline); err != nil {
			m.m.openFailures.WithLabelValues("pinned").Inc()
			m.m.opensBusy.Inc()
			return nil, false, fmt.Errorf("%w (tenant %d: every open tenant database is in use)", ErrBusy, id)
		}
	}
	e = &entry{id: id, dbURL: dbURL, url: m.URL(id, dbURL), ready: make(chan struct{}), done: make(chan struct{}), writer: make(chan struct{}, 1)}
	if lim != nil {
		e.limits = *lim
	}
	if !storage.IsRemote(e.url) {
		e.path = m.Path(id)
		if dbURL != "" {
			p, err := storage.LocalPath(dbURL)
			if err != nil {
				return nil, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			e.path = p
		}
	}
	m.entries[id] = e
	m.admitLocked(e)
	if !remoteURL {
		m.fds += FDsPerDatabase
		e.charged = true
	}
	m.gaugesLocked()
	return e, true, nil
}

// waitLocked waits (m.mu released meanwhile) until room may have appeared,
// the deadline passes or ctx ends.
func (m *Manager) waitLocked(ctx context.Context, deadline <-chan time.Time) error {
	freed := m.freed
	m.waiters++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.waiters--
	}()
	select {
	case <-freed:
		return nil
	case <-deadline:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signalLocked wakes everyone waiting for room.
func (m *Manager) signalLocked() {
	if m.waiters == 0 {
		return
	}
	close(m.freed)
	m.freed = make(chan struct{})
}

// makeRoomLocked frees file descriptors or a slot: the oldest idle raw
// connection first, else an idle database (admission.go picks which).
// It reports false when everything is pinned.
func (m *Manager) makeRoomLocked() bool {
	if m.fds+FDsPerDatabase > m.cfg.FDBudget && m.closeOldestRawLocked() {
		return true
	}
	return m.evictForRoomLocked()
}

// open opens e's database and publishes it, or the failure, to waiters.
//
// start is when the first request for it arrived: the open-duration
// histogram includes the wait for an open slot and for room.
func (m *Manager) open(ctx context.Context, e *entry, start time.Time) {
	// The open is shared: one caller's cancellation must not fail the rest.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	db, err := m.openChecked(octx, e)
	m.mu.Lock()
	if err == nil && (m.closed || e.evicted) {
		// Close or Evict ran during the open. The tenant may be open again
		// already, in another entry: what SQLite keeps of these
		// connections is charged to it (leftoversClosed).
		left := [2]int{db.Stats().OpenConnections, 0}
		if e.lingers {
			left[0]++
		}
		m.closer.close(db, nil, e.id, func() { m.leftoversClosed(e, left) })
		err = fmt.Errorf("%w: tenant %d was closed while opening", ErrUnavailable, e.id)
		if m.closed {
			err = ErrClosed
		}
	}
	if err != nil {
		e.err = err
		if m.entries[e.id] == e {
			delete(m.entries, e.id)
		}
		m.leaveLocked(e)
		if !e.evicted {
			e.evicted = true
			close(e.done)
		}
		m.unchargeLocked(e)
		if !errors.Is(err, ErrClosed) {
			m.m.opensFailed.Inc()
			m.m.openFailures.WithLabelValues(failureReason(err)).Inc()
			m.log.Warn("tenant database unavailable", "tenant_id", e.id, "err", err)
		}
		m.signalLocked()
	} else {
		e.db = db
		if e.lingers {
			// The maintenance connection's descriptor is pending like any
			// closed connection's: the next read-write one reuses it.
			e.pending[0]++
			m.fds++
		}
		m.m.opensOK.Inc()
		m.m.openDuration.Observe(time.Since(start).Seconds())
	}
	m.gaugesLocked()
	close(e.ready)
	m.mu.Unlock()
}

// ref pins e (under m.mu).
func (m *Manager) ref(e *entry) {
	if e.refs == 0 {
		m.unidleLocked(e)
	}
	e.refs++
}

func (m *Manager) release(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	switch {
	case e.evicted:
		m.closeEntryLocked(e)
	case e.err == nil && e.db != nil:
		m.idleLocked(e)
		m.signalLocked()
	}
}

// evictLocked starts closing e: it leaves the table at once and closes
// when no Handle holds it. The channel (nil if nothing closes now) is
// closed once its database is.
func (m *Manager) evictLocked(e *entry) <-chan struct{} {
	if e.evicted {
		return nil
	}
	e.evicted = true
	close(e.done)
	if m.entries[e.id] == e {
		delete(m.entries, e.id)
	}
	m.leaveLocked(e)
	m.unidleLocked(e)
	m.m.evictions.Inc()
	var closed <-chan struct{}
	if e.refs == 0 {
		closed = m.closeEntryLocked(e)
	}
	m.gaugesLocked()
	return closed
}

// closeEntryLocked hands an evicted, unheld entry's connections to the
// closer and returns its file descriptors to the budget.
//
// The charge returns at once, to make room; the closes follow in the
// closer's queue, and what SQLite keeps of them because the tenant's file
// was opened again meanwhile is charged to the new entry then.
func (m *Manager) closeEntryLocked(e *entry) <-chan struct{} {
	left := leftoversLocked(e)
	raws := e.raw
	for _, c := range raws {
		m.m.rawIdle.Dec()
		m.dropRawLocked(c, e, c.readOnly)
	}
	e.raw = nil
	delete(m.rawIdle, e)
	if e.db == nil {
		// Still opening (so no raw connection yet): open() sees evicted
		// and closes it.
		for _, c := range raws {
			m.closer.closeRaw(c, func() {})
		}
		return nil
	}
	db := e.db
	e.db = nil
	m.unchargeLocked(e)
	closed := m.closer.close(db, raws, e.id, func() { m.leftoversClosed(e, left) })
	m.gaugesLocked()
	return closed
}

// unchargeLocked returns an entry's descriptors to the budget, once. The
// database is closed right after (by the closer): the budget runs ahead of
// the closes by at most the closer's queue.
func (m *Manager) unchargeLocked(e *entry) {
	if e.charged {
		e.charged = false
		m.fds -= FDsPerDatabase + FDsPerConn*e.extraConns
		m.releasePendingLocked(e)
		e.extraConns = 0
		delete(m.grown, e)
		m.signalLocked()
	}
}

// Evict closes a tenant's database (once no request or stream holds it),
// so the next Acquire re-opens and re-checks it. Used after suspend,
// delete and restore; SQL streams on it are closed. When nothing holds it,
// Evict returns once the database is closed, so the file can be changed.
func (m *Manager) Evict(id int64) {
	m.mu.Lock()
	var closed <-chan struct{}
	m.checked.forget(m.Path(id))
	if e, ok := m.entries[id]; ok {
		m.checked.forget(e.path)
		closed = m.evictLocked(e)
	}
	m.mu.Unlock()
	if closed != nil {
		<-closed
	}
	m.checked.forget(m.Path(id)) // again: an open that raced this Evict may have recorded it
}

// OpenCount is how many tenant databases are open (or opening) now.
func (m *Manager) OpenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// Close closes every database and waits for the closes (and the janitor);
// later Acquires fail with ErrClosed. Databases still held close when
// their last Handle is released.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.stop)
	for _, e := range m.entries {
		m.evictLocked(e)
	}
	close(m.freed) // wake every waiter: they see closed
	m.freed = make(chan struct{})
	m.mu.Unlock()
	m.wg.Wait()
	m.closer.wait()
	m.checked.close()
	m.cfg.Remote.Close()
}

func (m *Manager) gaugesLocked() {
	m.m.open.Set(float64(len(m.entries)))
	m.m.fdsUsed.Set(float64(m.fds))
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
