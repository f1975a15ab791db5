package shard_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/shard"
)

// Raw connections opened and closed beside the open pool leave their
// database descriptors pending in SQLite (linger.go); the fd budget must
// count them, or a process serving many tenants runs out of descriptors
// with the budget showing room. After every step the charge is at least
// what the process really holds on the tenant's files.
func TestFDChargeCoversPendingDescriptors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	m := shard.NewManager(shard.Config{
		DataDir: dir, MaxOpen: 4, Registerer: reg, RawIdlePerTenant: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(m.Close)
	mustProvision(t, m, 1)
	h, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	check := func(step string) {
		t.Helper()
		charged, real := gaugeValue(t, reg, "tenantgate_tenant_db_fds"), fdsUnder(t, dir+"/tenants/")
		if charged < float64(real) {
			t.Fatalf("%s: %v descriptors charged, the process holds %d on tenant files", step, charged, real)
		}
	}
	check("open")
	for round := range 6 {
		var conns []*shard.RawConn
		for _, ro := range []bool{false, false, true, true, false} {
			c, err := h.Conn(ctx, ro)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			conns = append(conns, c)
		}
		check("raw connections open")
		for _, c := range conns {
			c.Release() // all but one close: RawIdlePerTenant is 1
		}
		check("raw connections released")
	}
	h.Release()
	m.Shed(1)
	if got := gaugeValue(t, reg, "tenantgate_tenant_db_fds"); got != 0 {
		t.Fatalf("after the database closed, %v descriptors charged, want 0", got)
	}
}

// fdsUnder counts this process's descriptors on files under dir.
func fdsUnder(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir) {
			n++
		}
	}
	return n
}
