package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/microfi/tenantgate/shard/seal"
	"github.com/microfi/tenantgate/shard/sqlcheck"
	"github.com/microfi/tenantgate/shard/storage"
)

// runRemote verifies a database on a libSQL server (a tenantgate shard,
// sqld, tursodb) through the libSQL client, sending only reads. What
// differs from a local database:
//
//   - each check is one statement with its own snapshot (the balance and
//     idempotency checks are each self-consistent; a server without
//     streams could not hold a read transaction across requests);
//   - integrity_check is skipped, and reported as skipped, on a server that
//     does not run it;
//   - the schema audit runs on a scratch copy of the server's schema (the
//     probes need SQLite's authorizer, which a server does not offer); an
//     object the copy cannot recreate is a finding.
func runRemote(ctx context.Context, t Target, r *Report) error {
	db, err := storage.Open(ctx, t.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	objs, err := remoteSchema(ctx, db)
	if err != nil {
		return err
	}
	scratch, err := sqlcheck.Scratch(sqlcheck.NewSchema(objs))
	if err != nil {
		return err
	}
	defer scratch.Close()
	src := &source{data: db, schema: seal.Raw(scratch), remote: true}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&src.version); err != nil {
		return fmt.Errorf("read the migration log: %w", err)
	}
	if err := runChecks(ctx, src, t, r); err != nil {
		return err
	}
	// Objects the scratch copy could not recreate were not audited.
	have, err := src.schema.Query(ctx, `SELECT name FROM sqlite_schema`)
	if err != nil {
		return err
	}
	made := map[string]bool{}
	for _, h := range have {
		made[strings.ToLower(h[0])] = true
	}
	for _, o := range objs {
		if !made[strings.ToLower(o.Name)] && !strings.HasPrefix(strings.ToLower(o.Name), "sqlite_") {
			r.Findings = append(r.Findings, Finding{Check: CheckSchema,
				Detail: fmt.Sprintf("%s %s could not be checked (it could not be recreated from its SQL)", o.Type, o.Name)})
		}
	}
	return nil
}

// remoteSchema reads the server's schema (main only: a new stream has no
// temporary objects).
func remoteSchema(ctx context.Context, db *sql.DB) ([]sqlcheck.Object, error) {
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	var out []sqlcheck.Object
	for rows.Next() {
		var o sqlcheck.Object
		if err := rows.Scan(&o.Type, &o.Name, &o.Table, &o.SQL); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	return out, nil
}
