package shard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/storage"
)

func newManager(tb testing.TB, maxOpen int) *shard.Manager {
	tb.Helper()
	m := shard.NewManager(shard.Config{DataDir: tb.TempDir(), MaxOpen: maxOpen, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tb.Cleanup(m.Close)
	return m
}

func mustProvision(tb testing.TB, m *shard.Manager, id int64) {
	tb.Helper()
	if err := m.Provision(context.Background(), id, ""); err != nil {
		tb.Fatalf("provision %d: %v", id, err)
	}
}

func TestAcquire(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 7)

	t.Run("OK", func(t *testing.T) {
		h, err := m.Acquire(ctx, 7, "")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		if got, err := storage.ReadStamp(ctx, h.DB); err != nil || got != 7 {
			t.Fatalf("stamp = %d, %v", got, err)
		}
		var mode string
		h.DB.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
		if mode != "wal" {
			t.Fatalf("journal_mode = %q, want wal", mode)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := m.Acquire(ctx, 99, "")
		if !errors.Is(err, shard.ErrUnavailable) || !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		if _, statErr := os.Stat(m.Path(99)); !os.IsNotExist(statErr) {
			t.Fatal("acquire of an unknown tenant created a file")
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		if err := m.Provision(ctx, 7, ""); !errors.Is(err, shard.ErrExists) {
			t.Fatalf("err = %v", err)
		}
		h, err := m.Acquire(ctx, 7, "")
		if err != nil {
			t.Fatalf("existing database damaged by refused provision: %v", err)
		}
		h.Release()
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := m.Acquire(ctx, 7, "")
				if err != nil {
					errs <- err
					return
				}
				var n int
				errs <- h.DB.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
				h.Release()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A database file copied into another tenant's place must never serve.
func TestStampMismatch(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 1)
	mustProvision(t, m, 2)
	data, err := os.ReadFile(m.Path(1))
	if err != nil {
		t.Fatal(err)
	}
	storage.RemoveFiles(m.Path(2))
	if err := os.WriteFile(m.Path(2), data, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = m.Acquire(ctx, 2, "")
	if !errors.Is(err, shard.ErrStampMismatch) || !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("err = %v, want stamp mismatch", err)
	}
}

// The database itself refuses a foreign tenant_id, even through raw SQL.
func TestForeignTenantIDRefused(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, 8)
	mustProvision(t, m, 5)
	h, err := m.Acquire(ctx, 5, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if _, err := h.DB.ExecContext(ctx, `INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (5, 'a@x.io', 'A', 'h', 'staff')`); err != nil {
		t.Fatalf("own tenant insert: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES (6, 'b@x.io', 'B', 'h', 'staff')`,
		`UPDATE users SET tenant_id = 6`,
		`INSERT INTO accounts (tenant_id, user_id, type, currency) VALUES (4, 1, 'savings', 'GHS')`,
		`UPDATE tenant_stamp SET tenant_id = 6`,
		`DELETE FROM tenant_stamp`,
	} {
		if _, err := h.DB.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: succeeded, want refusal", q)
		}
	}
	var n int
	h.DB.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id != 5`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d foreign rows written", n)
	}
}

// Opening and evicting 1,000 tenant databases five times leaves goroutines
// and file descriptors bounded.
func TestOpenEvictBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ctx := context.Background()
	tenants, maxOpen := 1000, 50
	if raceEnabled {
		tenants = 200
	}
	m := newManager(t, maxOpen)
	for id := int64(1); id <= int64(tenants); id++ {
		mustProvision(t, m, id) // a template copy and a stamp each
	}
	cycle := func() {
		for id := int64(1); id <= int64(tenants); id++ {
			h, err := m.Acquire(ctx, id, "")
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := h.DB.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE tenant_id = ?`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			h.Release()
		}
	}
	cycle()
	settle()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	for range 4 {
		cycle()
	}
	settle()
	g, fd := runtime.NumGoroutine(), openFDs(t)
	if m.OpenCount() > maxOpen {
		t.Fatalf("%d open, cap %d", m.OpenCount(), maxOpen)
	}
	if g > baseG+20 {
		t.Fatalf("goroutines grew from %d to %d", baseG, g)
	}
	if fd > baseFD+3*maxOpen {
		t.Fatalf("file descriptors grew from %d to %d", baseFD, fd)
	}
	if fd > 10*maxOpen+100 {
		t.Fatalf("%d file descriptors for %d open databases", fd, maxOpen)
	}
}

func settle() {
	for range 20 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(l, "-wal"), "-shm"), ".db") {
			n++
		}
	}
	return n
}

// A database in use is pinned: opening others never evicts it; when every
// slot is pinned a new open waits briefly, then fails with ErrBusy (it
// never steals), and succeeds as soon as a slot is released.
func TestPinnedNeverEvicted(t *testing.T) {
	ctx := context.Background()
	m := shard.NewManager(shard.Config{DataDir: t.TempDir(), MaxOpen: 2, PinWait: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	for id := int64(1); id <= 4; id++ {
		mustProvision(t, m, id)
	}
	held, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(2); id <= 4; id++ { // idle databases make room for each other
		h, err := m.Acquire(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
	}
	select {
	case <-held.Done():
		t.Fatal("a held database was evicted to make room")
	default:
	}
	if n := m.OpenCount(); n > 2 {
		t.Fatalf("%d open, cap 2", n)
	}

	// Both slots pinned: the third tenant waits PinWait and gets ErrBusy.
	second, err := m.Acquire(ctx, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := m.Acquire(ctx, 3, ""); !errors.Is(err, shard.ErrBusy) || !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("acquire with every slot pinned = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Fatalf("waited %v, want about PinWait", d)
	}
	// A waiter gets the slot as soon as one is released.
	got := make(chan error, 1)
	go func() {
		h, err := m.Acquire(ctx, 3, "")
		if err == nil {
			h.Release()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	second.Release()
	if err := <-got; err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
	var n int
	if err := held.DB.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("held database closed under its user: %v", err)
	}

	// An explicit Evict (suspend, delete) closes it once released.
	m.Evict(1)
	select {
	case <-held.Done():
	default:
		t.Fatal("Evict did not close Done")
	}
	if err := held.DB.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatalf("evicted database closed before its user let go: %v", err)
	}
	if _, err := held.Retain(); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("Retain of an evicted database = %v", err)
	}
	held.Release()
	again, err := m.Acquire(ctx, 1, "")
	if err != nil {
		t.Fatalf("re-open after eviction: %v", err)
	}
	again.Release()
}
