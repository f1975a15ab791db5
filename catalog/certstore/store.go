package certstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// Defaults for Options.
const (
	DefaultLockTTL  = time.Minute
	DefaultLockPoll = 500 * time.Millisecond
)

// Options tunes a Store; zero fields take the defaults.
type Options struct {
	LockTTL  time.Duration // a lock whose owner stops extending it is free after this long
	LockPoll time.Duration // how often a waiting Lock retries
	Logger   *slog.Logger
}

// Store is a certmagic.Storage on the catalog database (tables tls_storage,
// tls_locks and tls_domains, created by catalog migration 0003).
type Store struct {
	db   *sql.DB
	seal *sealer
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	held  map[string]*heldLock // locks this process holds, by name
	owner string               // this Store's identity in tls_locks
}

var (
	_ certmagic.Storage          = (*Store)(nil)
	_ certmagic.TryLocker        = (*Store)(nil)
	_ certmagic.LockLeaseRenewer = (*Store)(nil)
)

// New returns a Store on db (the catalog's database, already migrated)
// sealing private keys under a key derived from secret.
func New(db *sql.DB, secret []byte, opts Options) (*Store, error) {
	s, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = DefaultLockTTL
	}
	if opts.LockPoll <= 0 {
		opts.LockPoll = DefaultLockPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Store{db: db, seal: s, opts: opts, log: opts.Logger, held: map[string]*heldLock{}, owner: randomToken()}, nil
}

// String names the storage in certmagic's logs.
func (s *Store) String() string { return "tenantgate catalog" }

// Store puts value at key, sealing private keys.
func (s *Store) Store(ctx context.Context, key string, value []byte) error {
	if sensitive(key) {
		value = s.seal.seal(key, value)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tls_storage (key, value, modified_ns) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, modified_ns = excluded.modified_ns`,
		key, value, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("tls storage: store %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM tls_storage WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tls storage: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("tls storage: load %s: %w", key, err)
	}
	if sensitive(key) {
		return s.seal.open(key, value)
	}
	return value, nil
}

// Delete removes key and, if it is a directory, everything under it.
func (s *Store) Delete(ctx context.Context, key string) error {
	lo, hi := under(key)
	_, err := s.db.ExecContext(ctx, `DELETE FROM tls_storage WHERE key = ? OR (key >= ? AND key < ?)`, key, lo, hi)
	if err != nil {
		return fmt.Errorf("tls storage: delete %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a stored value or a directory of them.
func (s *Store) Exists(ctx context.Context, key string) bool {
	lo, hi := under(key)
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM tls_storage WHERE key = ? OR (key >= ? AND key < ?) LIMIT 1`, key, lo, hi).Scan(&one)
	return err == nil
}

// List returns the keys directly under prefix or, with recursive, every key
// and directory below it.
func (s *Store) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	lo, hi := under(prefix)
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM tls_storage WHERE key >= ? AND key < ? ORDER BY key`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("tls storage: list %s: %w", prefix, err)
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return nil, fmt.Errorf("tls storage: list %s: %w", prefix, err)
		}
		rel := strings.TrimPrefix(key, lo)
		parts := strings.Split(rel, "/")
		if !recursive {
			add(lo + parts[0])
			continue
		}
		for i := 1; i <= len(parts); i++ { // the directories on the way, then the key
			add(lo + strings.Join(parts[:i], "/"))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tls storage: list %s: %w", prefix, err)
	}
	slices.Sort(out)
	if len(out) == 0 && prefix != "" {
		return nil, fmt.Errorf("tls storage: %s: %w", prefix, fs.ErrNotExist)
	}
	return out, nil
}

// Stat describes key: a stored value, or a directory of them.
func (s *Store) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var size, modified int64
	err := s.db.QueryRowContext(ctx, `SELECT length(value), modified_ns FROM tls_storage WHERE key = ?`, key).Scan(&size, &modified)
	switch {
	case err == nil:
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, modified), Size: size, IsTerminal: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: stat %s: %w", key, err)
	}
	lo, hi := under(key)
	err = s.db.QueryRowContext(ctx, `SELECT max(modified_ns) FROM tls_storage WHERE key >= ? AND key < ? HAVING count(*) > 0`, lo, hi).Scan(&modified)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: %s: %w", key, fs.ErrNotExist)
	case err != nil:
		return certmagic.KeyInfo{}, fmt.Errorf("tls storage: stat %s: %w", key, err)
	}
	return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, modified), IsTerminal: false}, nil
}

// CheckKey fails with ErrWrongKey if the stored private keys were sealed
// under another secret, so a misconfigured proxy stops at start-up instead
// of ordering new certificates over the good ones.
func (s *Store) CheckKey(ctx context.Context) error {
	var key string
	var value []byte
	err := s.db.QueryRowContext(ctx, `SELECT key, value FROM tls_storage WHERE key LIKE '%.key' LIMIT 1`).Scan(&key, &value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tls storage: check key: %w", err)
	}
	_, err = s.seal.open(key, value)
	return err
}

// under is the key range of everything below the directory prefix: keys
// in [lo, hi) start with prefix + "/" ('0' is the byte after '/').
func under(prefix string) (lo, hi string) {
	if prefix == "" {
		return "", "\xff"
	}
	return prefix + "/", prefix + "0"
}
