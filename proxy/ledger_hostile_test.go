package proxy_test

// Regression tests for attacks on the ledger with nothing but a tenant's own
// tokens: managed tables are sealed from tenant SQL.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// ledgerHolds checks every account's balance against its postings, read
// through the API.
func ledgerHolds(t *testing.T, f *bankFixture) {
	t.Helper()
	sum := map[int64]int64{}
	for _, tx := range f.allTransactions(t, f.tokens[proxy.RoleStaff], "") {
		switch tx.Type {
		case bank.TypeDeposit:
			sum[tx.AccountID] += tx.Amount
		case bank.TypeWithdrawal:
			sum[tx.AccountID] -= tx.Amount
		case bank.TypeTransfer:
			sum[tx.AccountID] -= tx.Amount
			sum[*tx.ToAccountID] += tx.Amount
		}
	}
	for _, id := range []int64{f.aliceAcc.ID, f.bobAcc.ID} {
		if got := f.balance(t, id); got != sum[id] {
			t.Errorf("account %d: balance %d, postings sum to %d", id, got, sum[id])
		}
	}
}

// The skim sequence (a unique index on accounts, a shadow table whose
// foreign key cascades balance changes into it, and a trigger there that
// credits another account) made every teller posting silently credit the
// attacker. Every statement of it is now refused over SQL, and postings
// keep the ledger whole.
func TestHostileSkimSequenceRefused(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "skim", "GH")
	svc := f.tokens[proxy.RoleService]
	victim := f.bobAcc.ID
	skim := []string{
		`CREATE UNIQUE INDEX shadow_key ON accounts(id, balance)`,
		`CREATE TABLE shadow(aid INTEGER, bal INTEGER, FOREIGN KEY(aid,bal) REFERENCES accounts(id,balance) ON UPDATE CASCADE)`,
		fmt.Sprintf(`CREATE TRIGGER skim AFTER UPDATE ON shadow WHEN NEW.aid <> %d BEGIN UPDATE accounts SET balance = balance + 100 WHERE id = %d; END`, victim, victim),
		`INSERT INTO shadow SELECT id, balance FROM accounts`,
	}
	for _, q := range skim {
		_, resp, raw := hranaDo(t, s, "skim", svc, mustJSON(map[string]any{"requests": []any{
			map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
			map[string]any{"type": "close"},
		}}))
		if len(resp.Results) == 0 || resp.Results[0]["type"] != "error" {
			t.Errorf("%s: not refused: %s", q, raw)
		}
	}
	for i := 0; i < 5; i++ {
		r := s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], map[string]any{
			"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 1000, "description": "teller deposit"})
		if r.Status != http.StatusCreated {
			t.Fatalf("deposit: %d %s", r.Status, r.Body)
		}
	}
	ledgerHolds(t, f)
}

// No statement over SQL changes a managed table, whatever it is and
// whoever sends it.
func TestHostileManagedTablesReadOnlyOverSQL(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "sealed", "GH")
	before := f.balance(t, f.aliceAcc.ID)
	for _, q := range []string{
		`UPDATE accounts SET balance = balance + 1`,
		`UPDATE accounts SET status = 'active'`,
		`INSERT INTO transactions(tenant_id, account_id, type, amount, currency) VALUES (1, 1, 'deposit', 5, 'GHS')`,
		`DELETE FROM transactions`,
		`UPDATE users SET role = 'admin'`,
		`INSERT INTO users(tenant_id, email, name, password_hash, role) SELECT tenant_id, 'x@y.z', 'X', password_hash, 'admin' FROM users LIMIT 1`,
		`DELETE FROM idempotency_keys`,
		`UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'transactions'`,
		`CREATE INDEX slow ON accounts(length(printf('%.*c', CASE WHEN balance > 1e10 THEN 900000000 ELSE 1 END, 'x')))`,
		`CREATE TABLE tg_later(a)`,
	} {
		_, resp, raw := hranaDo(t, s, "sealed", f.tokens[proxy.RoleService], mustJSON(map[string]any{"requests": []any{
			map[string]any{"type": "execute", "stmt": map[string]any{"sql": q}},
			map[string]any{"type": "close"},
		}}))
		if len(resp.Results) == 0 || resp.Results[0]["type"] != "error" || !strings.Contains(raw, "not authorized") {
			t.Errorf("%s: not refused: %s", q, raw)
		}
	}
	if got := f.balance(t, f.aliceAcc.ID); got != before {
		t.Errorf("balance %d after refused SQL, was %d", got, before)
	}
	ledgerHolds(t, f)
}
