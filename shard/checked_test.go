package shard_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/shard"
)

// An unchanged file reopened after the cap closed it skips the full check;
// a file whose schema changed while it was closed (here: a trigger on a
// managed table planted with plain SQLite) gets the full check again and
// is repaired before it is served.
func TestCachedCheckSeesSchemaChanges(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := shard.NewManager(shard.Config{DataDir: t.TempDir(), MaxOpen: 1, Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	mustProvision(t, m, 1)
	mustProvision(t, m, 2)
	checks := func(kind string) int {
		t.Helper()
		n, err := testutil.GatherAndCount(reg, "tenantgate_tenant_db_open_checks_total")
		if err != nil || n != 2 {
			t.Fatalf("open checks series: %d, %v", n, err)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "tenantgate_tenant_db_open_checks_total" {
				continue
			}
			for _, s := range mf.GetMetric() {
				if s.GetLabel()[0].GetValue() == kind {
					return int(s.GetCounter().GetValue())
				}
			}
		}
		return -1
	}
	open := func(id int64) string {
		t.Helper()
		h, err := m.Acquire(ctx, id, "")
		if err != nil {
			t.Fatalf("acquire %d: %v", id, err)
		}
		defer h.Release()
		return h.Path()
	}
	path := open(1)
	open(2) // the cap closes 1
	open(1) // unchanged: cached
	if full, cached := checks("full"), checks("cached"); full != 2 || cached != 1 {
		t.Fatalf("full = %d, cached = %d; want 2, 1", full, cached)
	}
	open(2) // closes 1 again
	bend(t, path, `CREATE TABLE loot(n)`, `CREATE TRIGGER siphon AFTER UPDATE ON accounts BEGIN INSERT INTO loot VALUES (NEW.balance); END`)
	h, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	var n int
	if err := h.DB.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'siphon'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("planted trigger survived the reopen: %d, %v", n, err)
	}
	if full := checks("full"); full != 3 {
		t.Fatalf("full checks = %d, want 3", full)
	}
}

// A handle says whether its Acquire had to open the database (the load
// harness reports such cold requests apart).
func TestColdWait(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 2)
	mustProvision(t, m, 1)
	h1, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Release()
	h2, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Release()
	if h1.ColdWait() <= 0 || h2.ColdWait() != 0 {
		t.Fatalf("cold waits %v (opened), %v (open already)", h1.ColdWait(), h2.ColdWait())
	}
}
