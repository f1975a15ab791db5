package bank_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
)

// TestRawReads: once a database is hot, the store's reads run on a raw
// connection (shard.Handle.Reader) and answer exactly what the pool did,
// for every filter, and within the request's deadline.
func TestRawReads(t *testing.T) {
	ctx := context.Background()
	m := shard.NewManager(shard.Config{DataDir: t.TempDir(), MaxOpen: 4, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	if err := m.Provision(ctx, 7, ""); err != nil {
		t.Fatal(err)
	}
	h, err := m.Acquire(ctx, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	s := bank.NewPrepared(h.DB, 7, h)
	alice, bob := mustUser(t, s, "alice@example.com", "customer"), mustUser(t, s, "bob@example.com", "customer")
	for _, u := range []bank.User{alice, bob, alice} {
		mustAccount(t, s, u.ID, "GHS")
	}
	// created_at as CURRENT_TIMESTAMP wrote it, and in forms only SQLite's
	// strftime reads right (the raw path must fall back to it).
	for i, v := range []any{"2024-02-29 23:59:59", "2026-02-30 10:00:00", "2026-12-01T06:27:14.123", 2461010.5} {
		acct := mustAccount(t, s, bob.ID, "GHS")
		if _, err := h.DB.ExecContext(ctx, `UPDATE accounts SET created_at = ? WHERE tenant_id = 7 AND id = ?`, v, acct.ID); err != nil {
			t.Fatalf("created_at %d: %v", i, err)
		}
	}
	queries := []bank.AccountQuery{{}, {UserID: alice.ID}, {UserID: bob.ID}, {Limit: 1}, {AfterID: 1}, {UserID: 999}}
	list := func() [][]bank.Account {
		var out [][]bank.Account
		for _, q := range queries {
			a, err := s.ListAccounts(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			out = append(out, a)
		}
		return out
	}
	pool := list() // the database is not hot yet: the pool answers
	if c, ok := h.Reader(); ok {
		c.Release()
		t.Fatal("a raw reader before the database was hot")
	}
	for i := 0; i < shard.HotReads; i++ {
		list()
	}
	c, ok := h.Reader()
	if !ok {
		t.Fatal("no raw reader for a hot database")
	}
	c.Release()
	if raw := list(); !reflect.DeepEqual(raw, pool) || pool[0][3].CreatedAt != "2024-02-29T23:59:59Z" || pool[0][4].CreatedAt != "2026-03-02T10:00:00Z" {
		t.Fatalf("raw reads differ from the pool's:\nraw  %+v\npool %+v", raw, pool)
	}
	for _, a := range pool[0] {
		for _, owner := range []int64{0, a.UserID, 999} {
			got, err := s.GetAccount(ctx, a.ID, owner)
			if owner == 999 {
				if err != bank.ErrNotFound {
					t.Fatalf("account %d of another user: %+v, %v", a.ID, got, err)
				}
				continue
			}
			if err != nil || got != a {
				t.Fatalf("account %d: %+v, %v; want %+v", a.ID, got, err, a)
			}
		}
	}
	if _, err := s.GetAccount(ctx, 999, 0); err != bank.ErrNotFound {
		t.Fatalf("unknown account: %v", err)
	}
	if got := len(pool[0]); got != 7 || pool[5] == nil || len(pool[5]) != 0 {
		t.Fatalf("pool answered %d accounts, %v for an unknown user", got, pool[5])
	}
	// The other tenant's id on this file reads nothing (tenant_id in the SQL).
	if a, err := bank.NewPrepared(h.DB, 8, h).ListAccounts(ctx, bank.AccountQuery{}); err != nil || len(a) != 0 {
		t.Fatalf("tenant 8 on tenant 7's file: %v, %v", a, err)
	}
	dead, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.ListAccounts(dead, bank.AccountQuery{}); err == nil {
		t.Fatal("a read past its deadline succeeded")
	}
	if _, err := s.ListAccounts(ctx, bank.AccountQuery{}); err != nil {
		t.Fatalf("after a timed-out read: %v", err)
	}
}
