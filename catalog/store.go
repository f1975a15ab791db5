package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// sqliteTime is how times are written to the catalog: SQLite's own
// CURRENT_TIMESTAMP format, in UTC, so they compare as text too.
const sqliteTime = "2006-01-02 15:04:05"

const tenantColumns = `id, host, custom_domain, name, country_code, subscription_plan, status, db_url, created_at, updated_at, expires_at, quota_bytes, shard, db_bytes`

// visible excludes rows still being provisioned: until its database is in
// place a tenant is not found by any lookup.
const visible = `status <> 'provisioning'`

// ListOptions filters and pages List.
type ListOptions struct {
	Query  string // matched against name, host and custom domain; "" = all
	Status string // "" = any
	Limit  int    // default 50, at most 500
	Offset int
}

// Get returns the tenant with this id, uncached.
func (c *Catalog) Get(ctx context.Context, id int64) (Tenant, error) {
	row := c.db.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ? AND `+visible, id)
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
		`SELECT `+tenantColumns+` FROM tenants WHERE (host = ? OR custom_domain = ?) AND `+visible+` LIMIT 1`, s, s)
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
	            AND (?3 = '' OR status = ?3) AND ` + visible
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
	out, err := scanTenants(rows)
	if out == nil && err == nil {
		out = []Tenant{} // an empty page, not null, in JSON
	}
	return out, total, err
}

// ExpiredDemos lists demo tenants whose expiry is at or before now.
func (c *Catalog) ExpiredDemos(ctx context.Context, now time.Time) ([]Tenant, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE status = ? AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id LIMIT 1000`,
		StatusDemo, now.UTC().Format(sqliteTime))
	if err != nil {
		return nil, fmt.Errorf("list expired demos: %w", err)
	}
	return scanTenants(rows)
}

// scanTenants reads every row of a tenantColumns query and closes rows.
func scanTenants(rows *sql.Rows) ([]Tenant, error) {
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

type scanner interface{ Scan(dest ...any) error }

func scanTenant(s scanner) (Tenant, error) {
	var t Tenant
	var domain, dbURL, plan, status, shard sql.NullString
	var created, updated, expires timeValue
	var quota sql.NullInt64
	err := s.Scan(&t.ID, &t.Host, &domain, &t.Name, &t.CountryCode, &plan, &status, &dbURL, &created, &updated, &expires, &quota, &shard, &t.DBBytes)
	if err != nil {
		return Tenant{}, classify(err)
	}
	t.CustomDomain, t.DBURL, t.Plan, t.Status, t.Shard = domain.String, dbURL.String, plan.String, status.String, shard.String
	if t.Shard == "" && t.DBURL == "" {
		t.Shard = LocalShard
	}
	t.CreatedAt, t.UpdatedAt, t.ExpiresAt = created.t, updated.t, expires.t
	t.QuotaBytes = quota.Int64
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
