package shard

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"syscall"

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
// One small entry per local tenant file that passed since start-up.
type checkedFiles struct {
	mu sync.Mutex
	m  map[string]schemaPrint
}

// schemaPrint identifies a file's schema state.
type schemaPrint struct {
	dev, ino   uint64
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
	c.m[path] = p
}

func (c *checkedFiles) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, path)
}

// fileID is the device and inode of a stat result.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// readPrint checks the stamp and reads the schema state (on whatever
// connection q picks: the pool's only one right after open). The cookie is
// read first: a schema change in between makes the print stale, never
// falsely current.
func readPrint(ctx context.Context, q storage.Queryer, id int64, fi os.FileInfo) (schemaPrint, error) {
	var p schemaPrint
	p.dev, p.ino = fileID(fi)
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
