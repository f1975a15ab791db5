package shard_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/shard"
)

// When the open slots are taken and the queue is full, an open is shed at
// once with ErrOverloaded (a 503 with Retry-After at the edge) instead of
// queueing; a queued open is shed after OpenQueueWait; and the shed
// tenants open fine once the slot is free again.
func TestOpenQueueShed(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := shard.NewManager(shard.Config{
		DataDir: t.TempDir(), MaxOpen: 8, Registerer: reg,
		OpenConcurrency: 1, OpenQueue: 1, OpenQueueWait: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(m.Close)
	for id := int64(1); id <= 3; id++ {
		mustProvision(t, m, id)
	}
	// Another process holds tenants 1 and 2 exclusively: whichever opens
	// first takes the only slot and waits in SQLite's busy handler, the
	// other waits in the queue.
	var locks []*sql.DB
	for id := int64(1); id <= 2; id++ {
		lock, err := sql.Open("sqlite", "file:"+m.Path(id)+"?_pragma=locking_mode(EXCLUSIVE)")
		if err != nil {
			t.Fatal(err)
		}
		lock.SetMaxOpenConns(1)
		if _, err := lock.Exec(`CREATE TABLE IF NOT EXISTS hold(x); INSERT INTO hold VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		locks = append(locks, lock)
	}
	results := make(chan error, 2)
	for id := int64(1); id <= 2; id++ {
		go func() {
			h, err := m.Acquire(ctx, id, "")
			if err == nil {
				h.Release()
			}
			results <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); gaugeValue(t, reg, "tenantgate_tenant_db_opens_waiting") != 1; {
		if time.Now().After(deadline) {
			t.Fatal("no open waiting for the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	_, err := m.Acquire(ctx, 3, "")
	if !errors.Is(err, shard.ErrOverloaded) || !errors.Is(err, shard.ErrBusy) {
		t.Fatalf("open past a full queue: %v, want ErrOverloaded", err)
	}
	if d := time.Since(t0); d > 250*time.Millisecond {
		t.Errorf("shed after %v, want at once", d)
	}
	if err := <-results; !errors.Is(err, shard.ErrOverloaded) {
		t.Fatalf("queued open: %v, want ErrOverloaded after OpenQueueWait", err)
	}
	for _, l := range locks {
		l.Close()
	}
	<-results // whatever the busy handler made of the one that had the slot
	for id := int64(1); id <= 3; id++ {
		h, err := m.Acquire(ctx, id, "")
		if err != nil {
			t.Fatalf("tenant %d once the slot is free: %v", id, err)
		}
		h.Release()
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
