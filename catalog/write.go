package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/microfi/tenantgate/shard/storage"
)

// The write primitives below are single SQL statements: each one is atomic
// on its own, and none rewrites a column it was not asked to change. The
// rules of what a tenant may be live in catalog/tenants, which is the only
// production caller; validate here only guards the table's invariants.

// StatusProvisioning marks a row whose database is still being built. Such
// rows are invisible to every lookup (see visible).
const StatusProvisioning = "provisioning"

// Update is a partial change to a tenant; nil fields are left alone. An
// empty CustomDomain clears it; a zero ExpiresAt clears the expiry.
type Update struct {
	Status       *string
	CustomDomain *string
	Name         *string
	Plan         *string
	ExpiresAt    *time.Time
	QuotaBytes   *int64 // 0 clears the override (the plan's quota applies)
	// IfStatus, when set, applies the change only while the tenant has
	// this status; otherwise Update fails with ErrPrecondition.
	IfStatus string
}

// Pending is a row still being provisioned.
type Pending struct {
	ID            int64
	Host          string
	DBURL         string
	PendingStatus string
	Owner         string
	CreatedAt     time.Time
}

// Create inserts a finished tenant row (with t.ID when non-zero) and returns
// it as stored. It writes no database file: tenants.Service provisions; this
// is for tools and tests that manage files themselves.
func (c *Catalog) Create(ctx context.Context, t Tenant) (Tenant, error) {
	if err := validate(&t); err != nil {
		return Tenant{}, err
	}
	row := c.db.QueryRowContext(ctx, `INSERT INTO tenants
		(id, host, custom_domain, name, country_code, subscription_plan, status, db_url, expires_at, quota_bytes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+tenantColumns,
		nullID(t.ID), t.Host, nullString(t.CustomDomain), t.Name, t.CountryCode, t.Plan, t.Status,
		nullString(t.DBURL), nullTime(t.ExpiresAt), nullQuota(t.QuotaBytes))
	created, err := scanTenant(row)
	if err != nil {
		return Tenant{}, classify(err)
	}
	c.cache.invalidateTenant(created, created)
	return created, nil
}

// InsertProvisioning inserts t in the provisioning state, owned by owner;
// t.Status is the status FinishProvisioning gives it. The UNIQUE host and
// domain decide concurrent creates here, before any file exists.
func (c *Catalog) InsertProvisioning(ctx context.Context, t Tenant, owner string) (Tenant, error) {
	if err := validate(&t); err != nil {
		return Tenant{}, err
	}
	row := c.db.QueryRowContext(ctx, `INSERT INTO tenants
		(id, host, custom_domain, name, country_code, subscription_plan, status, db_url, expires_at, pending_status, provisioning_owner, quota_bytes)
		VALUES (?, ?, ?, ?, ?, ?, 'provisioning', ?, ?, ?, ?, ?) RETURNING `+tenantColumns,
		nullID(t.ID), t.Host, nullString(t.CustomDomain), t.Name, t.CountryCode, t.Plan,
		nullString(t.DBURL), nullTime(t.ExpiresAt), t.Status, owner, nullQuota(t.QuotaBytes))
	created, err := scanTenant(row)
	if err != nil {
		return Tenant{}, classify(err)
	}
	return created, nil
}

// FinishProvisioning makes a provisioning row visible with its pending
// status. It fails with ErrTenantNotFound if the row is gone or no longer
// provisioning (reconciliation removed it).
func (c *Catalog) FinishProvisioning(ctx context.Context, id int64) (Tenant, error) {
	row := c.db.QueryRowContext(ctx, `UPDATE tenants SET status = pending_status, pending_status = NULL,
		provisioning_owner = NULL, updated_at = CURRENT_TIMESTAMP
		WHERE id = ? AND status = 'provisioning' RETURNING `+tenantColumns, id)
	t, err := scanTenant(row)
	if err != nil {
		return Tenant{}, err
	}
	c.cache.invalidateTenant(t, t)
	return t, nil
}

// AbandonProvisioning deletes the provisioning rows of owner (at most one:
// owners are unique per create) and reports how many it deleted.
func (c *Catalog) AbandonProvisioning(ctx context.Context, owner string) (int64, error) {
	res, err := c.db.ExecContext(ctx, `DELETE FROM tenants WHERE status = 'provisioning' AND provisioning_owner = ?`, owner)
	if err != nil {
		return 0, fmt.Errorf("%w: abandon provisioning: %w", ErrUnavailable, err)
	}
	return res.RowsAffected()
}

// DeleteProvisioning deletes row id if it is still provisioning.
func (c *Catalog) DeleteProvisioning(ctx context.Context, id int64) (bool, error) {
	res, err := c.db.ExecContext(ctx, `DELETE FROM tenants WHERE status = 'provisioning' AND id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("%w: delete provisioning tenant %d: %w", ErrUnavailable, id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Provisioning lists the rows still being provisioned.
func (c *Catalog) Provisioning(ctx context.Context) ([]Pending, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, host, db_url, pending_status, provisioning_owner, created_at
		FROM tenants WHERE status = 'provisioning' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("%w: list provisioning tenants: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		var dbURL, pending, owner sql.NullString
		var created timeValue
		if err := rows.Scan(&p.ID, &p.Host, &dbURL, &pending, &owner, &created); err != nil {
			return nil, err
		}
		p.DBURL, p.PendingStatus, p.Owner, p.CreatedAt = dbURL.String, pending.String, owner.String, created.t
		out = append(out, p)
	}
	return out, rows.Err()
}

// IDs returns the id of every row, provisioning or not, with its db_url.
func (c *Catalog) IDs(ctx context.Context) (map[int64]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, db_url FROM tenants`)
	if err != nil {
		return nil, fmt.Errorf("%w: list tenant ids: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var dbURL sql.NullString
		if err := rows.Scan(&id, &dbURL); err != nil {
			return nil, err
		}
		out[id] = dbURL.String
	}
	return out, rows.Err()
}

// HighestID is the highest tenant id ever used (0 for a new catalog); ids
// at or below it are never given out again.
func (c *Catalog) HighestID(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT max(seq) FROM sqlite_sequence WHERE name = 'tenants'`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("%w: read id high-water mark: %w", ErrUnavailable, err)
	}
	return seq.Int64, nil
}

// Update applies a partial change in one UPDATE statement that sets only
// the given columns, so concurrent changes to different fields never undo
// each other. It returns the tenant as stored.
func (c *Catalog) Update(ctx context.Context, id int64, u Update) (Tenant, error) {
	var set []string
	var args []any
	add := func(col string, v any) {
		set = append(set, col+" = ?")
		args = append(args, v)
	}
	if u.Status != nil {
		add("status", *u.Status)
	}
	if u.CustomDomain != nil {
		add("custom_domain", nullString(*u.CustomDomain))
	}
	if u.Name != nil {
		add("name", *u.Name)
	}
	if u.Plan != nil {
		add("subscription_plan", *u.Plan)
	}
	if u.ExpiresAt != nil {
		add("expires_at", nullTime(*u.ExpiresAt))
	}
	if u.QuotaBytes != nil {
		add("quota_bytes", nullQuota(*u.QuotaBytes))
	}
	// The old keys are read only to invalidate the cache: the written
	// values never come from this read. A change racing in between is
	// caught by the change-log poller.
	old, err := c.Get(ctx, id)
	if err != nil {
		return Tenant{}, err
	}
	set = append(set, "updated_at = CURRENT_TIMESTAMP")
	where := `id = ? AND ` + visible
	args = append(args, id)
	if u.IfStatus != "" {
		where += ` AND status = ?`
		args = append(args, u.IfStatus)
	}
	row := c.db.QueryRowContext(ctx, `UPDATE tenants SET `+strings.Join(set, ", ")+` WHERE `+where+` RETURNING `+tenantColumns, args...)
	updated, err := scanTenant(row)
	if errors.Is(err, ErrTenantNotFound) && u.IfStatus != "" {
		if cur, gerr := c.Get(ctx, id); gerr == nil {
			c.cache.invalidateTenant(old, cur)
			return cur, fmt.Errorf("%w: tenant %d is %s, not %s", ErrPrecondition, id, cur.Status, u.IfStatus)
		}
	}
	if err != nil {
		return Tenant{}, err
	}
	c.cache.invalidateTenant(old, updated)
	return updated, nil
}

// Delete removes a tenant's catalog row and returns it.
func (c *Catalog) Delete(ctx context.Context, id int64) (Tenant, error) {
	row := c.db.QueryRowContext(ctx, `DELETE FROM tenants WHERE id = ? AND `+visible+` RETURNING `+tenantColumns, id)
	old, err := scanTenant(row)
	if err != nil {
		return Tenant{}, err // ErrTenantNotFound: deleted concurrently; that one owns the cleanup
	}
	c.cache.invalidateTenant(old, old)
	return old, nil
}

// DeleteExpiredDemo removes tenant id only if it is still a demo whose
// expiry is at or before now, deciding in the same statement: a demo made
// permanent concurrently survives. It returns the deleted row, or
// ErrPrecondition if the tenant no longer qualifies.
func (c *Catalog) DeleteExpiredDemo(ctx context.Context, id int64, now time.Time) (Tenant, error) {
	row := c.db.QueryRowContext(ctx, `DELETE FROM tenants WHERE id = ? AND status = 'demo'
		AND expires_at IS NOT NULL AND expires_at <= ? RETURNING `+tenantColumns, id, now.UTC().Format(sqliteTime))
	old, err := scanTenant(row)
	if errors.Is(err, ErrTenantNotFound) {
		return Tenant{}, fmt.Errorf("%w: tenant %d is no longer an expired demo", ErrPrecondition, id)
	}
	if err != nil {
		return Tenant{}, err
	}
	c.cache.invalidateTenant(old, old)
	return old, nil
}

// validate normalises t and checks what the table itself relies on: a
// DNS-label host, a DNS custom domain, a known status. Policy (reserved
// names, plans, lengths) is catalog/tenants' job.
func validate(t *Tenant) error {
	t.Host = strings.ToLower(strings.TrimSpace(t.Host))
	t.CustomDomain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(t.CustomDomain)), ".")
	t.CountryCode = strings.ToUpper(strings.TrimSpace(t.CountryCode))
	t.Name = strings.TrimSpace(t.Name)
	if t.Plan == "" {
		t.Plan = "starter"
	}
	if t.Status == "" {
		t.Status = StatusActive
	}
	switch {
	case !ValidLabel(t.Host):
		return fmt.Errorf("%w: host %q is not a DNS label", ErrInvalidTenant, truncate(t.Host, 64))
	case t.CustomDomain != "" && (!ValidDomain(t.CustomDomain) || !strings.Contains(t.CustomDomain, ".")):
		return fmt.Errorf("%w: custom domain %q is not a DNS name", ErrInvalidTenant, truncate(t.CustomDomain, 64))
	case t.Name == "" || !DisplaySafe(t.Name):
		return fmt.Errorf("%w: name must be non-empty and printable", ErrInvalidTenant)
	case len(t.CountryCode) != 2 || strings.Trim(t.CountryCode, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
		return fmt.Errorf("%w: country must be an ISO 3166-1 alpha-2 code", ErrInvalidTenant)
	case t.Status != StatusActive && t.Status != StatusSuspended && t.Status != StatusDemo:
		return fmt.Errorf("%w: status must be active, suspended or demo", ErrInvalidTenant)
	}
	return nil
}

// classify maps a failed write to the catalog's errors.
func classify(err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrTenantNotFound
	case errors.Is(err, ErrTenantNotFound), errors.Is(err, ErrHostTaken), errors.Is(err, ErrDomainTaken),
		errors.Is(err, ErrIDTaken), errors.Is(err, ErrUnavailable), errors.Is(err, ErrInvalidTenant):
		return err // already classified (scanTenant, then its caller)
	}
	// SQLite names the violated column, and our trigger its reason, only
	// in the message.
	msg := err.Error()
	switch {
	case strings.Contains(msg, idReusedMessage): // our own trigger's text, local or remote
		return ErrIDTaken
	case !storage.IsUnique(err):
	case strings.Contains(msg, "tenants.host"):
		return ErrHostTaken
	case strings.Contains(msg, "tenants.custom_domain"):
		return ErrDomainTaken
	case strings.Contains(msg, "tenants.id"), strings.Contains(msg, "PRIMARY KEY"):
		return ErrIDTaken
	}
	// Anything else is the catalog database failing (unreachable, locked,
	// corrupt): the caller can only answer "try again later".
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// idReusedMessage is what the tenants_id_never_reused trigger (catalog
// migration 0002) raises.
const idReusedMessage = "tenant id was used before"

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// nullQuota stores a quota override; 0 (none) is NULL.
func nullQuota(n int64) any {
	if n <= 0 {
		return nil
	}
	return n
}
