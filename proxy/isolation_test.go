package proxy_test

import (
	"context"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// The seed's tenant isolation test, for real: two tenants with their own
// databases behind one proxy.
func TestTenantIsolation(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	t1, _ := s.CreateDemoTenant("tenant1")
	t2, _ := s.CreateDemoTenant("tenant2")

	t.Run("ErrTenantMismatch", func(t *testing.T) {
		tok2 := s.Token(t2.ID, proxy.RoleAdmin, 1)
		r := s.Do("GET", proxytest.Host("tenant1"), "/api/accounts", tok2, nil)
		if r.Status != 401 || string(r.Body) != "{\"error\":\"Tenant mismatch\"}\n" {
			t.Fatalf("got %d %s, want 401 Tenant mismatch", r.Status, r.Body)
		}
	})
	t.Run("OwnTenantOnly", func(t *testing.T) {
		for _, tn := range []struct {
			id   int64
			host string
		}{{t1.ID, "tenant1"}, {t2.ID, "tenant2"}} {
			r := s.Do("GET", proxytest.Host(tn.host), "/api/accounts", s.Token(tn.id, proxy.RoleStaff, 2), nil)
			var body struct{ Accounts []bank.Account }
			r.JSON(t, &body)
			if r.Status != 200 || len(body.Accounts) == 0 {
				t.Fatalf("%s: got %d with %d accounts", tn.host, r.Status, len(body.Accounts))
			}
			for _, a := range body.Accounts {
				if a.TenantID != tn.id {
					t.Fatalf("%s: account %d belongs to tenant %d", tn.host, a.ID, a.TenantID)
				}
			}
		}
	})
	t.Run("CustomerSeesOwnAccounts", func(t *testing.T) {
		h, err := s.Shards.Acquire(context.Background(), t1.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		all, err := bank.New(h.DB, t1.ID).ListAccounts(context.Background(), bank.AccountQuery{Limit: 500})
		h.Release()
		if err != nil || len(all) == 0 {
			t.Fatalf("list: %v (%d)", err, len(all))
		}
		owner := all[0].UserID
		want := 0
		for _, a := range all {
			if a.UserID == owner {
				want++
			}
		}
		r := s.Do("GET", proxytest.Host("tenant1"), "/api/accounts", s.Token(t1.ID, proxy.RoleCustomer, owner), nil)
		var body struct{ Accounts []bank.Account }
		r.JSON(t, &body)
		if r.Status != 200 || len(body.Accounts) != want {
			t.Fatalf("got %d with %d accounts, want %d", r.Status, len(body.Accounts), want)
		}
		for _, a := range body.Accounts {
			if a.UserID != owner {
				t.Fatalf("customer %d sees account %d of user %d", owner, a.ID, a.UserID)
			}
		}
	})
}

func catalogUpdateStatus(status string) catalog.Update { return catalog.Update{Status: &status} }
