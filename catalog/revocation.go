package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"
)

// Revocation state: which of a tenant's tokens are no longer honoured.
//
// The rows live in the catalog (token_revocations), so every proxy sharing
// it sees them. Checking a token is on every request's path, so each proxy
// keeps an immutable snapshot per tenant (one small query on a miss) and
// the change poller drops exactly the snapshots of tenants with new rows,
// the same way it drops host cache entries: a revocation made anywhere is
// honoured everywhere within about a second.

// Revocations is one tenant's revocation state. The zero value revokes
// nothing. Times are unix seconds.
type Revocations struct {
	TenantNotBefore int64            // tokens of the tenant issued earlier are revoked
	UserNotBefore   map[int64]int64  // per user
	Tokens          map[string]int64 // revoked token ids → their expiry
}

// Revoked reports whether a token (its user, id and issue time) is revoked.
func (r *Revocations) Revoked(userID int64, tokenID string, issuedAt int64) bool {
	if issuedAt < r.TenantNotBefore {
		return true
	}
	if nb, ok := r.UserNotBefore[userID]; ok && userID != 0 && issuedAt < nb {
		return true
	}
	if tokenID != "" {
		if _, ok := r.Tokens[tokenID]; ok {
			return true
		}
	}
	return false
}

// NotBefore is the earliest issue time a new token for userID may carry
// and still be honoured (0 when nothing is revoked).
func (r *Revocations) NotBefore(userID int64) int64 {
	nb := r.TenantNotBefore
	if u := r.UserNotBefore[userID]; u > nb {
		nb = u
	}
	return nb
}

// notBeforeNow is the cut-off for a revocation made now: the next whole
// second, so every token issued up to now (iat is in whole seconds) falls
// before it. Issuers give new tokens an iat of at least the cut-off (see
// Revocations.NotBefore), so a token issued right after is not caught.
func notBeforeNow() int64 {
	now := time.Now()
	return now.Truncate(time.Second).Unix() + 1
}

// revocationCache holds per-tenant snapshots.
type revocationCache struct {
	lru    *expirable.LRU[int64, *Revocations]
	flight singleflight.Group
	gen    atomic.Uint64
	seq    int64 // last token_revocations seq applied; owned by the poller
}

func newRevocationCache(opts Options) *revocationCache {
	return &revocationCache{lru: expirable.NewLRU[int64, *Revocations](opts.CacheSize, nil, opts.PositiveTTL)}
}

func (k *revocationCache) invalidate(tenantID int64) {
	k.gen.Add(1)
	k.lru.Remove(tenantID)
}

// purge forgets every snapshot (the change log cannot be trusted).
func (k *revocationCache) purge() {
	k.gen.Add(1)
	k.lru.Purge()
}

// Revocations returns the tenant's revocation state, cached. The result is
// shared: callers must not modify it.
func (c *Catalog) Revocations(ctx context.Context, tenantID int64) (*Revocations, error) {
	k := c.revoked
	if r, ok := k.lru.Get(tenantID); ok {
		return r, nil
	}
	ch := k.flight.DoChan(strconv.FormatInt(tenantID, 10), func() (any, error) {
		gen := k.gen.Load()
		loadCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		r, err := c.loadRevocations(loadCtx, tenantID)
		if err != nil {
			c.cache.m.errors.Inc()
			return nil, fmt.Errorf("%w: read revocations: %w", ErrUnavailable, err)
		}
		if k.gen.Load() == gen {
			k.lru.Add(tenantID, r)
		}
		return r, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Revocations), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FreshRevocations reads the tenant's state from the database, bypassing
// the cache (token issuers use it: a login is rare and must not be
// decided on a stale copy).
func (c *Catalog) FreshRevocations(ctx context.Context, tenantID int64) (*Revocations, error) {
	r, err := c.loadRevocations(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("%w: read revocations: %w", ErrUnavailable, err)
	}
	return r, nil
}

const revocationsQuery = `SELECT user_id, token_id, not_before, expires_at FROM token_revocations
		WHERE tenant_id = ? AND (expires_at IS NULL OR expires_at > ?)`

func (c *Catalog) loadRevocations(ctx context.Context, tenantID int64) (*Revocations, error) {
	rows, err := c.revocations.QueryContext(ctx, tenantID, time.Now().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r := &Revocations{}
	for rows.Next() {
		var user sql.NullInt64
		var token sql.NullString
		var notBefore int64
		var expires sql.NullInt64
		if err := rows.Scan(&user, &token, &notBefore, &expires); err != nil {
			return nil, err
		}
		switch {
		case token.Valid:
			if r.Tokens == nil {
				r.Tokens = map[string]int64{}
			}
			r.Tokens[token.String] = expires.Int64
		case user.Valid:
			if r.UserNotBefore == nil {
				r.UserNotBefore = map[int64]int64{}
			}
			r.UserNotBefore[user.Int64] = max(r.UserNotBefore[user.Int64], notBefore)
		default:
			r.TenantNotBefore = max(r.TenantNotBefore, notBefore)
		}
	}
	return r, rows.Err()
}

// RevokeToken revokes one token (logout) until its expiry.
func (c *Catalog) RevokeToken(ctx context.Context, tenantID int64, tokenID string, expires time.Time) error {
	if tokenID == "" {
		return errors.New("revoke token: the token has no id")
	}
	_, err := c.revoke(ctx, tenantID, nil, tokenID, 0, expires.Unix())
	return err
}

// RevokeUser revokes every token of one user issued until now, and returns
// the cut-off (a token issued with iat >= it is honoured).
func (c *Catalog) RevokeUser(ctx context.Context, tenantID, userID int64) (int64, error) {
	return c.revoke(ctx, tenantID, &userID, "", notBeforeNow(), 0)
}

// RevokeTenant revokes every token of a tenant issued until now.
func (c *Catalog) RevokeTenant(ctx context.Context, tenantID int64) (int64, error) {
	return c.revoke(ctx, tenantID, nil, "", notBeforeNow(), 0)
}

// revoke records a revocation and returns its effective cut-off. A user or
// tenant cut-off is later than every earlier one that could apply: tokens
// issued after an earlier revocation carry iat = that cut-off (possibly in
// this very second), and a second revocation must catch them too.
func (c *Catalog) revoke(ctx context.Context, tenantID int64, userID *int64, tokenID string, notBefore, expires int64) (int64, error) {
	var user, token, exp any
	if userID != nil {
		user = *userID
	}
	if tokenID != "" {
		token, exp = tokenID, expires
	}
	var seq int64
	err := c.db.QueryRowContext(ctx, `INSERT INTO token_revocations (tenant_id, user_id, token_id, not_before, expires_at)
		VALUES (?1, ?2, ?3,
			CASE WHEN ?3 IS NOT NULL THEN ?4 ELSE MAX(?4, 1 + COALESCE((SELECT MAX(not_before) FROM token_revocations
				WHERE tenant_id = ?1 AND token_id IS NULL AND (?2 IS NULL OR user_id IS NULL OR user_id = ?2)), 0)) END,
			?5)
		RETURNING seq, not_before`, tenantID, user, token, notBefore, exp).Scan(&seq, &notBefore)
	if err != nil {
		return 0, fmt.Errorf("%w: revoke: %w", ErrUnavailable, err)
	}
	// Earlier user and tenant rows are superseded by this one (their
	// cut-offs are no later), so the state stays as small as the user list.
	if tokenID == "" {
		if userID != nil {
			_, err = c.db.ExecContext(ctx, `DELETE FROM token_revocations WHERE tenant_id = ? AND user_id = ? AND seq < ? AND not_before <= ?`,
				tenantID, *userID, seq, notBefore)
		} else {
			_, err = c.db.ExecContext(ctx, `DELETE FROM token_revocations WHERE tenant_id = ? AND user_id IS NULL AND token_id IS NULL AND seq < ? AND not_before <= ?`,
				tenantID, seq, notBefore)
		}
		if err != nil {
			c.log.Warn("prune superseded revocations", "tenant_id", tenantID, "err", err)
		}
	}
	c.revoked.invalidate(tenantID) // this process sees it on the very next request
	return notBefore, nil
}

// PruneRevocations deletes revocations of tokens that have expired anyway.
func (c *Catalog) PruneRevocations(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM token_revocations WHERE expires_at IS NOT NULL AND expires_at <= ?`, time.Now().Unix())
	return err
}

// applyRevocations drops the snapshots of tenants with new revocations.
func (c *Catalog) applyRevocations(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, `SELECT seq, tenant_id FROM token_revocations WHERE seq > ? ORDER BY seq LIMIT 1000`, c.revoked.seq)
	if err != nil {
		return fmt.Errorf("read token_revocations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, tenant int64
		if err := rows.Scan(&seq, &tenant); err != nil {
			return err
		}
		c.revoked.invalidate(tenant)
		c.revoked.seq = seq
	}
	return rows.Err()
}

func (c *Catalog) lastRevocation(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := c.db.QueryRowContext(ctx, `SELECT max(seq) FROM token_revocations`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read token_revocations: %w", err)
	}
	return seq.Int64, nil
}
