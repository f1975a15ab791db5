package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microfi/tenantgate/shard/storage"
)

// sqliteTime is how times are written to the catalog: SQLite's own
// CURRENT_TIMESTAMP format, in UTC, so they compare as text too.
const sqliteTime = "2006-01-02 15:04:05"

const tenantColumns = `id, host, custom_domain, name, country_code, subscription_plan, status, db_url, created_at, updated_at, expires_at`

// ListOptions filters and pages List.
type ListOptions struct {
	Query  string // matched against name, host and custom domain; "" = all
	Status string // "" = any
	Limit  int    // default 50, at most 500
	Offset int
}

// Update is a partial change to a tenant; nil fields are left alone. An
// empty CustomDomain clears it.
type Update struct {
	Status       *string
	CustomDomain *string
	Name         *string
	Plan         *string
	ExpiresAt    *time.Time
}

// Get returns the tenant with this id, uncached.
func (c *Catalog) Get(ctx context.Context, id int64) (Tenant, error) {
	row := c.db.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id)
	return scanTenant(row)
}

// Resolve finds a tenant by numeric id, host label or custom domain, as the
// CLI accepts them.
func (c *Catalog) Resolve(ctx context.Context, hostOrID string) (Tenant, error) {
	s := strings.ToLower(strings.TrimSpace(hostOrID))
	if id, err := parseID(s); err == nil {
		return c.Get(ctx, id)
	}
	row := c.db.QueryRowContext(ctx,
		`SELECT `+tenantColumns+` FROM tenants WHERE host = ? OR custom_domain = ? LIMIT 1`, s, s)
	return scanTenant(row)
}

// List returns a page of tenants ordered by id and the total that match.
func (c *Catalog) List(ctx context.Context, opt ListOptions) ([]Tenant, int, error) {
	if opt.Limit <= 0 {
		opt.Limit = 50
	}
	opt.Limit = min(opt.Limit, 500)
	opt.Offset = max(opt.Offset, 0)
	where := `WHERE (?1 = '' OR name LIKE ?2 ESCAPE '\' OR host LIKE ?2 ESCAPE '\' OR custom_domain LIKE ?2 ESCAPE '\')
	            AND (?3 = '' OR status = ?3)`
	pattern := "%" + escapeLike(opt.Query) + "%"
	var total int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM tenants `+where, opt.Query, pattern, opt.Status).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count tenants: %w", err)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants `+where+` ORDER BY id LIMIT ?4 OFFSET ?5`,
		opt.Query, pattern, opt.Status, opt.Limit, opt.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	out := []Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

// Create inserts a tenant (with t.ID when non-zero) and returns it as stored.
// The cache forgets the new host and domain at once, so a negative entry
// cannot hide the new tenant.
func (c *Catalog) Create(ctx context.Context, t Tenant) (Tenant, error) {
	if err := validate(&t); err != nil {
		return Tenant{}, err
	}
	var id any
	if t.ID != 0 {
		id = t.ID
	}
	row := c.db.QueryRowContext(ctx, `INSERT INTO tenants
		(id, host, custom_domain, name, country_code, subscription_plan, status, db_url, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+tenantColumns,
		id, t.Host, nullString(t.CustomDomain), t.Name, t.CountryCode, t.Plan, t.Status,
		nullString(t.DBURL), nullTime(t.ExpiresAt))
	created, err := scanTenant(row)
	if err != nil {
		return Tenant{}, classify(err)
	}
	c.cache.invalidateTenant(created, created)
	return created, nil
}

// Update applies a partial change and returns the tenant as stored.
func (c *Catalog) Update(ctx context.Context, id int64, u Update) (Tenant, error) {
	old, err := c.Get(ctx, id)
	if err != nil {
		return Tenant{}, err
	}
	next := old
	if u.Status != nil {
		next.Status = *u.Status
	}
	if u.CustomDomain != nil {
		next.CustomDomain = *u.CustomDomain
	}
	if u.Name != nil {
		next.Name = *u.Name
	}
	if u.Plan != nil {
		next.Plan = *u.Plan
	}
	if u.ExpiresAt != nil {
		next.ExpiresAt = *u.ExpiresAt
	}
	if err := validate(&next); err != nil {
		return Tenant{}, err
	}
	row := c.db.QueryRowContext(ctx, `UPDATE tenants SET status = ?, custom_domain = ?, name = ?,
		subscription_plan = ?, expires_at = ?, updated_at = CURRENT_TIMESTAMP
		WHERE id = ? RETURNING `+tenantColumns,
		next.Status, nullString(next.CustomDomain), next.Name, next.Plan, nullTime(next.ExpiresAt), id)
	updated, err := scanTenant(row)
	if err != nil {
		return Tenant{}, classify(err)
	}
	c.cache.invalidateTenant(old, updated)
	return updated, nil
}

// Delete removes a tenant's catalog row.
func (c *Catalog) Delete(ctx context.Context, id int64) error {
	old, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	res, err := c.db.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete tenant %d: %w", id, err)
	}
	c.cache.invalidateTenant(old, old)
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrTenantNotFound // deleted concurrently (another reaper or admin): that one owns the cleanup
	}
	return nil
}

// ExpiredDemos lists demo tenants whose expiry is at or before now.
func (c *Catalog) ExpiredDemos(ctx context.Context, now time.Time) ([]Tenant, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE status = ? AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id LIMIT 1000`,
		StatusDemo, now.UTC().Format(sqliteTime))
	if err != nil {
		return nil, fmt.Errorf("list expired demos: %w", err)
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Ping checks that the catalog database answers.
func (c *Catalog) Ping(ctx context.Context) error {
	var one int
	return c.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

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
	case t.Host == "www" || t.Host == "admin":
		// These labels route to the public site and the admin panel, so a
		// tenant with them could never be reached.
		return fmt.Errorf("%w: host %q is reserved", ErrInvalidTenant, t.Host)
	case t.CustomDomain != "" && (!ValidDomain(t.CustomDomain) || !strings.Contains(t.CustomDomain, ".")):
		return fmt.Errorf("%w: custom domain %q is not a DNS name", ErrInvalidTenant, truncate(t.CustomDomain, 64))
	case !DisplaySafe(t.Name):
		return fmt.Errorf("%w: name must not contain control or bidirectional-override characters", ErrInvalidTenant)
	case t.Name == "" || utf8.RuneCountInString(t.Name) > 200:
		return fmt.Errorf("%w: name must be 1–200 characters", ErrInvalidTenant)
	case len(t.CountryCode) != 2 || strings.Trim(t.CountryCode, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
		return fmt.Errorf("%w: country must be an ISO 3166-1 alpha-2 code", ErrInvalidTenant)
	case t.Status != StatusActive && t.Status != StatusSuspended && t.Status != StatusDemo:
		return fmt.Errorf("%w: status must be active, suspended or demo", ErrInvalidTenant)
	}
	return nil
}

func classify(err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrTenantNotFound
	case errors.Is(err, ErrTenantNotFound), errors.Is(err, ErrHostTaken), errors.Is(err, ErrDomainTaken),
		errors.Is(err, ErrIDTaken), errors.Is(err, ErrUnavailable):
		return err // already classified (scanTenant, then its caller)
	}
	// SQLite names the violated column only in the message.
	msg := err.Error()
	switch {
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

type scanner interface{ Scan(dest ...any) error }

func scanTenant(s scanner) (Tenant, error) {
	var t Tenant
	var domain, dbURL, plan, status sql.NullString
	var created, updated, expires timeValue
	err := s.Scan(&t.ID, &t.Host, &domain, &t.Name, &t.CountryCode, &plan, &status, &dbURL, &created, &updated, &expires)
	if err != nil {
		return Tenant{}, classify(err)
	}
	t.CustomDomain, t.DBURL, t.Plan, t.Status = domain.String, dbURL.String, plan.String, status.String
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt = created.t, updated.t, expires.t
	return t, nil
}

// timeValue scans a DATETIME column whichever way the driver hands it over
// (time.Time from modernc and libsql-client-go, text otherwise, or NULL).
type timeValue struct{ t time.Time }

func (v *timeValue) Scan(src any) error {
	switch x := src.(type) {
	case nil:
		v.t = time.Time{}
	case time.Time:
		v.t = x.UTC()
	case string:
		return v.parse(x)
	case []byte:
		return v.parse(string(x))
	default:
		return fmt.Errorf("catalog: cannot scan %T as time", src)
	}
	return nil
}

func (v *timeValue) parse(s string) error {
	for _, layout := range []string{sqliteTime, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			v.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("catalog: bad time %q", s)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(sqliteTime)
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func parseID(s string) (int64, error) {
	var id int64
	if s == "" || len(s) > 18 {
		return 0, errors.New("not an id")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not an id")
		}
		id = id*10 + int64(s[i]-'0')
	}
	return id, nil
}

// DisplaySafe reports whether s is fit to show to people: no control
// characters (NUL, newlines, escapes) and no bidirectional controls, which
// can make a name render as something else in the admin panel.
func DisplaySafe(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}
