package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// The bulk seeding path creates users who can log in and accounts whose
// opening balances are postings.
func TestAdminSeedTenant(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("bulk", "GH")
	pa := s.Token(0, "platform_admin", 0)
	admin := proxytest.Host("admin")
	hash, err := bank.HashPassword(context.Background(), "bulk password 1")
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/admin/tenants/%d/seed", tn.ID)
	body := map[string]any{"users": []any{
		map[string]any{"email": "teller@bulk.example", "name": "Teller", "role": "staff", "password_hash": hash},
		map[string]any{"email": "c1@bulk.example", "name": "C1", "role": "customer", "password_hash": hash,
			"accounts": []any{map[string]any{"type": "savings", "opening_balance": 5000}, map[string]any{"type": "current", "opening_balance": 0}}},
	}}
	r := s.Do("POST", admin, path, pa, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("seed: %d %s", r.Status, r.Body)
	}
	var out struct{ Users []bank.SeededUser }
	r.JSON(t, &out)
	if len(out.Users) != 2 || len(out.Users[1].Accounts) != 2 {
		t.Fatalf("seeded %+v", out.Users)
	}
	staff := s.Token(tn.ID, proxy.RoleStaff, out.Users[0].ID)
	r = s.Do("GET", proxytest.Host("bulk"), fmt.Sprintf("/api/accounts/%d", out.Users[1].Accounts[0]), staff, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"balance":5000`) {
		t.Errorf("seeded account: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", proxytest.Host("bulk"), "/api/transactions", staff, nil)
	if !strings.Contains(string(r.Body), `"amount":5000`) || !strings.Contains(string(r.Body), "opening balance") {
		t.Errorf("opening balance is not a posting: %s", r.Body)
	}
	r = s.Do("POST", proxytest.Host("bulk"), "/api/auth/login", "", map[string]any{"email": "c1@bulk.example", "password": "bulk password 1"})
	if r.Status != 200 {
		t.Errorf("seeded user cannot log in: %d %s", r.Status, r.Body)
	}
	// Again: the e-mails are taken, and nothing is written.
	if r := s.Do("POST", admin, path, pa, body); r.Status != http.StatusConflict {
		t.Errorf("second seed: %d %s", r.Status, r.Body)
	}
	bad := map[string]any{"users": []any{map[string]any{"email": "x@bulk.example", "name": "X", "role": "staff", "password_hash": "plaintext"}}}
	if r := s.Do("POST", admin, path, pa, bad); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "password_hash") {
		t.Errorf("bad hash: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", admin, path, s.Token(tn.ID, proxy.RoleAdmin, 0), body); r.Status != http.StatusForbidden {
		t.Errorf("tenant admin: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", admin, "/api/admin/tenants/999/seed", pa, body); r.Status != http.StatusNotFound {
		t.Errorf("unknown tenant: %d %s", r.Status, r.Body)
	}
}
