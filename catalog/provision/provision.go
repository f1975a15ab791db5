// Package provision creates and removes tenants as one unit across the
// catalog row and the tenant's own database, for every caller: the CLI,
// self-service signup, demo creation and the admin API.
package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/shard"
)

// Request describes a tenant to create.
type Request struct {
	ID           int64 // 0 = assigned by the catalog
	Host         string
	Name         string
	Country      string
	CustomDomain string
	Plan         string
	DBURL        string // "" = a local file under the data dir
	Status       string // "" = active
	ExpiresAt    time.Time
	// Seed, when set, fills the new database (users, sample data) before the
	// tenant becomes reachable.
	Seed func(ctx context.Context, db *sql.DB, tenantID int64) error
}

// Provisioner creates and removes tenants.
type Provisioner struct {
	Catalog *catalog.Catalog
	Shards  *shard.Manager
	Logger  *slog.Logger
}

// Create inserts the catalog row, provisions and seeds the database, and
// returns the tenant. The row is inserted first so the UNIQUE host decides
// races (exactly one concurrent create of a host wins; the rest get
// catalog.ErrHostTaken before touching any file). If anything later fails,
// the row and the database file are removed again, leaving no orphan.
func (p *Provisioner) Create(ctx context.Context, req Request) (catalog.Tenant, error) {
	t, err := p.Catalog.Create(ctx, catalog.Tenant{
		ID: req.ID, Host: req.Host, Name: req.Name, CountryCode: req.Country,
		CustomDomain: req.CustomDomain, Plan: req.Plan, DBURL: req.DBURL,
		Status: req.Status, ExpiresAt: req.ExpiresAt,
	})
	if err != nil {
		return catalog.Tenant{}, err
	}
	if provisioned, err := p.build(ctx, t, req.Seed); err != nil {
		// Undo with a fresh context: the caller's may be what failed.
		undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		// A failed Provision has already removed whatever it created; the
		// file it refused (shard.ErrExists) belongs to someone else and
		// must survive.
		var rmErr error
		if provisioned {
			rmErr = p.Shards.Remove(undo, t.ID, t.DBURL)
		}
		delErr := p.Catalog.Delete(undo, t.ID)
		if rmErr != nil || delErr != nil {
			p.logger().Error("roll back failed tenant", "tenant_id", t.ID, "err", errors.Join(rmErr, delErr))
		}
		return catalog.Tenant{}, fmt.Errorf("provision tenant %q: %w", t.Host, err)
	}
	return t, nil
}

// build provisions and seeds the tenant's database; provisioned reports
// whether the database was created, so a failure knows what to undo.
func (p *Provisioner) build(ctx context.Context, t catalog.Tenant, seed func(context.Context, *sql.DB, int64) error) (provisioned bool, err error) {
	if err := p.Shards.Provision(ctx, t.ID, t.DBURL); err != nil {
		return false, err
	}
	if seed == nil {
		return true, nil
	}
	h, err := p.Shards.Acquire(ctx, t.ID, t.DBURL)
	if err != nil {
		return true, err
	}
	defer h.Release()
	return true, seed(ctx, h.DB, t.ID)
}

// Delete removes a tenant: its catalog row (so the very next request gets
// 404), its cached entry, its open handle and its database file. With a
// non-empty backupDir the file is kept there as <id>-<host>-<time>.db.
func (p *Provisioner) Delete(ctx context.Context, id int64, backupDir string) error {
	t, err := p.Catalog.Get(ctx, id)
	if err != nil {
		return err
	}
	// The backup comes first: if it fails, nothing is deleted and the
	// caller can retry (writes in the moment between the backup and the
	// catalog delete are not in it).
	if backupDir != "" {
		backup := fmt.Sprintf("%s/%d-%s-%s.db", backupDir, t.ID, t.Host, time.Now().UTC().Format("20060102T150405Z"))
		if err := p.Shards.Backup(ctx, t.ID, t.DBURL, backup); err != nil {
			return err
		}
	}
	if err := p.Catalog.Delete(ctx, id); err != nil {
		return err
	}
	if err := p.Shards.Remove(ctx, t.ID, t.DBURL); err != nil {
		return fmt.Errorf("remove database of tenant %d: %w", id, err)
	}
	return nil
}

func (p *Provisioner) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}
