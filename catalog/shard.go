package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The shards table (catalog migration 0009): where tenant databases live.
// The rules of what a shard may be, and placement, live in catalog/shards;
// these are single-statement primitives.

// LocalShard is the implicit shard of the tenant files under the data dir.
const LocalShard = "local"

// Shard statuses.
const (
	ShardActive   = "active"
	ShardDraining = "draining"
)

// Shard errors.
var (
	ErrShardNotFound = errors.New("shard not found")
	ErrShardExists   = errors.New("shard already exists")
	// ErrShardInUse: a shard that still holds tenants cannot be removed.
	ErrShardInUse = errors.New("shard holds tenants")
	// ErrShardFull: the shard is draining or at capacity (a create placed
	// there lost a race, or was pinned there).
	ErrShardFull = errors.New("shard cannot take the tenant")
)

// Shard is one registered shard.
type Shard struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	URLTemplate string    `json:"url_template,omitempty"`
	AdminURL    string    `json:"admin_url,omitempty"`
	Capacity    int       `json:"capacity"` // 0 = unlimited
	Weight      float64   `json:"weight"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// ShardLoad is a shard with what it holds now: tenants (provisioning rows
// included, so concurrent creates see each other) and their recorded bytes.
type ShardLoad struct {
	Shard
	Tenants int   `json:"tenants"`
	Bytes   int64 `json:"bytes"`
}

const shardColumns = `name, kind, url_template, admin_url, capacity, weight, status, created_at`

func scanShard(s scanner) (Shard, error) {
	var sh Shard
	var created timeValue
	if err := s.Scan(&sh.Name, &sh.Kind, &sh.URLTemplate, &sh.AdminURL, &sh.Capacity, &sh.Weight, &sh.Status, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Shard{}, ErrShardNotFound
		}
		return Shard{}, fmt.Errorf("%w: read shard: %w", ErrUnavailable, err)
	}
	sh.CreatedAt = created.t
	return sh, nil
}

// AddShard registers a shard (already validated by catalog/shards).
func (c *Catalog) AddShard(ctx context.Context, sh Shard) (Shard, error) {
	row := c.db.QueryRowContext(ctx, `INSERT INTO shards (name, kind, url_template, admin_url, capacity, weight, status)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING `+shardColumns,
		sh.Name, sh.Kind, sh.URLTemplate, sh.AdminURL, sh.Capacity, sh.Weight, ShardActive)
	got, err := scanShard(row)
	if errors.Is(err, ErrShardNotFound) {
		return Shard{}, fmt.Errorf("%w: %q", ErrShardExists, sh.Name)
	}
	return got, err
}

// GetShard returns one shard.
func (c *Catalog) GetShard(ctx context.Context, name string) (Shard, error) {
	sh, err := scanShard(c.db.QueryRowContext(ctx, `SELECT `+shardColumns+` FROM shards WHERE name = ?`, name))
	if errors.Is(err, ErrShardNotFound) {
		return Shard{}, fmt.Errorf("%w: %q", ErrShardNotFound, name)
	}
	return sh, err
}

// ShardLoads lists every shard with its tenant count and bytes, by name.
func (c *Catalog) ShardLoads(ctx context.Context) ([]ShardLoad, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT s.name, s.kind, s.url_template, s.admin_url, s.capacity, s.weight, s.status, s.created_at,
		(SELECT count(*) FROM tenants t WHERE t.shard = s.name),
		(SELECT coalesce(sum(t.db_bytes), 0) FROM tenants t WHERE t.shard = s.name)
		FROM shards s ORDER BY s.name`)
	if err != nil {
		return nil, fmt.Errorf("%w: list shards: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []ShardLoad
	for rows.Next() {
		var l ShardLoad
		var created timeValue
		if err := rows.Scan(&l.Name, &l.Kind, &l.URLTemplate, &l.AdminURL, &l.Capacity, &l.Weight, &l.Status, &created, &l.Tenants, &l.Bytes); err != nil {
			return nil, fmt.Errorf("%w: list shards: %w", ErrUnavailable, err)
		}
		l.CreatedAt = created.t
		out = append(out, l)
	}
	return out, rows.Err()
}

// SetShardStatus drains a shard (no new tenants) or makes it active again.
func (c *Catalog) SetShardStatus(ctx context.Context, name, status string) (Shard, error) {
	sh, err := scanShard(c.db.QueryRowContext(ctx, `UPDATE shards SET status = ?, updated_at = CURRENT_TIMESTAMP
		WHERE name = ? RETURNING `+shardColumns, status, name))
	if errors.Is(err, ErrShardNotFound) {
		return Shard{}, fmt.Errorf("%w: %q", ErrShardNotFound, name)
	}
	return sh, err
}

// RemoveShard unregisters a shard that holds no tenant (checked in the same
// statement). The local shard cannot be removed.
func (c *Catalog) RemoveShard(ctx context.Context, name string) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM shards WHERE name = ?1 AND name <> 'local'
		AND NOT EXISTS (SELECT 1 FROM tenants WHERE shard = ?1)
		AND NOT EXISTS (SELECT 1 FROM tenant_moves WHERE finished_at IS NULL AND (from_shard = ?1 OR to_shard = ?1))`, name)
	if err != nil {
		return fmt.Errorf("%w: remove shard: %w", ErrUnavailable, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	loads, err := c.ShardLoads(ctx)
	if err != nil {
		return err
	}
	for _, l := range loads {
		if l.Name == name {
			if name == LocalShard {
				return fmt.Errorf("%w: the local shard is implicit and cannot be removed (drain it instead)", ErrShardInUse)
			}
			return fmt.Errorf("%w: %q holds %d tenants or an unfinished move; drain it first", ErrShardInUse, name, l.Tenants)
		}
	}
	return fmt.Errorf("%w: %q", ErrShardNotFound, name)
}

// TenantsOnShard lists the ids of the visible tenants on a shard.
func (c *Catalog) TenantsOnShard(ctx context.Context, name string) ([]Tenant, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE shard = ? AND `+visible+` ORDER BY id`, name)
	if err != nil {
		return nil, fmt.Errorf("%w: list tenants on shard: %w", ErrUnavailable, err)
	}
	return scanTenants(rows)
}

// SetTenantBytes records a tenant database's size.
func (c *Catalog) SetTenantBytes(ctx context.Context, id, bytes int64) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tenants SET db_bytes = ? WHERE id = ?`, bytes, id)
	if err != nil {
		return fmt.Errorf("%w: record tenant size: %w", ErrUnavailable, err)
	}
	return nil
}

// FlipTenant points a tenant at its new database: one conditional UPDATE,
// applied only while the tenant still has fromURL (a tenant deleted or
// moved meanwhile is left alone: ErrPrecondition). The change log carries
// it to every proxy.
func (c *Catalog) FlipTenant(ctx context.Context, id int64, fromURL, toURL, toShard string, bytes int64) (Tenant, error) {
	old, err := c.Get(ctx, id)
	if err != nil {
		return Tenant{}, err
	}
	row := c.db.QueryRowContext(ctx, `UPDATE tenants SET db_url = ?, shard = ?, db_bytes = ?, updated_at = CURRENT_TIMESTAMP
		WHERE id = ? AND coalesce(db_url, '') = ? AND `+visible+` RETURNING `+tenantColumns,
		nullString(toURL), toShard, bytes, id, fromURL)
	t, err := scanTenant(row)
	if errors.Is(err, ErrTenantNotFound) {
		return Tenant{}, fmt.Errorf("%w: tenant %d no longer has the database the move started from", ErrPrecondition, id)
	}
	if err != nil {
		return Tenant{}, err
	}
	c.cache.invalidateTenant(old, t)
	return t, nil
}

// SetProvisioningURL sets the database URL of a row still being
// provisioned (a shard's template names the database by the tenant id,
// known only once the row is in).
func (c *Catalog) SetProvisioningURL(ctx context.Context, id int64, dbURL string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE tenants SET db_url = ? WHERE id = ? AND status = 'provisioning'`, nullString(dbURL), id)
	if err != nil {
		return fmt.Errorf("%w: set database URL: %w", ErrUnavailable, err)
	}
	return nil
}
