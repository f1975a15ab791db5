// Package storage owns tenant (and catalog) database files: opening them by
// URL in each mode, the tenant stamp, the verified backup, file removal,
// URL redaction and the SQLite error predicates. It sits at the bottom:
// it imports only migrations and the drivers, so catalog, shard and the
// tools all share one opener.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tursodatabase/libsql-client-go/libsql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver for file: databases
)

// BusyTimeoutMillis is how long a local connection waits for a lock.
const BusyTimeoutMillis = 5000

// Mode is how a local database file is opened.
type Mode int

const (
	// ReadWrite: WAL, synchronous=NORMAL, write transactions BEGIN
	// IMMEDIATE (two writers never deadlock upgrading a read lock).
	ReadWrite Mode = iota
	// ReadOnly: a live database (the proxy may be writing it) opened
	// without write access; committed WAL pages are read.
	ReadOnly
	// AtRest: a file no process is writing (an import source, a snapshot).
	// Without a -wal file it is opened immutable, so SQLite creates no
	// -wal/-shm next to it and the directory is left exactly as it was.
	AtRest
	// Bank: ReadWrite with synchronous=FULL (a commit is on disk when it
	// returns: an acknowledged posting survives power loss),
	// SQLITE_DBCONFIG_DEFENSIVE and trusted_schema off; see OpenBank.
	Bank
)

// Open opens a database by URL read-write: the one place that decides by
// scheme, for the catalog and tenants alike.
//
//   - "file:PATH" or a bare path: modernc.org/sqlite, opened directly (see
//     DSN for the connection settings). libsql-client-go's own file: path
//     leaks a *sql.DB per connector, so it is not used here.
//   - "libsql://", "https://", "http://": libsql-client-go over HTTP. An
//     "authToken" query parameter becomes the bearer token; "tls=0" turns a
//     libsql:// URL into plain HTTP.
func Open(ctx context.Context, rawURL string) (*sql.DB, error) {
	return OpenMode(ctx, rawURL, ReadWrite)
}

// OpenMode opens a database by URL in mode. A remote database has no modes
// (the libSQL server enforces access), so mode only shapes local files.
func OpenMode(ctx context.Context, rawURL string, mode Mode) (*sql.DB, error) {
	if IsRemote(rawURL) {
		return openRemote(rawURL)
	}
	path, err := LocalPath(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", DSN(path, mode))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// OpenMemory opens a private in-memory database (one connection: each
// connection would be its own database), for scratch schemas.
func OpenMemory(ctx context.Context) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// DSN is the modernc.org/sqlite DSN for a local database file in mode:
// URI plus the settings of every connection. This is the one place they
// live: add a pragma to the right mode here.
func DSN(path string, mode Mode) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	switch mode {
	case ReadWrite:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	case Bank:
		q.Set("_defensive", "1")
		q.Add("_pragma", "trusted_schema(0)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	return URI(path, mode) + "&" + q.Encode()
}

// URI is the SQLite URI filename for a local database file in mode, for
// places that take SQLite's own syntax (ATTACH, the backup API's source).
func URI(path string, mode Mode) string {
	u := "file:" + (&url.URL{Path: path}).EscapedPath()
	switch mode {
	case ReadOnly:
		return u + "?mode=ro"
	case AtRest:
		if _, err := os.Stat(path + "-wal"); err == nil {
			// A WAL database copied while in use: plain mode=ro reads the
			// WAL's committed pages.
			return u + "?mode=ro"
		}
		return u + "?mode=ro&immutable=1"
	}
	return u + "?mode=rwc"
}

// IsRemote reports whether the URL names a libSQL server.
func IsRemote(rawURL string) bool {
	for _, p := range []string{"libsql://", "https://", "http://"} {
		if len(rawURL) >= len(p) && strings.EqualFold(rawURL[:len(p)], p) {
			return true
		}
	}
	return false
}

// LocalPath returns the file path of a "file:" URL or bare path.
func LocalPath(rawURL string) (string, error) {
	if rawURL == "" {
		return "", fmt.Errorf("empty database URL")
	}
	if !strings.HasPrefix(rawURL, "file:") {
		if strings.Contains(rawURL, "://") {
			return "", fmt.Errorf("unsupported database URL scheme in %q (want file:, libsql://, https:// or http://)", Redact(rawURL))
		}
		return filepath.Clean(rawURL), nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	path := u.Path
	if path == "" {
		path = u.Opaque
	}
	if path == "" {
		return "", fmt.Errorf("database URL %q has no path", rawURL)
	}
	return filepath.Clean(path), nil
}

func openRemote(rawURL string) (*sql.DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	var opts []libsql.Option
	if tok := q.Get("authToken"); tok != "" {
		opts = append(opts, libsql.WithAuthToken(tok))
	}
	if q.Get("tls") == "0" {
		opts = append(opts, libsql.WithTls(false))
	}
	q.Del("authToken")
	q.Del("tls")
	u.RawQuery = q.Encode()
	connector, err := libsql.NewConnector(u.String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Redact(rawURL), err)
	}
	return sql.OpenDB(connector), nil
}

// Redact hides credentials in a URL for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	q := u.Query()
	if q.Has("authToken") {
		q.Set("authToken", "REDACTED")
		u.RawQuery = q.Encode()
	}
	u.User = nil
	return u.String()
}

// Remote pool defaults for SizeRemotePool: enough kept-alive connections
// per libSQL server for a proxy's concurrency, and a bound on all of them.
const (
	RemoteIdleConnsPerHost = 256
	RemoteMaxConnsPerHost  = 512
)

// SizeRemotePool sizes the keep-alive pool of every database/sql handle on
// a libSQL server. libsql-client-go sends through http.DefaultClient,
// whose transport keeps 2 idle connections per host: every tenant of a
// shard shares that one pool, so a busy shard opened and closed a TCP
// connection per request. Call it once, at start (serve), before any use.
func SizeRemotePool(idlePerHost, maxPerHost int) {
	tr, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return
	}
	tr.MaxIdleConnsPerHost = idlePerHost
	tr.MaxConnsPerHost = maxPerHost
	tr.MaxIdleConns = 0 // no global cap: the per-host one bounds each shard
}
