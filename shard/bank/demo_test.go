package bank_test

import (
	"context"
	"errors"
	"testing"

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
