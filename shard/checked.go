package shard

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"

	"github.com/microfi/tenantgate/shard/storage"
)

// checkedFiles remembers, per local tenant file, the schema a full open
// check passed (migrations current, seal audit clean), so the next open of
// an unchanged file skips the maintenance connection: one connection and
// two small queries instead of two schema parses, the migration log and
// the audit.
//
// A file is unchanged when it is the same file (device and inode: a file
// put in its place is checked again) with the same schema cookie (SQLite's
// schema_version, which every CREATE, DROP or ALTER, by any connection or
// process, increments, and which tenant SQL may not write) and the same
// migration log (a data-only migration does not move the cookie). The
// stamp is checked on every open regardless. Evict and Remove forget a
// file, so a restore or repair is always checked in full.
//
// One small entry per local tenant file that passed. The prints are kept
// across restarts in the data dir (checkLog), for this build only.
type checkedFiles struct {
	mu  sync.Mutex
	m   map[string]schemaPrint
	log *checkLog // nil: in memory only
	l   *slog.Logger
}

// schemaPrint identifies a file's schema state.
type schemaPrint struct {
	dev, ino   uint64
	btime      int64 // birth time (ns; 0 where the file system has none): an inode number reused by a new file is told apart
	cookie     int64 // PRAGMA schema_version
	migrations int64 // rows in schema_migrations
	version    int64 // highest applied migration
}

func (c *checkedFiles) passed(path string, p schemaPrint) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.m[path]
	return ok && got == p
}

func (c *checkedFiles) record(path string, p schemaPrint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]schemaPrint{}
	}
	if c.m[path] == p {
		return
	}
	c.m[path] = p
	c.persist(recordLine{path: path, p: p})
}

// forget drops a file's print, here and in the log (where another process
// may have recorded it: always written when the log was not loaded).
func (c *checkedFiles) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, had := c.m[path]
	delete(c.m, path)
	if had || c.m == nil {
		c.persist(recordLine{path: path, forget: true})
	}
}

func (c *checkedFiles) persist(l recordLine) {
	if c.log == nil {
		return
	}
	if err := c.log.append(l); err != nil {
		c.l.Warn("tenant check log: write failed; later full checks are only kept in memory", "path", c.log.path, "err", err)
		c.log.close()
		c.log = nil
	}
}

// load reads the prints this build recorded before a restart.
func (c *checkedFiles) load() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		return
	}
	prints, err := c.log.load()
	if err != nil {
		c.l.Warn("tenant check log: read failed; every file is checked in full once", "path", c.log.path, "err", err)
	}
	if c.m == nil {
		c.m = map[string]schemaPrint{}
	}
	for path, p := range prints {
		if _, ok := c.m[path]; !ok {
			c.m[path] = p
		}
	}
}

func (c *checkedFiles) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		c.log.close()
		c.log = nil
	}
}

// readPrint checks the stamp and reads the schema state (on whatever
// connection q picks: the pool's only one right after open). The cookie is
// read first: a schema change in between makes the print stale, never
// falsely current.
func readPrint(ctx context.Context, q storage.Queryer, id int64, fi fileIdentity) (schemaPrint, error) {
	var p schemaPrint
	p.dev, p.ino, p.btime = fi.dev, fi.ino, fi.btime
	// PRAGMA, not pragma_schema_version: the bank's authorizer reads
	// managed tables only.
	if err := q.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&p.cookie); err != nil {
		return p, fmt.Errorf("read schema cookie: %w", err)
	}
	var stamp sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT tenant_id FROM tenant_stamp WHERE singleton = 1),
		(SELECT count(*) FROM schema_migrations),
		(SELECT coalesce(max(version), 0) FROM schema_migrations)`).Scan(&stamp, &p.migrations, &p.version)
	if err != nil {
		if storage.IsNoSuchTable(err) {
			// Not a tenant database (or one from before the stamp): the
			// full check reports it precisely.
			return schemaPrint{}, nil
		}
		return p, fmt.Errorf("read schema state: %w", err)
	}
	if !stamp.Valid {
		return p, fmt.Errorf("%w: database is not stamped (want tenant %d)", ErrStampMismatch, id)
	}
	if stamp.Int64 != id {
		return p, fmt.Errorf("%w: database is stamped for tenant %d, not %d", ErrStampMismatch, stamp.Int64, id)
	}
	return p, nil
}
