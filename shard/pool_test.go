package shard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/shard"
)

// An open database holds one pooled connection; the pool grows only when
// the tenant's requests run concurrently, each further connection charged
// to the fd budget, and refused (ErrBusy after PinWait) when the budget is
// spent.
func TestPoolGrowsWithinBudget(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := shard.NewManager(shard.Config{
		DataDir: t.TempDir(), MaxOpen: 4, Registerer: reg, PinWait: 100 * time.Millisecond,
		FDBudget: shard.FDsPerDatabase + shard.FDsPerConn, // room for one more connection (after a reopen)
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(m.Close)
	mustProvision(t, m, 1)
	fds := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "tenantgate_tenant_db_fds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no tenantgate_tenant_db_fds")
		return 0
	}
	// The first open runs the full check on a maintenance connection,
	// whose descriptor SQLite keeps while the pool is open (charged: 4);
	// a reopen of the unchanged file is one connection (3).
	h, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := fds(); got != shard.FDsPerDatabase+1 {
		t.Fatalf("fds charged after the first open = %v, want %d", got, shard.FDsPerDatabase+1)
	}
	h.Release()
	m.Shed(1)
	if h, err = m.Acquire(ctx, 1, ""); err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if got := h.DB.Stats().OpenConnections; got != 1 {
		t.Fatalf("open connections after open = %d, want 1", got)
	}
	if got := fds(); got != shard.FDsPerDatabase {
		t.Fatalf("fds charged = %v, want %d", got, shard.FDsPerDatabase)
	}
	c1, err := h.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := h.DB.Conn(ctx) // a second connection: charged
	if err != nil {
		t.Fatal(err)
	}
	if got := fds(); got != shard.FDsPerDatabase+shard.FDsPerConn {
		t.Fatalf("fds charged = %v, want %d", got, shard.FDsPerDatabase+shard.FDsPerConn)
	}
	if _, err := h.DB.Conn(ctx); !errors.Is(err, shard.ErrBusy) {
		t.Fatalf("a third connection past the budget: %v, want ErrBusy", err)
	}
	c2.Close()
	c3, err := h.DB.Conn(ctx) // reuses the idle second connection
	if err != nil {
		t.Fatal(err)
	}
	c3.Close()
	if n, err := testutil.GatherAndCount(reg, "tenantgate_tenant_db_fds"); err != nil || n != 1 {
		t.Fatalf("fds series: %d, %v", n, err)
	}
}
