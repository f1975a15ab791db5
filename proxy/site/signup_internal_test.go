package site

import (
	"testing"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/shard"
)

func TestDeriveSubdomain(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"Acme Microfinance", "acme-microfinance"},
		{"  ACME   microfinance!! ", "acme-microfinance"},
		{"Société Générale & Fils", "societe-generale-and-fils"},
		{"Kumasi Savings (KSL) Ltd.", "kumasi-savings-ksl-ltd"},
		{"123 Bank", "123-bank"},
		{"Ωmega Bank", "mega-bank"},
		{"!!", ""},
		{"The Very Long Name Of A Cooperative Savings And Loans Society", "the-very-long-name-of-a-cooperative-savi"},
		{"Forty Characters Exactly Cut At Hyphen-x", "forty-characters-exactly-cut-at-hyphen-x"},
		{"abcdefghij abcdefghij abcdefghij abcdef xyz", "abcdefghij-abcdefghij-abcdefghij-abcdef"}, // cut at 40 lands on a hyphen
	} {
		got := deriveSubdomain(c.name)
		if got != c.want {
			t.Errorf("deriveSubdomain(%q) = %q, want %q", c.name, got, c.want)
		}
		if got != "" && len(got) > tenants.MaxHostLen {
			t.Errorf("deriveSubdomain(%q) is %d characters", c.name, len(got))
		}
	}
}

func TestCheckSignup(t *testing.T) {
	s := &Site{tenants: tenants.New(tenants.Options{Shards: shard.NewManager(shard.Config{DataDir: t.TempDir()})})}
	req := signupRequest{Name: "  Tamale Savings ", Country: " gh ", Email: " Founder@Tamale.Example ", Password: "Harvest-season-2026"}
	create := tenants.CreateRequest{Host: req.Subdomain, Name: req.Name, Country: req.Country}
	if err := s.checkSignup(&req, &create); err != nil {
		t.Fatalf("valid signup refused: %v", err)
	}
	if create.Name != "Tamale Savings" || create.Country != "GH" || req.Email != "founder@tamale.example" || create.Host != "tamale-savings" {
		t.Errorf("normalised to %+v, %+v", req, create)
	}
}
