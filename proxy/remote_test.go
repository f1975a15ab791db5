package proxy_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// A tenant whose database lives on a remote libSQL server, reached through
// libsql-client-go. The "server" is another tenantgate speaking Hrana (the
// same wire protocol as sqld and Turso): proxy B serves tenant 5 from proxy
// A's database over HTTP, stamp check and all.
func TestRemoteTenantDatabase(t *testing.T) {
	ctx := context.Background()
	origin := proxytest.Start(t, proxytest.Options{})
	tn, err := origin.Tenants.Create(ctx, provisionDemo(5, "origin"))
	if err != nil {
		t.Fatal(err)
	}
	// The libSQL client sends the URL's host as Host: route 127.0.0.1 to
	// the origin tenant by making it the tenant's custom domain.
	if _, err := origin.Catalog.Update(ctx, tn.ID, catalog.Update{CustomDomain: ptr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	remoteURL := origin.URL + "?authToken=" + url.QueryEscape(origin.Token(tn.ID, proxy.RoleService, 0))

	edge := proxytest.Start(t, proxytest.Options{})
	if _, err := edge.Catalog.Create(ctx, catalog.Tenant{ID: 5, Host: "far", Name: "Far Bank", CountryCode: "GH", DBURL: remoteURL}); err != nil {
		t.Fatal(err)
	}
	tok := edge.Token(5, proxy.RoleStaff, 2)

	r := edge.Do("GET", proxytest.Host("far"), "/api/accounts", tok, nil)
	var list struct{ Accounts []bank.Account }
	r.JSON(t, &list)
	if r.Status != 200 || len(list.Accounts) == 0 {
		t.Fatalf("accounts through the remote database: %d %s", r.Status, r.Body)
	}
	acc := list.Accounts[0]

	// A posting is an interactive transaction over Hrana streams. The
	// origin here is another tenantgate, whose managed tables are sealed
	// from SQL for every token: it refuses the write (503, nothing posted).
	// A real remote (sqld/Turso) takes it.
	r = edge.Do("POST", proxytest.Host("far"), "/api/transactions", tok,
		map[string]any{"type": "deposit", "account_id": acc.ID, "amount": 1234})
	if r.Status != 503 || r.Error() != "Tenant unavailable" {
		t.Fatalf("deposit through a sealed remote database: %d %s", r.Status, r.Body)
	}
	h, err := origin.Shards.Acquire(ctx, tn.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := bank.New(h.DB, tn.ID).GetAccount(ctx, acc.ID, 0)
	h.Release()
	if err != nil || got.Balance != acc.Balance {
		t.Fatalf("origin balance %d, %v; want %d unchanged", got.Balance, err, acc.Balance)
	}

	// The remote database is stamped 5: a catalog entry that points another
	// tenant at it is refused.
	if _, err := edge.Catalog.Create(ctx, catalog.Tenant{ID: 6, Host: "thief", Name: "Thief", CountryCode: "GH", DBURL: remoteURL}); err != nil {
		t.Fatal(err)
	}
	r = edge.Do("GET", proxytest.Host("thief"), "/api/accounts", edge.Token(6, proxy.RoleStaff, 2), nil)
	if r.Status != 503 || r.Error() != "Tenant unavailable" {
		t.Fatalf("misplaced remote database: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "authToken") {
		t.Fatal("credentials leaked in an error")
	}
}

// provisionDemo is a request for a tenant with a fixed id and sample data.
func provisionDemo(id int64, host string) tenants.CreateRequest {
	return tenants.CreateRequest{ID: id, Host: host, Name: "Tenant " + host, Country: "GH",
		Seed: func(ctx context.Context, db *sql.DB, tenantID int64) error {
			_, err := bank.SeedDemo(ctx, db, tenantID, "GH")
			return err
		}}
}
