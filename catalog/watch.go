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

// pollTimeout bounds one poll, so a hung catalog delays the staleness
// check below by at most this much.
const pollTimeout = 2 * time.Second

// poll reads the change logs every PollInterval and invalidates the keys of
// every tenant changed by any process sharing the catalog: the CLI, another
// proxy, or this one. This keeps changes visible within about a second
// without shortening the TTL for everyone.
//
// Each tick costs one query that reads both logs' newest sequence numbers
// (O(1) each: the primary key's last row); the logs themselves are read
// only when one moved. When no poll has succeeded for StaleAfter, the
// caches of a remote catalog are no longer trusted and are dropped on
// every tick until one does: a proxy cut off from the catalog must not go
// on serving a tenant the rest of the fleet has since suspended (the
// registry counts such a proxy dead after twice that).
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
		pctx, cancel := context.WithTimeout(ctx, pollTimeout)
		err := c.pollOnce(pctx)
		cancel()
		switch {
		case err == nil:
			c.lastPoll.Store(int64(time.Since(c.epoch)))
		case ctx.Err() == nil:
			c.cache.m.errors.Inc()
			c.log.Warn("catalog change poll failed", "err", err)
		}
		// Only a remote catalog can cut a proxy off. A poll of a local
		// file fails or times out only when the process is overloaded (or
		// the disk fails, when lookups fail too): dropping the caches then
		// turned every request into a miss and deepened the overload
		// (BENCHMARKS.md, "10,000 tenants"). Readiness reports it either way.
		if c.Stale() && c.remote {
			c.cache.purge()
			c.revoked.purge()
			c.cache.m.stalePurges.Inc()
		}
	}
}

// pollOnce applies whatever is new in either change log.
func (c *Catalog) pollOnce(ctx context.Context) error {
	var changes, revocations sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT (SELECT max(seq) FROM tenant_changes), (SELECT max(seq) FROM token_revocations)`).
		Scan(&changes, &revocations); err != nil {
		return fmt.Errorf("read change log positions: %w", err)
	}
	var errs []error
	if changes.Int64 != c.cache.seq {
		errs = append(errs, c.applyChanges(ctx))
	}
	if revocations.Int64 != c.revoked.seq {
		errs = append(errs, c.applyRevocations(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.publishApplied()
	return nil
}

// publishApplied makes the poller's position visible to Applied and wakes
// whoever waits on AppliedChanged, when it moved.
func (c *Catalog) publishApplied() {
	if c.appliedChanges.Load() == c.cache.seq && c.appliedRevocations.Load() == c.revoked.seq {
		return
	}
	c.appliedChanges.Store(c.cache.seq)
	c.appliedRevocations.Store(c.revoked.seq)
	select {
	case c.appliedCh <- struct{}{}:
	default:
	}
}

// Stale reports whether the change poller has not succeeded for
// StaleAfter: the caches are then dropped and readiness fails.
func (c *Catalog) Stale() bool {
	if c.opts.PollInterval <= 0 || c.opts.StaleAfter <= 0 {
		return false
	}
	return time.Since(c.epoch)-time.Duration(c.lastPoll.Load()) > c.opts.StaleAfter
}

// Position is a point in the catalog's two change logs.
type Position struct {
	Changes     int64 `json:"changes"`     // tenant_changes.seq
	Revocations int64 `json:"revocations"` // token_revocations.seq
}

// Covers reports whether p is at or past q in both logs.
func (p Position) Covers(q Position) bool {
	return p.Changes >= q.Changes && p.Revocations >= q.Revocations
}

// Position is the newest position in the catalog: a change committed
// before the call is at or before it.
func (c *Catalog) Position(ctx context.Context) (Position, error) {
	var changes, revocations sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT (SELECT max(seq) FROM tenant_changes), (SELECT max(seq) FROM token_revocations)`).
		Scan(&changes, &revocations); err != nil {
		return Position{}, fmt.Errorf("%w: read change log positions: %w", ErrUnavailable, err)
	}
	return Position{Changes: changes.Int64, Revocations: revocations.Int64}, nil
}

// Applied is the position this process's poller has applied: every change
// at or before it is reflected in the caches (a request that starts now
// sees it).
func (c *Catalog) Applied() Position {
	return Position{Changes: c.appliedChanges.Load(), Revocations: c.appliedRevocations.Load()}
}

// AppliedChanged receives a value (coalesced) each time Applied moves; the
// proxy registry uses it to acknowledge a change at once rather than at the
// next heartbeat. There is one channel: one consumer.
func (c *Catalog) AppliedChanged() <-chan struct{} { return c.appliedCh }

// applyChanges invalidates the cache for every change after the last seen.
func (c *Catalog) applyChanges(ctx context.Context) error {
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
