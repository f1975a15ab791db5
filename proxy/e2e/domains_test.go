package e2e_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/microfi/tenantgate/catalog/certstore"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// TestBrowserCustomDomains: how a custom domain's certificate is shown
// (issue 15) in the admin panel (a badge next to the domain, the state and
// the DNS record in the tenant's details) and on the institution's own
// dashboard (the record to create and the last check while it is not
// active); and the pricing copy (issue 17) agreeing with the product. The
// proxy has a real HTTPS edge with certificate storage in the catalog; the
// states are the ones its ACME side records (no CA is contacted: nothing
// here makes a TLS handshake).
func TestBrowserCustomDomains(t *testing.T) {
	const edgeName = "edge." + rootDomain
	var store *certstore.Store
	srv := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.RootDomain = rootDomain
		var err error
		if store, err = certstore.New(c.Catalog.DB(), []byte("e2e-storage-key-0123456789abcdef0123"), certstore.Options{}); err != nil {
			t.Fatal(err)
		}
		edge, err := tlsedge.New(tlsedge.Config{RootDomain: rootDomain, Catalog: c.Catalog, Store: store,
			ACME: &tlsedge.ACME{CA: "https://127.0.0.1:1/dir", Email: "ops@microfi.example"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := edge.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { edge.Close() })
		c.TLS, c.EdgeHostname = edge, edgeName
	}})
	_, port, _ := net.SplitHostPort(srv.Addr)
	origin := func(label string) string { return "http://" + label + "." + rootDomain + ":" + port }
	ctx := context.Background()
	mk := func(host, domain string) int64 {
		tn, err := srv.Tenants.Create(ctx, tenants.CreateRequest{Host: host, Name: "Bank " + host, Country: "GH", CustomDomain: domain})
		if err != nil {
			t.Fatal(err)
		}
		return tn.ID
	}
	activeID, pendingID := mk("bankone", "bank-one.example"), mk("banktwo", "bank-two.example")
	notAfter := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
	const dnsErr = "DNS problem: NXDOMAIN looking up A for bank-two.example"
	for _, st := range []certstore.DomainStatus{
		{Domain: "bank-one.example", State: certstore.StateActive, NotAfter: notAfter},
		{Domain: "bank-two.example", State: certstore.StatePending, LastError: dnsErr},
	} {
		if err := store.SetDomain(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t)

	t.Run("AdminPanel", func(t *testing.T) {
		b.do(t, "open the admin panel",
			chromedp.Navigate(origin("admin")+"/"),
			chromedp.WaitVisible(css(`#token-form`)),
			chromedp.SendKeys(css(`#token-input`), srv.Token(0, proxy.RolePlatformAdmin, 0)),
			chromedp.Click(css(`#token-form button[type="submit"]`)),
			chromedp.WaitVisible(xp(`//table[@id="tenants-table"]//a[normalize-space()="banktwo"]`)),
		)
		badge := func(host string) (text, title string) {
			row := `//tr[.//a[normalize-space()="` + host + `"]]//span[contains(@class,"badge-tls-")]`
			text = get(t, b, host+" badge", chromedp.Text(xp(row)))
			title = get(t, b, host+" badge title", chromedp.Evaluate[string](
				`document.evaluate('`+row+`', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.title`))
			return text, title
		}
		if text, title := badge("bankone"); text != "TLS active" || !strings.Contains(title, "valid until "+notAfter.Format("2006-01-02")) {
			t.Errorf("bankone's badge %q (%q), want TLS active valid until %s", text, title, notAfter.Format("2006-01-02"))
		}
		if text, title := badge("banktwo"); text != "TLS pending" || !strings.Contains(title, "NXDOMAIN") {
			t.Errorf("banktwo's badge %q (%q), want TLS pending with the last check", text, title)
		}
		b.do(t, "view the pending tenant",
			chromedp.Click(xp(`//tr[.//a[normalize-space()="banktwo"]]//button[normalize-space()="View"]`)),
			chromedp.WaitVisible(xp(`//dl[@id="detail-facts"]/dt[normalize-space()="DNS record"]`)),
		)
		facts := get(t, b, "details", chromedp.Text(css(`#detail-facts`)))
		b.screenshot(t, "20-admin-custom-domain-tls")
		for _, want := range []string{"pending", dnsErr, "bank-two.example", "CNAME", edgeName, "A and AAAA"} {
			if !strings.Contains(facts, want) {
				t.Errorf("tenant details lack %q:\n%s", want, facts)
			}
		}
		b.pageErrors(t)
	})

	// The institution's admin signs in to its own dashboard.
	dashboard := func(t *testing.T, label string, id int64) string {
		email, password := "head@"+label+".example", "Domain-check-pw-1"
		r := srv.Do("POST", label+"."+rootDomain, "/api/users", srv.Token(id, proxy.RoleAdmin, 0),
			map[string]string{"name": "Head " + label, "email": email, "password": password, "role": "admin"})
		if r.Status != 201 {
			t.Fatalf("create admin: %d %s", r.Status, r.Body)
		}
		b.do(t, "sign in to "+label,
			chromedp.Navigate(origin(label)+"/"),
			chromedp.WaitVisible(css(`#login-form`)),
			chromedp.SendKeys(css(`#login-email`), email),
			chromedp.SendKeys(css(`#login-password`), password),
			chromedp.Click(css(`#login-submit`)),
			chromedp.WaitVisible(css(`#app-section`)),
			chromedp.WaitVisible(css(`#accounts-empty`)),
		)
		return label
	}

	t.Run("DashboardPending", func(t *testing.T) {
		dashboard(t, "banktwo", pendingID)
		b.do(t, "the domain notice", chromedp.WaitVisible(css(`#domain-notice`)))
		notice := get(t, b, "notice", chromedp.Text(css(`#domain-notice`)))
		b.screenshot(t, "21-dashboard-custom-domain-pending")
		for _, want := range []string{"bank-two.example", "pending", "last check: " + dnsErr, "bank-two.example CNAME " + edgeName, "A and AAAA"} {
			if !strings.Contains(notice, want) {
				t.Errorf("dashboard notice lacks %q: %q", want, notice)
			}
		}
		b.do(t, "sign out", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
		b.pageErrors(t)
	})

	t.Run("DashboardActive", func(t *testing.T) {
		dashboard(t, "bankone", activeID)
		// loadDomain runs before the users list and accounts render: once
		// they show, the notice has had its chance to appear.
		b.do(t, "dashboard loaded", chromedp.WaitVisible(css(`#user-card`)))
		shown := get(t, b, "notice shown", chromedp.Evaluate[bool](`!document.getElementById("domain-notice").hidden`))
		if shown {
			t.Errorf("an active domain still shows a notice: %q", get(t, b, "notice", chromedp.Text(css(`#domain-notice`))))
		}
		b.do(t, "sign out", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
		b.pageErrors(t)
	})

	t.Run("PricingAgreesWithProduct", func(t *testing.T) {
		b.do(t, "open the pricing section",
			chromedp.Navigate("http://"+rootDomain+":"+port+"/#pricing"),
			chromedp.WaitVisible(css(`#plan-starter`)),
		)
		pricing := get(t, b, "pricing", chromedp.Text(css(`#pricing`)))
		starter := get(t, b, "starter", chromedp.Text(css(`#plan-starter`)))
		b.screenshot(t, "22-pricing")
		// The copy promises no trial the product does not run, says where
		// a signup starts (the form has no plan), and offers custom domains
		// on Starter, as the product allows.
		for _, bad := range []string{"30 days", "days free", "free trial"} {
			if strings.Contains(strings.ToLower(pricing), bad) {
				t.Errorf("pricing promises %q:\n%s", bad, pricing)
			}
		}
		if !strings.Contains(pricing, "starts on Starter") {
			t.Errorf("pricing does not say signups start on Starter:\n%s", pricing)
		}
		if !strings.Contains(strings.ToLower(starter), "your own domain") {
			t.Errorf("Starter does not list custom domains: %q", starter)
		}
		if n := get(t, b, "plan fields", chromedp.Evaluate[int](`document.querySelectorAll('#signup-form [name*="plan"]').length`)); n != 0 {
			t.Errorf("the signup form has %d plan fields; the copy says signups start on Starter", n)
		}

		// The product: a signup is on Starter, and a Starter tenant may set
		// a custom domain.
		r := srv.Do("POST", rootDomain, "/api/public/signup", "", map[string]string{
			"name": "Starter Check Coop", "country": "GH", "email": "chair@startercheck.example", "password": "Starter-check-pw-1"})
		if r.Status != 201 {
			t.Fatalf("signup: %d %s", r.Status, r.Body)
		}
		var signup struct {
			TenantID int64 `json:"tenant_id"`
		}
		json.Unmarshal(r.Body, &signup)
		admin := srv.Token(0, proxy.RolePlatformAdmin, 0)
		r = srv.Do("PATCH", "admin."+rootDomain, "/api/admin/tenants/"+strconv.FormatInt(signup.TenantID, 10), admin, map[string]string{"custom_domain": "startercheck.example"})
		var got struct {
			Tenant struct {
				Plan   string `json:"subscription_plan"`
				Domain string `json:"custom_domain"`
			} `json:"tenant"`
		}
		json.Unmarshal(r.Body, &got)
		if r.Status != 200 || got.Tenant.Plan != "starter" || got.Tenant.Domain != "startercheck.example" {
			t.Errorf("a signed-up tenant setting a custom domain: %d %s", r.Status, r.Body)
		}
		b.pageErrors(t)
	})
}
