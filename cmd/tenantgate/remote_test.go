package main

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/tursodatabase/libsql-client-go/libsql"

	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
)

// remoteFleet is a front proxy whose tenant "far" (id 1) lives on a shard:
// another tenantgate process serving its own demo tenant (id 1) over
// Hrana, standing in for sqld. Both are real processes on loopback.
type remoteFleet struct {
	shard, front *proc
	frontDir     string
	frontToken   string // a service token of the front's tenant far
}

func startRemoteFleet(t *testing.T) *remoteFleet {
	t.Helper()
	// The Hrana 3 script reads a 100,001-row cursor: on a loaded machine
	// that outlasts the default 10 s stream idle time.
	slow := []string{"--sql-stream-timeout", "1m", "--sql-statement-timeout", "1m"}
	shard := startServe(t, 0, slow...)
	shardToken := strings.TrimSpace(must(t, shard.dataDir, "token", "--data-dir", shard.dataDir, "--tenant", "demo", "--role", "service", "--ttl", "2h"))
	dbURL := "http://" + shard.addr + "/t/demo?authToken=" + url.QueryEscape(shardToken)
	frontDir := t.TempDir()
	must(t, frontDir, "tenants", "create", "--data-dir", frontDir, "--host", "far", "--name", "Far Bank", "--country", "GH", "--db-url", dbURL, "--id", "1")
	front := startServeIn(t, frontDir, 0, append(slow, "--seed-demo=false")...)
	tok := strings.TrimSpace(must(t, frontDir, "token", "--data-dir", frontDir, "--tenant", "far", "--role", "service", "--ttl", "2h"))
	return &remoteFleet{shard: shard, front: front, frontDir: frontDir, frontToken: tok}
}

// TestRemoteTenantSQLClients runs both real libSQL clients' full flows
// (create, insert, select, batch, interactive transaction, cursor) through
// the front proxy against the remote tenant: HTTP and WebSocket, Hrana 2
// JSON and Hrana 3 Protobuf with cursors.
func TestRemoteTenantSQLClients(t *testing.T) {
	f := startRemoteFleet(t)
	base := "http://" + f.front.addr + "/t/far"

	t.Run("go", func(t *testing.T) {
		c, err := libsql.NewConnector(base, libsql.WithAuthToken(f.frontToken))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(c)
		defer db.Close()
		hranatest.RunGoClient(t, db)
	})
	t.Run("go-ws", func(t *testing.T) {
		db, err := sql.Open("libsql", "ws://"+f.front.addr+"/t/far?authToken="+url.QueryEscape(f.frontToken))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The HTTP flow's tables are in the same remote database.
		for _, q := range []string{`DROP TABLE IF EXISTS vals`, `DROP TABLE IF EXISTS multi`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		hranatest.RunGoClientWS(t, db)
	})
	t.Run("js", func(t *testing.T) { hranatest.RunJSClient(t, base+"/", "", f.frontToken, "js") })
	t.Run("js-ws", func(t *testing.T) { hranatest.RunJSClient(t, "ws://"+f.front.addr+"/t/far", "", f.frontToken, "jsws") })
	t.Run("js-hrana3-cursor", func(t *testing.T) { hranatest.RunJSScript(t, "hrana3_test.mjs", base+"/", "", f.frontToken, "h3") })

	// Every statement went through the front to the shard.
	if n := f.front.metric(t, `tenantgate_hrana_remote_round_trips_total{outcome="ok"}`); n < 20 {
		t.Errorf("front round trips to the shard = %v", n)
	}
	if n := f.shard.metric(t, `tenantgate_hrana_pipelines_total{endpoint="cursor"}`); n == 0 {
		t.Error("no cursor reached the shard")
	}
	// The remote tenant was opened with its stamp, migrations and schema
	// read in one round trip, never by the slower separate reads.
	if n := f.front.metric(t, `tenantgate_tenant_db_remote_open_checks_total{check="one_trip"}`); n == 0 {
		t.Error("the remote tenant was not opened in one round trip")
	}
	if n := f.front.metric(t, `tenantgate_tenant_db_remote_open_checks_total{check="full"}`); n != 0 {
		t.Errorf("%v remote opens took the slower path", n)
	}
}
