// Package shard owns tenant databases: the one function that opens any
// database URL, and the Manager that keeps tenant databases open on demand.
package shard

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/tursodatabase/libsql-client-go/libsql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver for file: databases
)

// BusyTimeoutMillis is how long a local connection waits for a lock.
const BusyTimeoutMillis = 5000

// Open opens a database by URL: the one place that decides by scheme, for the
// catalog and tenants alike.
//
//   - "file:PATH" or a bare path: modernc.org/sqlite, opened directly, in WAL
//     mode with a busy timeout and foreign keys on. (libsql-client-go's own
//     file: path leaks a *sql.DB per connector, so it is not used here.)
//   - "libsql://", "https://", "http://": libsql-client-go over HTTP. An
//     "authToken" query parameter becomes the bearer token; "tls=0" turns a
//     libsql:// URL into plain HTTP.
func Open(ctx context.Context, rawURL string) (*sql.DB, error) {
	if IsRemote(rawURL) {
		return openRemote(rawURL)
	}
	path, err := LocalPath(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", LocalDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// IsRemote reports whether the URL names a libSQL server.
func IsRemote(rawURL string) bool {
	for _, p := range []string{"libsql://", "https://", "http://"} {
		if strings.HasPrefix(strings.ToLower(rawURL), p) {
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
			return "", fmt.Errorf("unsupported database URL scheme in %q (want file:, libsql://, https:// or http://)", redact(rawURL))
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

// LocalDSN is the modernc.org/sqlite DSN for a local database file. Write
// transactions begin IMMEDIATE so two writers never deadlock upgrading a
// read lock. readOnly opens the file without write access.
func LocalDSN(path string, readOnly bool) string {
	return localDSN(path, readOnly, "NORMAL")
}

// localDSN is LocalDSN with a synchronous mode: FULL for tenant databases,
// so a commit is on disk when it returns (see openBank).
func localDSN(path string, readOnly bool, synchronous string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+synchronous+")")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
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
		return nil, fmt.Errorf("open %s: %w", redact(rawURL), err)
	}
	return sql.OpenDB(connector), nil
}

// redact hides credentials in a URL for logs and errors.
func redact(rawURL string) string {
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
