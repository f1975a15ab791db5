package proxy_test

import (
	"fmt"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// Tenant A's tokens cannot read or post to tenant B's accounts by id: on B's
// host the token is refused (401 Tenant mismatch), on A's host B's ids do
// not exist (404). B's money is untouched either way.
func TestBankIsolationAcrossTenants(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	b := newBankFixture(t, s, "bravo", "GH")
	// A has no accounts at all, so every id of B's is unknown on A.
	a := s.CreateTenant("alpha", "GH")
	aHost := proxytest.Host("alpha")
	bBefore := []int64{b.balance(t, b.aliceAcc.ID), b.balance(t, b.bobAcc.ID)}

	for _, role := range []string{proxy.RoleCustomer, proxy.RoleStaff, proxy.RoleAdmin, proxy.RoleService} {
		tokA := s.Token(a.ID, role, b.alice.ID) // even with B's user id in it
		for _, acc := range []int64{b.aliceAcc.ID, b.bobAcc.ID} {
			get := fmt.Sprintf("/api/accounts/%d", acc)
			list := fmt.Sprintf("/api/transactions?account_id=%d", acc)
			post := map[string]any{"type": "withdrawal", "account_id": acc, "amount": 1}
			transfer := map[string]any{"type": "transfer", "account_id": acc, "to_account_id": acc + 1, "amount": 1}

			for _, req := range []struct {
				method, path string
				body         any
			}{{"GET", get, nil}, {"GET", list, nil}, {"POST", "/api/transactions", post}, {"POST", "/api/transactions", transfer}} {
				r := s.Do(req.method, b.host, req.path, tokA, req.body)
				if r.Status != 401 || r.Error() != "Tenant mismatch" {
					t.Errorf("%s token on B's host %s %s: %d %s", role, req.method, req.path, r.Status, r.Body)
				}
				r = s.Do(req.method, aHost, req.path, tokA, req.body)
				if r.Status != 404 || r.Error() != "Not found" {
					t.Errorf("%s token on A's host %s %s: %d %s", role, req.method, req.path, r.Status, r.Body)
				}
			}
		}
		r := s.Do("GET", aHost, "/api/accounts", tokA, nil)
		var body struct{ Accounts []bank.Account }
		r.JSON(t, &body)
		if r.Status != 200 || len(body.Accounts) != 0 {
			t.Errorf("%s: A's account list = %d %s", role, r.Status, r.Body)
		}
	}
	// B's users cannot log in on A's host either.
	r := s.Do("POST", aHost, "/api/auth/login", "", map[string]string{"email": "alice@bravo.example", "password": fixturePassword})
	if r.Status != 401 || r.Error() != "Invalid credentials" {
		t.Errorf("B's user logging in on A: %d %s", r.Status, r.Body)
	}
	if got := []int64{b.balance(t, b.aliceAcc.ID), b.balance(t, b.bobAcc.ID)}; got[0] != bBefore[0] || got[1] != bBefore[1] {
		t.Fatalf("B's balances changed: %v → %v", bBefore, got)
	}
}
