package migrations_test

import (
	"context"
	"errors"
	"testing"

	"github.com/microfi/tenantgate/migrations"
)

// An older binary serves a database with newer migrations only when every
// one of them is expand-only, which it learns from the database itself.
func TestExpandOnlyNewerDatabase(t *testing.T) {
	ctx := context.Background()
	old := migrations.Tenant
	v := old.Latest()
	expand := migrations.Migration{Version: v + 1, Name: "tg_notes", ExpandOnly: true,
		SQL: migrations.ExpandOnlyDirective + "\nCREATE TABLE tg_notes (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL)"}
	contract := migrations.Migration{Version: v + 2, Name: "drop_notes", SQL: "DROP TABLE tg_notes"}

	db := mustDB(t)
	if _, err := migrations.Migrate(ctx, db, old.With(expand)); err != nil {
		t.Fatal(err)
	}
	if pending, err := migrations.Pending(ctx, db, old); err != nil || len(pending) != 0 {
		t.Fatalf("old binary on an expand-only newer database: pending %v, %v", pending, err)
	}
	if _, err := migrations.Migrate(ctx, db, old.With(expand, contract)); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Pending(ctx, db, old); !errors.Is(err, migrations.ErrSchemaAhead) {
		t.Fatalf("old binary past a contract migration: err = %v", err)
	}
	if _, err := migrations.Pending(ctx, db, old.With(expand)); !errors.Is(err, migrations.ErrSchemaAhead) {
		t.Fatalf("one version behind a contract migration: err = %v", err)
	}

	next := old.With(expand, contract)
	if !next.ServableBy(v, v+1) || next.ServableBy(v, v+2) || next.Ceiling(v) != v+1 || next.Ceiling(v+1) != v+1 || next.Ceiling(v+2) != v+2 {
		t.Fatalf("ServableBy/Ceiling wrong: ceiling(v)=%d", next.Ceiling(v))
	}
	if b := next.Blocking(v, v+2); len(b) != 1 || b[0].Version != v+2 {
		t.Fatalf("Blocking = %v", b)
	}
}

// A schema_migrations table from before expand_only gets the column on the
// next migration, and what it recorded earlier counts as not expand-only.
func TestExpandOnlyColumnUpgrade(t *testing.T) {
	ctx := context.Background()
	db := mustDB(t)
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
		checksum TEXT NOT NULL, applied_at DATETIME DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	first := migrations.Migration{Version: 1, Name: "a", SQL: "CREATE TABLE a (x)"}
	first.Checksum = migrations.Checksum(first.SQL)
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES (1, 'a', ?)`, first.Checksum); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, first.SQL); err != nil {
		t.Fatal(err)
	}
	applied, err := migrations.Status(ctx, db)
	if err != nil || len(applied) != 1 || applied[0].ExpandOnly {
		t.Fatalf("Status on an old table = %+v, %v", applied, err)
	}
	second := migrations.Migration{Version: 2, Name: "b", SQL: migrations.ExpandOnlyDirective + "\nCREATE TABLE b (x)", ExpandOnly: true}
	set := migrations.Set{Name: "t"}.With(first, second)
	if _, err := migrations.Migrate(ctx, db, set); err != nil {
		t.Fatal(err)
	}
	applied, err = migrations.Status(ctx, db)
	if err != nil || len(applied) != 2 || applied[0].ExpandOnly || !applied[1].ExpandOnly {
		t.Fatalf("Status after upgrade = %+v, %v", applied, err)
	}
}

// The directive is read from the file's leading comments only.
func TestExpandOnlyDirectiveParsed(t *testing.T) {
	for _, m := range migrations.Catalog.Migrations {
		if m.Name == "proxies" && !m.ExpandOnly {
			t.Fatalf("catalog 0007_proxies should be expand-only")
		}
		if m.Version < 7 && m.ExpandOnly {
			t.Fatalf("%d_%s declared expand-only", m.Version, m.Name)
		}
	}
}
