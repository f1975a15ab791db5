// Package rawsqlite is a direct SQLite connection on modernc.org/sqlite/lib
// (the transpiled C API), for serving SQL over Hrana.
//
// database/sql cannot be used there: modernc's driver turns TEXT in
// DATE/DATETIME/TIMESTAMP columns into time.Time, losing the storage class a
// wire protocol must report, and it hides the prepare tail, parameter names
// and declared types. A Conn exposes exactly what the protocol needs and
// enforces the tenant safety policy with an SQLite authorizer (see
// authorizer.go): no ATTACH, no extensions, no file writes, no weakening
// PRAGMAs, no tampering with the tenant stamp or its guard triggers.
//
// A Conn is not safe for concurrent use, except Interrupt, which may be
// called from any goroutine.
package rawsqlite

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultBusyTimeout is how long a statement waits for a lock held by
// another connection before failing with SQLITE_BUSY.
const DefaultBusyTimeout = 5 * time.Second

// MaxValueLength caps any one string or blob a statement may build
// (SQLITE_LIMIT_LENGTH): no response could carry a bigger value anyway, and
// SQLite's default of 1 GB let one statement, such as
// SELECT length(randomblob(1e9)), allocate a gigabyte the process kept.
const MaxValueLength = 32 << 20

// progressOps is how many VM instructions run between deadline checks.
const progressOps = 1000

// Options configure Open.
type Options struct {
	// ReadOnly opens the file read-only: every write fails with
	// SQLITE_READONLY.
	ReadOnly bool
	// BusyTimeout bounds lock waits; zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// SchemaCheck runs right after each statement that created or renamed
	// a schema object, inside a savepoint: an error undoes the statement
	// and is its result. It runs with the safety policy lifted (its own
	// queries may read anything) and must not be nil for tenant SQL (see
	// seal.Check).
	SchemaCheck func(*Conn) error
	// Trusted lifts the tenant policy on managed tables, PRAGMAs and schema
	// changes: the connection has the bank's own rights (a front proxy
	// reaching this tenantgate as its shard, which runs its own checks).
	// ATTACH, extensions and DEFENSIVE stay off; the stamp and the tenant
	// guard triggers still hold.
	Trusted bool
	// MaxPages is the tenant's storage quota in pages (PRAGMA
	// max_page_count, set before the authorizer, which refuses changing
	// it); 0 = none. A write past it fails with SQLITE_FULL, reported as
	// "storage quota exceeded"; reads go on.
	MaxPages int64
}

// QuotaMessage is the error of a write refused by the storage quota.
const QuotaMessage = "storage quota exceeded: the database reached its size limit; reads still work, " +
	"and space freed by DELETE or DROP is reclaimed with PRAGMA incremental_vacuum"

// ErrClosed is returned by calls on a closed Conn.
var ErrClosed = errors.New("rawsqlite: connection is closed")

// Conn is one SQLite connection to a tenant database file.
type Conn struct {
	mu   sync.Mutex // guards db/tls against Interrupt racing Close
	tls  *libc.TLS
	db   uintptr
	path string
	ro   bool

	// schemaCheck audits the schema after a statement that may have added
	// an object touching a managed table (see Options.SchemaCheck).
	schemaCheck func(*Conn) error
	// ddl is set by the authorizer while preparing a statement that
	// creates or renames a schema object.
	ddl bool
	// schemaOp is set while preparing a DROP or ALTER TABLE, which keep
	// the object's sqlite_sequence and sqlite_stat* rows in step themselves.
	schemaOp bool
	// probe, when set, makes the authorizer record each access instead of
	// deciding (see Probe).
	probe *[]Access
	// internal lets this package's own audit statements through.
	internal bool
	// trusted: see Options.Trusted.
	trusted bool
	// text is the SQL being compiled (by Prepare, or by SQLite
	// re-preparing a statement in Step after a schema change), and ctes the
	// names its WITH clauses define, read once the authorizer asks.
	text      string
	ctes      map[string]bool
	ctesKnown bool
	// denied is the reason of the authorizer's last refusal, reported
	// instead of SQLite's bare "not authorized".
	denied string
	// noop, nulled and schemaChange describe the last Prepare: a PRAGMA
	// accepted as a no-op, a secret column read as NULL (both SQLITE_IGNORE:
	// what runs is not what the text says), a schema object added, dropped
	// or altered (see Compiled).
	noop, nulled, schemaChange bool
	// dirty is set when a statement may have changed connection state that
	// outlives a stream (temp objects, per-connection PRAGMAs).
	dirty bool
	// deadline is the per-statement deadline in Unix nanoseconds (0: none),
	// checked by the progress handler on the goroutine running the statement.
	deadline atomic.Int64
	timedOut bool
	cache    stmtCache // prepared statements kept for reuse (cache.go)
	// meter, when set, is asked on every progress callback whether the
	// statement may go on (the fair CPU scheduler); it runs on the
	// statement's goroutine, as SetMeter's caller does.
	meter    Meter
	metered  bool  // the meter stopped the last statement
	maxPages int64 // the storage quota in pages (0: none)
}

// CPUShareMessage is the error of a statement the fair CPU scheduler
// stopped (or refused to start).
const CPUShareMessage = "CPU share exceeded: the tenant has too many long-running statements; the statement was interrupted, retry later"

// Meter decides, from SQLite's progress handler, whether a running
// statement may continue. Tick may block (to wait for a CPU share);
// false interrupts the statement.
type Meter interface{ Tick() bool }

// registry maps SQLite handles to their Conn for the authorizer and progress
// callbacks, which SQLite calls with the handle as their argument.
var registry sync.Map // uintptr -> *Conn

// Open opens an existing database file. It sets WAL (read-write only), a
// busy timeout, foreign keys, SQLITE_DBCONFIG_DEFENSIVE, disables extension
// loading and ATTACH, and installs the safety authorizer.
func Open(path string, opts Options) (*Conn, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	c := &Conn{tls: libc.NewTLS(), path: path, ro: opts.ReadOnly}
	flags := int32(sqlite3.SQLITE_OPEN_NOMUTEX | sqlite3.SQLITE_OPEN_EXRESCODE)
	if opts.ReadOnly {
		flags |= sqlite3.SQLITE_OPEN_READONLY
	} else {
		flags |= sqlite3.SQLITE_OPEN_READWRITE
	}
	zPath, err := libc.CString(path)
	if err != nil {
		c.tls.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	ppDb := c.malloc(int(unsafe.Sizeof(uintptr(0))))
	rc := sqlite3.Xsqlite3_open_v2(c.tls, zPath, ppDb, flags, 0)
	libc.Xfree(c.tls, zPath)
	c.db = *(*uintptr)(cptr(ppDb))
	c.free(ppDb)
	if rc != sqlite3.SQLITE_OK {
		err := c.errorFor(rc)
		if c.db != 0 {
			sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		}
		c.tls.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !opts.ReadOnly && c.openedReadOnly() {
		// SQLite falls back to read-only when it cannot open the file for
		// writing (out of descriptors, say): every write would then fail.
		c.Close()
		return nil, fmt.Errorf("open %s: %w", path, &Error{Code: sqlite3.SQLITE_CANTOPEN, Msg: "could only be opened read-only"})
	}
	if err := c.setup(opts); err != nil {
		c.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return c, nil
}

// openedReadOnly reports whether the main database is read-only.
func (c *Conn) openedReadOnly() bool {
	zMain, err := libc.CString("main")
	if err != nil {
		return false
	}
	defer libc.Xfree(c.tls, zMain)
	return sqlite3.Xsqlite3_db_readonly(c.tls, c.db, zMain) == 1
}

func (c *Conn) setup(opts Options) error {
	for _, cfg := range []struct {
		op int32
		on bool
	}{
		{sqlite3.SQLITE_DBCONFIG_DEFENSIVE, true},
		{sqlite3.SQLITE_DBCONFIG_TRUSTED_SCHEMA, false},
		{sqlite3.SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, false},
		{sqlite3.SQLITE_DBCONFIG_ENABLE_ATTACH_CREATE, false},
		{sqlite3.SQLITE_DBCONFIG_ENABLE_ATTACH_WRITE, false},
	} {
		if rc := c.dbConfig(cfg.op, cfg.on); rc != sqlite3.SQLITE_OK {
			return fmt.Errorf("db_config %d: %w", cfg.op, c.errorFor(rc))
		}
	}
	// No ATTACH at all: this also stops VACUUM INTO and VACUUM, which
	// attach their target internally without consulting the authorizer.
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_ATTACHED, 0)
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_LENGTH, MaxValueLength)
	if rc := sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, int32(opts.BusyTimeout/time.Millisecond)); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("busy_timeout: %w", c.errorFor(rc))
	}
	setup := "PRAGMA foreign_keys=ON"
	if !c.ro {
		setup += "; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
	}
	if opts.MaxPages > 0 {
		setup += fmt.Sprintf("; PRAGMA max_page_count=%d", opts.MaxPages)
		c.maxPages = opts.MaxPages
	}
	if err := c.Exec(setup); err != nil {
		return err
	}
	c.schemaCheck = opts.SchemaCheck
	c.trusted = opts.Trusted
	if c.trusted {
		c.schemaCheck = nil
	}
	registry.Store(c.db, c)
	if rc := sqlite3.Xsqlite3_set_authorizer(c.tls, c.db, funcPointer(authorizerTrampoline), c.db); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("set authorizer: %w", c.errorFor(rc))
	}
	sqlite3.Xsqlite3_progress_handler(c.tls, c.db, progressOps, funcPointer(progressTrampoline), c.db)
	return nil
}

// Path is the database file this connection was opened on.
func (c *Conn) Path() string { return c.path }

// Trusted reports whether the connection has the bank's rights (Options.Trusted).
func (c *Conn) Trusted() bool { return c.trusted }

// ReadOnly reports whether the connection was opened read-only.
func (c *Conn) ReadOnly() bool { return c.ro }

// Close finalizes the cached statements and closes the connection; callers
// finalize their other statements first (sqlite3_close_v2 defers the close
// until they do).
func (c *Conn) Close() error {
	if c.db != 0 {
		c.finalizeCache()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == 0 {
		return nil
	}
	registry.Delete(c.db)
	rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db)
	c.db = 0
	c.tls.Close()
	c.tls = nil
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("close %s: %s", c.path, CodeName(int(rc)))
	}
	return nil
}

// Interrupt makes the running statement (if any) fail with
// SQLITE_INTERRUPT. Safe from any goroutine.
func (c *Conn) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == 0 {
		return
	}
	// A fresh TLS: c.tls belongs to the goroutine running the statement.
	tls := libc.NewTLS()
	sqlite3.Xsqlite3_interrupt(tls, c.db)
	tls.Close()
}

// SetDeadline bounds how long statements may run from now on: once t has
// passed, the running statement fails with SQLITE_INTERRUPT ("statement
// timeout") and the connection stays usable. The zero time removes it.
func (c *Conn) SetDeadline(t time.Time) {
	c.timedOut = false
	if t.IsZero() {
		c.deadline.Store(0)
		return
	}
	c.deadline.Store(t.UnixNano())
}

// SetMeter installs m for the statements run from now on (nil removes it).
func (c *Conn) SetMeter(m Meter) {
	c.meter = m
	c.metered = false
}

// Autocommit reports whether no explicit transaction is open.
func (c *Conn) Autocommit() bool {
	return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) != 0
}

// Changes is the number of rows changed by the last INSERT/UPDATE/DELETE.
func (c *Conn) Changes() int64 { return sqlite3.Xsqlite3_changes64(c.tls, c.db) }

// TotalChanges counts every row changed by INSERT/UPDATE/DELETE since the
// connection opened; comparing it before and after a statement tells
// whether that statement changed rows (Changes alone keeps the previous
// statement's count across a SELECT).
func (c *Conn) TotalChanges() int64 { return sqlite3.Xsqlite3_total_changes64(c.tls, c.db) }

// LastInsertRowID is the rowid of the most recent successful INSERT.
func (c *Conn) LastInsertRowID() int64 { return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db) }

// Dirty reports whether the connection ran something that changes
// connection state beyond a transaction (temp objects, PRAGMA settings), so
// it should be closed rather than handed to another stream.
func (c *Conn) Dirty() bool { return c.dirty }

// Exec runs every statement in sql, discarding rows.
func (c *Conn) Exec(sql string) error {
	for {
		st, tail, err := c.Prepare(sql)
		if err != nil {
			return err
		}
		if st == nil {
			return nil
		}
		for {
			row, err := st.Step()
			if err != nil {
				st.Finalize()
				return err
			}
			if !row {
				break
			}
		}
		st.Finalize()
		sql = tail
	}
}

// Rollback rolls back an open transaction, if any.
func (c *Conn) Rollback() error {
	if c.Autocommit() {
		return nil
	}
	c.SetDeadline(time.Time{})
	return c.Exec("ROLLBACK")
}

// PagesWritten counts the pages this connection has written to its WAL
// (to the file, outside WAL mode) since it opened
// (SQLITE_DBSTATUS_CACHE_WRITE): what its statements cost in I/O.
func (c *Conn) PagesWritten() int64 {
	p := c.tls.Alloc(8)
	defer c.tls.Free(8)
	if sqlite3.Xsqlite3_db_status(c.tls, c.db, sqlite3.SQLITE_DBSTATUS_CACHE_WRITE, p, p+4, 0) != sqlite3.SQLITE_OK {
		return 0
	}
	return int64(*(*int32)(cptr(p)))
}

func (c *Conn) malloc(n int) uintptr {
	p := libc.Xmalloc(c.tls, libc.Tsize_t(n))
	if p == 0 {
		panic("rawsqlite: out of memory")
	}
	return p
}

func (c *Conn) free(p uintptr) {
	if p != 0 {
		libc.Xfree(c.tls, p)
	}
}

// dbConfig calls sqlite3_db_config(db, op, int onoff, int *pRes=NULL).
func (c *Conn) dbConfig(op int32, on bool) int32 {
	v := int32(0)
	if on {
		v = 1
	}
	bp := c.malloc(16) // libc.VaList uses 8-byte slots
	defer c.free(bp)
	return sqlite3.Xsqlite3_db_config(c.tls, c.db, op, libc.VaList(bp, v, uintptr(0)))
}

// errorFor turns a result code into an *Error with the connection's message
// (or the authorizer's reason for a refusal, or the timeout).
func (c *Conn) errorFor(rc int32) *Error {
	code := int(rc)
	if c.db != 0 {
		if ext := int(sqlite3.Xsqlite3_extended_errcode(c.tls, c.db)); ext&0xff == code&0xff {
			code = ext
		}
	}
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	} else {
		msg = libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	}
	switch {
	case c.denied != "" && (code&0xff == sqlite3.SQLITE_AUTH || strings.HasPrefix(msg, "not authorized")):
		// SQLite reports a refused function as a plain SQLITE_ERROR.
		msg = "not authorized: " + c.denied
		code = sqlite3.SQLITE_AUTH
	case code&0xff == sqlite3.SQLITE_INTERRUPT && c.timedOut:
		msg = "statement timeout: the statement ran too long and was interrupted"
	case code&0xff == sqlite3.SQLITE_INTERRUPT && c.metered:
		msg = CPUShareMessage
	case code&0xff == sqlite3.SQLITE_FULL && c.maxPages > 0:
		msg = QuotaMessage
	case code&0xff == sqlite3.SQLITE_ERROR && msg == "too many attached databases - max 0":
		msg = "not authorized: ATTACH, DETACH and VACUUM are not allowed"
		code = sqlite3.SQLITE_AUTH
	}
	return &Error{Code: code, Msg: msg}
}

// funcPointer converts a top-level Go function into the function pointer
// the transpiled C code calls (a pointer to the func value, which for a
// top-level function is static and never moves).
func funcPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// progressTrampoline is SQLite's progress callback: a non-zero return
// interrupts the statement once its deadline has passed.
func progressTrampoline(_ *libc.TLS, pArg uintptr) int32 {
	v, ok := registry.Load(pArg)
	if !ok {
		return 0
	}
	c := v.(*Conn)
	d := c.deadline.Load()
	if d != 0 && time.Now().UnixNano() > d {
		c.timedOut = true
		return 1
	}
	if c.meter != nil && !c.meter.Tick() {
		c.metered = true
		return 1
	}
	return 0
}

// cptr turns an address in C memory into an unsafe.Pointer. The memory is
// allocated by libc, outside the Go heap, so the GC never moves it; the
// indirection keeps vet's unsafeptr check quiet about the conversion.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
