package proxy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// TestBankRoleMatrix sends every tenant API route with every kind of
// caller and checks the status. "customer" is alice; "bob" is the account
// owner the customer must not reach.
func TestBankRoleMatrix(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	platform := s.Token(0, proxy.RolePlatformAdmin, 0)
	ownAcc := fmt.Sprintf("/api/accounts/%d", f.aliceAcc.ID)
	bobAcc := fmt.Sprintf("/api/accounts/%d", f.bobAcc.ID)
	n := 0
	uniqueEmail := func() map[string]string {
		n++
		return map[string]string{"email": fmt.Sprintf("new%d@acme.example", n), "name": "New User", "password": "long enough pw 7"}
	}
	deposit := func() map[string]any {
		return map[string]any{"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 10}
	}
	withdrawOwn := func() map[string]any {
		return map[string]any{"type": "withdrawal", "account_id": f.aliceAcc.ID, "amount": 1}
	}
	transferFromBob := func() map[string]any {
		return map[string]any{"type": "transfer", "account_id": f.bobAcc.ID, "to_account_id": f.aliceAcc.ID, "amount": 1}
	}
	newAccount := func() map[string]any { return map[string]any{"user_id": f.bob.ID, "type": "current"} }

	roles := []string{"none", "customer", "staff", "admin", "service", "platform_admin"}
	type want map[string]int // role → status
	cases := []struct {
		method, path string
		body         func() map[string]any
		want         want
	}{
		{"GET", "/api/me", nil, want{"none": 401, "customer": 200, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"GET", "/api/users", nil, want{"none": 401, "customer": 403, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"POST", "/api/users", func() map[string]any {
			m := map[string]any{}
			for k, v := range uniqueEmail() {
				m[k] = v
			}
			return m
		}, want{"none": 401, "customer": 403, "staff": 403, "admin": 201, "service": 403, "platform_admin": 401}},
		{"GET", "/api/accounts", nil, want{"none": 401, "customer": 200, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"POST", "/api/accounts", newAccount, want{"none": 401, "customer": 403, "staff": 201, "admin": 201, "service": 403, "platform_admin": 401}},
		{"GET", ownAcc, nil, want{"none": 401, "customer": 200, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"GET", bobAcc, nil, want{"none": 401, "customer": 404, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"GET", "/api/transactions", nil, want{"none": 401, "customer": 200, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"GET", "/api/transactions?account_id=" + fmt.Sprint(f.bobAcc.ID), nil, want{"none": 401, "customer": 404, "staff": 200, "admin": 200, "service": 200, "platform_admin": 401}},
		{"POST", "/api/transactions", deposit, want{"none": 401, "customer": 403, "staff": 201, "admin": 201, "service": 201, "platform_admin": 401}},
		{"POST", "/api/transactions", withdrawOwn, want{"none": 401, "customer": 201, "staff": 201, "admin": 201, "service": 201, "platform_admin": 401}},
		{"POST", "/api/transactions", transferFromBob, want{"none": 401, "customer": 404, "staff": 201, "admin": 201, "service": 201, "platform_admin": 401}},
	}
	for _, c := range cases {
		for _, role := range roles {
			name := fmt.Sprintf("%s %s as %s", c.method, c.path, role)
			var tok string
			switch role {
			case "none":
			case "platform_admin":
				tok = platform
			default:
				tok = f.tokens[role]
			}
			var body any
			if c.body != nil {
				body = c.body()
			}
			r := s.Do(c.method, f.host, c.path, tok, body)
			if r.Status != c.want[role] {
				t.Errorf("%s: got %d %s, want %d", name, r.Status, r.Body, c.want[role])
			}
			if r.Status >= 400 && r.Error() == "" {
				t.Errorf("%s: error without a JSON message: %s", name, r.Body)
			}
		}
	}
	// Login is public: every caller (with or without a token) may log in.
	for _, role := range roles {
		tok := f.tokens[role]
		if role == "platform_admin" {
			tok = platform
		}
		r := s.Do("POST", f.host, "/api/auth/login", tok, map[string]string{"email": "teller@acme.example", "password": fixturePassword})
		if r.Status != 200 {
			t.Errorf("login with %s token: %d %s", role, r.Status, r.Body)
		}
	}
}

// A valid token for a user id the tenant does not have (deleted, or minted
// by the CLI) still works for its role; postings record no user.
func TestBankTokenForUnknownUser(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "acme", "GH")
	tok := s.Token(f.tenant.ID, proxy.RoleStaff, 9999)
	r := s.Do("POST", f.host, "/api/transactions", tok, map[string]any{"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 5})
	if r.Status != 201 || !strings.Contains(string(r.Body), `"user_id":null`) {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", f.host, "/api/me", tok, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"user":null`) {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	// A customer token without a user sees and moves nothing.
	none := s.Token(f.tenant.ID, proxy.RoleCustomer, 0)
	r = s.Do("GET", f.host, "/api/accounts/"+fmt.Sprint(f.aliceAcc.ID), none, nil)
	if r.Status != 404 {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	r = s.Do("POST", f.host, "/api/transactions", none, map[string]any{"type": "withdrawal", "account_id": f.aliceAcc.ID, "amount": 5})
	if r.Status != 404 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", f.host, "/api/transactions", none, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"transactions":[]`) {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
}
