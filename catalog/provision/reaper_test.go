package provision_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/provision"
	"github.com/microfi/tenantgate/shard"
)

func newProvisioner(t *testing.T) (*provision.Provisioner, string) {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cat, err := catalog.Open(context.Background(), "file:"+filepath.Join(dir, "catalog.db"), catalog.Options{PollInterval: -1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	shards := shard.NewManager(shard.Config{DataDir: dir, Logger: log})
	t.Cleanup(func() { shards.Close(); cat.Close() })
	return &provision.Provisioner{Catalog: cat, Shards: shards, Logger: log}, dir
}

func TestReaper(t *testing.T) {
	ctx := context.Background()
	p, dir := newProvisioner(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	create := func(host, status string, expires time.Time) catalog.Tenant {
		t.Helper()
		tn, err := p.Create(ctx, provision.Request{Host: host, Name: host, Country: "GH", Status: status, ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	expired := create("demo-expired", catalog.StatusDemo, now.Add(-time.Second))
	atExpiry := create("demo-now", catalog.StatusDemo, now)
	fresh := create("demo-fresh", catalog.StatusDemo, now.Add(time.Hour))
	active := create("active", catalog.StatusActive, now.Add(-time.Hour)) // not a demo: never reaped
	suspended := create("suspended-demo", catalog.StatusSuspended, now.Add(-time.Hour))

	// Hold the expired demo's database open, and cache its host.
	h, err := p.Shards.Acquire(ctx, expired.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if _, err := p.Catalog.FindByHost(ctx, expired.Host); err != nil {
		t.Fatal(err)
	}
	openBefore := p.Shards.OpenCount()

	var passes, reapedTotal int
	r := &provision.Reaper{Provisioner: p, Now: func() time.Time { return now }, OnPass: func(n int, err error) {
		passes++
		reapedTotal += n
		if err != nil {
			t.Errorf("pass error: %v", err)
		}
	}}
	n, err := r.ReapOnce(ctx)
	if err != nil || n != 2 {
		t.Fatalf("ReapOnce = %d, %v; want 2 (expired and at-expiry)", n, err)
	}
	if passes != 1 || reapedTotal != 2 {
		t.Errorf("OnPass saw %d passes, %d reaped", passes, reapedTotal)
	}
	for _, tn := range []catalog.Tenant{expired, atExpiry} {
		if _, err := p.Catalog.Get(ctx, tn.ID); !errors.Is(err, catalog.ErrTenantNotFound) {
			t.Errorf("%s: row remains (%v)", tn.Host, err)
		}
		if _, err := p.Catalog.FindByHost(ctx, tn.Host); !errors.Is(err, catalog.ErrTenantNotFound) {
			t.Errorf("%s: still cached (%v)", tn.Host, err)
		}
		if _, err := os.Stat(p.Shards.Path(tn.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: database file remains (%v)", tn.Host, err)
		}
	}
	if got := p.Shards.OpenCount(); got >= openBefore {
		t.Errorf("open databases %d → %d: the reaped handle stayed open", openBefore, got)
	}
	for _, tn := range []catalog.Tenant{fresh, active, suspended} {
		if _, err := p.Catalog.Get(ctx, tn.ID); err != nil {
			t.Errorf("%s was reaped: %v", tn.Host, err)
		}
		if _, err := os.Stat(p.Shards.Path(tn.ID)); err != nil {
			t.Errorf("%s lost its file: %v", tn.Host, err)
		}
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, "backups", "*")); len(backups) != 0 {
		t.Errorf("demos are not backed up, found %v", backups)
	}

	// Nothing left to do: a second pass reaps nothing.
	if n, err := r.ReapOnce(ctx); n != 0 || err != nil {
		t.Errorf("second pass = %d, %v", n, err)
	}
}

// TestReaperConcurrentDelete: a demo deleted by someone else between the
// listing and the delete is not an error.
func TestReaperConcurrent(t *testing.T) {
	ctx := context.Background()
	p, _ := newProvisioner(t)
	past := time.Now().Add(-time.Minute)
	for i := range 12 {
		if _, err := p.Create(ctx, provision.Request{Host: fmt.Sprintf("demo-c%d", i), Name: "c", Country: "GH", Status: catalog.StatusDemo, ExpiresAt: past}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, 3)
	for i := range counts {
		wg.Go(func() {
			n, err := (&provision.Reaper{Provisioner: p}).ReapOnce(ctx)
			if err != nil {
				t.Errorf("reaper %d: %v", i, err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if total := counts[0] + counts[1] + counts[2]; total != 12 {
		t.Errorf("reaped %v, want 12 in total", counts)
	}
	if _, total, _ := p.Catalog.List(ctx, catalog.ListOptions{}); total != 0 {
		t.Errorf("%d tenants left", total)
	}
}

// TestReaperRun: Run reaps at start and stops with its context.
func TestReaperRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, _ := newProvisioner(t)
	tn, err := p.Create(ctx, provision.Request{Host: "demo-run", Name: "r", Country: "GH", Status: catalog.StatusDemo, ExpiresAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	passed := make(chan int, 100)
	done := make(chan struct{})
	go func() {
		(&provision.Reaper{Provisioner: p, Interval: time.Hour, OnPass: func(n int, _ error) { passed <- n }}).Run(ctx)
		close(done)
	}()
	if n := <-passed; n != 1 {
		t.Errorf("first pass reaped %d, want 1", n)
	}
	if _, err := p.Catalog.Get(context.Background(), tn.ID); !errors.Is(err, catalog.ErrTenantNotFound) {
		t.Errorf("not reaped: %v", err)
	}
	cancel()
	<-done
}
