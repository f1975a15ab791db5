package bank_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard/bank"
)

func TestCreateAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)
	u := mustUser(t, s, "kwame@example.com", "customer")

	t.Run("OK", func(t *testing.T) {
		a, err := s.CreateAccount(ctx, bank.NewAccount{UserID: u.ID, Type: "current", Currency: "GHS"})
		if err != nil {
			t.Fatal(err)
		}
		if a.TenantID != 7 || a.UserID != u.ID || a.Type != "current" || a.Currency != "GHS" || a.Balance != 0 || a.Status != "active" {
			t.Fatalf("account = %+v", a)
		}
		if _, err := time.Parse(time.RFC3339, a.CreatedAt); err != nil {
			t.Fatalf("created_at %q: %v", a.CreatedAt, err)
		}
	})
	t.Run("ErrUnknownUser", func(t *testing.T) {
		_, err := s.CreateAccount(ctx, bank.NewAccount{UserID: 999, Type: "savings", Currency: "GHS"})
		var ve *bank.ValidationError
		if !errors.As(err, &ve) || ve.Fields["user_id"] == "" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		_, err := s.CreateAccount(ctx, bank.NewAccount{UserID: 0, Type: "checking", Currency: "ghs"})
		var ve *bank.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 3 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAccountJSON(t *testing.T) {
	b, err := json.Marshal(bank.Account{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "tenant_id", "user_id", "type", "currency", "balance", "status", "created_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing JSON field %q in %s", k, b)
		}
	}
	if len(m) != 8 {
		t.Errorf("unexpected fields in %s", b)
	}
}

func TestListAndGetAccounts(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)
	a := mustUser(t, s, "a@example.com", "customer")
	b := mustUser(t, s, "b@example.com", "customer")
	a1 := mustAccount(t, s, a.ID, "GHS")
	b1 := mustAccount(t, s, b.ID, "GHS")
	a2 := mustAccount(t, s, a.ID, "GHS")

	t.Run("All", func(t *testing.T) {
		got, err := s.ListAccounts(ctx, bank.AccountQuery{})
		if err != nil || len(got) != 3 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("OwnOnly", func(t *testing.T) {
		got, err := s.ListAccounts(ctx, bank.AccountQuery{UserID: a.ID})
		if err != nil || len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("Paging", func(t *testing.T) {
		p1, err := s.ListAccounts(ctx, bank.AccountQuery{Limit: 2})
		if err != nil || len(p1) != 2 {
			t.Fatalf("p1 %v, %v", p1, err)
		}
		p2, err := s.ListAccounts(ctx, bank.AccountQuery{Limit: 2, AfterID: p1[1].ID})
		if err != nil || len(p2) != 1 || p2[0].ID != a2.ID {
			t.Fatalf("p2 %v, %v", p2, err)
		}
	})
	t.Run("EmptyIsNotNil", func(t *testing.T) {
		got, err := s.ListAccounts(ctx, bank.AccountQuery{UserID: 12345})
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("got %#v, %v", got, err)
		}
	})
	t.Run("GetOwn", func(t *testing.T) {
		got, err := s.GetAccount(ctx, a1.ID, a.ID)
		if err != nil || got != a1 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("GetOthersIsNotFound", func(t *testing.T) {
		if _, err := s.GetAccount(ctx, b1.ID, a.ID); !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("GetAnyAsStaff", func(t *testing.T) {
		if _, err := s.GetAccount(ctx, b1.ID, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.GetAccount(ctx, 999, 0); !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}
