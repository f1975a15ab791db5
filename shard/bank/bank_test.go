package bank_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/storage"
)

// MustOpenDB creates a migrated tenant database stamped with tenantID in a
// temp dir.
func MustOpenDB(tb testing.TB, tenantID int64) *sql.DB {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "tenant.db")
	if err := shard.Provision(ctx, "file:"+path, tenantID); err != nil {
		tb.Fatal(err)
	}
	db, err := storage.Open(ctx, "file:"+path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustStore returns a store on a fresh database for tenant 7.
func MustStore(tb testing.TB) (*bank.Store, *sql.DB) {
	tb.Helper()
	db := MustOpenDB(tb, 7)
	return bank.New(db, 7), db
}

func mustUser(tb testing.TB, s *bank.Store, email, role string) bank.User {
	tb.Helper()
	u, err := s.CreateUser(context.Background(), bank.NewUser{Email: email, Name: "Test " + role, Password: "correct horse 42", Role: role})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func mustAccount(tb testing.TB, s *bank.Store, userID int64, currency string) bank.Account {
	tb.Helper()
	a, err := s.CreateAccount(context.Background(), bank.NewAccount{UserID: userID, Type: bank.AccountSavings, Currency: currency})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func mustPost(tb testing.TB, s *bank.Store, p bank.Posting) bank.PostingResult {
	tb.Helper()
	r, err := s.Post(context.Background(), p, bank.PostOptions{})
	if err != nil {
		tb.Fatalf("post %+v: %v", p, err)
	}
	return r
}
