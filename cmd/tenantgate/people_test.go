package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // plain SQLite, behind the proxy's back
)

// The verifier reports an audit row edited (and one removed) with plain
// SQLite behind the running proxy's back.
func TestAuditVerifyFindsEdits(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir)
	created := cli(t, "tenants", "create", "--data-dir", dir, "--host", "ledgerbank", "--name", "Ledger Bank", "--country", "GH", "--sample-data")
	var tn struct {
		ID    int64
		Login struct{ Email, Password string }
	}
	if err := json.Unmarshal([]byte(created), &tn); err != nil || tn.Login.Email == "" {
		t.Fatalf("create output %q: %v", created, err)
	}
	host := "ledgerbank.microfi.localhost"
	// Audited events through the real proxy: a failed login, then three good ones.
	body := `{"email":"` + tn.Login.Email + `","password":"` + tn.Login.Password + `"}`
	if code, out := postJSON(t, addr, host, "/api/auth/login", "", `{"email":"`+tn.Login.Email+`","password":"wrong-Password-9"}`); code != 401 {
		t.Fatalf("bad login: %d %s", code, out)
	}
	for range 3 {
		if code, out := postJSON(t, addr, host, "/api/auth/login", "", body); code != 200 {
			t.Fatalf("login: %d %s", code, out)
		}
	}
	out := cli(t, "audit", "verify", "--data-dir", dir, "--tenant", "ledgerbank")
	if !strings.Contains(out, "ok, 4 entries, chain intact") {
		t.Fatalf("verify of an intact trail: %s", out)
	}

	// The append-only triggers stop a careless edit...
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tenants", itoa64(tn.ID)+".db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_log SET details = '{"email":"someone-else@x.example"}' WHERE id = 1`); err == nil {
		t.Fatal("audit_log accepted an UPDATE")
	}
	// ...but not a determined one.
	for _, q := range []string{
		`DROP TRIGGER audit_log_append_only_update`,
		`UPDATE audit_log SET details = '{"email":"someone-else@x.example","reason":"credentials"}' WHERE id = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	got, err := runCLI(t, "audit", "verify", "--data-dir", dir, "--tenant", "ledgerbank")
	if !errors.Is(err, errFindings) || exitCode(err) != 1 || !strings.Contains(got, "entry 1: content does not match its hash (edited)") {
		t.Fatalf("verify after an edit: err=%v\n%s", err, got)
	}

	// A removed row is a gap, even when the edit above is put back right.
	for _, q := range []string{
		`UPDATE audit_log SET details = '{"email":"` + strings.ToLower(tn.Login.Email) + `","reason":"credentials"}' WHERE id = 1`,
		`DROP TRIGGER audit_log_append_only_delete`,
		`DELETE FROM audit_log WHERE id = 3`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	got, err = runCLI(t, "audit", "verify", "--data-dir", dir, "--all", "--json")
	var rep struct {
		OK     bool
		Chains []struct {
			Chain    string
			Entries  int64
			Findings []struct {
				ID      int64 `json:"id"`
				Problem string
			}
		}
	}
	if jerr := json.Unmarshal([]byte(got), &rep); jerr != nil || !errors.Is(err, errFindings) || rep.OK {
		t.Fatalf("verify --all: err=%v %v\n%s", err, jerr, got)
	}
	var tenantChain, platformChain bool
	for _, c := range rep.Chains {
		switch {
		case c.Chain == "platform":
			platformChain = len(c.Findings) == 0 && c.Entries >= 1 // the CLI's tenants create
		case strings.Contains(c.Chain, "ledgerbank"):
			tenantChain = len(c.Findings) >= 1 && c.Findings[0].ID == 3 && strings.Contains(c.Findings[0].Problem, "gap") && c.Entries == 3
			for _, f := range c.Findings {
				if f.ID == 1 {
					t.Errorf("restored row 1 still reported: %+v", f)
				}
			}
		}
	}
	if !tenantChain || !platformChain {
		t.Fatalf("verify --all report:\n%s", got)
	}
}

// tokens revoke: every token of the tenant stops working on the running
// proxy within about a second; a token made right after works.
func TestTokensRevokeCommand(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir)
	cli(t, "tenants", "create", "--data-dir", dir, "--host", "acme", "--name", "Acme", "--country", "KE")
	staff := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "acme", "--role", "staff", "--user", "1"))
	service := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "acme", "--role", "service"))
	host := "acme.microfi.localhost"
	waitStatus(t, addr, host, staff, 200)
	waitStatus(t, addr, host, service, 200)

	out := cli(t, "tokens", "revoke", "--data-dir", dir, "--tenant", "acme")
	if !strings.Contains(out, `"revoked": true`) {
		t.Fatalf("revoke output: %s", out)
	}
	fresh := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "acme", "--role", "staff", "--user", "1"))
	waitStatus(t, addr, host, staff, 401)
	waitStatus(t, addr, host, service, 401)
	waitStatus(t, addr, host, fresh, 200)
	// The demo tenant's tokens are untouched.
	if _, err := runCLI(t, "tokens", "revoke", "--data-dir", dir); exitCode(err) != 2 {
		t.Fatalf("revoke without --tenant: %v", err)
	}

	// The platform trail has the CLI's actions, newest first.
	platform := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--role", "platform_admin"))
	code, body := get(t, addr, "admin.microfi.localhost", "/api/admin/audit", platform)
	var page struct {
		Entries []struct {
			Action   string `json:"action"`
			Role     string `json:"role"`
			TargetID string `json:"target_id"`
		}
	}
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || len(page.Entries) < 2 ||
		page.Entries[0].Action != "tokens.revoke" || page.Entries[1].Action != "tenant.create" || page.Entries[0].Role != "operator" {
		t.Fatalf("platform audit: %d %s", code, body)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
