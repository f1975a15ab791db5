package proxy_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tursodatabase/libsql-client-go/libsql"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana/hranatest"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// A tenant developer's first SQL call with unmodified clients: neither
// Go's nor Node's resolver knows *.localhost, so http://127.0.0.1:PORT/t/
// <host>/ routes to the tenant instead.
func TestLocalPathPrefix(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	acme := s.CreateTenant("acme")
	other := s.CreateTenant("other")
	tok := s.Token(acme.ID, proxy.RoleService, 0)

	// The Go client, with and without the trailing slash, no proxy option
	// and no custom dialer.
	for i, base := range []string{s.URL + "/t/acme", s.URL + "/t/acme/"} {
		c, err := libsql.NewConnector(base, libsql.WithAuthToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(c)
		defer db.Close()
		ctx := context.Background()
		if i == 0 {
			if _, err := db.ExecContext(ctx, `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO notes(body) VALUES (?)`, "via "+base); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
	}
	raw, err := sql.Open("sqlite", filepath.Join(s.DataDir, "tenants", strconv.FormatInt(acme.ID, 10)+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows in acme's own file = %d, %v", n, err)
	}

	// The JS client, with no custom fetch (connect ""): the full client
	// check, over the path prefix. @libsql/client resolves v2/pipeline
	// relative to the URL, so the documented form ends in a slash.
	hranatest.RunJSClient(t, s.URL+"/t/acme/", "", tok, "js")

	// The tenant API too, and the token still has to match the tenant.
	staff := s.Token(acme.ID, proxy.RoleStaff, 1)
	if r := s.Do("GET", strings.TrimPrefix(s.URL, "http://"), "/t/acme/api/accounts", staff, nil); r.Status != 200 {
		t.Errorf("tenant API over /t/acme/: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "localhost", "/t/other/api/accounts", staff, nil); r.Status != 401 || r.Error() != "Tenant mismatch" {
		t.Errorf("acme's token on /t/other/: %d %s, want 401 Tenant mismatch", r.Status, r.Body)
	}
	if r := s.Do("GET", "localhost", "/t/"+proxytest.Host("other")+"/api/accounts", s.Token(other.ID, proxy.RoleStaff, 1), nil); r.Status != 200 {
		t.Errorf("full host in the prefix: %d %s", r.Status, r.Body)
	}
	// Only for loopback address literals: a real host keeps its path.
	if r := s.Do("GET", proxytest.Host("acme"), "/t/other/api/accounts", staff, nil); r.Status != 404 {
		t.Errorf("/t/ on a tenant host: %d %s, want 404", r.Status, r.Body)
	}
}
