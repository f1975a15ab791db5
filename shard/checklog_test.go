package shard_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/shard"
)

// The prints of checked files survive a restart (a new Manager on the same
// data dir, as after a process restart): an unchanged file opens on the
// fast path, while a file whose schema changed, a file put in place of
// another, or a file checked by another build is checked in full again.
func TestCheckedPrintsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	type run struct {
		m   *shard.Manager
		reg *prometheus.Registry
	}
	start := func(checker string) run {
		reg := prometheus.NewRegistry()
		m := shard.NewManager(shard.Config{DataDir: dir, MaxOpen: 8, Registerer: reg, CheckerID: checker,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		m.Start()
		return run{m, reg}
	}
	checks := func(r run, kind string) int {
		t.Helper()
		return int(testutil.ToFloat64(counterWith(t, r.reg, "tenantgate_tenant_db_open_checks_total", "check", kind)))
	}
	open := func(r run, id int64) {
		t.Helper()
		h, err := r.m.Acquire(ctx, id, "")
		if err != nil {
			t.Fatalf("acquire %d: %v", id, err)
		}
		var n int
		if err := h.DB.QueryRow(`SELECT count(*) FROM accounts WHERE tenant_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		h.Release()
	}

	r := start("build-a")
	for id := int64(1); id <= 4; id++ {
		mustProvision(t, r.m, id)
		open(r, id)
	}
	if full := checks(r, "full") + checks(r, "cached"); full > 4 {
		t.Fatalf("first run: %d checks, want at most 4", full)
	}
	r.m.Close()

	// Restart: all four are known.
	r = start("build-a")
	for id := int64(1); id <= 4; id++ {
		open(r, id)
	}
	if full, cached := checks(r, "full"), checks(r, "cached"); full != 0 || cached != 4 {
		t.Fatalf("after a restart: full = %d, cached = %d; want 0, 4", full, cached)
	}
	path := func(id int64) string { return filepath.Join(dir, "tenants", itoa(id)+".db") }
	r.m.Close()

	// While the proxy is down: a trigger planted in 1 (schema cookie moves);
	// 2 replaced by a copy of itself (new inode, same schema); 3 deleted
	// and put back from a copy taken before (same inode number may be
	// reused, never the birth time).
	bend(t, path(1), `CREATE TABLE loot(n)`, `CREATE TRIGGER siphon AFTER UPDATE ON accounts BEGIN INSERT INTO loot VALUES (NEW.balance); END`)
	copyFile(t, path(2), path(2)+".tmp")
	if err := os.Rename(path(2)+".tmp", path(2)); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path(3), filepath.Join(dir, "3.copy"))
	if err := os.Remove(path(3)); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, "3.copy"), path(3))

	r = start("build-a")
	for id := int64(1); id <= 4; id++ {
		open(r, id)
	}
	if full, cached := checks(r, "full"), checks(r, "cached"); full != 3 || cached != 1 {
		t.Fatalf("after changes while down: full = %d, cached = %d; want 3 (1, 2, 3), 1 (4)", full, cached)
	}
	h, err := r.m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := h.DB.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'siphon'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("planted trigger survived the restart: %d, %v", n, err)
	}
	h.Release()
	// Evict (restore, suspend) forgets across restarts too.
	r.m.Evict(4)
	r.m.Close()

	r = start("build-a")
	open(r, 4)
	open(r, 2)
	if full, cached := checks(r, "full"), checks(r, "cached"); full != 1 || cached != 1 {
		t.Fatalf("after an evict: full = %d, cached = %d; want 1 (4), 1 (2)", full, cached)
	}
	r.m.Close()

	// Another build trusts none of it.
	r = start("build-b")
	open(r, 2)
	if full := checks(r, "full"); full != 1 {
		t.Fatalf("another build: full = %d, want 1", full)
	}
	r.m.Close()

	// A damaged log costs full checks, never a failure.
	if err := os.WriteFile(filepath.Join(dir, shard.CheckLogName), []byte("garbage\n\x00\x01 \"x\" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = start("build-a")
	open(r, 2)
	open(r, 2)
	if full := checks(r, "full"); full != 1 {
		t.Fatalf("damaged log: full = %d, want 1", full)
	}
	r.m.Close()
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// counterWith is the counter of a family with one label set to value (0 if absent).
func counterWith(tb testing.TB, reg *prometheus.Registry, name, label, value string) prometheus.Counter {
	tb.Helper()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					c.Add(s.GetCounter().GetValue())
				}
			}
		}
	}
	return c
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}
