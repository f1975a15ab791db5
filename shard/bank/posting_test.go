package bank_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

func countTransactions(tb testing.TB, db *sql.DB) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM transactions`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestPost(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	teller := mustUser(t, s, "teller@example.com", "staff")
	ama := mustUser(t, s, "ama@example.com", "customer")
	kofi := mustUser(t, s, "kofi@example.com", "customer")
	a := mustAccount(t, s, ama.ID, "GHS")
	k := mustAccount(t, s, kofi.ID, "GHS")
	usd := mustAccount(t, s, kofi.ID, "USD")

	t.Run("Deposit", func(t *testing.T) {
		r, err := s.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 10_000, Description: "cash"}, bank.PostOptions{ActorUserID: teller.ID})
		if err != nil {
			t.Fatal(err)
		}
		if r.Balance != 10_000 || r.Transaction.Amount != 10_000 || r.Transaction.Currency != "GHS" ||
			r.Transaction.UserID == nil || *r.Transaction.UserID != teller.ID || r.Transaction.ToAccountID != nil || r.Replayed {
			t.Fatalf("result = %+v", r)
		}
	})
	t.Run("Withdrawal", func(t *testing.T) {
		r, err := s.Post(ctx, bank.Posting{Type: "withdrawal", AccountID: a.ID, Amount: 2_500}, bank.PostOptions{})
		if err != nil || r.Balance != 7_500 || r.Transaction.UserID != nil {
			t.Fatalf("result = %+v, %v", r, err)
		}
	})
	t.Run("Transfer", func(t *testing.T) {
		r, err := s.Post(ctx, bank.Posting{Type: "transfer", AccountID: a.ID, ToAccountID: k.ID, Amount: 500}, bank.PostOptions{ActorUserID: ama.ID, OwnerUserID: ama.ID})
		if err != nil || r.Balance != 7_000 || r.Transaction.ToAccountID == nil || *r.Transaction.ToAccountID != k.ID {
			t.Fatalf("result = %+v, %v", r, err)
		}
		got, _ := s.GetAccount(ctx, k.ID, 0)
		if got.Balance != 500 {
			t.Fatalf("credited balance = %d", got.Balance)
		}
	})
	t.Run("UnknownActorRecordedAsNone", func(t *testing.T) {
		r, err := s.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1}, bank.PostOptions{ActorUserID: 424242})
		if err != nil || r.Transaction.UserID != nil {
			t.Fatalf("result = %+v, %v", r, err)
		}
		r, err = s.Post(ctx, bank.Posting{Type: "withdrawal", AccountID: a.ID, Amount: 1}, bank.PostOptions{})
		if err != nil || r.Balance != 7_000 {
			t.Fatalf("result = %+v, %v", r, err)
		}
	})
	t.Run("ErrInsufficientFundsWritesNothing", func(t *testing.T) {
		before := countTransactions(t, db)
		for _, p := range []bank.Posting{
			{Type: "withdrawal", AccountID: a.ID, Amount: 7_001},
			{Type: "transfer", AccountID: k.ID, ToAccountID: a.ID, Amount: 501},
		} {
			if _, err := s.Post(ctx, p, bank.PostOptions{}); !errors.Is(err, bank.ErrInsufficientFunds) {
				t.Fatalf("%+v: err = %v", p, err)
			}
		}
		if countTransactions(t, db) != before {
			t.Fatal("a failed posting wrote a row")
		}
		got, _ := s.GetAccount(ctx, a.ID, 0)
		if got.Balance != 7_000 {
			t.Fatalf("balance = %d", got.Balance)
		}
	})
	t.Run("ErrCurrencyMismatch", func(t *testing.T) {
		_, err := s.Post(ctx, bank.Posting{Type: "transfer", AccountID: k.ID, ToAccountID: usd.ID, Amount: 1}, bank.PostOptions{})
		if !errors.Is(err, bank.ErrCurrencyMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CustomerForeignSourceIsNotFound", func(t *testing.T) {
		_, err := s.Post(ctx, bank.Posting{Type: "withdrawal", AccountID: k.ID, Amount: 1}, bank.PostOptions{ActorUserID: ama.ID, OwnerUserID: ama.ID})
		if !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CustomerDepositForbidden", func(t *testing.T) {
		_, err := s.Post(ctx, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1}, bank.PostOptions{ActorUserID: ama.ID, OwnerUserID: ama.ID})
		if !errors.Is(err, bank.ErrForbidden) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []bank.Posting{
			{Type: "deposit", AccountID: 999, Amount: 1},
			{Type: "transfer", AccountID: a.ID, ToAccountID: 999, Amount: 1},
		} {
			if _, err := s.Post(ctx, p, bank.PostOptions{}); !errors.Is(err, bank.ErrNotFound) {
				t.Fatalf("%+v: err = %v", p, err)
			}
		}
	})
	t.Run("ErrAccountInactive", func(t *testing.T) {
		frozen := mustAccount(t, s, kofi.ID, "GHS")
		if _, err := db.Exec(`UPDATE accounts SET status = 'frozen' WHERE id = ?`, frozen.ID); err != nil {
			t.Fatal(err)
		}
		for _, p := range []bank.Posting{
			{Type: "deposit", AccountID: frozen.ID, Amount: 1},
			{Type: "transfer", AccountID: a.ID, ToAccountID: frozen.ID, Amount: 1},
		} {
			if _, err := s.Post(ctx, p, bank.PostOptions{}); !errors.Is(err, bank.ErrAccountInactive) {
				t.Fatalf("%+v: err = %v", p, err)
			}
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		long := make([]byte, bank.MaxDescriptionLen+1)
		for i := range long {
			long[i] = 'x'
		}
		cases := []struct {
			p     bank.Posting
			field string
		}{
			{bank.Posting{Type: "loan", AccountID: a.ID, Amount: 1}, "type"},
			{bank.Posting{Type: "", AccountID: a.ID, Amount: 1}, "type"},
			{bank.Posting{Type: "deposit", AccountID: 0, Amount: 1}, "account_id"},
			{bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 0}, "amount"},
			{bank.Posting{Type: "deposit", AccountID: a.ID, Amount: -5}, "amount"},
			{bank.Posting{Type: "deposit", AccountID: a.ID, Amount: bank.MaxAmount + 1}, "amount"},
			{bank.Posting{Type: "deposit", AccountID: a.ID, ToAccountID: k.ID, Amount: 1}, "to_account_id"},
			{bank.Posting{Type: "transfer", AccountID: a.ID, Amount: 1}, "to_account_id"},
			{bank.Posting{Type: "transfer", AccountID: a.ID, ToAccountID: a.ID, Amount: 1}, "to_account_id"},
			{bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1, Description: string(long)}, "description"},
		}
		for _, c := range cases {
			_, err := s.Post(ctx, c.p, bank.PostOptions{})
			var ve *bank.ValidationError
			if !errors.As(err, &ve) || ve.Fields[c.field] == "" {
				t.Errorf("%+v: err = %v, want field %q", c.p, err, c.field)
			}
		}
	})
	t.Run("MaxBalance", func(t *testing.T) {
		big := mustAccount(t, s, kofi.ID, "GHS")
		for i := 0; i < 1000; i++ {
			mustPost(t, s, bank.Posting{Type: "deposit", AccountID: big.ID, Amount: bank.MaxAmount})
		}
		_, err := s.Post(ctx, bank.Posting{Type: "deposit", AccountID: big.ID, Amount: 1}, bank.PostOptions{})
		var ve *bank.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want ValidationError", err)
		}
	})
	assertLedger(t, db, 7)
}

// Concurrent random postings straight against the store keep the ledger
// exact (the HTTP-level version lives in proxy).
func TestPost_ConcurrentLedger(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	u := mustUser(t, s, "u@example.com", "customer")
	var ids []int64
	for i := 0; i < 5; i++ {
		a := mustAccount(t, s, u.ID, "KES")
		mustPost(t, s, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 1_000})
		ids = append(ids, a.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50*20)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				p := bank.Posting{AccountID: ids[rand.IntN(len(ids))], Amount: 1 + rand.Int64N(400)}
				switch rand.IntN(3) {
				case 0:
					p.Type = "deposit"
				case 1:
					p.Type = "withdrawal"
				default:
					p.Type = "transfer"
					for p.ToAccountID = p.AccountID; p.ToAccountID == p.AccountID; {
						p.ToAccountID = ids[rand.IntN(len(ids))]
					}
				}
				if _, err := s.Post(ctx, p, bank.PostOptions{}); err != nil && !errors.Is(err, bank.ErrInsufficientFunds) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertLedger(t, db, 7)
}
