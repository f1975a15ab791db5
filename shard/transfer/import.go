package transfer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/microfi/tenantgate/shard/storage"
)

// TableReport is the outcome of importing one table.
type TableReport struct {
	Table string
	// SourceRows is how many rows the source holds for this tenant.
	SourceRows int64
	// Added is how many were inserted now; Present how many were already
	// there, identical (an earlier run). Added+Present == SourceRows.
	Added, Present int64
	// SourceChecksum and TargetChecksum are SHA-256 (hex) over the source
	// rows and over the same rows as stored in the target, in id order;
	// an import only commits when they are equal.
	SourceChecksum, TargetChecksum string
}

// Report is the outcome of importing one tenant.
type Report struct {
	TenantID int64
	Tables   []TableReport
	Warnings []string
}

// Rows returns the total source rows and rows added.
func (r Report) Rows() (source, added int64) {
	for _, t := range r.Tables {
		source += t.SourceRows
		added += t.Added
	}
	return source, added
}

// Check opens the tenant database at targetPath and reports, without
// writing anything, whether importing into it would succeed: stamp, schema
// and row conflicts. Import runs the same checks itself; Check lets a caller
// vet many tenants before writing any.
func (s *Source) Check(ctx context.Context, tenantID int64, targetPath string) error {
	if storage.IsRemote(targetPath) {
		return s.checkRemote(ctx, tenantID, targetPath)
	}
	a, err := s.attach(ctx, tenantID, targetPath)
	if err != nil {
		return err
	}
	defer a.close()
	_, err = a.plan(ctx)
	return err
}

// Import copies the source's rows for tenantID (all rows of a legacy
// source; the rows with that tenant_id of a shared source) into the stamped
// tenant database at targetPath, keeping row ids and adding tenant_id. It
// refuses, before writing, a target stamped for another tenant or holding a
// different row under an id the source uses; it writes in one transaction
// and commits only when row counts and checksums match. Rerunning adds
// nothing.
//
// A remote target (a libSQL URL) is imported on a local copy under a write
// fence and the added rows sent in one transaction (remote.go).
func (s *Source) Import(ctx context.Context, tenantID int64, targetPath string) (Report, error) {
	if storage.IsRemote(targetPath) {
		return s.importRemote(ctx, tenantID, targetPath)
	}
	rep := Report{TenantID: tenantID, Warnings: s.Warnings}
	a, err := s.attach(ctx, tenantID, targetPath)
	if err != nil {
		return rep, err
	}
	defer a.close()
	tables, err := a.plan(ctx)
	if err != nil {
		return rep, err
	}
	tx, err := a.conn.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("import tenant %d: begin: %w", tenantID, err)
	}
	defer tx.Rollback()
	for _, t := range tables {
		tr := TableReport{Table: t.name}
		where, args := a.filter("s")
		res, err := tx.ExecContext(ctx, fmt.Sprintf(
			`INSERT INTO main.%[1]s (id, tenant_id%[2]s) SELECT s.id, %[3]d%[4]s FROM source.%[1]s AS s WHERE %[5]s AND NOT EXISTS (SELECT 1 FROM main.%[1]s AS m WHERE m.id = s.id) ORDER BY s.id`,
			quoteIdent(t.name), t.list("", true), tenantID, t.list("s.", true), where), args...)
		if err != nil {
			return rep, fmt.Errorf("import tenant %d: copy %s: %w", tenantID, t.name, err)
		}
		if tr.Added, err = res.RowsAffected(); err != nil {
			return rep, err
		}
		var srcRows, dstRows int64
		if tr.SourceChecksum, srcRows, err = checksum(ctx, tx, fmt.Sprintf(
			`SELECT %s FROM source.%s AS s WHERE %s ORDER BY s.id`, t.rowExpr("s."), quoteIdent(t.name), where), args...); err != nil {
			return rep, fmt.Errorf("import tenant %d: checksum source %s: %w", tenantID, t.name, err)
		}
		if tr.TargetChecksum, dstRows, err = checksum(ctx, tx, fmt.Sprintf(
			`SELECT %[1]s FROM main.%[2]s AS m WHERE m.id IN (SELECT s.id FROM source.%[2]s AS s WHERE %[3]s) ORDER BY m.id`,
			t.rowExpr("m."), quoteIdent(t.name), where), args...); err != nil {
			return rep, fmt.Errorf("import tenant %d: checksum target %s: %w", tenantID, t.name, err)
		}
		tr.SourceRows = srcRows
		tr.Present = srcRows - tr.Added
		rep.Tables = append(rep.Tables, tr)
		if srcRows != dstRows || tr.SourceChecksum != tr.TargetChecksum {
			return rep, fmt.Errorf("import tenant %d: %s: source has %d rows (checksum %.16s), target %d (checksum %.16s); nothing was written: %w",
				tenantID, t.name, srcRows, tr.SourceChecksum, dstRows, tr.TargetChecksum, ErrVerify)
		}
	}
	if err := tx.Commit(); err != nil {
		return rep, fmt.Errorf("import tenant %d: commit: %w", tenantID, err)
	}
	return rep, nil
}

// attached is a connection to a tenant database with the source attached
// read-only as schema "source".
type attached struct {
	src      *Source
	tenantID int64
	db       *sql.DB
	conn     *sql.Conn
}

func (s *Source) attach(ctx context.Context, tenantID int64, targetPath string) (*attached, error) {
	path, err := localPath(targetPath)
	if err != nil {
		return nil, fmt.Errorf("import tenant %d: %w", tenantID, err)
	}
	if s.Kind == Shared {
		if _, ok := s.Tenant(tenantID); !ok {
			return nil, fmt.Errorf("import tenant %d: %w", tenantID, errNoTenant)
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("import tenant %d: tenant database (provision the tenant first): %w", tenantID, err)
	}
	db, err := storage.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("import tenant %d: %w", tenantID, err)
	}
	a := &attached{src: s, tenantID: tenantID, db: db}
	if a.conn, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("import tenant %d: %w", tenantID, err)
	}
	if err := storage.CheckStamp(ctx, a.conn, tenantID); err != nil {
		a.close()
		return nil, fmt.Errorf("import tenant %d: target %s: %w", tenantID, path, err)
	}
	// A bigger page cache keeps a large import's transaction from spilling
	// pages to the WAL before it commits.
	if _, err := a.conn.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
		a.close()
		return nil, fmt.Errorf("import tenant %d: %w", tenantID, err)
	}
	if _, err := a.conn.ExecContext(ctx, `ATTACH DATABASE ? AS source`, storage.URI(s.Path, storage.AtRest)); err != nil {
		a.close()
		return nil, fmt.Errorf("import tenant %d: attach source: %w", tenantID, err)
	}
	return a, nil
}

func (a *attached) close() {
	if a.conn != nil {
		a.conn.ExecContext(context.Background(), `DETACH DATABASE source`)
		a.conn.Close()
	}
	a.db.Close()
}

// filter is the WHERE condition selecting this tenant's source rows.
func (a *attached) filter(alias string) (string, []any) {
	if a.src.Kind == Shared {
		return alias + ".tenant_id = ?", []any{a.tenantID}
	}
	return "1", nil
}

// tablePlan is one table to copy, with the columns both sides have.
type tablePlan struct {
	name string
	cols []string
}

// productOwned are columns the running product rewrites after an import:
// a login upgrades a bcrypt password hash to argon2id, and postings move an
// account's balance. The import copies them for new rows, but a row already
// present is the import's own whatever they hold now, so they are left out
// of the conflict check and of the verification checksums; a rerun after
// people have used the platform then adds nothing instead of failing.
var productOwned = map[string]map[string]bool{
	"users":    {"password_hash": true},
	"accounts": {"balance": true},
}

// compared is cols without the product-owned columns.
func (t tablePlan) compared() []string {
	var out []string
	for _, c := range t.cols {
		if !productOwned[t.name][c] {
			out = append(out, c)
		}
	}
	return out
}

// list renders ", p.c1, p.c2" (leading comma when lead is set).
func (t tablePlan) list(prefix string, lead bool) string {
	var b strings.Builder
	for i, c := range t.cols {
		if i > 0 || lead {
			b.WriteString(", ")
		}
		b.WriteString(prefix + quoteIdent(c))
	}
	return b.String()
}

// rowExpr renders one row as text, exact to the storage class: quote()
// spells 1, 1.0, '1' and X'01' differently.
func (t tablePlan) rowExpr(prefix string) string {
	parts := []string{"quote(" + prefix + "id)"}
	for _, c := range t.compared() {
		parts = append(parts, "quote("+prefix+quoteIdent(c)+")")
	}
	return strings.Join(parts, " || char(31) || ")
}

// plan checks every table against the target before anything is written:
// the target must have every column copied, and no row id the source uses
// may hold different data.
func (a *attached) plan(ctx context.Context) ([]tablePlan, error) {
	var plans []tablePlan
	var conflicts []string
	for _, name := range SeedTables {
		targetCols, err := tableColumns(ctx, a.conn, "main", name)
		if err != nil {
			return nil, err
		}
		if len(targetCols) == 0 || !hasColumn(targetCols, "tenant_id") {
			return nil, fmt.Errorf("import tenant %d: target has no %s table with tenant_id (is it a migrated tenant database?): %w", a.tenantID, name, ErrSchema)
		}
		p := tablePlan{name: name}
		for _, c := range a.src.copyCols[name] {
			if !hasColumn(targetCols, c) {
				return nil, fmt.Errorf("import tenant %d: target %s has no column %s (run tenantgate migrate first): %w", a.tenantID, name, c, ErrSchema)
			}
			p.cols = append(p.cols, c)
		}
		where, args := a.filter("s")
		var same strings.Builder
		fmt.Fprintf(&same, "m.tenant_id IS %d", a.tenantID)
		for _, c := range p.compared() {
			fmt.Fprintf(&same, " AND m.%[1]s IS s.%[1]s", quoteIdent(c))
		}
		var n, first int64
		err = a.conn.QueryRowContext(ctx, fmt.Sprintf(
			`SELECT count(*), coalesce(min(s.id), 0) FROM source.%[1]s AS s JOIN main.%[1]s AS m ON m.id = s.id WHERE %[2]s AND NOT (%[3]s)`,
			quoteIdent(name), where, same.String()), args...).Scan(&n, &first)
		if err != nil {
			return nil, fmt.Errorf("import tenant %d: compare %s: %w", a.tenantID, name, err)
		}
		if n > 0 {
			conflicts = append(conflicts, fmt.Sprintf("%s: %d rows (first id %d) already exist with different content", name, n, first))
		}
		plans = append(plans, p)
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("import tenant %d: nothing was written: %s: %w", a.tenantID, strings.Join(conflicts, "; "), ErrConflict)
	}
	return plans, nil
}

// checksum hashes the single text column of every row the query returns.
func checksum(ctx context.Context, q queryer, query string, args ...any) (string, int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	h := sha256.New()
	var n int64
	var row sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&row); err != nil {
			return "", 0, err
		}
		h.Write(row)
		h.Write([]byte{30})
		n++
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
