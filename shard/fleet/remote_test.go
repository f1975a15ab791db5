package fleet_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/fleet"
)

// TestRemoteTenant reaches a tenant database on a libSQL server over HTTP
// (another tenantgate speaking Hrana, as in proxy/remote_test.go): status
// reads its version and stamp, a run finds it current, and a migration the
// server refuses (tenantgate's Hrana does not let tenants alter managed
// tables; sqld would) is reported as that tenant's failure, not a crash.
func TestRemoteTenant(t *testing.T) {
	ctx := context.Background()
	origin := proxytest.Start(t, proxytest.Options{})
	tn := origin.CreateTenant("origin")
	if _, err := origin.Catalog.Update(ctx, tn.ID, catalog.Update{CustomDomain: ptr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	remote := fleet.Target{ID: tn.ID, Host: "far",
		URL: origin.URL + "?authToken=" + url.QueryEscape(origin.Token(tn.ID, proxy.RoleService, 0))}

	rep, err := fleet.Status(ctx, []fleet.Target{remote}, migrations.Tenant, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Tenants[0]; got.Err != nil || got.Version != migrations.Tenant.Latest() || got.Pending != 0 {
		t.Fatalf("remote status %+v", got)
	}
	sum, err := fleet.Run(ctx, []fleet.Target{remote}, fleet.Options{Set: migrations.Tenant})
	if err != nil || sum.Current != 1 {
		t.Fatalf("remote run: %+v %v", sum, err)
	}

	wrong := remote
	wrong.ID = tn.ID + 1
	rep, _ = fleet.Status(ctx, []fleet.Target{wrong}, migrations.Tenant, 1)
	if !errors.Is(rep.Tenants[0].Err, fleet.ErrStampMismatch) {
		t.Fatalf("remote stamp check: %v", rep.Tenants[0].Err)
	}

	sum, err = fleet.Run(ctx, []fleet.Target{remote}, fleet.Options{Set: migrations.Tenant.With(addNickname)})
	if err != nil || sum.Failed != 1 {
		t.Fatalf("refused remote migration: %+v %v", sum, err)
	}
	t.Logf("refused: %v", sum.Results[0].Err)
	if msg := sum.Results[0].Err.Error(); strings.Contains(msg, "authToken=") {
		t.Fatalf("credentials in the error: %s", msg)
	}
	if sum, _ := fleet.Run(ctx, []fleet.Target{remote}, fleet.Options{Set: migrations.Tenant.With(addNickname), BackupDir: t.TempDir()}); sum.Failed != 1 ||
		!strings.Contains(sum.Results[0].Err.Error(), "only local databases") {
		t.Fatalf("remote snapshot: %+v", sum.Results[0].Err)
	}
}

func ptr[T any](v T) *T { return &v }
