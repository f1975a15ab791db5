package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

func mustDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := storage.Open(context.Background(), "file:"+filepath.Join(tb.TempDir(), "t.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	for _, set := range []migrations.Set{migrations.Catalog, migrations.Tenant} {
		t.Run(set.Name, func(t *testing.T) {
			db := mustDB(t)
			n, err := migrations.Migrate(ctx, db, set)
			if err != nil || n != len(set.Migrations) {
				t.Fatalf("applied %d, %v; want %d", n, err, len(set.Migrations))
			}
			if n, err := migrations.Migrate(ctx, db, set); err != nil || n != 0 {
				t.Fatalf("second run applied %d, %v", n, err)
			}
			if v, err := migrations.Version(ctx, db); err != nil || v != set.Latest() {
				t.Fatalf("version %d, %v; want %d", v, err, set.Latest())
			}
		})
	}
}

func TestTenantTablesCarryTenantID(t *testing.T) {
	ctx := context.Background()
	db := mustDB(t)
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"users", "accounts", "transactions", "subscriptions", "gateway_configs", "communication_usage"} {
		var notNull int
		err := db.QueryRowContext(ctx, `SELECT "notnull" FROM pragma_table_info(?) WHERE name = 'tenant_id'`, table).Scan(&notNull)
		if err != nil || notNull != 1 {
			t.Errorf("%s.tenant_id: notnull=%d err=%v", table, notNull, err)
		}
		var idx int
		db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_index_list(?) l
			JOIN pragma_index_info(l.name) i WHERE i.name = 'tenant_id'`, table).Scan(&idx)
		if idx == 0 {
			t.Errorf("%s has no index on tenant_id", table)
		}
	}
}

func TestChecksumAndAhead(t *testing.T) {
	ctx := context.Background()
	db := mustDB(t)
	if _, err := migrations.Migrate(ctx, db, migrations.Tenant); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrChecksumMismatch", func(t *testing.T) {
		changed := migrations.Tenant.With()
		changed.Migrations[0].Checksum = migrations.Checksum(changed.Migrations[0].SQL + "-- edited")
		if _, err := migrations.Pending(ctx, db, changed); !errors.Is(err, migrations.ErrChecksumMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrSchemaAhead", func(t *testing.T) {
		newer := migrations.Tenant.With(migrations.Migration{Version: 900, Name: "extra", SQL: "CREATE TABLE extra (x)"})
		if _, err := migrations.Migrate(ctx, db, newer); err != nil {
			t.Fatal(err)
		}
		if _, err := migrations.Pending(ctx, db, migrations.Tenant); !errors.Is(err, migrations.ErrSchemaAhead) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("DryRunWritesNothing", func(t *testing.T) {
		db := mustDB(t)
		m := migrations.Migration{Version: 1, Name: "x", SQL: "CREATE TABLE x (y)", Checksum: migrations.Checksum("CREATE TABLE x (y)")}
		if err := migrations.Apply(ctx, db, m, true); err != nil {
			t.Fatal(err)
		}
		var n int
		db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'x'`).Scan(&n)
		if n != 0 {
			t.Fatal("dry run created the table")
		}
	})
}
