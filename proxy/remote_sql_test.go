package proxy_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// remotePair starts a shard (a tenantgate serving tenant "origin") and an
// edge whose tenant "far" (same id) lives on it: db_url reaches the shard's
// tenant by its /t/<host> path with a service token of the shard's.
func remotePair(t *testing.T) (edge *proxytest.Server, id int64) {
	t.Helper()
	ctx := context.Background()
	origin := proxytest.Start(t, proxytest.Options{})
	tn := origin.CreateTenant("origin")
	dbURL := origin.URL + "/t/origin?authToken=" + url.QueryEscape(origin.Token(tn.ID, proxy.RoleService, 0))
	edge = proxytest.Start(t, proxytest.Options{})
	if _, err := edge.Catalog.Create(ctx, catalog.Tenant{ID: tn.ID, Host: "far", Name: "Far Bank", CountryCode: "GH", DBURL: dbURL}); err != nil {
		t.Fatal(err)
	}
	return edge, tn.ID
}

func TestRemoteHranaGoClientInProcess(t *testing.T) {
	edge, id := remotePair(t)
	db := goClientDB(t, edge, "far", edge.Token(id, proxy.RoleService, 0))
	hranatest.RunGoClient(t, db)
}

func TestRemoteHranaGoClientWSInProcess(t *testing.T) {
	edge, id := remotePair(t)
	wsURL := "ws" + strings.TrimPrefix(edge.URL, "http") + "/t/far?authToken=" + url.QueryEscape(edge.Token(id, proxy.RoleService, 0))
	db, err := sql.Open("libsql", wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hranatest.RunGoClientWS(t, db)
	if n := metricValue(t, edge, "tenantgate_hrana_remote_round_trips_total", "outcome", "ok"); n == 0 {
		t.Error("no round trip to the shard counted")
	}
}
