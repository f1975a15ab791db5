package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/shard/bank"
)

// A customer probing transfers learned whether any account id existed and
// whether it was frozen (422 Insufficient funds / 422 Account inactive /
// 404). A target the customer cannot see now answers the same whether it is
// missing, frozen, closed or in another currency; only a completed transfer
// reveals anything.
func TestHostileTransferTargetOracle(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "oracle", "GH")
	ctx := context.Background()
	h, err := s.Shards.Acquire(ctx, f.tenant.ID, f.tenant.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	st := bank.New(h.DB, f.tenant.ID)
	mk := func(status, cur string) int64 {
		a, err := st.CreateAccount(ctx, bank.NewAccount{UserID: f.bob.ID, Type: bank.AccountCurrent, Currency: cur})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.DB.ExecContext(ctx, `UPDATE accounts SET status = ? WHERE id = ?`, status, a.ID); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	targets := map[string]int64{
		"active":   f.bobAcc.ID,
		"frozen":   mk("frozen", "GHS"),
		"closed":   mk("closed", "GHS"),
		"currency": mk("active", "USD"),
		"missing":  999999,
	}
	h.Release()
	alice := f.tokens[proxy.RoleCustomer]
	answer := func(to, amount int64) string {
		r := s.Do("POST", f.host, "/api/transactions", alice, map[string]any{
			"type": "transfer", "account_id": f.aliceAcc.ID, "to_account_id": to, "amount": amount})
		return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body)))
	}
	for _, amount := range []int64{1_000_000_000_000, 10} {
		seen := map[string]string{}
		for name, id := range targets {
			if name == "active" && amount == 10 {
				continue // completes: that is the one answer allowed to differ
			}
			seen[answer(id, amount)] += name + " "
		}
		if len(seen) != 1 {
			t.Errorf("amount %d: answers tell targets apart: %v", amount, seen)
		}
	}
	if got := answer(f.bobAcc.ID, 10); !strings.HasPrefix(got, "201 ") {
		t.Errorf("transfer to an active account: %s", got)
	}
	// Staff still get the precise reasons.
	r := s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], map[string]any{
		"type": "transfer", "account_id": f.aliceAcc.ID, "to_account_id": targets["frozen"], "amount": 10})
	if r.Status != 422 || r.Error() != "Account inactive" {
		t.Errorf("staff transfer to a frozen account: %d %s", r.Status, r.Body)
	}
}

// Descriptions refuse control and bidirectional-override characters, as
// names do.
func TestHostileDescriptionControlCharacters(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "desc", "GH")
	for _, d := range []string{"pay\x00day", "rent \u202Eevil", "a\nb", "x\u2066y", "bell\a"} {
		r := s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], map[string]any{
			"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 5, "description": d})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "description") {
			t.Errorf("description %q: %d %s", d, r.Status, r.Body)
		}
	}
	r := s.Do("POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], map[string]any{
		"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 5, "description": "Salaire de mars — été"})
	if r.Status != http.StatusCreated {
		t.Errorf("plain description: %d %s", r.Status, r.Body)
	}
}

// An empty Idempotency-Key posted with no protection, and of two keys the
// first won silently: both are 400 now, and nothing is posted.
func TestHostileIdempotencyKeyHeaders(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	f := newBankFixture(t, s, "idem", "GH")
	body := map[string]any{"type": "deposit", "account_id": f.aliceAcc.ID, "amount": 5}
	before := f.balance(t, f.aliceAcc.ID)
	for name, headers := range map[string][]string{
		"empty":      {"Idempotency-Key", ""},
		"blank":      {"Idempotency-Key", "   "},
		"duplicate":  {"Idempotency-Key", "key-1", "Idempotency-Key", "key-2"},
		"same twice": {"Idempotency-Key", "key-1", "Idempotency-Key", "key-1"},
	} {
		r, err := doRaw(s, "POST", f.host, "/api/transactions", f.tokens[proxy.RoleStaff], body, headers...)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "Idempotency-Key") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if got := f.balance(t, f.aliceAcc.ID); got != before {
		t.Errorf("balance %d after refused postings, was %d", got, before)
	}
}
