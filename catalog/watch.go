package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ChangeLogRetention is how long tenant_changes rows are kept; a poller that
// falls further behind than this purges its whole cache instead.
const ChangeLogRetention = time.Hour

// poll reads tenant_changes every PollInterval and invalidates the keys of
// every tenant changed by any process sharing the catalog: the CLI, another
// proxy, or this one. This keeps changes visible within about a second
// without shortening the TTL for everyone.
func (c *Catalog) poll(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := errors.Join(c.applyChanges(ctx), c.applyRevocations(ctx)); err != nil && ctx.Err() == nil {
			c.cache.m.errors.Inc()
			c.log.Warn("catalog change poll failed", "err", err)
		}
	}
}

// applyChanges invalidates the cache for every change after the last seen.
func (c *Catalog) applyChanges(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT seq, old_host, old_domain, new_host, new_domain
		FROM tenant_changes WHERE seq > ? ORDER BY seq LIMIT 1000`, c.cache.seq)
	if err != nil {
		return fmt.Errorf("read tenant_changes: %w", err)
	}
	defer rows.Close()
	first := true
	for rows.Next() {
		var seq int64
		var oldHost, oldDomain, newHost, newDomain sql.NullString
		if err := rows.Scan(&seq, &oldHost, &oldDomain, &newHost, &newDomain); err != nil {
			return err
		}
		if first && seq > c.cache.seq+1 && c.cache.seq > 0 {
			// Rows were pruned past us (or ids skipped): we may have missed a
			// change, so forget everything rather than serve a stale tenant.
			if gap, err := c.pruned(ctx, c.cache.seq); err == nil && gap {
				c.cache.purge()
			}
		}
		first = false
		var keys []cacheKey
		for _, h := range []sql.NullString{oldHost, newHost} {
			if h.Valid {
				keys = append(keys, hostKey(h.String))
			}
		}
		for _, d := range []sql.NullString{oldDomain, newDomain} {
			if d.Valid {
				keys = append(keys, domainKey(d.String))
			}
		}
		c.cache.invalidate(keys...)
		c.cache.seq = seq
	}
	return rows.Err()
}

// pruned reports whether change-log rows after seq were deleted.
func (c *Catalog) pruned(ctx context.Context, seq int64) (bool, error) {
	var minSeq sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT min(seq) FROM tenant_changes`).Scan(&minSeq); err != nil {
		return false, err
	}
	return minSeq.Valid && minSeq.Int64 > seq+1, nil
}

// lastChange is the newest change-log sequence number (0 when empty).
func (c *Catalog) lastChange(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT max(seq) FROM tenant_changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read tenant_changes: %w", err)
	}
	return seq.Int64, nil
}

// PruneChanges deletes change-log rows older than ChangeLogRetention.
func (c *Catalog) PruneChanges(ctx context.Context) error {
	cutoff := time.Now().Add(-ChangeLogRetention).UTC().Format(sqliteTime)
	_, err := c.db.ExecContext(ctx, `DELETE FROM tenant_changes WHERE changed_at < ?`, cutoff)
	return errors.Join(err, c.PruneRevocations(ctx))
}
