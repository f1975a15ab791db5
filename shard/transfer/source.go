package transfer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/microfi/tenantgate/shard/storage"
)

// Kind is the layout of an import source.
type Kind string

// The source layouts.
const (
	// Legacy is a pre-multi-tenant MicroFi database: the six seed tables
	// with the tenant schema's column names and no tenant_id column.
	Legacy Kind = "legacy"
	// Shared is a database holding many tenants: the seed's tenants table,
	// and the six seed tables, each with a tenant_id column.
	Shared Kind = "shared"
)

// SourceTenant is one row of a shared source's tenants table.
type SourceTenant struct {
	ID                                                  int64
	Host, CustomDomain, Name, CountryCode, Plan, Status string
	CreatedAt                                           string
	// Rows counts this tenant's rows across the six tables.
	Rows int64
}

// Source is a validated, read-only import source.
type Source struct {
	Path string
	Kind Kind
	// Warnings lists what the source has that the tenant schema does not
	// (extra tables and columns): reported, not imported.
	Warnings []string
	// Tenants lists a shared source's tenants, by id.
	Tenants []SourceTenant

	db *sql.DB
	// copyCols maps each seed table to the columns copied besides id and
	// tenant_id (the source's columns that the tenant schema also has).
	copyCols map[string][]string
}

// Open opens path read-only and checks that it has the layout of kind. A
// schema problem is an ErrSchema error that names every missing piece; no
// target has been touched at that point.
func Open(ctx context.Context, path string, kind Kind) (*Source, error) {
	if kind != Legacy && kind != Shared {
		return nil, fmt.Errorf("unknown source kind %q", kind)
	}
	path, err := localPath(path)
	if err != nil {
		return nil, fmt.Errorf("open %s source: %w", kind, err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open %s source: %w", kind, err)
	}
	db, err := storage.OpenMode(ctx, path, storage.AtRest)
	if err != nil {
		return nil, fmt.Errorf("open %s source %s: %w", kind, path, err)
	}
	s := &Source{Path: path, Kind: kind, db: db, copyCols: map[string][]string{}}
	if err := s.validate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s source %s: %w", kind, path, err)
	}
	return s, nil
}

// Close closes the source.
func (s *Source) Close() error { return s.db.Close() }

// Tenant returns a shared source's tenant by id.
func (s *Source) Tenant(id int64) (SourceTenant, bool) {
	for _, t := range s.Tenants {
		if t.ID == id {
			return t, true
		}
	}
	return SourceTenant{}, false
}

func (s *Source) validate(ctx context.Context) error {
	ref, err := reference(ctx)
	if err != nil {
		return err
	}
	names, err := s.tableNames(ctx)
	if err != nil {
		return err
	}
	var problems []string
	expected := map[string]bool{}
	for _, t := range SeedTables {
		expected[t] = true
	}
	if s.Kind == Shared {
		expected["tenants"] = true
	}
	for _, n := range names {
		if !expected[n] {
			s.Warnings = append(s.Warnings, fmt.Sprintf("table %s is not part of the tenant schema and is not imported", n))
		}
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, t := range SeedTables {
		if !have[t] {
			problems = append(problems, fmt.Sprintf("missing table %s", t))
			continue
		}
		cols, err := tableColumns(ctx, s.db, "main", t)
		if err != nil {
			return err
		}
		problems = append(problems, s.checkTable(t, cols, ref[t])...)
	}
	if s.Kind == Shared {
		if !have["tenants"] {
			problems = append(problems, "missing table tenants (a shared database has the seed's tenants table; use a legacy import for a single-tenant file)")
		} else {
			p, err := s.loadTenants(ctx)
			if err != nil {
				return err
			}
			problems = append(problems, p...)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrSchema, strings.Join(problems, "; "))
	}
	if s.Kind == Shared {
		return s.checkOrphans(ctx)
	}
	return nil
}

func (s *Source) tableNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read tables (is it an SQLite database?): %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// checkTable compares a source table with the tenant schema's table and
// records which columns to copy.
func (s *Source) checkTable(table string, cols, ref []column) []string {
	var problems []string
	if !hasColumn(cols, "id") {
		problems = append(problems, fmt.Sprintf("table %s has no id column", table))
	}
	switch {
	case s.Kind == Legacy && hasColumn(cols, "tenant_id"):
		problems = append(problems, fmt.Sprintf("table %s has a tenant_id column: this looks like a shared database (import it with --shared)", table))
	case s.Kind == Shared && !hasColumn(cols, "tenant_id"):
		problems = append(problems, fmt.Sprintf("table %s has no tenant_id column: this looks like a legacy database (import it with --legacy)", table))
	}
	for _, rc := range ref {
		if rc.Name == "tenant_id" || rc.Name == "id" {
			continue
		}
		if hasColumn(cols, rc.Name) {
			s.copyCols[table] = append(s.copyCols[table], rc.Name)
		} else if rc.required() {
			problems = append(problems, fmt.Sprintf("table %s lacks required column %s", table, rc.Name))
		}
	}
	for _, c := range cols {
		if !hasColumn(ref, c.Name) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("column %s.%s is not part of the tenant schema and is not imported", table, c.Name))
		}
	}
	return problems
}

// loadTenants reads and checks a shared source's tenants table.
func (s *Source) loadTenants(ctx context.Context) ([]string, error) {
	cols, err := tableColumns(ctx, s.db, "main", "tenants")
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, need := range []string{"id", "host", "name", "country_code"} {
		if !hasColumn(cols, need) {
			problems = append(problems, fmt.Sprintf("table tenants lacks column %s", need))
		}
	}
	if len(problems) > 0 {
		return problems, nil
	}
	opt := func(name, dflt string) string {
		if hasColumn(cols, name) {
			return fmt.Sprintf("COALESCE(CAST(%s AS TEXT), %s)", quoteIdent(name), dflt)
		}
		return dflt
	}
	q := fmt.Sprintf(`SELECT id, CAST(host AS TEXT), %s, COALESCE(CAST(name AS TEXT), ''), COALESCE(CAST(country_code AS TEXT), ''), %s, %s, %s FROM tenants ORDER BY id`,
		opt("custom_domain", "''"), opt("subscription_plan", "'starter'"), opt("status", "'active'"), opt("created_at", "''"))
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	defer rows.Close()
	hosts := map[string]int64{}
	for rows.Next() {
		var t SourceTenant
		var host sql.NullString
		if err := rows.Scan(&t.ID, &host, &t.CustomDomain, &t.Name, &t.CountryCode, &t.Plan, &t.Status, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("read tenants: %w", err)
		}
		t.Host = strings.ToLower(strings.TrimSpace(host.String))
		switch {
		case t.ID <= 0:
			problems = append(problems, fmt.Sprintf("tenant id %d is not positive", t.ID))
		case t.Host == "":
			problems = append(problems, fmt.Sprintf("tenant %d has no host", t.ID))
		case hosts[t.Host] != 0:
			problems = append(problems, fmt.Sprintf("tenants %d and %d share host %q", hosts[t.Host], t.ID, t.Host))
		}
		hosts[t.Host] = t.ID
		s.Tenants = append(s.Tenants, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	return problems, nil
}

// checkOrphans refuses rows whose tenant_id names no tenant, and counts
// each tenant's rows.
func (s *Source) checkOrphans(ctx context.Context) error {
	counts := map[int64]int64{}
	var orphans []string
	for _, t := range SeedTables {
		rows, err := s.db.QueryContext(ctx, fmt.Sprintf(
			`SELECT s.tenant_id, count(*), t.id IS NULL FROM %s AS s LEFT JOIN tenants AS t ON t.id = s.tenant_id GROUP BY s.tenant_id`, quoteIdent(t)))
		if err != nil {
			return fmt.Errorf("count %s rows per tenant: %w", t, err)
		}
		for rows.Next() {
			var id sql.NullInt64
			var n int64
			var orphan bool
			if err := rows.Scan(&id, &n, &orphan); err != nil {
				rows.Close()
				return err
			}
			if orphan {
				orphans = append(orphans, fmt.Sprintf("%s has %d rows with tenant_id %v, which is not in tenants", t, n, nullID(id)))
				continue
			}
			counts[id.Int64] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(orphans) > 0 {
		sort.Strings(orphans)
		return fmt.Errorf("%w: %s", ErrSchema, strings.Join(orphans, "; "))
	}
	for i := range s.Tenants {
		s.Tenants[i].Rows = counts[s.Tenants[i].ID]
	}
	return nil
}

func nullID(id sql.NullInt64) any {
	if !id.Valid {
		return "NULL"
	}
	return id.Int64
}

var errNoTenant = errors.New("no such tenant in the shared source")
