package microfi_test

import (
	"context"
	"testing"
	"time"

	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// TestSeededCurrency: tenants provisioned for a run hold their accounts in
// the currency the banking package gives their country, whichever way they
// were seeded (tenant API or the admin API's bulk seed), against a real
// proxy. ZA is the case that once differed: USD one way, ZAR the other.
func TestSeededCurrency(t *testing.T) {
	srv := proxytest.Start(t, proxytest.Options{})
	want, ok := bank.CurrencyFor("ZA")
	if !ok || want != "ZAR" {
		t.Fatalf("bank.CurrencyFor(ZA) = %q, %v", want, ok)
	}
	for _, seed := range []string{microfi.SeedAPI, microfi.SeedBulk} {
		t.Run(seed, func(t *testing.T) {
			p := &microfi.Provisioner{BaseURL: srv.URL, RootDomain: proxytest.RootDomain, Secret: []byte(proxytest.Secret),
				Prefix: "za-" + seed + "-", Country: "ZA", Seed: seed, UsersPerTenant: 1, AccountsPerUser: 2, Concurrency: 2}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tenants, err := p.Provision(ctx, 2) // the second is bulk-seeded with SeedBulk
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range tenants {
				if tn.Currency != want {
					t.Errorf("tenant %s: Currency %q, want %q", tn.Sub, tn.Currency, want)
				}
				r := srv.Do("GET", tn.Host, "/api/accounts", tn.AdminToken, nil)
				var body struct {
					Accounts []struct {
						ID       int64  `json:"id"`
						Currency string `json:"currency"`
					} `json:"accounts"`
				}
				r.JSON(t, &body)
				if len(body.Accounts) != len(tn.Accounts) {
					t.Fatalf("tenant %s: %d accounts, provisioned %d (%s)", tn.Sub, len(body.Accounts), len(tn.Accounts), r.Body)
				}
				for _, a := range body.Accounts {
					if a.Currency != want {
						t.Errorf("tenant %s account %d: currency %q, want %q", tn.Sub, a.ID, a.Currency, want)
					}
				}
			}
		})
	}
	p := &microfi.Provisioner{BaseURL: srv.URL, RootDomain: proxytest.RootDomain, Secret: []byte(proxytest.Secret), Prefix: "xx-", Country: "XX"}
	if _, err := p.Provision(context.Background(), 1); err == nil {
		t.Fatal("a country without a currency was provisioned")
	}
}
