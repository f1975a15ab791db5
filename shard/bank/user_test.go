package bank_test

import (
	"context"
	"errors"
	"testing"

	"github.com/microfi/tenantgate/shard/bank"
)

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)

	t.Run("OK", func(t *testing.T) {
		u, err := s.CreateUser(ctx, bank.NewUser{Email: "  Kofi@Example.COM ", Name: "Kofi Boateng", Password: "s3cret-pass", Role: "staff"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := u.Email, "kofi@example.com"; got != want {
			t.Errorf("email = %q, want %q", got, want)
		}
		if u.TenantID != 7 || u.Role != "staff" || u.ID == 0 || u.CreatedAt == "" {
			t.Errorf("user = %+v", u)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || got != u {
			t.Errorf("GetUser = %+v, %v; want %+v", got, err, u)
		}
	})
	t.Run("ErrNameNotDisplaySafe", func(t *testing.T) {
		for _, name := range []string{"Evil\u202Egnp.exe", "Nul\x00Name", "Bell\aName"} {
			_, err := s.CreateUser(ctx, bank.NewUser{Email: "x@example.com", Name: name, Password: "s3cret-pass"})
			var v *bank.ValidationError
			if !errors.As(err, &v) || v.Fields["name"] == "" {
				t.Errorf("name %q: err = %v, want a name field error", name, err)
			}
		}
	})
	t.Run("DefaultRoleCustomer", func(t *testing.T) {
		u, err := s.CreateUser(ctx, bank.NewUser{Email: "ama@example.com", Name: "Ama", Password: "s3cret-pass"})
		if err != nil || u.Role != "customer" {
			t.Fatalf("user = %+v, %v", u, err)
		}
	})
	t.Run("ErrEmailTaken", func(t *testing.T) {
		_, err := s.CreateUser(ctx, bank.NewUser{Email: "KOFI@example.com", Name: "Other", Password: "s3cret-pass"})
		if !errors.Is(err, bank.ErrEmailTaken) {
			t.Fatalf("err = %v, want ErrEmailTaken", err)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		_, err := s.CreateUser(ctx, bank.NewUser{Email: "not-an-email", Name: "", Password: "short", Role: "root"})
		var ve *bank.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want ValidationError", err)
		}
		for _, f := range []string{"email", "name", "password", "role"} {
			if ve.Fields[f] == "" {
				t.Errorf("no error for field %q in %v", f, ve.Fields)
			}
		}
	})
	t.Run("GetUserErrNotFound", func(t *testing.T) {
		if _, err := s.GetUser(ctx, 9999); !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestListUsers_Paging(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		mustUser(t, s, e, "customer")
	}
	page1, err := s.ListUsers(ctx, bank.UserQuery{Limit: 2})
	if err != nil || len(page1) != 2 {
		t.Fatalf("page1 = %v, %v", page1, err)
	}
	page2, err := s.ListUsers(ctx, bank.UserQuery{Limit: 2, AfterID: page1[1].ID})
	if err != nil || len(page2) != 1 || page2[0].Email != "c@example.com" {
		t.Fatalf("page2 = %v, %v", page2, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _ := MustStore(t)
	u := mustUser(t, s, "efua@example.com", "customer")

	t.Run("OK", func(t *testing.T) {
		got, err := s.Authenticate(ctx, "EFUA@example.com ", "correct horse 42")
		if err != nil || got.ID != u.ID {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		if _, err := s.Authenticate(ctx, "efua@example.com", "wrong horse"); !errors.Is(err, bank.ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		if _, err := s.Authenticate(ctx, "nobody@example.com", "correct horse"); !errors.Is(err, bank.ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("HugePassword", func(t *testing.T) {
		huge := make([]byte, 1<<20)
		if _, err := s.Authenticate(ctx, "efua@example.com", string(huge)); !errors.Is(err, bank.ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	})
}

// A demo user's cheap hash is upgraded to the default parameters on its
// first successful login, and the password still works afterwards.
func TestAuthenticate_UpgradesDemoHash(t *testing.T) {
	ctx := context.Background()
	s, db := MustStore(t)
	login, err := bank.SeedDemo(ctx, db, 7, "GH")
	if err != nil {
		t.Fatal(err)
	}
	hashOf := func() string {
		var h string
		if err := db.QueryRow(`SELECT password_hash FROM users WHERE email = ?`, login.Email).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hashOf()
	if _, err := s.Authenticate(ctx, login.Email, "wrong password"); !errors.Is(err, bank.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if hashOf() != before {
		t.Fatal("hash changed after a failed login")
	}
	if _, err := s.Authenticate(ctx, login.Email, login.Password); err != nil {
		t.Fatal(err)
	}
	after := hashOf()
	if after == before {
		t.Fatal("hash not upgraded")
	}
	if _, err := s.Authenticate(ctx, login.Email, login.Password); err != nil {
		t.Fatalf("login after upgrade: %v", err)
	}
}
