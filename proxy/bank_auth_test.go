package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

type loginBody struct {
	Token     string    `json:"token"`
	ExpiresAt string    `json:"expires_at"`
	User      bank.User `json:"user"`
}

func TestLogin(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	other := newBankFixture(t, s, "other", "KE")

	t.Run("OK", func(t *testing.T) {
		r := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "Alice@ACME.example", "password": fixturePassword})
		if r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		var b loginBody
		r.JSON(t, &b)
		if b.Token == "" || b.User.ID != f.alice.ID || b.User.Role != "customer" || b.User.TenantID != f.tenant.ID {
			t.Fatalf("body = %s", r.Body)
		}
		exp, err := time.Parse(time.RFC3339, b.ExpiresAt)
		if err != nil || exp.Before(time.Now()) {
			t.Fatalf("expires_at %q: %v", b.ExpiresAt, err)
		}
		claims, err := s.Auth.Verify(b.Token)
		if err != nil || claims.Tenant() != f.tenant.ID || claims.User() != f.alice.ID || claims.Role != "customer" {
			t.Fatalf("claims = %+v, %v", claims, err)
		}
		if strings.Contains(string(r.Body), "password") {
			t.Fatalf("login response leaks password data: %s", r.Body)
		}

		t.Run("TokenWorksOnOwnHost", func(t *testing.T) {
			me := s.Do("GET", f.host, "/api/me", b.Token, nil)
			var body struct {
				Role   string
				User   *bank.User
				Tenant struct {
					ID             int64
					Name, Currency string
				}
			}
			me.JSON(t, &body)
			if me.Status != 200 || body.User == nil || body.User.ID != f.alice.ID || body.Tenant.ID != f.tenant.ID || body.Tenant.Currency != "GHS" || body.Role != "customer" {
				t.Fatalf("me = %d %s", me.Status, me.Body)
			}
			acc := s.Do("GET", f.host, "/api/accounts", b.Token, nil)
			if acc.Status != 200 {
				t.Fatalf("accounts = %d %s", acc.Status, acc.Body)
			}
		})
		t.Run("TokenRefusedOnOtherHost", func(t *testing.T) {
			for _, path := range []string{"/api/me", "/api/accounts", "/api/transactions"} {
				r := s.Do("GET", other.host, path, b.Token, nil)
				if r.Status != 401 || r.Error() != "Tenant mismatch" {
					t.Fatalf("%s on other host = %d %s", path, r.Status, r.Body)
				}
			}
		})
	})
	t.Run("SameEmailOtherTenantIsSeparate", func(t *testing.T) {
		// alice@acme.example does not exist in "other".
		r := s.Do("POST", other.host, "/api/auth/login", "", map[string]string{"email": "alice@acme.example", "password": fixturePassword})
		if r.Status != 401 || r.Error() != "Invalid credentials" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("WrongPasswordAndUnknownEmailLookTheSame", func(t *testing.T) {
		wrong := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "bob@acme.example", "password": "nope-nope-nope"})
		unknown := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "nobody@acme.example", "password": fixturePassword})
		if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("wrong = %d %s, unknown = %d %s", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
		}
		if wrong.Error() != "Invalid credentials" {
			t.Fatalf("message = %q", wrong.Error())
		}
	})
	t.Run("ErrBadRequest", func(t *testing.T) {
		for _, body := range []any{
			`{"email":"a@b.c"}`, `{"email":"a@b.c","password":"x","extra":1}`, `{"email":1,"password":"x"}`,
			`not json`, `{"email":"a@b.c","password":"x"} {}`, ``,
		} {
			r := s.Do("POST", f.host, "/api/auth/login", "", body)
			if r.Status != 400 || r.Error() == "" {
				t.Errorf("body %v: got %d %s", body, r.Status, r.Body)
			}
		}
	})
	t.Run("WrongMethod", func(t *testing.T) {
		r := s.Do("GET", f.host, "/api/auth/login", "", nil)
		if r.Status != 405 || r.Error() == "" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

// After LoginBurst failures for one e-mail the next attempt is 429 with
// Retry-After, even with the right password; other e-mails are unaffected.
func TestLogin_Throttle(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	for i := 0; i < proxy.LoginBurst; i++ {
		r := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "bob@acme.example", "password": "guess-" + strconv.Itoa(i)})
		if r.Status != 401 {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "BOB@acme.example", "password": fixturePassword})
	if r.Status != 429 || r.Error() != "Too many requests" {
		t.Fatalf("got %d %s, want 429", r.Status, r.Body)
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	ok := s.Do("POST", f.host, "/api/auth/login", "", map[string]string{"email": "alice@acme.example", "password": fixturePassword})
	if ok.Status != 200 {
		t.Fatalf("other e-mail: %d %s", ok.Status, ok.Body)
	}
}

func TestMe(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "NG")
	t.Run("Service", func(t *testing.T) {
		r := s.Do("GET", f.host, "/api/me", f.tokens[proxy.RoleService], nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"user":null`) || !strings.Contains(string(r.Body), `"currency":"NGN"`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("ErrAuthRequired", func(t *testing.T) {
		r := s.Do("GET", f.host, "/api/me", "", nil)
		if r.Status != 401 || r.Error() != "Authentication required" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}
