package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func cliErr(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := Main(context.Background(), env, args)
	return out.String(), err
}

// verify passes clean tenants beside a live proxy, and names the account
// when a balance is bent behind the proxy's back (exit 1).
func TestVerifyFindsBentBalance(t *testing.T) {
	dir := t.TempDir()
	addr, _ := runServer(t, dir)
	const host = "demo.microfi.localhost"
	cli(t, "tenants", "create", "--data-dir", dir, "--host", "second", "--name", "Second", "--country", "KE")
	tok := strings.TrimSpace(cli(t, "token", "--data-dir", dir, "--tenant", "demo", "--role", "staff", "--user", "1"))
	code, body := get(t, addr, host, "/api/accounts", tok)
	var res struct{ Accounts []struct{ ID int64 } }
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || len(res.Accounts) == 0 {
		t.Fatalf("accounts: %d %s", code, body)
	}
	acct := res.Accounts[0].ID
	if code, body := postJSON(t, addr, host, "/api/transactions", tok, fmt.Sprintf(`{"type":"deposit","account_id":%d,"amount":700}`, acct)); code != 201 {
		t.Fatalf("deposit: %d %s", code, body)
	}
	out, err := cliErr("verify", "--data-dir", dir, "--all")
	if err != nil || !strings.Contains(out, "2 tenants verified, 0 with findings") {
		t.Fatalf("clean verify: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "tenants", "1.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE accounts SET balance = balance + 100 WHERE id = ?`, acct); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, err = cliErr("verify", "--data-dir", dir, "--tenant", "demo", "--json")
	if !errors.Is(err, errVerifyFindings) || exitCode(err) != 1 {
		t.Fatalf("bent verify: err %v (exit %d)\n%s", err, exitCode(err), out)
	}
	var rep struct {
		Tenants []struct {
			TenantID int64 `json:"tenant_id"`
			OK       bool
			Findings []struct {
				Check     string
				AccountID int64 `json:"account_id"`
				Detail    string
			}
		}
		Failed int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Failed != 1 || len(rep.Tenants) != 1 || len(rep.Tenants[0].Findings) != 1 {
		t.Fatalf("report: %s", out)
	}
	f := rep.Tenants[0].Findings[0]
	if f.Check != "balance" || f.AccountID != acct || !strings.Contains(f.Detail, "off by 100") {
		t.Errorf("finding %+v, want account %d off by 100", f, acct)
	}
	out, _ = cliErr("verify", "--data-dir", dir, "--all")
	if !strings.Contains(out, fmt.Sprintf("balance account %d", acct)) || !strings.Contains(out, "tenant 2 (second): ok") {
		t.Errorf("text report:\n%s", out)
	}
}
