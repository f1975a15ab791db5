package verify_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/verify"
)

// fixture is a tenant database with accounts, postings and keyed postings,
// written through the bank.
func fixture(t *testing.T) (verify.Target, []int64) {
	t.Helper()
	ctx := context.Background()
	m := shard.NewManager(shard.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	if err := m.Provision(ctx, 3, ""); err != nil {
		t.Fatal(err)
	}
	h, err := m.Acquire(ctx, 3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	st := bank.New(h.DB, 3)
	u, err := st.CreateUser(ctx, bank.NewUser{Email: "a@b.example", Name: "A", Password: "correct horse battery 7", Role: "customer"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 2 {
		a, err := st.CreateAccount(ctx, bank.NewAccount{UserID: u.ID, Type: "savings", Currency: "GHS"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	for i, p := range []bank.Posting{
		{Type: "deposit", AccountID: ids[0], Amount: 1000},
		{Type: "transfer", AccountID: ids[0], ToAccountID: ids[1], Amount: 300},
		{Type: "withdrawal", AccountID: ids[1], Amount: 50},
	} {
		if _, err := st.Post(ctx, p, bank.PostOptions{IdempotencyKey: "key-" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	return verify.Target{ID: 3, Host: "t3", URL: m.URL(3, "")}, ids
}

func bend(t *testing.T, url string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "file:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func checks(r verify.Report) string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.String())
	}
	return strings.Join(out, "\n")
}

func TestVerifyCleanAndBent(t *testing.T) {
	ctx := context.Background()
	tg, ids := fixture(t)
	r, err := verify.Tenant(ctx, tg)
	if err != nil || !r.OK || r.Accounts != 2 || r.Postings != 3 {
		t.Fatalf("clean: %v %+v\n%s", err, r, checks(r))
	}
	wrong := tg
	wrong.ID = 4
	if r, _ := verify.Tenant(ctx, wrong); r.OK || !strings.Contains(checks(r), "stamp: stamped 3, catalog says 4") {
		t.Errorf("wrong stamp:\n%s", checks(r))
	}
	bend(t, tg.URL,
		`UPDATE accounts SET balance = balance - 7 WHERE id = `+itoa(ids[1]),
		`UPDATE idempotency_keys SET response = json_set(response, '$.transaction.amount', 999) WHERE key = 'key-a'`,
		`DELETE FROM transactions WHERE type = 'withdrawal'`,
		`DROP TRIGGER users_tenant_guard_update`,
		`UPDATE users SET tenant_id = 99`,
		`CREATE TRIGGER sneaky AFTER UPDATE ON accounts BEGIN SELECT 1; END`,
		// The skim sequence, planted as the old binary let tenant SQL do.
		`CREATE UNIQUE INDEX shadow_key ON accounts(id, balance)`,
		`CREATE TABLE shadow(aid INTEGER, bal INTEGER, FOREIGN KEY(aid,bal) REFERENCES accounts(id,balance) ON UPDATE CASCADE)`,
		`CREATE TRIGGER skim AFTER UPDATE ON shadow WHEN NEW.aid <> 9 BEGIN UPDATE accounts SET balance = balance + 100 WHERE id = 9; END`,
		`INSERT INTO shadow SELECT id, balance FROM accounts`,
	)
	r, err = verify.Tenant(ctx, tg)
	if err != nil || r.OK {
		t.Fatalf("bent database passed: %v", err)
	}
	got := checks(r)
	for _, want := range []string{
		"balance account " + itoa(ids[1]) + ": balance 243, postings sum to 300 (off by -57)",
		"idempotency account " + itoa(ids[0]) + `: key "key-a" answers transaction 1, which does not match`,
		`idempotency account ` + itoa(ids[1]) + `: key "key-c" answers transaction 3, which does not exist`,
		"tenant_id table users: 1 rows carry another tenant id",
		"schema table accounts: trigger sneaky is on a table managed by tenantgate",
		"schema table accounts: index shadow_key is on a table managed by tenantgate",
		"schema table accounts: table shadow has a foreign key into a table managed by tenantgate",
		"schema table accounts: trigger skim uses a table managed by tenantgate",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestAuditorCountsFindings(t *testing.T) {
	tg, ids := fixture(t)
	reg := prometheus.NewRegistry()
	a := verify.NewAuditor(verify.AuditorConfig{Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		List: func(context.Context) ([]verify.Target, error) { return []verify.Target{tg}, nil }})
	a.AuditOne(context.Background(), tg)
	bend(t, tg.URL, `UPDATE accounts SET balance = balance + 1 WHERE id = `+itoa(ids[0]))
	a.AuditOne(context.Background(), tg)
	if n, err := testutil.GatherAndCount(reg, "tenantgate_ledger_audits_total"); err != nil || n != 1 {
		t.Fatalf("audits metric: %d %v", n, err)
	}
	want := `
# HELP tenantgate_ledger_audit_failures_total Findings of the continuous ledger audit, by check (balance, idempotency, schema, … : any is an incident).
# TYPE tenantgate_ledger_audit_failures_total counter
tenantgate_ledger_audit_failures_total{check="balance"} 1
tenantgate_ledger_audit_failures_total{check="idempotency"} 0
tenantgate_ledger_audit_failures_total{check="integrity"} 0
tenantgate_ledger_audit_failures_total{check="open"} 0
tenantgate_ledger_audit_failures_total{check="schema"} 0
tenantgate_ledger_audit_failures_total{check="stamp"} 0
tenantgate_ledger_audit_failures_total{check="tenant_id"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tenantgate_ledger_audit_failures_total"); err != nil {
		t.Error(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
