package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/shard/fleet"
)

// A serving proxy is in the registry; `fleet` lists it; a suspension made
// with the CLI returns once the proxy has applied it, so the very next
// request is refused (no polling in the test).
func TestFleetListAndAcknowledgedSuspend(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir, "--heartbeat-interval", "200ms")

	table := cli(t, "fleet", "--data-dir", dir)
	for _, want := range []string{"1 live of 1 registered proxies", addr, "serving", "ID", "SCHEMA", "APPLIED", "HEARTBEAT"} {
		if !strings.Contains(table, want) {
			t.Fatalf("fleet output lacks %q:\n%s", want, table)
		}
	}
	var view struct {
		Live    int
		Proxies []struct {
			ID, Address, Version, State string
			TenantSchema                int     `json:"tenant_schema"`
			AgeSeconds                  float64 `json:"age_seconds"`
		}
	}
	if err := json.Unmarshal([]byte(cli(t, "fleet", "--data-dir", dir, "--json")), &view); err != nil {
		t.Fatal(err)
	}
	if view.Live != 1 || len(view.Proxies) != 1 || view.Proxies[0].Address != addr || view.Proxies[0].TenantSchema == 0 ||
		view.Proxies[0].Version == "" || view.Proxies[0].State != "serving" {
		t.Fatalf("fleet --json = %+v", view)
	}

	cli(t, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme", "--country", "GH")
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "acme", "--role", "staff", "--user", "1"))
	waitStatus(t, addr, "acme.microfi.localhost", tok, 200)

	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if err := Main(context.Background(), env, []string{"tenants", "suspend", "--data-dir", dir, "acme"}); err != nil {
		t.Fatalf("suspend: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "in force on all 1 live proxies") {
		t.Fatalf("suspend stderr: %q", errOut.String())
	}
	if code, body := get(t, addr, "acme.microfi.localhost", "/api/accounts", tok); code != 403 {
		t.Fatalf("right after an acknowledged suspension: %d %s", code, body)
	}
}

// migrate refuses a migration that is not expand-only while a proxy that
// cannot serve it is live, naming the proxy; --force (warning) and an
// expand-only migration go ahead.
func TestMigrateRefusesPastLiveProxies(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir, "--heartbeat-interval", "200ms", "--seed-demo=false")
	cli(t, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme", "--country", "GH")
	ctx := context.Background()
	next := migrations.Tenant.Latest() + 1
	contract := migrations.Tenant.With(migrations.Migration{Version: next, Name: "drop_something", SQL: `CREATE TABLE tg_x (a); DROP TABLE tg_x;`})
	expand := migrations.Tenant.With(migrations.Migration{Version: next, Name: "tg_notes", ExpandOnly: true,
		SQL: migrations.ExpandOnlyDirective + "\nCREATE TABLE tg_notes (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL)"})

	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := migrateFleet(ctx, env, dir, "", "", fleet.Options{Set: contract, Concurrency: 1}, 0, false)
	if !errors.Is(err, errProxiesBehind) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), fmt.Sprintf("%04d_drop_something", next)) {
		t.Fatalf("migrate past a live proxy: %v", err)
	}
	if strings.Contains(out.String(), "migrated") && !strings.Contains(out.String(), "catalog:") {
		t.Fatalf("refused migrate still migrated tenants:\n%s", out.String())
	}
	if err := migrateFleet(ctx, env, dir, "", "", fleet.Options{Set: expand, Concurrency: 1}, 0, false); err != nil {
		t.Fatalf("expand-only migration refused: %v", err)
	}
	// The live proxy (the older binary here) still serves the tenant.
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "acme", "--role", "staff", "--user", "1"))
	waitStatus(t, addr, "acme.microfi.localhost", tok, 200)

	errOut.Reset()
	forced := migrations.Tenant.With(expand.Migrations[len(expand.Migrations)-1],
		migrations.Migration{Version: next + 1, Name: "drop_something", SQL: `CREATE TABLE tg_x (a); DROP TABLE tg_x;`})
	if err := migrateFleet(ctx, env, dir, "", "", fleet.Options{Set: forced, Concurrency: 1}, 0, true); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if !strings.Contains(errOut.String(), "WARNING: --force") || !strings.Contains(errOut.String(), addr) {
		t.Fatalf("--force warning: %q", errOut.String())
	}
}
