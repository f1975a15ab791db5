package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/storage"
)

// TestMigrateFromVersion1: a catalog written by the first release (schema
// version 1, with a deleted tenant) migrates cleanly, keeps its rows, and
// from then on never hands out the deleted id again.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := storage.Open(ctx, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := migrations.Set{Name: migrations.Catalog.Name, Migrations: migrations.Catalog.Migrations[:1]}
	if _, err := migrations.Migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"alpha", "bravo", "charlie"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO tenants (host, name, country_code) VALUES (?, ?, 'GH')`, h, "Bank "+h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM tenants WHERE host = 'charlie'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	c, _ := mustOpen(t, path, -1)
	if v, err := migrations.Version(ctx, c.DB()); err != nil || v != migrations.Catalog.Latest() {
		t.Fatalf("version %d (%v), want %d", v, err, migrations.Catalog.Latest())
	}
	if tn, err := c.Resolve(ctx, "bravo"); err != nil || tn.ID != 2 || tn.Status != catalog.StatusActive {
		t.Fatalf("bravo after migration: %+v %v", tn, err)
	}
	if high, err := c.HighestID(ctx); err != nil || high != 3 {
		t.Errorf("highest id %d (%v), want 3", high, err)
	}
	if _, err := c.Create(ctx, catalog.Tenant{ID: 3, Host: "again", Name: "Again", CountryCode: "GH"}); !errors.Is(err, catalog.ErrIDTaken) {
		t.Errorf("reusing deleted id 3: %v, want ErrIDTaken", err)
	}
	if _, err := c.Create(ctx, catalog.Tenant{ID: 1, Host: "dup", Name: "Dup", CountryCode: "GH"}); !errors.Is(err, catalog.ErrIDTaken) {
		t.Errorf("reusing live id 1: %v, want ErrIDTaken", err)
	}
	if tn, err := c.Create(ctx, catalog.Tenant{Host: "delta", Name: "Delta", CountryCode: "GH"}); err != nil || tn.ID != 4 {
		t.Errorf("next tenant: %+v %v, want id 4", tn, err)
	}
	// A provisioning row is invisible to every lookup until finished.
	p, err := c.InsertProvisioning(ctx, catalog.Tenant{Host: "echo", Name: "Echo", CountryCode: "GH", Status: catalog.StatusDemo}, "owner")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindByHost(ctx, "echo"); !errors.Is(err, catalog.ErrTenantNotFound) {
		t.Errorf("provisioning row found by host: %v", err)
	}
	if _, total, _ := c.List(ctx, catalog.ListOptions{}); total != 3 {
		t.Errorf("list counts %d, want 3 (provisioning hidden)", total)
	}
	if _, err := c.Create(ctx, catalog.Tenant{Host: "echo", Name: "Echo 2", CountryCode: "GH"}); !errors.Is(err, catalog.ErrHostTaken) {
		t.Errorf("host of a provisioning row: %v, want ErrHostTaken", err)
	}
	if tn, err := c.FinishProvisioning(ctx, p.ID); err != nil || tn.Status != catalog.StatusDemo {
		t.Fatalf("finish: %+v %v", tn, err)
	}
	if tn, err := c.FindByHost(ctx, "echo"); err != nil || tn.ID != p.ID {
		t.Errorf("finished row: %+v %v", tn, err)
	}
}
