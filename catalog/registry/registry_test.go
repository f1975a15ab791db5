package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
)

// open opens the shared catalog file as one process would; poll < 0 is a
// process without a change poller (it never applies anything).
func open(t *testing.T, path string, poll time.Duration) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(context.Background(), "file:"+path, catalog.Options{PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// member registers a proxy on its own catalog handle.
func member(t *testing.T, path, id string, poll time.Duration, reg prometheus.Registerer) *registry.Registry {
	t.Helper()
	r, err := registry.New(open(t, path, poll), registry.Options{ID: id, Address: "127.0.0.1:" + id, Version: "test",
		TenantSchema: 4, Interval: 400 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	t.Cleanup(func() { r.Close(context.Background()) })
	if !r.Registered() {
		t.Fatalf("%s: not registered after Start", id)
	}
	return r
}

func byID(ps []registry.Proxy) map[string]registry.Proxy {
	m := map[string]registry.Proxy{}
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}

func TestRegistryListAwaitAndLag(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	cli := open(t, path, -1) // the operator's process: makes changes, waits
	tn, err := cli.Create(ctx, catalog.Tenant{Host: "acme", Name: "Acme", CountryCode: "GH"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	member(t, path, "a", 20*time.Millisecond, reg)
	member(t, path, "b", 20*time.Millisecond, nil)

	all, err := registry.List(ctx, cli)
	if err != nil || len(all) != 2 {
		t.Fatalf("List = %v, %v", all, err)
	}
	a := byID(all)["a"]
	if a.Address != "127.0.0.1:a" || a.Version != "test" || a.TenantSchema != 4 || a.State != registry.StateServing ||
		a.StartedAt.IsZero() || a.Age > 5*time.Second || a.DeadAfter != 2*time.Second {
		t.Fatalf("proxy a = %+v", a)
	}

	// A suspension is acknowledged once both pollers applied it.
	st := catalog.StatusSuspended
	if _, err := cli.Update(ctx, tn.ID, catalog.Update{Status: &st}); err != nil {
		t.Fatal(err)
	}
	ack, err := registry.AwaitLatest(ctx, cli, 5*time.Second)
	if err != nil || len(ack.Proxies) != 2 {
		t.Fatalf("AwaitLatest = %+v, %v", ack, err)
	}
	pos, _ := cli.Position(ctx)
	for _, p := range ack.Proxies {
		if !p.Applied.Covers(pos) {
			t.Fatalf("%s acknowledged at %+v, catalog at %+v", p.ID, p.Applied, pos)
		}
	}
	// So is a revocation (the other log).
	if _, err := cli.RevokeTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.AwaitLatest(ctx, cli, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A proxy whose poller does not run never applies it: named, with the
	// change still committed.
	member(t, path, "stuck", -1, nil)
	if _, err := cli.Update(ctx, tn.ID, catalog.Update{Name: ptr("Acme 2")}); err != nil {
		t.Fatal(err)
	}
	pos, _ = cli.Position(ctx)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) { // a and b apply it
		all, _ := registry.List(ctx, cli)
		if m := byID(all); m["a"].Applied.Covers(pos) && m["b"].Applied.Covers(pos) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a and b did not apply %+v: %+v", pos, all)
		}
	}
	_, err = registry.AwaitLatest(ctx, cli, 300*time.Millisecond)
	var lag *registry.LagError
	if !errors.As(err, &lag) || !errors.Is(err, registry.ErrNotAcknowledged) || len(lag.Lagging) != 1 || lag.Lagging[0].ID != "stuck" || lag.Live != 3 {
		t.Fatalf("err = %v", err)
	}
	if got, _ := cli.Get(ctx, tn.ID); got.Name != "Acme 2" {
		t.Fatalf("change not committed: %+v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "tenantgate_fleet_live_proxies"); err != nil || n != 1 {
		t.Fatalf("live proxies gauge: %d series, %v", n, err)
	}
}

func TestRegistryDeadDrainingAndClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	cli := open(t, path, -1)
	a := member(t, path, "a", 20*time.Millisecond, nil)
	// A proxy that stopped heartbeating long ago (kill -9): dead, and not
	// waited for.
	if _, err := cli.DB().ExecContext(ctx, `INSERT INTO proxies (id, address, version, tenant_schema, dead_after_ms, started_ms, heartbeat_ms)
		VALUES ('gone', 'x:1', 'old', 3, 500, 0, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - 2000)`); err != nil {
		t.Fatal(err)
	}
	all, err := registry.List(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	if p := byID(all)["gone"]; p.State != registry.StateDead || p.Live() {
		t.Fatalf("gone = %+v", p)
	}
	if live := registry.Live(all); len(live) != 1 || live[0].ID != "a" {
		t.Fatalf("live = %v", live)
	}
	if _, err := registry.AwaitLatest(ctx, cli, time.Second); err != nil {
		t.Fatal(err)
	}

	if err := a.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ = registry.List(ctx, cli)
	if p := byID(all)["a"]; p.State != registry.StateDraining || !p.Live() || !a.Draining() {
		t.Fatalf("a after Drain = %+v", p)
	}
	time.Sleep(900 * time.Millisecond) // heartbeats keep it draining
	all, _ = registry.List(ctx, cli)
	if p := byID(all)["a"]; p.State != registry.StateDraining {
		t.Fatalf("a after heartbeats = %+v", p)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ = registry.List(ctx, cli)
	if _, ok := byID(all)["a"]; ok {
		t.Fatalf("a still registered after Close: %+v", all)
	}
}

func ptr[T any](v T) *T { return &v }
