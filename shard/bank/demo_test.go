package bank_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard/bank"
)

func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	login, err := bank.SeedDemo(ctx, db, 7, "KE")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, login.Email, login.Password)
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	if u.Role != bank.RoleAdmin {
		t.Fatalf("role = %q, want admin", u.Role)
	}
	users, err := s.ListUsers(ctx, bank.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, u := range users {
		roles[u.Role]++
	}
	if roles["admin"] != 1 || roles["staff"] != 1 || roles["customer"] < 4 {
		t.Fatalf("roles = %v", roles)
	}
	accounts, err := s.ListAccounts(ctx, bank.AccountQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) < 4 {
		t.Fatalf("%d accounts", len(accounts))
	}
	for _, a := range accounts {
		if a.Currency != "KES" {
			t.Errorf("account %d currency %q", a.ID, a.Currency)
		}
	}
	assertLedger(t, db, 7)
	page, err := s.ListTransactions(ctx, bank.TransactionQuery{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, tx := range page.Transactions {
		kinds[tx.Type]++
	}
	if kinds["deposit"] == 0 || kinds["withdrawal"] == 0 || kinds["transfer"] == 0 {
		t.Fatalf("history kinds = %v", kinds)
	}
	// About two months of history, ending now: the newest posting is from
	// the last hour, the oldest from about 60 days ago.
	newest, err := time.Parse(time.RFC3339, page.Transactions[0].CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	oldest, err := time.Parse(time.RFC3339, page.Transactions[len(page.Transactions)-1].CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(newest); age < 0 || age > time.Hour {
		t.Errorf("newest demo transaction is %s old, want under an hour", age.Round(time.Minute))
	}
	if span := newest.Sub(oldest); span < 50*24*time.Hour || page.NextCursor != "" {
		t.Errorf("history spans %s (more pages: %v), want about 60 days", span.Round(time.Hour), page.NextCursor != "")
	}
}

func TestSeedDemo_ErrUnknownCountry(t *testing.T) {
	_, db := MustStore(t)
	_, err := bank.SeedDemo(context.Background(), db, 7, "XX")
	var ve *bank.ValidationError
	if !errors.As(err, &ve) || ve.Fields["country"] == "" {
		t.Fatalf("err = %v, want country validation error", err)
	}
}

func BenchmarkSeedDemo(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := MustOpenDB(b, 7)
		b.StartTimer()
		if _, err := bank.SeedDemo(ctx, db, 7, "GH"); err != nil {
			b.Fatal(err)
		}
	}
}
