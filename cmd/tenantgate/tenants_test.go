package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// TestTenantsCreateRules: the CLI refuses what the admin API refuses, with
// the same per-field messages, and writes nothing.
func TestTenantsCreateRules(t *testing.T) {
	dir := t.TempDir()
	srv := proxytest.Start(t, proxytest.Options{})
	pa := srv.Token(0, proxy.RolePlatformAdmin, 0)
	for _, c := range []struct {
		args  []string
		body  map[string]string
		field string
	}{
		{[]string{"--host", "api", "--name", "Api Bank", "--country", "GH"}, map[string]string{"host": "api", "name": "Api Bank", "country": "GH"}, "host"},
		{[]string{"--host", "goldbank", "--name", "Gold Bank", "--country", "GH", "--plan", "gold"},
			map[string]string{"host": "goldbank", "name": "Gold Bank", "country": "GH", "subscription_plan": "gold"}, "subscription_plan"},
		{[]string{"--host", "onechar", "--name", "X", "--country", "GH"}, map[string]string{"host": "onechar", "name": "X", "country": "GH"}, "name"},
	} {
		_, err := runCLI(t, append([]string{"tenants", "create", "--data-dir", dir}, c.args...)...)
		var verr *tenants.ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("%v: err = %v, want a refusal", c.args, err)
		}
		r := srv.Do("POST", proxytest.Host("admin"), "/api/admin/tenants", pa, c.body)
		var api struct {
			Error  string
			Fields map[string]string
		}
		json.Unmarshal(r.Body, &api)
		if r.Status != 400 || api.Error != "Invalid tenant" || api.Fields[c.field] == "" {
			t.Fatalf("admin API: %d %s", r.Status, r.Body)
		}
		if want := c.field + " " + api.Fields[c.field]; !strings.Contains(err.Error(), want) {
			t.Errorf("CLI said %q; the admin API says %q", err, want)
		}
	}
	if out, _ := runCLI(t, "tenants", "list", "--data-dir", dir, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("refused creates left tenants: %s", out)
	}
	// A reused id is refused too.
	if _, err := runCLI(t, "tenants", "create", "--data-dir", dir, "--host", "first", "--name", "First", "--country", "GH"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "tenants", "delete", "--data-dir", dir, "--no-backup", "first"); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "tenants", "create", "--data-dir", dir, "--id", "1", "--host", "second", "--name", "Second", "--country", "GH")
	if err == nil || !strings.Contains(err.Error(), "never reused") {
		t.Errorf("--id 1 after tenant 1 was deleted: %v", err)
	}
}
