package bank_test

import (
	"context"
	"errors"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

func TestListTransactions(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)
	ama := mustUser(t, s, "ama@example.com", "customer")
	kofi := mustUser(t, s, "kofi@example.com", "customer")
	a := mustAccount(t, s, ama.ID, "GHS")
	k := mustAccount(t, s, kofi.ID, "GHS")
	k2 := mustAccount(t, s, kofi.ID, "GHS")
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, mustPost(t, s, bank.Posting{Type: "deposit", AccountID: a.ID, Amount: 100}).Transaction.ID)
	}
	toKofi := mustPost(t, s, bank.Posting{Type: "transfer", AccountID: a.ID, ToAccountID: k.ID, Amount: 50}).Transaction.ID
	kOnly := mustPost(t, s, bank.Posting{Type: "transfer", AccountID: k.ID, ToAccountID: k2.ID, Amount: 10}).Transaction.ID

	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			page, err := s.ListTransactions(ctx, bank.TransactionQuery{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range page.Transactions {
				got = append(got, tx.ID)
			}
			if page.NextCursor == "" {
				break
			}
			if pages > 5 {
				t.Fatal("cursor never ends")
			}
			cursor = page.NextCursor
			// A posting arriving between pages must not shift later pages.
			if pages == 0 {
				mustPost(t, s, bank.Posting{Type: "deposit", AccountID: k2.ID, Amount: 1})
			}
		}
		want := []int64{kOnly, toKofi, ids[4], ids[3], ids[2], ids[1], ids[0]}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	})
	t.Run("ByAccountBothSides", func(t *testing.T) {
		page, err := s.ListTransactions(ctx, bank.TransactionQuery{AccountID: k.ID})
		if err != nil || len(page.Transactions) != 2 || page.Transactions[0].ID != kOnly || page.Transactions[1].ID != toKofi {
			t.Fatalf("page = %+v, %v", page, err)
		}
	})
	t.Run("CustomerSeesOwnOnly", func(t *testing.T) {
		page, err := s.ListTransactions(ctx, bank.TransactionQuery{OwnerUserID: ama.ID})
		if err != nil || len(page.Transactions) != 6 {
			t.Fatalf("page = %+v, %v", page, err)
		}
		for _, tx := range page.Transactions {
			if tx.AccountID != a.ID {
				t.Fatalf("ama sees %+v", tx)
			}
		}
	})
	t.Run("CustomerForeignAccountIsNotFound", func(t *testing.T) {
		_, err := s.ListTransactions(ctx, bank.TransactionQuery{OwnerUserID: ama.ID, AccountID: k.ID})
		if !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrBadCursor", func(t *testing.T) {
		for _, c := range []string{"!!", "eHl6", "Yy0x"} {
			_, err := s.ListTransactions(ctx, bank.TransactionQuery{Cursor: c})
			var ve *bank.ValidationError
			if !errors.As(err, &ve) || ve.Fields["cursor"] == "" {
				t.Errorf("cursor %q: err = %v", c, err)
			}
		}
	})
}
