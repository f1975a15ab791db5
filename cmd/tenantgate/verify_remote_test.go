package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/shard/bank"
)

// verifyReport is `tenantgate verify --json`.
type verifyReport struct {
	Tenants []struct {
		TenantID int64 `json:"tenant_id"`
		Host     string
		OK       bool
		Remote   bool
		Accounts int64
		Postings int64
		Skipped  []struct{ Check, Reason string }
		Findings []struct {
			Check     string
			AccountID int64 `json:"account_id"`
			Detail    string
		}
	}
	Failed int
}

func verifyJSON(t *testing.T, dir string, args ...string) (verifyReport, int) {
	t.Helper()
	r := run(t, dir, append([]string{"verify", "--data-dir", dir, "--json"}, args...)...)
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify %v: exit %d: %v\n%s\n%s", args, r.code, err, r.stdout, r.stderr)
	}
	return rep, r.code
}

// turso executes one statement on a tursodb server directly (no proxy,
// no authorizer: behind tenantgate's back).
func turso(t *testing.T, base, q string) {
	t.Helper()
	body := fmt.Sprintf(`{"requests":[{"type":"execute","stmt":{"sql":%q}}]}`, q)
	resp, err := http.Post(base+"/v2/pipeline", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct{ Type string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Results) != 1 || out.Results[0].Type != "ok" {
		t.Fatalf("tursodb %s: %d %+v %v", q, resp.StatusCode, out, err)
	}
}

// TestVerifyRemoteTenants: `tenantgate verify` and the continuous audit
// read remote tenants through the libSQL client: one on a tenantgate shard
// (another process) and one served by tursodb. Clean, both pass; bent
// behind the servers' backs (a balance, a view over accounts through a
// CTE), both are caught and the account and view named, by the CLI and
// by the front's audit metric.
func TestVerifyRemoteTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes")
	}
	ctx := context.Background()
	// Tenant 1 lives on a tenantgate shard (its demo tenant).
	shard := startServe(t, 0, "--ledger-audit-rate", "-1")
	shardToken := strings.TrimSpace(must(t, shard.dataDir, "token", "--data-dir", shard.dataDir, "--tenant", "demo", "--role", "service", "--ttl", "2h"))
	shardURL := "http://" + shard.addr + "/t/demo?authToken=" + url.QueryEscape(shardToken)
	// Tenant 2 is served by tursodb: provisioned by tenantgate, with a
	// customer, an account and postings written by the bank, then served.
	src := t.TempDir()
	must(t, src, "tenants", "create", "--data-dir", src, "--host", "src", "--name", "Source", "--country", "GH", "--id", "2")
	file := filepath.Join(src, "tenants", "2.db")
	plain, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	st := bank.New(plain, 2)
	u, err := st.CreateUser(ctx, bank.NewUser{Email: "c@t.example", Name: "C", Password: "correct horse battery 7", Role: bank.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, bank.NewAccount{UserID: u.ID, Type: bank.AccountSavings, Currency: "GHS"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := st.Post(ctx, bank.Posting{Type: bank.TypeDeposit, AccountID: acct.ID, Amount: 500}, bank.PostOptions{IdempotencyKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	// tursodb opens incremental auto-vacuum databases read-only.
	if _, err := plain.Exec(`PRAGMA auto_vacuum = NONE; VACUUM`); err != nil {
		t.Fatal(err)
	}
	plain.Close()
	tursoURL := startTursodb(t, file)

	front := t.TempDir()
	must(t, front, "tenants", "create", "--data-dir", front, "--host", "far", "--name", "Far", "--country", "GH", "--db-url", shardURL, "--id", "1")
	must(t, front, "tenants", "create", "--data-dir", front, "--host", "tur", "--name", "Tur", "--country", "GH", "--db-url", tursoURL, "--id", "2")

	rep, code := verifyJSON(t, front, "--all")
	if code != 0 || rep.Failed != 0 || len(rep.Tenants) != 2 {
		t.Fatalf("clean remote tenants: exit %d %+v", code, rep)
	}
	for _, r := range rep.Tenants {
		if !r.OK || !r.Remote || r.Accounts == 0 || r.Postings == 0 {
			t.Errorf("tenant %d: %+v", r.TenantID, r)
		}
		t.Logf("tenant %d (%s): %d accounts, %d postings, skipped %v", r.TenantID, r.Host, r.Accounts, r.Postings, r.Skipped)
	}
	if sk := rep.Tenants[0].Skipped; len(sk) != 0 {
		t.Errorf("a tenantgate shard runs every check, skipped %v", sk)
	}

	// Bend both behind the servers' backs.
	shardDB, err := sql.Open("sqlite", "file:"+filepath.Join(shard.dataDir, "tenants", "1.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	var victim int64
	if err := shardDB.QueryRow(`SELECT min(id) FROM accounts`).Scan(&victim); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf(`UPDATE accounts SET balance = balance + 100 WHERE id = %d`, victim),
		`CREATE VIEW peek AS WITH m AS (SELECT id, balance FROM accounts) SELECT * FROM m`,
	} {
		if _, err := shardDB.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	shardDB.Close()
	turso(t, tursoURL, fmt.Sprintf(`UPDATE accounts SET balance = balance + 7 WHERE id = %d`, acct.ID))

	rep, code = verifyJSON(t, front, "--all")
	if code != 1 || rep.Failed != 2 {
		t.Fatalf("bent remote tenants: exit %d %+v", code, rep)
	}
	var got []string
	for _, r := range rep.Tenants {
		for _, f := range r.Findings {
			got = append(got, fmt.Sprintf("%d %s %d %s", r.TenantID, f.Check, f.AccountID, f.Detail))
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		fmt.Sprintf("1 balance %d ", victim),
		"(off by 100)",
		"1 schema 0 view peek uses a table managed by tenantgate",
		fmt.Sprintf("2 balance %d balance 1007, postings sum to 1000 (off by 7)", acct.ID),
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}

	// The front's continuous audit reads them too.
	p := startServeIn(t, front, 0, "--seed-demo=false", "--ledger-audit-rate", "600")
	deadline := time.Now().Add(30 * time.Second)
	for p.metric(t, `tenantgate_ledger_audit_failures_total{check="balance"}`) < 2 ||
		p.metric(t, `tenantgate_ledger_audit_failures_total{check="schema"}`) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the front's audit did not count the remote findings: audits %v",
				p.metric(t, `tenantgate_ledger_audits_total`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
