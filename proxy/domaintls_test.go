package proxy_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

type domainTLSBody struct {
	State     string `json:"state"`
	LastError string `json:"last_error"`
	DNS       *struct {
		Type, Name, Value, Alternative string
	} `json:"dns"`
}

// The admin API's tenant object and the tenant's /api/domain carry the
// custom domain's certificate state and the DNS record to create. This
// proxy has no HTTPS, so a domain stays pending and says why.
func TestCustomDomainTLSView(t *testing.T) {
	srv := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) { c.EdgeHostname = "edge.microfi.test" }})
	plain := srv.CreateTenant("plainbank")
	withDomain, err := srv.Tenants.Create(context.Background(), tenants.CreateRequest{
		Host: "domainbank", Name: "Domain Bank", Country: "GH", CustomDomain: "bank.example"})
	if err != nil {
		t.Fatal(err)
	}
	admin := srv.Token(0, proxy.RolePlatformAdmin, 0)

	var got struct {
		Tenant struct {
			CustomDomainTLS *domainTLSBody `json:"custom_domain_tls"`
		} `json:"tenant"`
	}
	r := srv.Do("GET", "admin."+proxytest.RootDomain, "/api/admin/tenants/"+strconv.FormatInt(plain.ID, 10), admin, nil)
	r.JSON(t, &got)
	if r.Status != 200 || got.Tenant.CustomDomainTLS == nil || got.Tenant.CustomDomainTLS.State != "none" || got.Tenant.CustomDomainTLS.DNS != nil {
		t.Fatalf("tenant without a domain: %d %s", r.Status, r.Body)
	}
	r = srv.Do("GET", "admin."+proxytest.RootDomain, "/api/admin/tenants/"+strconv.FormatInt(withDomain.ID, 10), admin, nil)
	r.JSON(t, &got)
	c := got.Tenant.CustomDomainTLS
	if r.Status != 200 || c == nil || c.State != "pending" || c.LastError == "" || c.DNS == nil ||
		c.DNS.Type != "CNAME" || c.DNS.Name != "bank.example" || c.DNS.Value != "edge.microfi.test" || c.DNS.Alternative == "" {
		t.Fatalf("tenant with a domain: %d %s", r.Status, r.Body)
	}

	var list struct {
		Tenants []struct {
			Host            string         `json:"host"`
			CustomDomainTLS *domainTLSBody `json:"custom_domain_tls"`
		} `json:"tenants"`
	}
	r = srv.Do("GET", "admin."+proxytest.RootDomain, "/api/admin/tenants", admin, nil)
	r.JSON(t, &list)
	for _, tn := range list.Tenants {
		if tn.CustomDomainTLS == nil {
			t.Fatalf("list entry %s lacks custom_domain_tls: %s", tn.Host, r.Body)
		}
	}

	// The institution's admin sees it on its own host; other roles do not.
	var dom struct {
		CustomDomain    string         `json:"custom_domain"`
		CustomDomainTLS *domainTLSBody `json:"custom_domain_tls"`
	}
	r = srv.Do("GET", proxytest.Host("domainbank"), "/api/domain", srv.Token(withDomain.ID, proxy.RoleAdmin, 0), nil)
	r.JSON(t, &dom)
	if r.Status != 200 || dom.CustomDomain != "bank.example" || dom.CustomDomainTLS == nil || dom.CustomDomainTLS.DNS == nil {
		t.Fatalf("GET /api/domain as admin: %d %s", r.Status, r.Body)
	}
	if r := srv.Do("GET", proxytest.Host("domainbank"), "/api/domain", srv.Token(withDomain.ID, proxy.RoleCustomer, 0), nil); r.Status != 403 {
		t.Fatalf("GET /api/domain as customer: %d", r.Status)
	}
}
