package shard_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/shard"
)

// fdLedger is a manager whose fd charge a test compares with the
// descriptors the process really holds on tenant files (fdsUnder).
type fdLedger struct {
	t   *testing.T
	m   *shard.Manager
	reg *prometheus.Registry
	dir string
}

func newFDLedger(t *testing.T, cfg shard.Config) *fdLedger {
	t.Helper()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	cfg.DataDir, cfg.Registerer = dir, reg
	if cfg.MaxOpen == 0 {
		cfg.MaxOpen = 4
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m := shard.NewManager(cfg)
	t.Cleanup(m.Close)
	mustProvision(t, m, 1)
	return &fdLedger{t, m, reg, dir}
}

// check fails the test if, once the closer is done, fewer descriptors are
// charged than the process holds on tenant files.
func (f *fdLedger) check(step string) {
	f.t.Helper()
	f.m.Settle()
	charged, real := gaugeValue(f.t, f.reg, "tenantgate_tenant_db_fds"), fdsUnder(f.t, f.dir+"/tenants/")
	if charged < float64(real) {
		f.t.Fatalf("%s: %v descriptors charged, the process holds %d on tenant files", step, charged, real)
	}
}

func (f *fdLedger) acquire(lim shard.Limits) *shard.Handle {
	f.t.Helper()
	h, err := f.m.AcquireWith(context.Background(), 1, "", lim)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

// busy takes n pooled connections and both kinds of raw connection, as
// concurrent API requests and SQL streams do; done gives them back.
func (f *fdLedger) busy(h *shard.Handle, n int) (done func()) {
	f.t.Helper()
	ctx := context.Background()
	var conns []*sql.Conn
	for range n {
		c, err := h.DB.Conn(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		var n int
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
			f.t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var raws []*shard.RawConn
	for _, ro := range []bool{false, true, false} {
		c, err := h.Conn(ctx, ro)
		if err != nil {
			f.t.Fatal(err)
		}
		raws = append(raws, c)
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		for _, c := range raws {
			c.Release()
		}
	}
}

// A database retired while held (its limits changed) closes after the
// one that replaced it opened the same file: SQLite keeps the retired
// connections' database descriptors pending under the new one's locks,
// so they must stay charged (fails before: 3 charged, 8 held).
func TestFDChargeRetiredBesideItsSuccessor(t *testing.T) {
	f := newFDLedger(t, shard.Config{RawIdlePerTenant: 4})
	old := f.acquire(shard.Limits{MaxBytes: 64 << 20})
	done := f.busy(old, 3)
	f.check("old database busy")
	h := f.acquire(shard.Limits{MaxBytes: 128 << 20}) // retires the old one
	defer h.Release()
	f.check("new database open beside the old")
	done()
	old.Release()
	f.check("old database closed")
	// The new database's own connections reuse what SQLite kept.
	done = f.busy(h, 2)
	f.check("new database busy")
	done()
	f.check("new database idle")
	h.Release()
	f.m.Shed(1)
	f.check("all closed")
	if got := gaugeValue(t, f.reg, "tenantgate_tenant_db_fds"); got != 0 {
		t.Fatalf("after every database closed, %v descriptors charged, want 0", got)
	}
}

// A database evicted for room and wanted again at once reopens while the
// closer may still be closing the old connections: what SQLite keeps of
// them under the new pool's locks stays charged. (Before the fix some
// rounds held up to 5 descriptors more than charged.)
func TestFDChargeReopenWhileClosing(t *testing.T) {
	f := newFDLedger(t, shard.Config{RawIdlePerTenant: 4})
	for i := range 20 {
		h := f.acquire(shard.Limits{})
		f.busy(h, 3)()
		h.Release()
		if i%2 == 0 {
			f.m.Evict(1) // waits for the database, not its raw connections
		} else {
			f.m.Shed(1) // evicted as for room: nobody waits
		}
		f.acquire(shard.Limits{}).Release()
		f.check("reopened")
	}
}

// The pool grows under concurrent requests and database/sql closes idle
// connections on its own (ConnIdleTimeout, here shortened), beside raw
// connections and the Reader's hot reads; the charge covers what is held
// after each step.
func TestFDChargePoolIdleBesideRaw(t *testing.T) {
	f := newFDLedger(t, shard.Config{RawIdlePerTenant: 2})
	idleOut := func(db *sql.DB) {
		time.Sleep(5 * time.Millisecond)
		db.SetConnMaxIdleTime(time.Millisecond) // wakes database/sql's cleaner
		for deadline := time.Now().Add(time.Second); db.Stats().Idle > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		db.SetConnMaxIdleTime(shard.ConnIdleTimeout)
		f.m.ReconcilePools()
	}
	for round := range 3 {
		h := f.acquire(shard.Limits{})
		done := f.busy(h, 4)
		f.check("busy")
		for range shard.HotReads + 2 {
			if c, ok := h.Reader(); ok {
				c.Release()
			}
		}
		f.check("hot reads")
		if round == 1 {
			done()
		}
		h.Release()
		idleOut(h.DB)
		f.check("pool idle")
		if round != 1 {
			done() // raw connections outlast the pool's
		}
		f.check("raw released")
	}
	// Evicted while a stream holds a raw connection: it is returned first.
	h := f.acquire(shard.Limits{})
	done := f.busy(h, 2)
	go f.m.Evict(1)
	time.Sleep(10 * time.Millisecond)
	done()
	f.check("evicted, connections returned")
	h.Release()
	f.check("evicted, released")
}
