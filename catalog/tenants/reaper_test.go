package tenants_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
)

func TestReaper(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := e.clock()
	expired := e.demo(t, now.Add(-time.Second))
	atExpiry := e.demo(t, now)
	fresh := e.demo(t, now.Add(time.Hour))
	active := e.create(t, "active")
	// An active tenant with a stale expiry and a suspended demo are not
	// demos: never reaped.
	if _, err := e.cat.Update(ctx, active.ID, catalog.Update{ExpiresAt: ptr(now.Add(-time.Hour))}); err != nil {
		t.Fatal(err)
	}
	suspended := e.demo(t, now.Add(-time.Hour))
	if _, err := e.svc.Update(ctx, suspended.ID, tenants.Change{Status: ptr(catalog.StatusSuspended)}); err != nil {
		t.Fatal(err)
	}

	// Hold the expired demo's database open, and cache its host.
	h, err := e.shards.Acquire(ctx, expired.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if _, err := e.cat.FindByHost(ctx, expired.Host); err != nil {
		t.Fatal(err)
	}
	openBefore := e.shards.OpenCount()

	var passes, reapedTotal int
	r := &tenants.Reaper{Service: e.svc, Now: func() time.Time { return now }, OnPass: func(n int, err error) {
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
		if _, err := e.cat.Get(ctx, tn.ID); !errors.Is(err, catalog.ErrTenantNotFound) {
			t.Errorf("%s: row remains (%v)", tn.Host, err)
		}
		if _, err := e.cat.FindByHost(ctx, tn.Host); !errors.Is(err, catalog.ErrTenantNotFound) {
			t.Errorf("%s: still cached (%v)", tn.Host, err)
		}
		if _, err := os.Stat(e.shards.Path(tn.ID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: database file remains (%v)", tn.Host, err)
		}
	}
	if got := e.shards.OpenCount(); got >= openBefore {
		t.Errorf("open databases %d → %d: the reaped handle stayed open", openBefore, got)
	}
	for _, tn := range []catalog.Tenant{fresh, active, suspended} {
		if _, err := e.cat.Get(ctx, tn.ID); err != nil {
			t.Errorf("%s was reaped: %v", tn.Host, err)
		}
		if _, err := os.Stat(e.shards.Path(tn.ID)); err != nil {
			t.Errorf("%s lost its file: %v", tn.Host, err)
		}
	}
	if backups, _ := filepath.Glob(filepath.Join(e.dir, "backups", "*")); len(backups) != 0 {
		t.Errorf("demos are not backed up, found %v", backups)
	}

	// Nothing left to do: a second pass reaps nothing.
	if n, err := r.ReapOnce(ctx); n != 0 || err != nil {
		t.Errorf("second pass = %d, %v", n, err)
	}
}

// TestReaperConcurrent: a demo deleted by another reaper between the
// listing and the delete is not an error.
func TestReaperConcurrent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for range 12 {
		e.demo(t, e.clock().Add(-time.Minute))
	}
	var wg sync.WaitGroup
	counts := make([]int, 3)
	for i := range counts {
		wg.Go(func() {
			n, err := (&tenants.Reaper{Service: e.svc, Now: e.clock}).ReapOnce(ctx)
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
	if _, total, _ := e.cat.List(ctx, catalog.ListOptions{}); total != 0 {
		t.Errorf("%d tenants left", total)
	}
}

// TestReaperRun: Run reaps at start and stops with its context.
func TestReaperRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e := newEnv(t)
	tn := e.demo(t, e.clock().Add(-time.Minute))
	passed := make(chan int, 100)
	done := make(chan struct{})
	go func() {
		(&tenants.Reaper{Service: e.svc, Now: e.clock, Interval: time.Hour, OnPass: func(n int, _ error) { passed <- n }}).Run(ctx)
		close(done)
	}()
	if n := <-passed; n != 1 {
		t.Errorf("first pass reaped %d, want 1", n)
	}
	if _, err := e.cat.Get(context.Background(), tn.ID); !errors.Is(err, catalog.ErrTenantNotFound) {
		t.Errorf("not reaped: %v", err)
	}
	cancel()
	<-done
}

// TestReaperRace: a demo made permanent while a reaper pass runs — after
// the pass listed it as expired — survives with its database, and the
// backup taken for it is discarded.
func TestReaperRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := e.clock()
	const n = 8
	demos := make([]catalog.Tenant, n)
	for i := range demos {
		demos[i] = e.demo(t, now.Add(-time.Minute))
	}
	// The pass read the list (as ReapOnce does) before the admin acts.
	listed, err := e.cat.ExpiredDemos(ctx, now)
	if err != nil || len(listed) != n {
		t.Fatalf("expired demos: %d (%v)", len(listed), err)
	}
	backups := filepath.Join(e.dir, "backups")
	var wg sync.WaitGroup
	kept := map[int64]bool{}
	for i, d := range listed {
		if i%2 == 0 {
			if _, err := e.svc.MakePermanent(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
			kept[d.ID] = true
		}
	}
	for _, d := range listed {
		wg.Go(func() {
			reaped, err := e.svc.ReapIfStillExpired(ctx, d, now, backups)
			if err != nil {
				t.Errorf("reap %d: %v", d.ID, err)
			}
			if reaped == kept[d.ID] {
				t.Errorf("demo %d: reaped=%v, made permanent=%v", d.ID, reaped, kept[d.ID])
			}
		})
	}
	wg.Wait()
	for _, d := range listed {
		got, err := e.cat.Get(ctx, d.ID)
		_, ferr := os.Stat(e.shards.Path(d.ID))
		if kept[d.ID] {
			if err != nil || got.Status != catalog.StatusActive || !got.ExpiresAt.IsZero() || ferr != nil {
				t.Errorf("permanent tenant %d: %+v, %v, file %v", d.ID, got, err, ferr)
			}
		} else if !errors.Is(err, catalog.ErrTenantNotFound) || !errors.Is(ferr, os.ErrNotExist) {
			t.Errorf("expired demo %d survived: %v, file %v", d.ID, err, ferr)
		}
	}
	files, _ := filepath.Glob(filepath.Join(backups, "*.db"))
	if len(files) != n/2 {
		t.Errorf("%d backups, want one per reaped demo (%d): %v", len(files), n/2, files)
	}

	// And concurrently: the reaper pass and MakePermanent race for real.
	e2 := newEnv(t)
	for range n {
		e2.demo(t, now.Add(-time.Minute))
	}
	list, _ := e2.cat.ExpiredDemos(ctx, now)
	var mu sync.Mutex
	permanent := map[int64]bool{}
	for _, d := range list {
		wg.Go(func() {
			if _, err := e2.svc.MakePermanent(ctx, d.ID); err == nil {
				mu.Lock()
				permanent[d.ID] = true
				mu.Unlock()
			} else if !errors.Is(err, catalog.ErrTenantNotFound) {
				t.Errorf("make permanent %d: %v", d.ID, err)
			}
		})
	}
	wg.Go(func() {
		if _, err := (&tenants.Reaper{Service: e2.svc, Now: func() time.Time { return now }}).ReapOnce(ctx); err != nil {
			t.Errorf("reap: %v", err)
		}
	})
	wg.Wait()
	for _, d := range list {
		_, err := e2.cat.Get(ctx, d.ID)
		if permanent[d.ID] && err != nil {
			t.Errorf("demo %d was made permanent and then reaped: %v", d.ID, err)
		}
		if !permanent[d.ID] && err == nil {
			t.Errorf("demo %d neither permanent nor reaped", d.ID)
		}
	}
}
