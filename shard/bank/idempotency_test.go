package bank_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

func TestPost_Idempotency(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	u := mustUser(t, s, "u@example.com", "staff")
	a := mustAccount(t, s, u.ID, "NGN")
	opt := bank.PostOptions{ActorUserID: u.ID, IdempotencyKey: "key-1"}
	p := bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 700}

	first, err := s.Post(ctx, p, opt)
	if err != nil || first.Replayed {
		t.Fatalf("first = %+v, %v", first, err)
	}
	t.Run("ReplaySameBody", func(t *testing.T) {
		again, err := s.Post(ctx, p, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Transaction != first.Transaction && again.Transaction.ID != first.Transaction.ID || again.Balance != first.Balance {
			t.Fatalf("again = %+v, first = %+v", again, first)
		}
		if n := countTransactions(t, db); n != 1 {
			t.Fatalf("%d transactions", n)
		}
	})
	t.Run("ErrConflictDifferentBody", func(t *testing.T) {
		p2 := p
		p2.Amount = 701
		if _, err := s.Post(ctx, p2, opt); !errors.Is(err, bank.ErrIdempotencyConflict) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrConflictDifferentUser", func(t *testing.T) {
		other := opt
		other.ActorUserID = u.ID + 1
		if _, err := s.Post(ctx, p, other); !errors.Is(err, bank.ErrIdempotencyConflict) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("FailedPostingNotRemembered", func(t *testing.T) {
		w := bank.Posting{Type: "withdrawal", AccountID: a.ID, Amount: 1_000}
		o := bank.PostOptions{IdempotencyKey: "key-2"}
		if _, err := s.Post(ctx, w, o); !errors.Is(err, bank.ErrInsufficientFunds) {
			t.Fatalf("err = %v", err)
		}
		mustPost(t, s, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1_000})
		if r, err := s.Post(ctx, w, o); err != nil || r.Replayed {
			t.Fatalf("retry after deposit = %+v, %v", r, err)
		}
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		for _, k := range []string{strings.Repeat("k", 256), "has space", "tab\t"} {
			_, err := s.Post(ctx, p, bank.PostOptions{IdempotencyKey: k})
			var ve *bank.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("key %q: err = %v", k, err)
			}
		}
	})
}

// Twenty concurrent retries with one key post exactly once and all see the
// same transaction.
func TestPost_IdempotencyConcurrent(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	u := mustUser(t, s, "u@example.com", "staff")
	a := mustAccount(t, s, u.ID, "NGN")
	p := bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 123}
	opt := bank.PostOptions{ActorUserID: u.ID, IdempotencyKey: "retry-me"}

	var wg sync.WaitGroup
	results := make([]bank.PostingResult, 20)
	errs := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Post(ctx, p, opt)
		}()
	}
	wg.Wait()
	fresh := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("retry %d: %v", i, errs[i])
		}
		if !r.Replayed {
			fresh++
		}
		if r.Transaction.ID != results[0].Transaction.ID || r.Balance != 123 {
			t.Fatalf("retry %d = %+v", i, r)
		}
	}
	if fresh != 1 || countTransactions(t, db) != 1 {
		t.Fatalf("fresh = %d, rows = %d; want exactly one posting", fresh, countTransactions(t, db))
	}
	got, _ := s.GetAccount(ctx, a.ID, 0)
	if got.Balance != 123 {
		t.Fatalf("balance = %d", got.Balance)
	}
}

func TestPurgeIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	u := mustUser(t, s, "u@example.com", "staff")
	a := mustAccount(t, s, u.ID, "NGN")
	p := bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1}
	for _, k := range []string{"old", "new"} {
		if _, err := s.Post(ctx, p, bank.PostOptions{IdempotencyKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE idempotency_keys SET created_at = datetime('now', '-2 days') WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeIdempotencyKeys(ctx, bank.IdempotencyTTL)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	// The fresh key still replays; the purged one posts anew.
	if r, err := s.Post(ctx, p, bank.PostOptions{IdempotencyKey: "new"}); err != nil || !r.Replayed {
		t.Fatalf("new: %+v, %v", r, err)
	}
	if r, err := s.Post(ctx, p, bank.PostOptions{IdempotencyKey: "old"}); err != nil || r.Replayed {
		t.Fatalf("old: %+v, %v", r, err)
	}
}
