package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Demo conversion: which demos were created when, and which signups came
// from one (catalog migration 0005). The demo tenants themselves are
// reaped; their demo_log rows stay so conversion can be measured.

// RecordDemo notes that a demo tenant with this host was created at at.
func (c *Catalog) RecordDemo(ctx context.Context, demoHost string, at time.Time) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO demo_log(demo_host, created_at) VALUES (?, ?)`, demoHost, at.UTC().Format(sqliteTime))
	if err != nil {
		return fmt.Errorf("%w: record demo: %w", ErrUnavailable, err)
	}
	return nil
}

// RecordConversion attributes the new tenant to the demo it came from. It
// reports false (and changes nothing) when no such demo was recorded or the
// demo already converted: attribution is best effort and never fails a
// signup, and one demo counts once.
func (c *Catalog) RecordConversion(ctx context.Context, demoHost string, tenantID int64, at time.Time) (bool, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("%w: record conversion: %w", ErrUnavailable, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE demo_log SET converted_tenant_id = ?, converted_at = ?
		WHERE demo_host = ? AND converted_tenant_id IS NULL`, tenantID, at.UTC().Format(sqliteTime), demoHost)
	if err != nil {
		return false, fmt.Errorf("%w: record conversion: %w", ErrUnavailable, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tenants SET from_demo = ? WHERE id = ?`, demoHost, tenantID); err != nil {
		return false, fmt.Errorf("%w: record conversion: %w", ErrUnavailable, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("%w: record conversion: %w", ErrUnavailable, err)
	}
	return true, nil
}

// FromDemo is the demo host a tenant's signup came from ("" if none).
func (c *Catalog) FromDemo(ctx context.Context, tenantID int64) (string, error) {
	var host sql.NullString
	err := c.db.QueryRowContext(ctx, `SELECT from_demo FROM tenants WHERE id = ?`, tenantID).Scan(&host)
	if err != nil {
		return "", classify(err)
	}
	return host.String, nil
}

// Conversion is the demo cohort of one window: the demos created in it and
// how many of those led to a signup (at any time since).
type Conversion struct {
	Days      int     `json:"days"`
	Demos     int     `json:"demos"`
	Converted int     `json:"converted"`
	Rate      float64 `json:"rate"` // Converted / Demos; 0 when there were no demos
}

// DemoConversion returns the conversion of the demos created in the last
// `days` days before now, for each window.
func (c *Catalog) DemoConversion(ctx context.Context, now time.Time, days ...int) ([]Conversion, error) {
	out := make([]Conversion, 0, len(days))
	for _, d := range days {
		since := now.UTC().Add(-time.Duration(d) * 24 * time.Hour)
		cv := Conversion{Days: d}
		err := c.db.QueryRowContext(ctx, `SELECT count(*), count(converted_tenant_id) FROM demo_log WHERE created_at >= ?`, since.Format(sqliteTime)).
			Scan(&cv.Demos, &cv.Converted)
		if err != nil {
			return nil, fmt.Errorf("%w: demo conversion: %w", ErrUnavailable, err)
		}
		if cv.Demos > 0 {
			cv.Rate = float64(cv.Converted) / float64(cv.Demos)
		}
		out = append(out, cv)
	}
	return out, nil
}
