package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

var adminHost = "admin." + proxytest.RootDomain

type adminTenantBody struct {
	Tenant struct {
		ID           int64  `json:"id"`
		Host         string `json:"host"`
		CustomDomain string `json:"custom_domain"`
		Name         string `json:"name"`
		CountryCode  string `json:"country_code"`
		Plan         string `json:"subscription_plan"`
		Status       string `json:"status"`
		URL          string `json:"url"`
	} `json:"tenant"`
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

func adminDo(t *testing.T, srv *proxytest.Server, method, path string, body any) (int, adminTenantBody) {
	t.Helper()
	r := srv.Do(method, adminHost, path, srv.Token(0, proxy.RolePlatformAdmin, 0), body)
	var out adminTenantBody
	r.JSON(t, &out)
	return r.Status, out
}

func TestAdminAuth(t *testing.T) {
	srv := startPublic(t)
	tn := srv.CreateTenant("authbank")

	t.Run("Page", func(t *testing.T) {
		r := srv.Do("GET", adminHost, "/", "", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `id="tenants-table"`) {
			t.Errorf("admin page: %d", r.Status)
		}
		if r := srv.Do("GET", adminHost, "/assets/admin.js", "", nil); r.Status != 200 {
			t.Errorf("admin.js: %d", r.Status)
		}
	})
	for _, c := range []struct {
		name, token string
		status      int
		msg         string
	}{
		{"ErrNoToken", "", 401, "Authentication required"},
		{"ErrBadToken", "not.a.token", 401, "Invalid token"},
		{"ErrTenantAdmin", srv.Token(tn.ID, proxy.RoleAdmin, 1), 403, "Forbidden"},
		{"ErrService", srv.Token(tn.ID, proxy.RoleService, 0), 403, "Forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []string{"/api/admin/tenants", fmt.Sprintf("/api/admin/tenants/%d", tn.ID), "/api/admin/other"} {
				r := srv.Do("GET", adminHost, p, c.token, nil)
				if r.Status != c.status || r.Error() != c.msg {
					t.Errorf("GET %s: %d %q, want %d %q", p, r.Status, r.Error(), c.status, c.msg)
				}
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		tok := srv.Token(0, proxy.RolePlatformAdmin, 0)
		for _, p := range []string{"/api/admin/other", "/api/admin/tenants/1/x", "/nope"} {
			if r := srv.Do("GET", adminHost, p, tok, nil); r.Status != 404 {
				t.Errorf("GET %s: %d", p, r.Status)
			}
		}
		if r := srv.Do("GET", adminHost, "/api/admin/tenants/999999", tok, nil); r.Status != 404 || r.Error() != "Tenant not found" {
			t.Errorf("missing tenant: %d %q", r.Status, r.Error())
		}
		if r := srv.Do("GET", adminHost, "/api/admin/tenants/abc", tok, nil); r.Status != 400 {
			t.Errorf("bad id: %d", r.Status)
		}
		if r := srv.Do("PUT", adminHost, "/api/admin/tenants", tok, nil); r.Status != 405 || r.Header.Get("Allow") == "" {
			t.Errorf("PUT list: %d allow %q", r.Status, r.Header.Get("Allow"))
		}
	})
}

func TestAdminListAndCreate(t *testing.T) {
	srv := startPublic(t)
	tok := srv.Token(0, proxy.RolePlatformAdmin, 0)
	for i := range 7 {
		name := fmt.Sprintf("Savings Group %d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("Credit Union %d", i)
		}
		status, got := adminDo(t, srv, "POST", "/api/admin/tenants", map[string]string{"host": fmt.Sprintf("tn%d", i), "name": name, "country": "ug"})
		if status != 201 || got.Tenant.Host != fmt.Sprintf("tn%d", i) || got.Tenant.CountryCode != "UG" || got.Tenant.Plan != "starter" {
			t.Fatalf("create %d: %d %+v", i, status, got)
		}
	}

	type page struct {
		Tenants []struct{ Host, Name string }
		Total   int
		Limit   int
		Offset  int
	}
	list := func(q string) page {
		r := srv.Do("GET", adminHost, "/api/admin/tenants?"+q, tok, nil)
		if r.Status != 200 {
			t.Fatalf("list %s: %d %s", q, r.Status, r.Body)
		}
		var p page
		r.JSON(t, &p)
		return p
	}
	t.Run("Paged", func(t *testing.T) {
		p := list("limit=3&offset=3")
		if p.Total != 7 || len(p.Tenants) != 3 || p.Tenants[0].Host != "tn3" {
			t.Errorf("page %+v", p)
		}
		if p := list("limit=3&offset=6"); len(p.Tenants) != 1 {
			t.Errorf("last page %+v", p)
		}
	})
	t.Run("Search", func(t *testing.T) {
		if p := list("q=credit"); p.Total != 3 {
			t.Errorf("q=credit: %+v", p)
		}
		if p := list("q=tn4"); p.Total != 1 || p.Tenants[0].Host != "tn4" {
			t.Errorf("q=tn4: %+v", p)
		}
		if p := list("q=100%25"); p.Total != 0 { // a literal %, not a wildcard
			t.Errorf("q=100%%: %+v", p)
		}
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=501", "limit=x", "offset=-1", "status=gone"} {
			if r := srv.Do("GET", adminHost, "/api/admin/tenants?"+q, tok, nil); r.Status != 400 {
				t.Errorf("%s: %d", q, r.Status)
			}
		}
	})
	t.Run("ErrCreate", func(t *testing.T) {
		for _, c := range []struct {
			body   map[string]string
			status int
			field  string
		}{
			{map[string]string{"host": "tn1", "name": "Dup", "country": "GH"}, 409, "host"},
			{map[string]string{"host": "Bad_Host", "name": "X", "country": "GH"}, 400, "host"},
			{map[string]string{"host": "admin", "name": "X", "country": "GH"}, 400, "host"},
			{map[string]string{"host": "okhost", "name": "", "country": "GH"}, 400, "name"},
			{map[string]string{"host": "okhost", "name": "X", "country": "XX"}, 400, "country"},
			{map[string]string{"host": "okhost", "name": "X", "country": "GH", "subscription_plan": "gold"}, 400, "subscription_plan"},
			{map[string]string{"host": "okhost", "name": "X", "country": "GH", "custom_domain": "x." + proxytest.RootDomain}, 400, "custom_domain"},
			{map[string]string{"host": "okhost", "name": "X", "country": "GH", "admin_email": "a@b.example"}, 400, "admin_email"},
		} {
			status, got := adminDo(t, srv, "POST", "/api/admin/tenants", c.body)
			if status != c.status || got.Fields[c.field] == "" {
				t.Errorf("%v: %d %+v, want %d with fields[%s]", c.body, status, got, c.status, c.field)
			}
		}
		if _, err := srv.Catalog.Resolve(context.Background(), "okhost"); !errors.Is(err, catalog.ErrTenantNotFound) {
			t.Errorf("a refused create left a tenant (%v)", err)
		}
	})
	t.Run("WithAdminUser", func(t *testing.T) {
		status, got := adminDo(t, srv, "POST", "/api/admin/tenants", map[string]string{
			"host": "staffed", "name": "Staffed", "country": "KE", "subscription_plan": "growth",
			"admin_email": "boss@staffed.example", "admin_password": "Boss-password-1",
		})
		if status != 201 || got.Tenant.Plan != "growth" {
			t.Fatalf("create: %d %+v", status, got)
		}
		r := srv.Do("POST", proxytest.Host("staffed"), "/api/auth/login", "", map[string]string{"email": "boss@staffed.example", "password": "Boss-password-1"})
		if r.Status != 200 {
			t.Errorf("login as the created admin: %d %s", r.Status, r.Body)
		}
	})
}

// TestAdminSuspendResume: a suspension applies to the very next request.
func TestAdminSuspendResume(t *testing.T) {
	srv := startPublic(t)
	tn := srv.CreateTenant("pausable")
	tok := srv.Token(tn.ID, proxy.RoleAdmin, 1)
	path := fmt.Sprintf("/api/admin/tenants/%d", tn.ID)
	if r := srv.Do("GET", proxytest.Host("pausable"), "/api/accounts", tok, nil); r.Status != 200 {
		t.Fatalf("before: %d", r.Status) // also warms the host cache
	}
	if status, got := adminDo(t, srv, "PATCH", path, map[string]string{"status": "suspended"}); status != 200 || got.Tenant.Status != "suspended" {
		t.Fatalf("suspend: %d %+v", status, got)
	}
	if r := srv.Do("GET", proxytest.Host("pausable"), "/api/accounts", tok, nil); r.Status != 403 || r.Error() != "Tenant suspended" {
		t.Errorf("suspended: %d %q", r.Status, r.Error())
	}
	if status, got := adminDo(t, srv, "PATCH", path, map[string]string{"status": "active"}); status != 200 || got.Tenant.Status != "active" {
		t.Fatalf("resume: %d %+v", status, got)
	}
	if r := srv.Do("GET", proxytest.Host("pausable"), "/api/accounts", tok, nil); r.Status != 200 {
		t.Errorf("resumed: %d %q", r.Status, r.Error())
	}

	t.Run("NameAndPlan", func(t *testing.T) {
		status, got := adminDo(t, srv, "PATCH", path, map[string]any{"name": "  Renamed  ", "subscription_plan": "enterprise"})
		if status != 200 || got.Tenant.Name != "Renamed" || got.Tenant.Plan != "enterprise" || got.Tenant.Status != "active" {
			t.Errorf("%d %+v", status, got)
		}
	})
	t.Run("ErrPatch", func(t *testing.T) {
		for _, c := range []struct {
			body  any
			field string
		}{
			{map[string]string{"status": "demo"}, "status"},
			{map[string]string{"status": "deleted"}, "status"},
			{map[string]string{"name": " "}, "name"},
			{map[string]string{"subscription_plan": "platinum"}, "subscription_plan"},
			{map[string]string{"custom_domain": "bank"}, "custom_domain"},
			{map[string]string{"custom_domain": "bank.example.com:8443"}, "custom_domain"},
			{map[string]string{"custom_domain": "https://bank.example.com"}, "custom_domain"},
			{map[string]string{"custom_domain": proxytest.RootDomain}, "custom_domain"},
			{map[string]string{"custom_domain": "x.admin." + proxytest.RootDomain}, "custom_domain"},
		} {
			status, got := adminDo(t, srv, "PATCH", path, c.body)
			if status != 400 || got.Fields[c.field] == "" {
				t.Errorf("%v: %d %+v", c.body, status, got)
			}
		}
		if status, _ := adminDo(t, srv, "PATCH", path, `{"host":"x"}`); status != 400 {
			t.Errorf("unknown field: %d", status)
		}
		if status, _ := adminDo(t, srv, "PATCH", "/api/admin/tenants/999999", map[string]string{"name": "Valid Name"}); status != 404 {
			t.Errorf("missing tenant: %d", status)
		}
	})
}

// TestAdminDemoActivation: activating a demo makes it a permanent tenant.
func TestAdminDemoActivation(t *testing.T) {
	srv := startPublic(t)
	d := createDemo(t, srv)
	status, got := adminDo(t, srv, "PATCH", fmt.Sprintf("/api/admin/tenants/%d", d.TenantID), map[string]string{"status": "active"})
	if status != 200 || got.Tenant.Status != "active" {
		t.Fatalf("%d %+v", status, got)
	}
	tn, err := srv.Catalog.Get(context.Background(), d.TenantID)
	if err != nil || !tn.ExpiresAt.IsZero() {
		t.Errorf("activated demo still expires: %+v (%v)", tn, err)
	}
}

// TestAdminCustomDomain: a custom domain routes to its tenant at once, is
// unique, and stops routing when removed.
func TestAdminCustomDomain(t *testing.T) {
	srv := startPublic(t)
	a := srv.CreateTenant("alpha")
	b := srv.CreateTenant("beta")
	tokA := srv.Token(a.ID, proxy.RoleAdmin, 1)
	if r := srv.Do("GET", "bank.alpha.example", "/api/accounts", tokA, nil); r.Status != 404 {
		t.Fatalf("before: %d (negative cache warmed)", r.Status)
	}
	status, got := adminDo(t, srv, "PATCH", fmt.Sprintf("/api/admin/tenants/%d", a.ID), map[string]string{"custom_domain": " Bank.Alpha.EXAMPLE. "})
	if status != 200 || got.Tenant.CustomDomain != "bank.alpha.example" {
		t.Fatalf("set domain: %d %+v", status, got)
	}
	for _, host := range []string{"bank.alpha.example", "BANK.alpha.example:8080"} {
		if r := srv.Do("GET", host, "/api/accounts", tokA, nil); r.Status != 200 {
			t.Errorf("GET via %s: %d %q", host, r.Status, r.Error())
		}
	}
	if r := srv.Do("GET", "bank.alpha.example", "/", "", nil); r.Status != 200 || !strings.Contains(string(r.Body), "login-form") {
		t.Errorf("dashboard via custom domain: %d", r.Status)
	}
	// Beta's token on alpha's domain is still a mismatch.
	if r := srv.Do("GET", "bank.alpha.example", "/api/accounts", srv.Token(b.ID, proxy.RoleAdmin, 1), nil); r.Status != 401 || r.Error() != "Tenant mismatch" {
		t.Errorf("foreign token: %d %q", r.Status, r.Error())
	}
	status, got = adminDo(t, srv, "PATCH", fmt.Sprintf("/api/admin/tenants/%d", b.ID), map[string]string{"custom_domain": "bank.alpha.example"})
	if status != 409 || got.Error != "Custom domain taken" {
		t.Errorf("duplicate domain: %d %+v", status, got)
	}
	status, got = adminDo(t, srv, "PATCH", fmt.Sprintf("/api/admin/tenants/%d", a.ID), map[string]string{"custom_domain": ""})
	if status != 200 || got.Tenant.CustomDomain != "" {
		t.Fatalf("clear domain: %d %+v", status, got)
	}
	if r := srv.Do("GET", "bank.alpha.example", "/api/accounts", tokA, nil); r.Status != 404 || r.Error() != "Tenant not found" {
		t.Errorf("after removal: %d %q", r.Status, r.Error())
	}
}

func TestAdminDelete(t *testing.T) {
	srv := startPublic(t)
	ctx := context.Background()
	for _, c := range []struct {
		host   string
		query  string
		backup bool
	}{{"kept", "", true}, {"dropped", "?backup=false", false}} {
		t.Run(c.host, func(t *testing.T) {
			tn := srv.CreateTenant(c.host)
			tok := srv.Token(tn.ID, proxy.RoleAdmin, 1)
			if r := srv.Do("GET", proxytest.Host(c.host), "/api/accounts", tok, nil); r.Status != 200 {
				t.Fatalf("before: %d", r.Status)
			}
			status, _ := adminDo(t, srv, "DELETE", fmt.Sprintf("/api/admin/tenants/%d%s", tn.ID, c.query), nil)
			if status != 200 {
				t.Fatalf("delete: %d", status)
			}
			if _, err := srv.Catalog.Get(ctx, tn.ID); !errors.Is(err, catalog.ErrTenantNotFound) {
				t.Errorf("row remains (%v)", err)
			}
			if r := srv.Do("GET", proxytest.Host(c.host), "/api/accounts", tok, nil); r.Status != 404 {
				t.Errorf("after delete: %d", r.Status)
			}
			if exists(dbFile(srv, tn.ID)) {
				t.Errorf("database file remains")
			}
			backups, _ := filepath.Glob(filepath.Join(srv.DataDir, "backups", fmt.Sprintf("%d-%s-*.db", tn.ID, c.host)))
			if got := len(backups) == 1; got != c.backup {
				t.Errorf("backups %v, want one: %v", backups, c.backup)
			}
			if c.backup && len(backups) == 1 {
				if fi, err := os.Stat(backups[0]); err != nil || fi.Size() == 0 {
					t.Errorf("empty backup (%v)", err)
				}
			}
			if status, _ := adminDo(t, srv, "DELETE", fmt.Sprintf("/api/admin/tenants/%d", tn.ID), nil); status != 404 {
				t.Errorf("second delete: %d", status)
			}
		})
	}
	if status, _ := adminDo(t, srv, "DELETE", "/api/admin/tenants/1?backup=maybe", nil); status != 400 {
		t.Errorf("bad backup flag: %d", status)
	}
}
